-- At shutdown the server stops, and a connection it accepted that waits for its peer is
-- closed at once (ECLOSED): the engine does not wait for the shutdown timeout.
local network = require "network"
local server = network.create_server("tcp", arg[1], function(conn)
  assert(conn:write("hi"))
  local d, err = conn:read(10)
  print("pending read", d, err_code(err), err)
end)
assert(server:start())
