-- hello-cb: hello in the seed's idiom, the response finished in the write's callback.
-- It goes out with Content-Length, as hello's does: the write's callback runs on the
-- loop's next turn, before the response would have to be flushed.
-- Usage: drlee run hello-cb.lua PORT
local http = require "http"

local server = http.create_server("127.0.0.1:" .. arg[1], function(req, res)
  res:set("Content-Type", "text/plain")
  res:write("hello world", function()
    res:finish()
  end)
end)
server:start(function(err) if err then error(err) end end)
