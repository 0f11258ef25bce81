-- A connection Lua collects without close() is closed; the Go server tells us so on a
-- second connection.
local network = require "network"
local function dropped()
  local c = assert(network.dial("tcp", arg[1]))
  assert(c:write("first"))
end
dropped()
collectgarbage()
collectgarbage()
print("collected")
local keep = assert(network.dial("tcp", arg[1]))
assert(keep:write("second"))
print("told", assert(keep:read(100)))
keep:close()
