-- BenchmarkGet: arg[2] GETs of one key, arg[3] of them in flight at a time (1: await
-- style, one after another; more: callbacks); prints "completed N".
local redis = require "redis"
local c = redis.new(arg[1])
local n, window = tonumber(arg[2]), tonumber(arg[3])
assert(c:call("SET", "bench:k", "value") == "OK")
if window == 1 then
  for _ = 1, n do
    local v = c:call("GET", "bench:k")
    if v ~= "value" then error("GET: " .. tostring(v)) end
  end
  print("completed " .. n)
  return c:close()
end
local started, done = 0, 0
local function one()
  started = started + 1
  c:call("GET", "bench:k", function(err, v)
    if v ~= "value" then error("GET: " .. tostring(err)) end
    done = done + 1
    if started < n then one() end
    if done == n then print("completed " .. n); c:close() end
  end)
end
for _ = 1, math.min(window, n) do one() end
