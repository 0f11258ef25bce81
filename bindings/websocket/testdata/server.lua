-- A Lua websocket server for Go (gorilla) clients. arg[1]: the address; arg[2]: how many
-- connections to serve before it stops. Each path is one behaviour:
--   /echo   echoes every message with its type until the peer closes, then prints how
--   /close  sends "bye soon" and closes with 4002 "server bye"
--   /limit  reads one message (max_message is 1000 here) and prints the error
local websocket = require "websocket"
local addr, total = arg[1], tonumber(arg[2])

local served = 0
local server
local function done()
  served = served + 1
  if served == total then server:stop() end
end

server = websocket.create_server(addr, {max_message = 100000}, function(conn, req)
  assert(type(conn.remote_addr) == "string" and type(conn.local_addr) == "string")
  if req.path == "/echo" then
    print("hello", req.query.name, req.headers["x-test"])
    while true do
      local frame, err = conn:read_frame()
      if not frame then
        print("echo read error", err)
        break
      end
      if frame.type == "close" then
        print("closed by peer", frame.code, frame.reason)
        local again, err2 = conn:read_frame()
        print("read after peer close", again, err2)
        print("close after peer close", conn:close())
        break
      end
      assert(conn:write_frame(frame.data, frame.type))
    end
  elseif req.path == "/close" then
    assert(conn:write_frame("bye soon"))
    print("server close", conn:close(4002, "server bye"))
    print("write after close", conn:write_frame("x"))
  elseif req.path == "/limit" then
    local frame, err = conn:read_frame()
    print("limit", frame, err)
  end
  done()
end)
assert(server:start())
print("listening", server.addr)
