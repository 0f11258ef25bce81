-- Helpers of the tests' scripts.
local M = {}

function M.eq(name, got, want)
  if got ~= want then
    error(string.format("%s: got %s (%s), want %s (%s)", name, tostring(got), type(got), tostring(want), type(want)), 2)
  end
end

function M.code(name, err, want)
  if err_code(err) ~= want then
    error(string.format("%s: got error %s, want %s", name, tostring(err), want), 2)
  end
end

-- every byte, twice, NULs included
function M.allbytes()
  local t = {}
  for i = 0, 255 do t[#t + 1] = string.char(i) end
  local s = table.concat(t)
  return s .. s
end

return M
