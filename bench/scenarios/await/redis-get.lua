-- redis-get, await style: client:call without a callback suspends the handler's
-- coroutine until the reply, then the handler writes it and returns (the response is
-- finished at the handler's end). Compare with ../redis-get.lua.
-- Usage: drlee run redis-get.lua PORT REDIS_URI POOL_SIZE
local http = require "http"
local redis = require "redis"

local client = redis.new(arg[2], { pool_size = tonumber(arg[3]) })

local server = http.create_server("127.0.0.1:" .. arg[1], function(req, res)
  local value, err = client:call("GET", "bench:greeting")
  if value == nil then
    res:set_status(500)
    res:write(tostring(err or "bench:greeting is not set"))
    return
  end
  res:set("Content-Type", "text/plain")
  res:write(value)
end)
assert(server:start())
