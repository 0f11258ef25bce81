-- arg[1] stat calls, arg[2] in flight at a time.
local fs = require "fs"
local n, window = tonumber(arg[1]), tonumber(arg[2])
local path = __dirname__
local issued, completed = 0, 0

local function next_stat()
  if issued >= n then return end
  issued = issued + 1
  fs.stat(path, function(err, st)
    if err ~= nil then error(err) end
    completed = completed + 1
    if completed == n then print("completed " .. completed) end
    next_stat()
  end)
end

for _ = 1, math.min(window, n) do next_stat() end
