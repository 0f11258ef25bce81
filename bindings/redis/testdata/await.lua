-- The await style: the same calls without their callback return the reply, or nil, err.
local check = require "check"
local redis = require "redis"
local time = require "time"
local url, p = arg[1], arg[2] .. ":"

local c = redis.new(url)
check.eq(c:call("SET", p .. "k", "v"), "OK")
check.eq(c:call("GET", p .. "k"), "v")
local v, err = c:call("GET", p .. "missing")
check.eq(v, nil, "nil reply")
check.eq(err, nil, "nil reply: no error")
check.eq(select("#", c:call("GET", p .. "missing")), 1, "a nil reply is one nil")
c:call("DEL", p .. "n") -- 0 or 1: the key may be left from an earlier run
check.eq(c:call("INCRBY", p .. "n", 5), 5)
check.same(c:call("MGET", p .. "k", p .. "missing"), {"v", false})

v, err = c:call("HSET", p .. "k", "f", "x")
check.eq(v, nil)
check.match(err, "^EREDIS: WRONGTYPE")

local r = c:pipeline({{"SET", p .. "a", "1"}, {"INCR", p .. "a"}, {"HGET", p .. "a", "f"}})
check.eq(r[1], "OK")
check.eq(r[2], 2)
check.match(r[3].err, "^EREDIS: WRONGTYPE")
check.same(c:pipeline({}), {})

-- Awaits inside a callback and a spawned function too, interleaved.
local handles = {}
for i = 1, 20 do
  handles[i] = spawn(function()
    c:call("SET", p .. "s" .. i, i)
    time.sleep(1)
    return c:call("GET", p .. "s" .. i)
  end)
end
local results = wait_all(handles)
for i = 1, 20 do check.eq(results[i][1], tostring(i)) end

-- A subscription, awaited ready, then a message.
local got
local sub = c:subscribe({p .. "ch"}, function(err, m) got = m end)
check.eq(sub:ready(), true)
check.eq(sub:ready(), true, "ready again: at once")
check.eq(c:call("PUBLISH", p .. "ch", "hello"), 1)
for _ = 1, 100 do
  if got then break end
  time.sleep(10)
end
check.same(got, {channel = p .. "ch", message = "hello"})
sub:close()
local ok, e = sub:ready()
check.eq(ok, nil)
check.eq(err_code(e), "ECLOSED")
c:close()
print("PASS")
