-- websocket.upgrade inside a handler of the http module's server. arg[1]: the address.
-- /ws upgrades and echoes until the peer closes; /plain is an ordinary response; /stop
-- stops the server.
local http = require "http"
local websocket = require "websocket"

local server
server = http.create_server(arg[1], function(req, res)
  if req.path == "/ws" then
    local conn, err = websocket.upgrade(req, res, {max_message = 1000})
    if not conn then
      print("upgrade failed", err)
      print("write after failed upgrade", pcall(res.write, res, "x"))
      return
    end
    print("upgraded", conn.remote_addr ~= nil)
    print("write after upgrade", pcall(res.write, res, "x"))
    while true do
      local f, err = conn:read_frame()
      if not f then print("upgrade read error", err) break end
      if f.type == "close" then print("upgrade closed", f.code) break end
      assert(conn:write_frame(f.data, f.type))
    end
  elseif req.path == "/cb" then
    websocket.upgrade(req, res, function(err, conn)
      assert(not err, err)
      conn:write_frame("from callback", function(err)
        assert(not err, err)
        conn:close(1000, "done", function(err) print("callback upgrade closed", err) end)
      end)
    end)
  elseif req.path == "/stop" then
    res:write("stopping")
    res:finish()
    server:stop()
  else
    res:write("plain")
    res:finish()
  end
end)
assert(server:start())
