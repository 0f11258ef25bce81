-- Connection errors, each with its code: a refused connection, a command past its read
-- timeout. arg[3] is a port where nothing listens.
local check = require "check"
local redis = require "redis"
local url, p, down = arg[1], arg[2] .. ":", arg[3]

local dead = redis.new("redis://127.0.0.1:" .. down .. "/0")
dead:call("GET", "k", check.once("refused", function(err, v)
  check.eq(v, nil)
  check.eq(err_code(err), "ECONNREFUSED", err)
  -- A script tells a connection error from an error reply by its code.
  check.ok(err_code(err) ~= "EREDIS")
end))
dead:pipeline({{"PING"}, {"PING"}}, check.once("refused pipeline", function(err, r)
  check.eq(r, nil)
  check.eq(err_code(err), "ECONNREFUSED", err)
end))
local dsub = dead:subscribe({"x"}, check.once("refused subscription", function(err, m)
  check.eq(m, nil)
  check.eq(err_code(err), "ECONNREFUSED", err)
end))
dsub:ready(check.once("refused ready", function(err)
  check.eq(err_code(err), "ECONNREFUSED", err)
  -- ready after the failure reports it again, at once
  dsub:ready(check.once("ready after failure", function(err2)
    check.eq(err_code(err2), "ECONNREFUSED", err2)
  end))
end))

-- BLPOP blocks 5 s; the read timeout is 100 ms: ETIMEDOUT, soon.
local slow = redis.new(url, {read_timeout = 100})
local started = os.clock()
local t0 = require("time").now().milliunix
slow:call("BLPOP", p .. "nothing", 5, check.once("read timeout", function(err, v)
  check.eq(v, nil)
  check.eq(err_code(err), "ETIMEDOUT", err)
  local ms = require("time").now().milliunix - t0
  check.ok(ms >= 90 and ms < 2000, "timed out after " .. ms .. " ms")
  -- The client goes on: a new connection replaces the one that timed out.
  slow:call("PING", check.once("ping after timeout", function(err, v)
    check.eq(err, nil)
    check.eq(v, "PONG")
  end))
end))

-- Options in the URI: the same read timeout.
local slow2 = redis.new(url .. "?read_timeout=100&pool_size=1")
slow2:call("BLPOP", p .. "nothing", 5, check.once("read timeout from the URI", function(err)
  check.eq(err_code(err), "ETIMEDOUT", err)
end))

-- read_timeout = 0: none; a blocking command waits as long as it blocks.
local patient = redis.new(url, {read_timeout = 0})
patient:call("BLPOP", p .. "nothing2", 0.3, check.once("no read timeout", function(err, v)
  check.eq(err, nil)
  check.eq(v, nil, "BLPOP that timed out on the server: a nil reply")
end))

-- The pool exhausted: pool_size 1, its one connection held by a BLPOP of 2 s; commands sent
-- once it blocks (300 ms later) wait pool_timeout (100 ms) for it, then EBUSY. The BLPOP
-- itself ends well, and the connection serves again after it.
local time = require "time"
local one = redis.new(url, {pool_size = 1, pool_timeout = 100, read_timeout = 5000})
one:call("BLPOP", p .. "nothing3", 2, check.once("holder of the pool", function(err, v)
  check.eq(err, nil)
  check.eq(v, nil)
  one:call("PING", check.once("ping after the pool came free", function(err2, v2)
    check.eq(err2, nil)
    check.eq(v2, "PONG")
  end))
end))
time.timeout(300, function()
  local t1 = time.now().milliunix
  one:call("PING", check.once("pool exhausted", function(err, v)
    check.eq(v, nil)
    check.eq(err_code(err), "EBUSY", err)
    local ms = time.now().milliunix - t1
    check.ok(ms >= 90 and ms < 1500, "EBUSY after " .. ms .. " ms")
  end))
  one:pipeline({{"PING"}}, check.once("pool exhausted pipeline", function(err, r)
    check.eq(r, nil)
    check.eq(err_code(err), "EBUSY", err)
  end))
end)
-- The same bound from the URI.
local one2 = redis.new(url .. "?pool_size=1&pool_timeout=50&read_timeout=5000")
one2:call("BLPOP", p .. "nothing4", 1, check.once("holder of the URI's pool", function(err)
  check.eq(err, nil)
end))
time.timeout(300, function()
  one2:call("PING", check.once("URI pool exhausted", function(err)
    check.eq(err_code(err), "EBUSY", err)
  end))
end)

-- A wrong password: an error reply of the server at the first command.
check.eq(redis.new(url):call("ACL", "SETUSER", "erruser", "on", ">right", "~*", "+@all"), "OK")
local badauth = redis.new("redis://erruser:wrong@" .. url:match("//(.*)$"))
redis.new("redis://erruser:right@" .. url:match("//(.*)$")):call("PING", check.once("right password", function(err, v)
  check.eq(v, "PONG", err)
end))
badauth:call("PING", check.once("wrong password", function(err)
  check.eq(err_code(err), "EREDIS", err)
end))

check.pass_after(2500)
