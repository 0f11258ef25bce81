-- strings: string building with string.format, .. and table.concat.
-- Prints the total length built over N rounds of 100k formatted records,
-- joined 1000 at a time (gopher-lua's table.concat overflows its default
-- registry on 100k parts at once).
-- Usage: <lua> strings.lua [N]   (default 1)
local n = tonumber(arg and arg[1]) or 1
local total = 0
for r = 1, n do
  local blocks = {}
  for b = 1, 100 do
    local parts = {}
    for j = 1, 1000 do
      local i = (b - 1) * 1000 + j
      parts[j] = string.format("%d:%s=%.2f;", i, "key" .. (i % 97), i / 7 + r)
    end
    blocks[b] = table.concat(parts, ",")
  end
  total = total + #table.concat(blocks, ",")
end
print(total)
