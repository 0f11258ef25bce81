-- timer, await style: the handler sleeps 1 ms (its coroutine suspended, the loop free),
-- writes, and returns: the response is finished at the handler's end. Compare with
-- ../timer.lua.
-- Usage: drlee run timer.lua PORT
local http = require "http"
local time = require "time"

local server = http.create_server("127.0.0.1:" .. arg[1], function(req, res)
  time.sleep(1)
  res:set("Content-Type", "text/plain")
  res:write("ok")
end)
assert(server:start())
