-- require "shdict": every method in one worker (the dictionaries of a name, values, ttls,
-- incr, keys, flush, eviction), and every function under odd values. Moved from
-- bindings/shdict/testdata; that two workers share one dictionary stays a Go test there.
local shdict = require "shdict"
local json = require "json"
local time = require "time"

local raises = require("support").raises

local d = shdict.new("api", {max_bytes = 1024 * 1024})
local same -- the same dictionary through another object
test("a new dictionary: name, capacity, size, tostring", function(t)
  t:eq(d.name, "api", "name")
  t:eq(d:capacity(), 1024 * 1024, "capacity")
  t:eq(d:size(), 0, "size of a new dict")
  t:eq(d:free_space(), 1024 * 1024, "free_space of a new dict")
  t:ok(tostring(d):match('^shdict "api" %(0/1048576 bytes%)$'), "tostring " .. tostring(d))
end)

-- The same name is the same dictionary; no max_bytes or the same one is fine.
test("the same name is the same dictionary", function(t)
  same = shdict.new("api")
  same:set("shared", 1)
  t:eq(d:get("shared"), 1, "through another object")
  shdict.new("api", {max_bytes = 1024 * 1024})
  raises(t, 'dictionary "api" exists with max_bytes 1048576, not 2048', shdict.new, "api", {max_bytes = 2048})
  t:eq(shdict:new("api"):get("shared"), 1, "shdict:new, with a colon")
  local dflt = shdict.new("default")
  t:eq(dflt:capacity(), 1024 * 1024, "default max_bytes")
end)

-- Values: strings (binary), integers and floats, booleans, tables.
test("values: strings, numbers, booleans, tables", function(t)
  local ok, err, forcible = d:set("s", "a\0b\255")
  t:eq(ok, true, "set ok") t:eq(err, nil, "set err") t:eq(forcible, false, "set forcible")
  t:eq(d:get("s"), "a\0b\255", "binary string")
  d:set("empty", "")
  t:eq(d:get("empty"), "", "empty string")
  d:set("int", 42)
  t:eq(d:get("int"), 42, "integer")
  d:set("float", 2.5)
  t:eq(d:get("float"), 2.5, "float")
  d:set("big", 2^60)
  t:eq(d:get("big"), 2^60, "2^60")
  d:set("neg", -7)
  t:eq(d:get("neg"), -7, "negative")
  d:set("t", true) d:set("f", false)
  t:eq(d:get("t"), true, "true") t:eq(d:get("f"), false, "false")
  d:set("tbl", {a = 1, list = json.decode("[1,null,3]"), nested = {deep = "x"}})
  local tbl = d:get("tbl")
  t:eq(tbl.a, 1, "table field") t:eq(tbl.nested.deep, "x", "nested")
  t:eq(tbl.list[2], json.null, "null kept")
  t:eq(getmetatable(tbl.list), json.array_mt, "array mark kept")
  t:eq(json.encode(d:get("tbl").list), "[1,null,3]", "array encodes as an array")
  tbl.a = 2
  t:eq(d:get("tbl").a, 1, "a table is a copy")
  d:set("null", json.null)
  t:eq(d:get("null"), json.null, "json.null")
  t:eq(d:get("missing"), nil, "absent key")
  d:set(7, "number key")
  t:eq(d:get("7"), "number key", "a number key is its string")
end)

-- set with nil deletes; delete says whether it was there.
test("set nil deletes; delete says whether it was there", function(t)
  d:set("gone", 1)
  t:eq(d:set("gone", nil), true, "set nil")
  t:eq(d:get("gone"), nil, "deleted by set nil")
  d:set("gone", 1)
  t:eq(d:delete("gone"), true, "delete present")
  t:eq(d:delete("gone"), false, "delete absent")
end)

-- add and replace.
test("add and replace", function(t)
  t:eq(d:add("a1", "x"), true, "add absent")
  local ok, err = d:add("a1", "y")
  t:eq(ok, false, "add present") t:eq(err, "exists", "add err")
  t:eq(d:get("a1"), "x", "add did not overwrite")
  ok, err = d:replace("r1", "x")
  t:eq(ok, false, "replace absent") t:eq(err, "not found", "replace err")
  t:eq(d:replace("a1", "z"), true, "replace present")
  t:eq(d:get("a1"), "z", "replaced")
end)

-- incr.
test("incr", function(t)
  local v, err = d:incr("n", 1)
  t:eq(v, nil, "incr absent without init") t:eq(err, "not found", "incr err")
  t:eq(d:incr("n", 1, 0), 1, "incr with init: init + n")
  t:eq(d:incr("n", 5, 100), 6, "init only when absent")
  t:eq(d:incr("n", -1.5), 4.5, "float increment")
  v, err = d:incr("s", 1, 0)
  t:eq(v, nil, "incr string") t:eq(err, "not a number", "incr string err")
  t:eq(d:incr("tn", 1, 0, 0.5), 1, "incr with init_ttl")
  t:ok(d:ttl("tn") > 0, "init_ttl applied")
end)

-- ttl and expire.
-- Half a second: long enough for a loaded machine to look at it in time.
test("ttl and expire", function(t)
  local v, err, ok
  d:set("ttl", "x", 0.5)
  local left = d:ttl("ttl")
  t:ok(left > 0 and left <= 0.5, "ttl left " .. tostring(left))
  t:eq(d:ttl("s"), 0, "no expiry is 0")
  v, err = d:ttl("missing")
  t:eq(v, nil, "ttl absent") t:eq(err, "not found", "ttl absent err")
  t:eq(d:expire("s", 100), true, "expire")
  t:ok(d:ttl("s") > 99, "expire set the ttl")
  t:eq(d:expire("s", 0), true, "expire 0")
  t:eq(d:ttl("s"), 0, "expire 0 removes the ttl")
  ok, err = d:expire("missing", 1)
  t:eq(ok, false, "expire absent") t:eq(err, "not found", "expire absent err")
  d:set("flushme", "x", 0.01)
end)

-- keys, size, flush.
test("keys, size, flush, expiry and no memory", function(t)
  local before = d:size()
  t:ok(before > 0 and d:free_space() == d:capacity() - before, "size and free_space")
  local ks = d:keys()
  t:ok(#ks >= 15, "keys: " .. #ks)
  t:eq(#d:keys(3), 3, "keys(3)")
  t:ok(#d:keys(0) == #ks, "keys(0) is all")

  -- The expiries, once they passed.
  time.sleep(700)
  do
    local v
    t:eq(d:get("ttl"), nil, "expired get is nil")
    t:eq(d:ttl("ttl"), nil, "expired ttl is nil")
    t:eq(d:add("ttl", "again"), true, "add over an expired key")
    t:eq(d:get("tn"), nil, "incr init_ttl expired")
    t:ok(d:flush_expired() >= 1, "flush_expired removed flushme")
    d:flush_all()
    t:eq(d:size(), 0, "size after flush_all")
    t:eq(#d:keys(0), 0, "no keys after flush_all")
    t:eq(same:get("shared"), nil, "flushed for every object")
    -- no memory: a value larger than the dictionary, and LRU eviction.
    local small = shdict.new("small", {max_bytes = 400})
    local ok, err = small:set("huge", string.rep("x", 400))
    t:eq(ok, false, "too large") t:eq(err, "no memory", "too large err")
    v, err = small:incr(string.rep("k", 400), 1, 0)
    t:eq(v, nil, "incr key too large") t:eq(err, "no memory", "incr no memory")
    for i = 1, 3 do t:eq(small:set("k" .. i, string.rep("v", 50)), true, "fill " .. i) end
    small:get("k1")
    local ok, err, forcible = small:set("k4", string.rep("v", 50))
    t:eq(ok, true, "evicting set") t:eq(forcible, true, "forcible")
    t:eq(small:get("k2"), nil, "least recently used evicted")
    t:eq(small:get("k1"), string.rep("v", 50), "recently used kept")
  end
end)

-- Every function with odd arguments under pcall: a clear error or a sensible result.
local odd = shdict.new("odd", {max_bytes = 64 * 1024})
local co = coroutine.create(function() end)
local cyc = {} cyc.self = cyc
local deep = {} do local t = deep for i = 1, 300 do t.x = {} t = t.x end end
local huge = string.rep("k", 65536)

-- shdict.new
test("odd values: shdict.new", function(t)
  raises(t, "bad argument #1 to 'shdict.new' (string expected, got no value)", shdict.new)
  raises(t, "string expected, got number", shdict.new, 1)
  raises(t, "name must be 1 to 255 bytes", shdict.new, "")
  raises(t, "name must be 1 to 255 bytes", shdict.new, string.rep("n", 256))
  raises(t, "bad argument #2 to 'shdict.new' (table expected, got string)", shdict.new, "x", "big")
  raises(t, "unknown option 'size'", shdict.new, "x", {size = 1})
  raises(t, "options must be a table of named options", shdict.new, "x", {1, 2})
  for _, bad in ipairs({0, -1, 1.5, 0/0, math.huge, -math.huge, 2^41, "1024", true}) do
    raises(t, "option 'max_bytes' must be an integer from 1 to 1099511627776", shdict.new, "x", {max_bytes = bad})
  end
  raises(t, "cannot encode a table: cycle", shdict.new, "x", cyc)
  shdict.new(string.rep("n", 255), {max_bytes = 1}) -- the longest name, the smallest size
end)

-- self
test("odd values: self", function(t)
  raises(t, "calling 'shdict:get' on bad self", odd.get, nil, "k")
  raises(t, "calling 'shdict:get' on bad self", odd.get, {}, "k")
  raises(t, "calling 'shdict:set' on bad self", odd.set, co, "k", 1)
end)

-- keys
test("odd values: keys", function(t)
  for _, m in ipairs({"get", "set", "add", "replace", "incr", "delete", "ttl", "expire"}) do
    raises(t, "string expected, got nil", odd[m], odd, nil, 1)
    raises(t, "string expected, got table", odd[m], odd, {}, 1)
    raises(t, "string expected, got boolean", odd[m], odd, true, 1)
    raises(t, "string expected, got userdata", odd[m], odd, json.null, 1)
    raises(t, "string expected, got thread", odd[m], odd, co, 1)
    raises(t, "key must not be empty", odd[m], odd, "", 1)
    raises(t, "key must be at most 65535 bytes", odd[m], odd, huge, 1)
  end
  t:eq(odd:get(string.rep("k", 65535)), nil, "the longest key")
end)

-- values
test("odd values: values", function(t)
  raises(t, "cannot encode a function value", odd.set, odd, "k", print)
  raises(t, "cannot encode a thread value", odd.set, odd, "k", co)
  raises(t, "cannot encode a userdata value", odd.set, odd, "k", odd)
  raises(t, "cannot encode a table: cycle", odd.set, odd, "k", cyc)
  raises(t, "cannot encode a table: nesting too deep", odd.set, odd, "k", deep)
  raises(t, "cannot encode a function value", odd.add, odd, "k", {f = print})
  raises(t, "value expected, got nil", odd.add, odd, "k", nil)
  raises(t, "bad argument #2 to 'shdict:replace' (value expected)", odd.replace, odd, "k")
  raises(t, "bad argument #2 to 'shdict:set' (value expected)", odd.set, odd, "k")
  t:eq(odd:get("k"), nil, "nothing stored by the failed sets")
  odd:set("nan", 0/0)
  local nan = odd:get("nan")
  t:ok(nan ~= nan, "NaN is stored as NaN")
  odd:set("inf", math.huge)
  t:eq(odd:get("inf"), math.huge, "inf")
  local ok, err = odd:set("toolarge", string.rep("x", 64 * 1024))
  t:eq(ok, false, "value larger than the dict") t:eq(err, "no memory", "no memory")
end)

-- ttls
test("odd values: ttls", function(t)
  for _, m in ipairs({"set", "add", "replace"}) do
    for _, bad in ipairs({-1, 0/0, math.huge, -math.huge, 1e10}) do
      raises(t, "ttl must be a number of seconds from 0 to 3153600000", odd[m], odd, "k", 1, bad)
    end
    raises(t, "number expected, got string", odd[m], odd, "k", 1, "10")
    raises(t, "number expected, got table", odd[m], odd, "k", 1, {})
  end
  raises(t, "ttl must be a number of seconds", odd.set, odd, "k", nil, -1)
  raises(t, "ttl expected", odd.expire, odd, "k")
  raises(t, "ttl must be a number of seconds", odd.expire, odd, "k", -0.5)
  raises(t, "ttl must be a number of seconds", odd.incr, odd, "k", 1, 0, 0/0)
  t:eq(odd:set("maxttl", 1, 3153600000), true, "the longest ttl")
  t:eq(odd:set("fraction", 1, 1e-9), true, "a tiny ttl")
end)

-- incr's numbers
test("odd values: incr's numbers", function(t)
  raises(t, "bad argument #2 to 'shdict:incr' (number expected, got no value)", odd.incr, odd, "k")
  raises(t, "bad argument #2 to 'shdict:incr' (number expected, got nil)", odd.incr, odd, "k", nil, 0)
  raises(t, "number expected, got string", odd.incr, odd, "k", "1")
  for _, bad in ipairs({0/0, math.huge, -math.huge}) do
    raises(t, "increment must be a finite number", odd.incr, odd, "k", bad, 0)
    raises(t, "init must be a finite number", odd.incr, odd, "k", 1, bad)
  end
  raises(t, "number expected, got boolean", odd.incr, odd, "k", 1, true)
  t:eq(odd:incr("k", 2^52, 2^52), 2^53, "large incr")
end)

-- keys and flush_expired limits
test("odd values: keys and flush_expired limits", function(t)
  for _, m in ipairs({"keys", "flush_expired"}) do
    raises(t, "number out of range (0 to 2147483648 expected)", odd[m], odd, -1)
    raises(t, "number out of range", odd[m], odd, 2^40)
    raises(t, "number has no integer representation", odd[m], odd, 0/0)
    raises(t, "number expected, got string", odd[m], odd, "3")
  end
  t:eq(type(odd:keys(1.5)), "table", "a fraction is truncated")
end)
