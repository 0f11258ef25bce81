-- A script that serves arg[2] requests on arg[1], then stops its server from a timer and
-- ends by itself.
local http = require "http"
local time = require "time"

local want = tonumber(arg[2] or "3")
local served = 0
local server
server = http.create_server(arg[1], function(req, res)
  served = served + 1
  res:write("request " .. served)
  res:finish()
  if served == want then
    time.timeout(50, function()
      server:stop()
      print("stopped after " .. served .. " requests")
    end)
  end
end)

server:start(function(err)
  assert(err == nil, err)
end)
