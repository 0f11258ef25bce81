-- Both workers serve the same address (one shared socket); every connection echoes until
-- its peer closes, then a line says which worker served it and how many messages.
local websocket = require "websocket"
local id = env.worker_id
local server = websocket.create_server(arg[1], function(conn)
  local n = 0
  local function loop()
    conn:read_frame(function(err, f)
      assert(not err, err)
      if f.type == "close" then
        print("served", id, n)
        return
      end
      n = n + 1
      conn:write_frame(f.data, f.type, function(err)
        assert(not err, err)
        loop()
      end)
    end)
  end
  loop()
end)
assert(server:start())
