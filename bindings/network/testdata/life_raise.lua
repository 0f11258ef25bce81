-- A handler that raises after an await: the error is logged and its connection closed.
local network = require "network"
local server
server = network.create_server("tcp", arg[1], function(conn)
  server:stop()
  local d = assert(conn:read(10))
  error("boom after reading " .. d)
end)
assert(server:start())
