-- Pub/sub across two clients: messages (binary too) reach the handler on the loop, in
-- order; patterns; close ends the messages and lets the worker end.
local check = require "check"
local redis = require "redis"
local url, p = arg[1], arg[2] .. ":"

local pub = redis.new(url)
local subc = redis.new(url, {pool_size = 2}) -- another pool: another connection
local payload = "\0\1\2\255 binary"

local got = {}
local sub
sub = subc:subscribe({p .. "a", p .. "b"}, function(err, m)
  check.eq(err, nil, "handler err")
  got[#got + 1] = m
  if #got == 3 then
    check.same(got[1], {channel = p .. "a", message = "one"})
    check.same(got[2], {channel = p .. "b", message = payload})
    check.same(got[3], {channel = p .. "a", message = "three"})
    sub:close()
    sub:close() -- twice: nothing more
    -- Published after the close: the handler is not called again.
    pub:call("PUBLISH", p .. "a", "after close", check.once("publish after close"))
  end
end)
check.eq(tostring(sub):match("^redisSubscription"), "redisSubscription")
sub:ready(check.once("ready", function(err)
  check.eq(err, nil, "ready err")
  pub:call("PUBLISH", p .. "a", "one", check.once("publish one", function(err, n)
    check.eq(n, 1, "one subscriber")
    -- One after the other: two commands in flight at once may take two connections,
    -- and the server may see them in either order.
    pub:call("PUBLISH", p .. "b", payload, check.once("publish two", function()
      pub:call("PUBLISH", p .. "a", "three", check.once("publish three"))
    end))
  end))
end))

-- A pattern subscription, and the message's pattern.
local psub
psub = subc:psubscribe({p .. "news.*"}, check.once("pattern message", function(err, m)
  check.same(m, {channel = p .. "news.sport", message = "goal", pattern = p .. "news.*"})
  psub:close()
end))
psub:ready(check.once("pattern ready", function(err)
  check.eq(err, nil)
  pub:call("PUBLISH", p .. "news.sport", "goal", check.once("publish pattern"))
end))

-- A string is one channel. Closing the client ends its subscriptions: ready callers get
-- ECLOSED and the handler is never called.
local other = redis.new(url, {pool_size = 3})
local s3 = other:subscribe(p .. "c", function() error("never called") end)
s3:ready(check.once("ready of a closed client's subscription", function(err)
  check.eq(err_code(err), "ECLOSED")
end))
other:close()

-- A subscription dropped without close, whose client is dropped too, goes on; this one is
-- closed by its handler's first message.
do
  local tmp = redis.new(url, {pool_size = 4})
  local keep
  keep = tmp:subscribe(p .. "d", check.once("dropped client's subscription", function(err, m)
    check.eq(m.message, "still here")
    keep:close()
  end))
  keep:ready(function(err)
    tmp = nil
    collectgarbage()
    collectgarbage()
    pub:call("PUBLISH", p .. "d", "still here", check.once("publish d"))
  end)
end

-- The worker ends once every subscription is closed: the script ending is the test.
check.pass_after(1000)
