-- The end of a worker's connections. arg[1]: a Go server's ws:// URL; arg[2]: the address
-- to serve. A dialed connection is kept in a global with nothing pending; the server's
-- handler reads until its read fails, and prints why; a second dialed connection is
-- dropped for the collector.
local websocket = require "websocket"
kept = assert(websocket.dial(arg[1]))
do
  local dropped = assert(websocket.dial(arg[1]))
  dropped = nil
end
collectgarbage()
collectgarbage()
local server = websocket.create_server(arg[2], function(conn)
  while true do
    local f, err = conn:read_frame()
    if not f then
      print("read ended", err)
      return
    end
    conn:write_frame(f.data)
  end
end)
assert(server:start())
print("ready")
