-- Every function with odd arguments under pcall: a clear error or a sensible result.
local check = require "check"
local shdict = require "shdict"
local json = require "json"

local d = shdict.new("odd", {max_bytes = 64 * 1024})
local co = coroutine.create(function() end)
local cyc = {} cyc.self = cyc
local deep = {} do local t = deep for i = 1, 300 do t.x = {} t = t.x end end
local huge = string.rep("k", 65536)

-- shdict.new
check.raises("bad argument #1 to 'shdict.new' (string expected, got no value)", shdict.new)
check.raises("string expected, got number", shdict.new, 1)
check.raises("name must be 1 to 255 bytes", shdict.new, "")
check.raises("name must be 1 to 255 bytes", shdict.new, string.rep("n", 256))
check.raises("bad argument #2 to 'shdict.new' (table expected, got string)", shdict.new, "x", "big")
check.raises("unknown option 'size'", shdict.new, "x", {size = 1})
check.raises("options must be a table of named options", shdict.new, "x", {1, 2})
for _, bad in ipairs({0, -1, 1.5, 0/0, math.huge, -math.huge, 2^41, "1024", true}) do
  check.raises("option 'max_bytes' must be an integer from 1 to 1099511627776", shdict.new, "x", {max_bytes = bad})
end
check.raises("cannot encode a table: cycle", shdict.new, "x", cyc)
shdict.new(string.rep("n", 255), {max_bytes = 1}) -- the longest name, the smallest size

-- self
check.raises("calling 'shdict:get' on bad self", d.get, nil, "k")
check.raises("calling 'shdict:get' on bad self", d.get, {}, "k")
check.raises("calling 'shdict:set' on bad self", d.set, co, "k", 1)

-- keys
for _, m in ipairs({"get", "set", "add", "replace", "incr", "delete", "ttl", "expire"}) do
  check.raises("string expected, got nil", d[m], d, nil, 1)
  check.raises("string expected, got table", d[m], d, {}, 1)
  check.raises("string expected, got boolean", d[m], d, true, 1)
  check.raises("string expected, got userdata", d[m], d, json.null, 1)
  check.raises("string expected, got thread", d[m], d, co, 1)
  check.raises("key must not be empty", d[m], d, "", 1)
  check.raises("key must be at most 65535 bytes", d[m], d, huge, 1)
end
check.eq(d:get(string.rep("k", 65535)), nil, "the longest key")

-- values
check.raises("cannot encode a function value", d.set, d, "k", print)
check.raises("cannot encode a thread value", d.set, d, "k", co)
check.raises("cannot encode a userdata value", d.set, d, "k", d)
check.raises("cannot encode a table: cycle", d.set, d, "k", cyc)
check.raises("cannot encode a table: nesting too deep", d.set, d, "k", deep)
check.raises("cannot encode a function value", d.add, d, "k", {f = print})
check.raises("value expected, got nil", d.add, d, "k", nil)
check.raises("bad argument #2 to 'shdict:replace' (value expected)", d.replace, d, "k")
check.raises("bad argument #2 to 'shdict:set' (value expected)", d.set, d, "k")
check.eq(d:get("k"), nil, "nothing stored by the failed sets")
d:set("nan", 0/0)
local nan = d:get("nan")
check.ok(nan ~= nan, "NaN is stored as NaN")
d:set("inf", math.huge)
check.eq(d:get("inf"), math.huge, "inf")
local ok, err = d:set("toolarge", string.rep("x", 64 * 1024))
check.eq(ok, false, "value larger than the dict") check.eq(err, "no memory", "no memory")

-- ttls
for _, m in ipairs({"set", "add", "replace"}) do
  for _, bad in ipairs({-1, 0/0, math.huge, -math.huge, 1e10}) do
    check.raises("ttl must be a number of seconds from 0 to 3153600000", d[m], d, "k", 1, bad)
  end
  check.raises("number expected, got string", d[m], d, "k", 1, "10")
  check.raises("number expected, got table", d[m], d, "k", 1, {})
end
check.raises("ttl must be a number of seconds", d.set, d, "k", nil, -1)
check.raises("ttl expected", d.expire, d, "k")
check.raises("ttl must be a number of seconds", d.expire, d, "k", -0.5)
check.raises("ttl must be a number of seconds", d.incr, d, "k", 1, 0, 0/0)
check.eq(d:set("maxttl", 1, 3153600000), true, "the longest ttl")
check.eq(d:set("fraction", 1, 1e-9), true, "a tiny ttl")

-- incr's numbers
check.raises("bad argument #2 to 'shdict:incr' (number expected, got no value)", d.incr, d, "k")
check.raises("bad argument #2 to 'shdict:incr' (number expected, got nil)", d.incr, d, "k", nil, 0)
check.raises("number expected, got string", d.incr, d, "k", "1")
for _, bad in ipairs({0/0, math.huge, -math.huge}) do
  check.raises("increment must be a finite number", d.incr, d, "k", bad, 0)
  check.raises("init must be a finite number", d.incr, d, "k", 1, bad)
end
check.raises("number expected, got boolean", d.incr, d, "k", 1, true)
check.eq(d:incr("k", 2^52, 2^52), 2^53, "large incr")

-- keys and flush_expired limits
for _, m in ipairs({"keys", "flush_expired"}) do
  check.raises("number out of range (0 to 2147483648 expected)", d[m], d, -1)
  check.raises("number out of range", d[m], d, 2^40)
  check.raises("number has no integer representation", d[m], d, 0/0)
  check.raises("number expected, got string", d[m], d, "3")
end
check.eq(type(d:keys(1.5)), "table", "a fraction is truncated")
print("PASS")
