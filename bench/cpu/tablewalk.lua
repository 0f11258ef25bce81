-- tablewalk: build a JSON-like tree (objects, arrays, strings, numbers,
-- booleans) once, then walk it 5*N times with pairs, summing what it finds.
-- Usage: <lua> tablewalk.lua [N]   (default 1)
local function build(depth)
  if depth == 0 then
    return { id = 7, name = "leaf", value = 1.5, ok = true, tags = { "a", "bb", "ccc" } }
  end
  local node = { id = depth, name = "node" .. depth, children = {}, meta = { created = 1700000000, flags = { true, false, true } } }
  for i = 1, 4 do
    node.children[i] = build(depth - 1)
  end
  return node
end

local function walk(v)
  local t = type(v)
  if t == "table" then
    local s = 0
    for _, x in pairs(v) do
      s = s + walk(x)
    end
    return s
  elseif t == "number" then
    return v % 1000
  elseif t == "string" then
    return #v
  elseif t == "boolean" then
    return v and 1 or 0
  end
  return 0
end

local n = tonumber(arg and arg[1]) or 1
local tree = build(7) -- 4^7 = 16384 leaves, about 150k values
local total = 0
for _ = 1, 5 * n do
  total = total + walk(tree)
end
print(total)
