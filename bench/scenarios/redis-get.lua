-- redis-get: every request GETs one small key from Redis (the harness SET it at startup)
-- and answers its value: the cost of an outbound round trip through the I/O pool and
-- back to the loop, in callback style.
-- Usage: drlee run redis-get.lua PORT REDIS_URI POOL_SIZE
local http = require "http"
local redis = require "redis"

local client = redis.new(arg[2], { pool_size = tonumber(arg[3]) })

local server = http.create_server("127.0.0.1:" .. arg[1], function(req, res)
  client:call("GET", "bench:greeting", function(err, value)
    if err or value == nil then
      res:set_status(500)
      res:write(tostring(err or "bench:greeting is not set"))
      res:finish()
      return
    end
    res:set("Content-Type", "text/plain")
    res:write(value)
    res:finish()
  end)
end)
server:start(function(err) if err then error(err) end end)
