-- Odd values under pcall: every Lua-visible function of kv with wrong types, nil, NaN,
-- infinities, huge strings, cycles, deep tables, userdata and coroutines. Each gives a
-- clear error or a sensible result, never a crash.
local kv = require "kv"
local check = require "check"

local huge = string.rep("k", 100000)
local cycle = {}
cycle.self = cycle
local deep = {}
do
  local t = deep
  for _ = 1, 300 do t.x = {} t = t.x end
end
local co = coroutine.create(function() end)
local ud = io.stdout

-- kv.bucket: the name.
check.raises("bad argument #1 to 'kv.bucket' (string expected, got no value)", kv.bucket)
check.raises("bad argument #1 to 'kv.bucket' (string expected, got table)", kv.bucket, {})
check.raises("bucket name is empty", kv.bucket, "")
check.raises("bucket name \"a.b\" has '.' at byte 2", kv.bucket, "a.b")
check.raises("only letters, digits, '_' and '-' are allowed", kv.bucket, "a b")
check.raises("only letters, digits, '_' and '-' are allowed", kv.bucket, "a\0b")
check.raises("only letters, digits, '_' and '-' are allowed", kv.bucket, "a*")
check.raises("bucket name is longer than 252 bytes", kv.bucket, huge)
check.raises("string expected, got userdata", kv.bucket, ud)
check.raises("string expected, got thread", kv.bucket, co)
-- kv.bucket: the options.
check.raises("bad argument #2 to 'kv.bucket' (table expected, got string)", kv.bucket, "b", "x")
check.raises("table expected, got boolean", kv.bucket, "b", true)
check.raises("options.ttl must be a number", kv.bucket, "b", {ttl = "1"})
check.raises("options.ttl must be a finite number", kv.bucket, "b", {ttl = 0 / 0})
check.raises("options.ttl must be a finite number", kv.bucket, "b", {ttl = math.huge})
check.raises("options.ttl must be 0 (no expiry) or 0.1 to 3153600000 seconds", kv.bucket, "b", {ttl = -1})
check.raises("options.ttl must be 0 (no expiry) or 0.1 to 3153600000 seconds", kv.bucket, "b", {ttl = 0.01})
check.raises("options.ttl must be 0 (no expiry) or 0.1 to 3153600000 seconds", kv.bucket, "b", {ttl = 1e300})
check.raises("options.replicas must be an integer from 1 to 5", kv.bucket, "b", {replicas = 0})
check.raises("options.replicas must be an integer from 1 to 5", kv.bucket, "b", {replicas = 6})
check.raises("options.replicas must be an integer from 1 to 5", kv.bucket, "b", {replicas = 1.5})
check.raises("options.replicas must be a finite number", kv.bucket, "b", {replicas = -math.huge})
check.raises("options.history must be an integer from 1 to 64", kv.bucket, "b", {history = 65})
check.raises("options.history must be an integer from 1 to 64", kv.bucket, "b", {history = 0})
check.raises("options.history must be a number", kv.bucket, "b", {history = {}})
check.raises("options.timeout must be a positive number of milliseconds", kv.bucket, "b", {timeout = 0})
check.raises("options.timeout must be a positive number of milliseconds", kv.bucket, "b", {timeout = 1e12})
check.raises("options.timeout must be a finite number", kv.bucket, "b", {timeout = 0 / 0})
check.raises("unknown option tll", kv.bucket, "b", {tll = 1})
check.raises("options must be a table of named settings", kv.bucket, "b", {1, 2})
check.raises("bad argument #2 to 'kv.bucket'", kv.bucket, "b", {ttl = cycle})
check.raises("bad argument #2 to 'kv.bucket'", kv.bucket, "b", {ttl = deep})
check.raises("bad argument #2 to 'kv.bucket'", kv.bucket, "b", {ttl = print})
check.raises("bad argument #3 to 'kv.bucket' (function expected, got string)", kv.bucket, "b", {}, "cb")

local b = assert(kv.bucket("odd"))
local calls = {
  {"get", function(...) return b:get(...) end},
  {"put", function(k, ...) return b:put(k, "v", ...) end},
  {"create", function(k, ...) return b:create(k, "v", ...) end},
  {"update", function(k, ...) return b:update(k, "v", 1, ...) end},
  {"delete", function(...) return b:delete(...) end},
}
for _, c in ipairs(calls) do
  local name, f = c[1], c[2]
  check.raises("bad argument #1 to 'kvBucket:" .. name .. "' (string expected, got nil)", f, nil)
  check.raises("string expected, got table", f, {})
  check.raises("string expected, got boolean", f, true)
  check.raises("string expected, got userdata", f, ud)
  check.raises("string expected, got thread", f, co)
  check.raises("key is empty", f, "")
  check.raises("key is longer than 1024 bytes", f, huge)
  check.raises("key \".a\" starts with '.'", f, ".a")
  check.raises("key \"a.\" ends with '.'", f, "a.")
  check.raises("key \"a..b\" has an empty token ('..')", f, "a..b")
  check.raises("only letters, digits and - / _ = . are allowed", f, "a b")
  check.raises("only letters, digits and - / _ = . are allowed", f, "a*")
  check.raises("only letters, digits and - / _ = . are allowed", f, "a>")
  check.raises("only letters, digits and - / _ = . are allowed", f, "é")
  check.raises("only letters, digits and - / _ = . are allowed", f, "a\0")
  check.raises("function expected, got string", f, "k", "notafunction")
  check.raises("function expected, got table", f, "k", {})
end
-- A number key is Lua's string of it, as everywhere.
check.eq(b:put(12, "n") > 0, true, "a number key")
check.eq(b:get("12").value, "n", "the number key is its string")
check.raises("calling 'kvBucket:get' on bad self", b.get, nil, "k")
check.raises("calling 'kvBucket:get' on bad self", b.get, {}, "k")
check.raises("calling 'kvBucket:put' on bad self", b.put, ud, "k", "v")

-- Values are strings only: a number would read back as a string.
for _, v in ipairs({{}, true, 1, 0 / 0, math.huge, print, ud, co, cycle}) do
  check.raises("bad argument #2 to 'kvBucket:put' (string expected, got " .. type(v) .. ")", b.put, b, "k", v)
  check.raises("bad argument #2 to 'kvBucket:create' (string expected", b.create, b, "k", v)
  check.raises("bad argument #2 to 'kvBucket:update' (string expected", b.update, b, "k", v, 1)
end
check.raises("bad argument #2 to 'kvBucket:put' (string expected, got no value)", b.put, b, "k")

-- The revision of update.
check.raises("bad argument #3 to 'kvBucket:update' (number expected, got no value)", b.update, b, "k", "v")
check.raises("bad argument #3 to 'kvBucket:update' (number expected, got table)", b.update, b, "k", "v", {})
check.raises("number has no integer representation", b.update, b, "k", "v", 0 / 0)
check.raises("number has no integer representation", b.update, b, "k", "v", math.huge)
check.raises("number out of range (1 to 9007199254740992 expected)", b.update, b, "k", "v", 0)
check.raises("number out of range (1 to 9007199254740992 expected)", b.update, b, "k", "v", -1)
check.raises("number out of range (1 to 9007199254740992 expected)", b.update, b, "k", "v", 2 ^ 60)
check.raises("revision must be an integer", b.update, b, "k", "v", 1.5)

-- keys.
check.raises("bad argument #1 to 'kvBucket:keys' (function expected, got string)", b.keys, b, "x")
check.raises("calling 'kvBucket:keys' on bad self", b.keys, nil)

-- watch.
check.raises("bad argument #2 to 'kvBucket:watch' (function expected, got no value)", b.watch, b, "p")
check.raises("bad argument #2 to 'kvBucket:watch' (function expected, got string)", b.watch, b, "p", "f")
check.raises("bad argument #1 to 'kvBucket:watch' (string expected, got table)", b.watch, b, {}, print)
check.raises("bad argument #1 to 'kvBucket:watch' (string expected, got boolean)", b.watch, b, true, print)
check.raises("prefix \".x\" starts with '.'", b.watch, b, ".x", print)
check.raises("prefix \"a..\" has an empty token", b.watch, b, "a..", print)
check.raises("only letters, digits and - / _ = . are allowed", b.watch, b, "a>", print)
check.raises("prefix is longer than 1024 bytes", b.watch, b, huge, print)
check.raises("no more arguments expected", b.watch, b, "p", print, print)
check.raises("calling 'kvBucket:watch' on bad self", b.watch, nil, "p", print)

-- A watcher's methods.
local w = b:watch("p.", function() end)
check.raises("calling 'kvWatcher:stop' on bad self", w.stop, nil)
check.raises("calling 'kvWatcher:stop' on bad self", w.stop, b)
check.raises("calling 'kvWatcher:ready' on bad self", w.ready, b)
check.raises("bad argument #1 to 'kvWatcher:ready' (function expected, got string)", w.ready, w, "x")
check.raises("calling 'kvBucket:get' on bad self", b.get, w, "k")
w:stop()

-- In a coroutine of the script's own nothing can wait: with a callback it works.
local done = false
coroutine.wrap(function()
  b:get("12", function(err, e)
    check.eq(e.value, "n", "get from a coroutine, with a callback")
    done = true
  end)
end)()
check.pass_after(300)
local time = require "time"
time.timeout(250, function() check.ok(done, "coroutine callback ran") end)
