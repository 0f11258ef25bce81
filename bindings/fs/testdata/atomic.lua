-- fs.writefile with {atomic = true} rewrites atomic.txt arg[1] times, alternating two
-- contents of different sizes (arg[3] and arg[4] bytes), while arg[2] readers in coroutines
-- of their own read it with fs.readfile in a loop: every read must be one content or the
-- other, whole. arg[5] == "plain" writes without atomic (to see that the test can tell).
-- Prints "worker <id> writes <n> reads <n> torn <n> seen <a> <b>".
local fs = require "fs"
local n, readers = tonumber(arg[1]), tonumber(arg[2])
local contents = {string.rep("A", tonumber(arg[3])), string.rep("B", tonumber(arg[4]))}
local options = {atomic = arg[5] ~= "plain"}
local path = __dirname__ .. "/atomic.txt"

local writing = true
local reads, torn, seen = 0, 0, {0, 0}
local handles = {}
for r = 1, readers do
  handles[r] = spawn(function()
    while writing do
      local data, err = fs.readfile(path)
      assert(data, err)
      reads = reads + 1
      if data == contents[1] then
        seen[1] = seen[1] + 1
      elseif data == contents[2] then
        seen[2] = seen[2] + 1
      else
        torn = torn + 1
      end
    end
  end)
end

for i = 1, n do
  local wrote, err = fs.writefile(path, contents[i % 2 + 1], options)
  assert(wrote == #contents[i % 2 + 1], err)
end
writing = false
for _, r in ipairs(wait_all(handles)) do assert(r.err == nil, r.err) end
print(string.format("worker %d writes %d reads %d torn %d seen %d %d", env.worker_id, n, reads, torn, seen[1], seen[2]))
