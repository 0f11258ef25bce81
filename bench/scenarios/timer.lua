-- timer: every request waits on a 1 ms timer before answering, so the server
-- must keep many requests waiting at once (concurrency under waiting).
-- Usage: drlee run timer.lua PORT
local http = require "http"
local time = require "time"

local server = http.create_server("127.0.0.1:" .. arg[1], function(req, res)
  time.timeout(1, function()
    res:set("Content-Type", "text/plain")
    res:write("ok")
    res:finish()
  end)
end)
server:start(function(err) if err then error(err) end end)
