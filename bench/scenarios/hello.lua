-- hello: the smallest handler; measures the per-request cost of the runtime.
-- Usage: drlee run hello.lua PORT
local http = require "http"

local server = http.create_server("127.0.0.1:" .. arg[1], function(req, res)
  res:set("Content-Type", "text/plain")
  res:write("hello world")
  res:finish()
end)
server:start(function(err) if err then error(err) end end)
