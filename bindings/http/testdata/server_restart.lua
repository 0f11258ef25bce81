-- Serves "first" on arg[1]; GET /restart stops that server and starts another one on the
-- same address, in the same callback, which serves "second".
local http = require "http"

local first
first = http.create_server(arg[1], function(req, res)
  if req.request_uri == "/restart" then
    first:stop()
    local second = http.create_server(arg[1], function(req2, res2)
      res2:write("second")
      res2:finish()
    end)
    second:start(function(err)
      if err then
        print("restart error: " .. tostring(err))
      else
        print("restarted")
      end
    end)
  end
  res:write("first")
  res:finish()
end)
first:start(function(err) assert(err == nil, err) end)
