-- Every Lua-visible function of the module called with odd values under pcall: a clear
-- error (or a sensible result), never a crash.
local check = require "check"
local redis = require "redis"
local json = require "json"
local url, p = arg[1], arg[2] .. ":"
local err = check.raises

local ud = newproxy(true)
local co = coroutine.create(print)
local cyc = {}
cyc.self = cyc
local deep = {}
for _ = 1, 250 do deep = {deep} end
local huge = string.rep("x", 8 * 1024 * 1024)

-- redis.new(uri, options?)
local bad1 = "bad argument #1 to 'redis.new' ("
err(bad1 .. "string expected, got no value)", redis.new)
err(bad1 .. "string expected, got nil)", redis.new, nil)
err(bad1 .. "string expected, got table)", redis.new, {})
err(bad1 .. "string expected, got boolean)", redis.new, true)
err(bad1 .. "string expected, got userdata)", redis.new, ud)
err(bad1 .. "string expected, got thread)", redis.new, co)
local form = "expected a URI redis://"
for _, u in ipairs({"", "localhost:6379", "http://x", "redis", 42, 0/0, huge, "redis://h:notaport",
    "redis://h:6379/notadb", "redis://h:6379/1/2", "redis://\0", "redis://h:99999"}) do
  err(bad1 .. form, redis.new, u)
end
-- The password never shows in an error.
local e = err(bad1, redis.new, "redis://:s3cret@h:6379/x")
check.ok(not e:find("s3cret", 1, true), "password in " .. e)
err(bad1 .. "the database of a redis:// URI is its path (/db), not ?db=)", redis.new, url .. "?db=1")
err(bad1 .. 'unknown option "protocol" in the URI', redis.new, url .. "?protocol=3")
err(bad1 .. 'option pool_size in the URI must be a number, got "x"', redis.new, url .. "?pool_size=x")
err(bad1 .. "option pool_size must be an integer from 1 to 10000 (in the URI)", redis.new, url .. "?pool_size=0")
err(bad1 .. "option read_timeout must be a number of milliseconds from 0 (none) to 86400000 (in the URI)",
  redis.new, url .. "?read_timeout=-1")
err(bad1 .. "option read_timeout must be a finite number (in the URI))", redis.new, url .. "?read_timeout=NaN")
err(bad1 .. "option dial_timeout must be a finite number (in the URI))", redis.new, url .. "?dial_timeout=Inf")

local bad2 = "bad argument #2 to 'redis.new' ("
err(bad2 .. "table expected, got string)", redis.new, url, "x")
err(bad2 .. "table expected, got number)", redis.new, url, 1)
err(bad2 .. "table expected, got boolean)", redis.new, url, true)
err(bad2 .. "table expected, got function)", redis.new, url, print)
err(bad2 .. "cannot encode a table: cycle)", redis.new, url, cyc)
err(bad2 .. "cannot encode a function value)", redis.new, url, {pool_size = print})
err(bad2 .. "options must be a table of named options)", redis.new, url, {1, 2})
err(bad2 .. "unknown option 'poolsize'", redis.new, url, {poolsize = 1})
err(bad2 .. "unknown option 'db'", redis.new, url, {db = 1})
for _, v in ipairs({0, -1, 1.5, 10001, 2^53, 0/0, 1/0, -1/0}) do
  err(bad2 .. "option pool_size must ", redis.new, url, {pool_size = v})
end
err(bad2 .. "option pool_size must be a number)", redis.new, url, {pool_size = "10"})
err(bad2 .. "option pool_size must be a number)", redis.new, url, {pool_size = true})
err(bad2 .. "option pool_size must be a number)", redis.new, url, {pool_size = json.null})
for _, name in ipairs({"read_timeout", "write_timeout"}) do
  for _, v in ipairs({-1, -1e-9, 86400001, 1e300}) do
    err(bad2 .. "option " .. name .. " must be a number of milliseconds from 0 (none) to 86400000)",
      redis.new, url, {[name] = v})
  end
  err(bad2 .. "option " .. name .. " must be a finite number)", redis.new, url, {[name] = 0/0})
  err(bad2 .. "option " .. name .. " must be a finite number)", redis.new, url, {[name] = 1/0})
  redis.new(url, {[name] = 0}):close()
  redis.new(url, {[name] = 1e-6}):close()
end
for _, name in ipairs({"dial_timeout", "pool_timeout"}) do
  for _, v in ipairs({0, -5, 86400001, -1/0, 1/0, 0/0}) do
    err(bad2 .. "option " .. name .. " must be ", redis.new, url, {[name] = v})
  end
  err(bad2 .. "option " .. name .. " must be a number)", redis.new, url, {[name] = "5"})
  redis.new(url, {[name] = 1e-6}):close()
end
err(bad1 .. "option pool_timeout must be a number of milliseconds above 0 and at most 86400000 (in the URI)",
  redis.new, url .. "?pool_timeout=0")
err(bad2 .. "options.tls must be true or a table of name = value)", redis.new, url, {tls = 1})
err(bad2 .. "options.tls must be true or a table of name = value)", redis.new, url, {tls = {1}})
err(bad2 .. "unknown option tls.sni (insecure, server_name, ca))", redis.new, url, {tls = {sni = "x"}})
err(bad2 .. "options.tls.ca holds no PEM certificate)", redis.new, url, {tls = {ca = "-----BEGIN CERTIFICATE-----\nx\n"}})
err(bad2 .. "options.tls.server_name is needed", redis.new, "unix:///tmp/none.sock", {tls = true})
redis.new(url, {tls = false}):close()
err("bad argument #3 to 'redis.new' (no more arguments expected", redis.new, url, {}, 1)
redis.new(url, {}):close()
redis.new(url, nil):close()
err(bad2 .. "table expected, got userdata)", redis.new, url, json.empty_array)

local c = redis.new(url)

-- client:call(cmd, args..., cb?)
local badc = "bad argument #1 to 'redisClient:call' ("
err(badc .. "command expected, got no value)", c.call, c)
err(badc .. "command name (string) expected, got number)", c.call, c, 1)
err(badc .. "command name (string) expected, got table)", c.call, c, {}, print)
err(badc .. "the command name is empty)", c.call, c, "")
err("calling 'redisClient:call' on bad self (redisClient expected, got nil)", c.call, nil, "PING")
err("calling 'redisClient:call' on bad self (redisClient expected, got table)", c.call, {}, "PING")
err("calling 'redisClient:call' on bad self (redisClient expected, got userdata)", c.call, ud, "PING")
err("bad argument #2 to 'redisClient:call' (a boolean is no redis argument (pass 1 or 0, or a string))",
  c.call, c, "SET", true, "x")
err("bad argument #3 to 'redisClient:call' (a boolean is no redis argument", c.call, c, "SET", "k", false)
err("bad argument #2 to 'redisClient:call' (string or number expected, got nil)", c.call, c, "GET", nil, print)
err("bad argument #2 to 'redisClient:call' (string or number expected, got table)", c.call, c, "GET", {})
err("bad argument #2 to 'redisClient:call' (string or number expected, got userdata)", c.call, c, "GET", ud)
err("bad argument #2 to 'redisClient:call' (string or number expected, got thread)", c.call, c, "GET", co)
err("bad argument #2 to 'redisClient:call' (string or number expected, got function)", c.call, c, "GET", print, print)
err("bad argument #2 to 'redisClient:call' (NaN is no redis argument)", c.call, c, "SET", 0/0, "x")
for _, cmd in ipairs({"SUBSCRIBE", "psubscribe", "Monitor", "SELECT", "AUTH", "QUIT", "HELLO", "RESET"}) do
  err(badc .. cmd:upper() .. " is not available here: ", c.call, c, cmd, "x")
end
for _, cmd in ipairs({"MULTI", "exec", "DISCARD", "WATCH", "UNWATCH"}) do
  err(badc .. cmd:upper() .. " needs one connection for the whole transaction: send MULTI ... EXEC in client:pipeline)",
    c.call, c, cmd)
end
-- Numbers as Redis reads them: integers without a fraction, the infinities as +inf/-inf.
check.eq(c:call("SET", p .. "n", 2^62), "OK")
check.eq(c:call("GET", p .. "n"), "4611686018427387904")
check.eq(c:call("SET", p .. "n", -0.0), "OK")
check.eq(c:call("GET", p .. "n"), "0")
check.eq(c:call("SET", p .. "n", 1e300), "OK")
check.eq(c:call("GET", p .. "n"), "1e+300")
check.eq(c:call("SET", p .. "n", 0.1), "OK")
check.eq(c:call("GET", p .. "n"), "0.1")
check.eq(c:call("SET", p .. "n", 1/0), "OK")
check.eq(c:call("GET", p .. "n"), "+inf")
check.eq(c:call("ECHO", "8"), "8", "a numeric string stays a string")
-- A large value, and many arguments.
check.eq(c:call("SET", p .. "huge", huge), "OK")
check.eq(c:call("STRLEN", p .. "huge"), #huge)
check.eq(c:call("GET", p .. "huge"), huge)
local many = {}
for i = 1, 1000 do many[i] = i end
check.eq(c:call("RPUSH", p .. "many", unpack(many)) >= 1000, true)
check.eq(#c:call("LRANGE", p .. "many", 0, 999), 1000)

-- client:pipeline(cmds, cb?)
local badp = "bad argument #1 to 'redisClient:pipeline' ("
err(badp .. "table expected, got no value)", c.pipeline, c)
err(badp .. "table expected, got string)", c.pipeline, c, "PING")
err(badp .. "table expected, got nil)", c.pipeline, c, nil, print)
err(badp .. "commands must be a list of lists", c.pipeline, c, {a = {"PING"}})
err(badp .. "command #1: a list {cmd, args...} expected)", c.pipeline, c, {"PING"})
err(badp .. "command #2: a list {cmd, args...} expected)", c.pipeline, c, {{"PING"}, {x = 1}})
err(badp .. "command #1: empty)", c.pipeline, c, {{}})
err(badp .. "command #1: the command name must be a string)", c.pipeline, c, {{1}})
err(badp .. "command #1: the command name is empty)", c.pipeline, c, {{""}})
err(badp .. "command #1: argument #1: a boolean is no redis argument", c.pipeline, c, {{"SET", true, 1}})
err(badp .. "command #1: argument #2: string or number expected)", c.pipeline, c, {{"SET", "k", {}}})
err(badp .. "command #1: argument #1: NaN is no redis argument)", c.pipeline, c, {{"SET", 0/0, 1}})
err(badp .. "command #1: a list {cmd, args...} expected)", c.pipeline, c, {{"SET", nil, 1}}) -- a hole: no list
err(badp .. "command #1: argument #1: string or number expected)", c.pipeline, c, {{"SET", json.null, 1}})
err(badp .. "command #2: SUBSCRIBE is not available here", c.pipeline, c, {{"PING"}, {"subscribe", "x"}})
err(badp .. "cannot encode a table: cycle)", c.pipeline, c, cyc)
err(badp .. "cannot encode a table: nesting too deep)", c.pipeline, c, deep)
err(badp .. "cannot encode a function value)", c.pipeline, c, {{"GET", print}})
err("bad argument #2 to 'redisClient:pipeline' (function expected, got string)", c.pipeline, c, {{"PING"}}, "x")
check.same(c:pipeline({{"SET", p .. "x", 1.5}, {"GET", p .. "x"}}), {"OK", "1.5"})
err(badp .. "table expected, got userdata)", c.pipeline, c, json.empty_array)

-- client:subscribe(channels, handler), client:psubscribe(patterns, handler)
local bads = "bad argument #1 to 'redisClient:subscribe' ("
err(bads .. "table or string expected, got no value)", c.subscribe, c)
err(bads .. "table or string expected, got number)", c.subscribe, c, 1, print)
err(bads .. "channels must be a non-empty list of strings)", c.subscribe, c, {}, print)
err(bads .. "channels must be a non-empty list of strings)", c.subscribe, c, {a = "x"}, print)
err(bads .. "channels must be a non-empty list of strings (#2 is not a string))", c.subscribe, c, {"a", 1}, print)
err(bads .. "cannot encode a table: cycle)", c.subscribe, c, cyc, print)
err("bad argument #2 to 'redisClient:subscribe' (function expected, got no value)", c.subscribe, c, {"a"})
err("bad argument #2 to 'redisClient:subscribe' (function expected, got nil)", c.subscribe, c, {"a"}, nil)
err("bad argument #2 to 'redisClient:subscribe' (function expected, got string)", c.subscribe, c, {"a"}, "f")
err("bad argument #3 to 'redisClient:subscribe' (no more arguments expected", c.subscribe, c, {"a"}, print, print)
err("bad argument #1 to 'redisClient:psubscribe' (patterns must be a non-empty list of strings)", c.psubscribe, c, {}, print)
err("calling 'redisClient:subscribe' on bad self (redisClient expected, got nil)", c.subscribe, nil, {"a"}, print)

-- subscription:ready(cb?), subscription:close()
local sub = c:subscribe("odd", function() end)
err("bad argument #1 to 'redisSubscription:ready' (function expected, got string)", sub.ready, sub, "x")
err("calling 'redisSubscription:ready' on bad self (redisSubscription expected, got nil)", sub.ready, nil)
err("calling 'redisSubscription:ready' on bad self (redisSubscription expected, got userdata)", sub.ready, c)
err("calling 'redisSubscription:close' on bad self (redisSubscription expected, got table)", sub.close, {})
err("calling 'redisClient:close' on bad self (redisClient expected, got userdata)", c.close, sub)
check.eq(sub:ready(), true)
sub:close()
check.eq(err_code(select(2, sub:ready())), "ECLOSED")

-- client:close(): then every method raises, close included (twice is nothing).
c:close()
c:close()
err("calling 'redisClient:call' on bad self (redisClient is closed)", c.call, c, "PING")
err("calling 'redisClient:pipeline' on bad self (redisClient is closed)", c.pipeline, c, {{"PING"}})
err("calling 'redisClient:subscribe' on bad self (redisClient is closed)", c.subscribe, c, {"a"}, print)
print("PASS")
