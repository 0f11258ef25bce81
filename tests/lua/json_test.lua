-- require "json" and the globals json_encode / json_decode: encode, decode, null,
-- empty_array, array_mt, the options, and every function under odd values (a clear error
-- or a sensible result, never a crash). Moved from bindings/json/testdata.
local json = require "json"

local raises = require("support").raises

test("the module's fields", function(t)
  t:eq(type(json.encode), "function")
  t:eq(type(json.decode), "function")
  t:eq(type(json.null), "userdata")
  t:eq(type(json.empty_array), "userdata")
  t:eq(type(json.array_mt), "table")
  t:eq(json.__values, nil, "the hand-over function is gone")
  t:ok(json.null ~= json.empty_array, "null and empty_array differ")
  t:eq(require "json", json, "one module table")
end)

-- json.decode keeps null, in arrays and objects, as lua-cjson does.
test("json.decode keeps null", function(t)
  local v = json.decode('{"a":null,"b":[1,null,3],"c":[null,null]}')
  t:eq(v.a, json.null)
  t:eq(v.b[2], json.null)
  t:eq(#v.b, 3)
  t:eq(#v.c, 2)
  t:eq(json.decode("null"), json.null)
  t:eq(select("#", json.decode("null")), 1, "a value, no message")
  for _, doc in ipairs({"[1,null,3]", '{"a":null}', "[null,null]", "[]", "{}", "[[],{},[[]]]", "null",
      '[{"x":[null,{"y":[]}]}]', '"\\u0000"', "-0.5", "[1e+21]"}) do
    t:eq(json.encode(json.decode(doc)), doc, "round trip of " .. doc)
  end
end)

-- The globals' decoder gives nil for null; both encoders are the same.
test("the globals decode null as nil", function(t)
  t:eq(json_decode('{"a":null}').a, nil)
  t:eq(json_encode(json.decode("[1,null,3]")), "[1,null,3]")
  t:eq(json.encode(json_decode("[1,null,3]")), "[1,null,3]")
end)

-- Arrays: json.empty_array, json.array_mt, and plain tables with integer keys.
test("arrays", function(t)
  t:eq(json.encode(json.empty_array), "[]")
  t:eq(json.encode({list = json.empty_array}), '{"list":[]}')
  t:eq(json.encode({json.empty_array, {}}), "[[],{}]")
  t:eq(json.encode(setmetatable({}, json.array_mt)), "[]")
  t:eq(json.encode(setmetatable({1, 2}, json.array_mt)), "[1,2]")
  t:eq(json.encode(setmetatable({[3] = "c"}, json.array_mt)), '[null,null,"c"]')
  t:eq(json.encode(setmetatable({1, name = "x"}, json.array_mt)), json.encode({1, name = "x"}),
    "a marked table with a string key encodes as the plain table: no key dropped")
  t:eq(json.encode({}), "{}", "an empty plain table stays an object")
  t:eq(json.encode({1, 2, nil, 4}), "[1,2,null,4]")
  t:eq(json.encode({json.null, json.null}), "[null,null]")
  t:eq(json.encode({a = json.null}), '{"a":null}')
  t:eq(getmetatable(json.decode("[1]")), json.array_mt)
  t:eq(getmetatable(json.decode("{}")), nil)
end)

-- Sparse arrays: holes up to the ratio (length 10, or twice the entries), objects beyond.
test("sparse arrays", function(t)
  t:eq(json.encode({[10] = 1}), "[null,null,null,null,null,null,null,null,null,1]")
  t:eq(json.encode({[11] = 1}), '{"11":1}')
  t:eq(json.encode({1, 2, 3, [6] = 6, [11] = 11, [12] = 12}), "[1,2,3,null,null,6,null,null,null,null,11,12]")
  t:eq(json.encode({[20] = 20, [1] = 1}), '{"1":1,"20":20}', "too sparse: an object, the run from 1 first")
  t:eq(json.encode({[0] = 0}), '{"0":0}')
  t:eq(json.encode({[1.5] = 1}), '{"1.5":1}')
  t:eq(json.encode({[-1] = 1}), '{"-1":1}')
end)

-- json.empty_array cannot be changed: it is not a table.
test("empty_array cannot be changed", function(t)
  raises(t, "attempt to index", function() json.empty_array[1] = 1 end)
  raises(t, "attempt to index", function() return json.empty_array.x end)
  t:eq(json.encode(json.empty_array), "[]", "still empty")
end)

-- json.array_mt is read-only: a field on it would change every array of the worker.
test("array_mt is read-only", function(t)
  raises(t, "json.array_mt is read-only", function() json.array_mt.__index = {} end)
  raises(t, "json.array_mt is read-only", function() json.array_mt.x = 1 end)
  raises(t, "cannot change a protected metatable", setmetatable, json.array_mt, {})
  t:eq(getmetatable(json.array_mt), false)
  t:eq(next(json.array_mt), nil, "array_mt has no fields")
  t:eq(json.encode(json.decode("[1,2]")), "[1,2]", "arrays still encode as arrays")
end)

-- The colon form works as everywhere.
test("colon form", function(t)
  t:eq(json:encode({1}), "[1]")
  t:eq(json:decode("[2]")[1], 2)
end)

-- encode options.
test("encode options", function(t)
  local doc = {name = "x", list = {1, {a = json.empty_array}}, empty = {}}
  t:eq(json.encode(doc, {sort_keys = true}), '{"empty":{},"list":[1,{"a":[]}],"name":"x"}')
  t:eq(json.encode(doc, {sort_keys = true, indent = "  "}), [[
{
  "empty": {},
  "list": [
    1,
    {
      "a": []
    }
  ],
  "name": "x"
}]])
  t:eq(json.encode({1, 2}, {indent = 1}), "[\n 1,\n 2\n]")
  t:eq(json.encode({1}, {indent = "\t"}), "[\n\t1\n]")
  t:eq(json.encode({1}, {indent = 0}), "[1]", "indent 0 is compact")
  t:eq(json.encode({1}, {indent = ""}), "[1]")
  t:eq(json.encode({b = 1, a = 2, [3] = 3}, {sort_keys = true}), '{"3":3,"a":2,"b":1}')
  t:eq(json.encode({1}, {}), "[1]")
  t:eq(json.encode({1}, nil), "[1]")
  t:eq(json.encode({1}, {sort_keys = false}), "[1]")
end)

-- decode options.
test("decode options", function(t)
  t:eq(json.encode(json.decode("[[1]]", {max_depth = 2})), "[[1]]")
  local r, msg = json.decode("[[[1]]]", {max_depth = 2})
  t:eq(r, nil)
  t:eq(msg, "EINVAL: invalid JSON at offset 2: nesting too deep (more than 2 levels)")
  t:eq(json.decode("1", {max_depth = 1}), 1)
  local deep = string.rep("[", 200) .. string.rep("]", 200)
  t:eq(json.encode(json.decode(deep)), deep, "200 levels, the most")
  r, msg = json.decode("[" .. deep .. "]")
  t:eq(r, nil)
  t:ok(type(msg) == "string" and msg:match("nesting too deep %(more than 200 levels%)"), tostring(msg))
end)

-- The README's example.
test("the README example", function(t)
  local body = json.decode('{"ids":[1,2],"next":null}')
  t:eq(body.next, json.null)
  body.ids[#body.ids + 1] = 3
  t:eq(json.encode(body, {sort_keys = true}), '{"ids":[1,2,3],"next":null}')
  t:eq(json.encode({items = json.empty_array}), '{"items":[]}')
  t:eq(json.encode(body, {indent = "  ", sort_keys = true}), '{\n  "ids": [\n    1,\n    2,\n    3\n  ],\n  "next": null\n}')
end)

-- json_encode / json_decode, the globals: as documented before the json module, and now
-- with arrays that survive a round trip.
local function roundtrip(t, v)
  local s = json_encode(v)
  t:eq(type(s), "string", "json_encode result")
  local back, err = json_decode(s)
  t:eq(err, nil, "json_decode(" .. s .. ")")
  return back, s
end

test("values round trip", function(t)
  for _, v in ipairs({
    0, 1, -1, 0.5, -123.25, 1e300, 2^53 - 1, "", "abc", "a\"b\\c\n\t\r\0", "é☃😀",
    true, false,
    {1, 2, 3}, {a = 1, b = "two", c = {d = {e = {1, {f = false}}}}},
    {"x", {y = {}}}, {[1] = "a", [2] = "b"},
  }) do
    local back, s = roundtrip(t, v)
    t:eq(back, v, "round trip of " .. s)
  end
end)

test("json_encode of plain values", function(t)
  t:eq(json_encode({}), "{}", "empty table")
  t:eq(json_encode({1, 2, 3}), "[1,2,3]")
  t:eq(json_encode({a = {1, "x"}}), '{"a":[1,"x"]}')
  t:eq(json_encode("\1<&>"), '"\\u0001<&>"')
  t:eq(json_encode(nil), "null")
  t:eq(json_encode(12), "12")
  t:eq(json_encode(0.1), "0.1")
  t:eq(json_encode(1234567.5), "1234567.5")
  t:eq(json_encode({[1000] = "k"}), '{"1000":"k"}', "a very sparse table is an object")
end)

-- The issue: arrays survive, empty ones and ones with null included.
test("arrays survive", function(t)
  t:eq(json_encode(json_decode("[]")), "[]")
  t:eq(json_encode(json_decode("[1,null,3]")), "[1,null,3]")
  local nested = json_decode('{"a":[],"b":{},"c":[[],{}]}')
  t:eq(json_encode(nested.a), "[]")
  t:eq(json_encode(nested.b), "{}")
  t:eq(json_encode(nested.c), "[[],{}]")
  t:eq(getmetatable(nested.a), json.array_mt, "decoded arrays carry json.array_mt")
  t:eq(getmetatable(nested.b), nil, "decoded objects are plain tables")
end)

-- A decoded array may grow and still be an array.
test("a decoded array may grow", function(t)
  local list = json_decode("[]")
  list[#list + 1] = "x"
  list[#list + 1] = "y"
  t:eq(json_encode(list), '["x","y"]')
end)

-- null: nil in arrays (positions kept up to the last element), no entry in objects.
test("null is nil", function(t)
  local v = json_decode('{"a":null,"b":[1,null,3],"c":"\\u00e9\\ud83d\\ude00"}')
  t:eq(v.a, nil)
  t:eq(v.b[1], 1)
  t:eq(v.b[2], nil)
  t:eq(v.b[3], 3)
  t:eq(v.c, "é😀")
  t:eq(json_encode(json_decode("[null,null]")), "[]", "trailing nulls are nil: json.decode keeps them")
  local nothing, err = json_decode("null")
  t:eq(nothing, nil)
  t:eq(err, nil, "null is not an error")
  t:eq(json_decode("[]"), {})
  t:eq(json_decode(" 42 "), 42)
end)

-- Invalid JSON: nil and an error with the offset, code EINVAL (bad input is data, not a
-- raise).
test("invalid JSON is nil and EINVAL", function(t)
  for _, bad in ipairs({"", "{", "[1,]", '{"a" 1}', "tru", '"abc', "1 2", "{'a':1}"}) do
    local r, msg = json_decode(bad)
    t:eq(r, nil, "json_decode(" .. bad .. ")")
    t:ok(type(msg) == "string" and msg:match("^EINVAL: invalid JSON at offset %d+: "), "message for " .. bad .. ": " .. tostring(msg))
    t:eq(err_code(msg), "EINVAL", "code for " .. bad)
  end
end)

-- Values JSON cannot hold raise.
test("values JSON cannot hold raise", function(t)
  raises(t, "bad argument #1 to 'json_encode' (cannot encode a function value)", json_encode, print)
  raises(t, "bad argument #1 to 'json_encode' (cannot encode a function value)", json_encode, {f = print})
  local cyc = {}
  cyc[1] = cyc
  raises(t, "bad argument #1 to 'json_encode' (cannot encode a table: cycle)", json_encode, cyc)
  raises(t, "json_encode: cannot encode NaN in JSON", json_encode, 0/0)
  raises(t, "json_encode: cannot encode +Inf in JSON (at .x)", json_encode, {x = 1/0})
  raises(t, "bad argument #1 to 'json_encode' (value expected)", json_encode)
  raises(t, "bad argument #1 to 'json_decode' (string expected, got no value)", json_decode)
  raises(t, "bad argument #1 to 'json_decode' (string expected, got table)", json_decode, {})
end)

-- A byte string that is not UTF-8 is refused, never changed (it used to become U+FFFD).
test("bytes that are not UTF-8 are refused", function(t)
  raises(t, "json_encode: string is not valid UTF-8: byte 0xff at offset 1", json_encode, "a\255")
  -- ... and bytes json_decode let through are refused on the way back, not replaced.
  local raw = json_decode('"\255"')
  t:eq(raw, "\255", "json_decode passes bytes through")
  raises(t, "byte 0xff at offset 0", json_encode, raw)
end)

-- Every Lua-visible JSON function called with odd values under pcall.
local MB8 = 8 * 1024 * 1024
local huge = string.rep("x", MB8)
local cyc = {}
cyc.self = cyc
local cyc2 = {{}}
cyc2[1][1] = cyc2
local acyc = setmetatable({}, json.array_mt)
acyc[1] = acyc
local deep = {}
for i = 1, 199 do deep = {deep} end -- 200 tables: the most
local too_deep = {deep}
local ud = newproxy(true)
local co = coroutine.create(print)
local big = {}
for i = 1, 100000 do big[i] = i end
-- Metamethods are never called: encoding reads tables raw.
local trap = setmetatable({}, {
  __index = function() error("__index called") end,
  __len = function() error("__len called") end,
  __pairs = function() error("__pairs called") end,
})


test("odd values: json.encode and json_encode", function(t)
  for name, f in pairs({["json.encode"] = json.encode, json_encode = json_encode}) do
    local bad = "bad argument #1 to '" .. name .. "' ("
    local msg = name .. ": "
    raises(t, bad .. "value expected)", f)
    t:eq(f(nil), "null")
    raises(t, bad .. "cannot encode a function value)", f, print)
    raises(t, bad .. "cannot encode a thread value)", f, co)
    raises(t, bad .. "cannot encode a userdata value)", f, ud)
    raises(t, bad .. "cannot encode a userdata value)", f, io.stdout)
    raises(t, bad .. "cannot encode a function value)", f, {[print] = 1})
    raises(t, bad .. "cannot encode a table: cycle)", f, cyc)
    raises(t, bad .. "cannot encode a table: cycle)", f, cyc2)
    raises(t, bad .. "cannot encode a table: cycle)", f, acyc)
    raises(t, bad .. "cannot encode a table: nesting too deep)", f, too_deep)
    t:eq(#f(deep), 400, "200 levels encode")
    raises(t, msg .. "JSON object keys must be strings or numbers, not tables", f, {[{}] = 1})
    raises(t, msg .. "JSON object keys must be strings or numbers, not booleans", f, {[true] = 1})
    raises(t, msg .. "JSON object keys must be strings or numbers, not null", f, {[json.null] = 1})
    raises(t, msg .. "cannot encode NaN in JSON", f, 0/0)
    raises(t, msg .. "cannot encode +Inf in JSON", f, 1/0)
    raises(t, msg .. "cannot encode -Inf in JSON", f, -1/0)
    raises(t, msg .. "cannot encode +Inf in JSON", f, math.huge)
    raises(t, msg .. "cannot encode NaN in JSON (at .n)", f, {n = 0/0})
    raises(t, msg .. "cannot encode -Inf in JSON (at [2].x[1])", f, {1, {x = {-1/0}}})
    raises(t, msg .. "string is not valid UTF-8: byte 0xff at offset 0 (at [1])", f, {"\255"})
    raises(t, msg .. "key is not valid UTF-8: byte 0xc3 at offset 0", f, {["\195"] = 1})
    t:eq(f(2^53), "9007199254740992")
    t:eq(f(2^63), "9223372036854776000", "floats: shortest digits, as encoding/json")
    t:eq(f(-2^63), "-9223372036854776000")
    t:eq(f(1e308), "1e+308")
    t:eq(f(5e-324), "5e-324")
    t:eq(f(-0.0), "-0")
    t:eq(f(2^53 + 2), "9007199254740994")
    t:eq(#f(huge), MB8 + 2, "an 8 MB string")
    t:eq(f("a\0b"), '"a\\u0000b"')
    t:eq(#f(big), #table.concat(big, ",") + 2, "100000 elements")
    t:eq(f(trap), "{}", "no metamethod runs")
    t:eq(f(setmetatable({1}, {__index = trap})), "[1]")
  end
end)

-- json.encode's options.
test("odd values: json.encode's options", function(t)
  local bad2 = "bad argument #2 to 'json.encode' ("
  raises(t, bad2 .. "table expected, got string)", json.encode, 1, "x")
  raises(t, bad2 .. "table expected, got number)", json.encode, 1, 5)
  raises(t, bad2 .. "table expected, got function)", json.encode, 1, print)
  raises(t, bad2 .. "table expected, got userdata)", json.encode, 1, json.null)
  for _, indent in ipairs({-1, 17, 1.5, 0/0, 1/0, -1/0, "x", " x", string.rep(" ", 17), true, {}, json.null}) do
    raises(t, bad2 .. "option 'indent' must be a string of at most 16 spaces and tabs, or a number of spaces from 0 to 16)",
      json.encode, 1, {indent = indent})
  end
  for _, sort in ipairs({"yes", 1, 0, {}, json.null}) do
    raises(t, bad2 .. "option 'sort_keys' must be a boolean)", json.encode, 1, {sort_keys = sort})
  end
  raises(t, bad2 .. "unknown option 'bogus')", json.encode, 1, {bogus = 1})
  raises(t, bad2 .. "unknown option 'Indent')", json.encode, 1, {Indent = 1})
  raises(t, bad2 .. "options must be a table of named options)", json.encode, 1, {1, 2})
  raises(t, bad2 .. "options must be a table of named options)", json.encode, 1, {[1.5] = true})
  raises(t, bad2 .. "options must be a table of named options)", json.encode, 1, json.decode("[]"))
  raises(t, bad2 .. "cannot encode a function value)", json.encode, 1, {indent = print})
  raises(t, bad2 .. "cannot encode a table: cycle)", json.encode, 1, cyc)
  t:eq(json.encode({1}, setmetatable({}, {__index = function() error("no") end})), "[1]")
end)

test("odd values: json.decode and json_decode", function(t)
  for name, f in pairs({["json.decode"] = json.decode, json_decode = json_decode}) do
    local bad = "bad argument #1 to '" .. name .. "' ("
    raises(t, bad .. "string expected, got no value)", f)
    raises(t, bad .. "string expected, got nil)", f, nil)
    raises(t, bad .. "string expected, got table)", f, {})
    raises(t, bad .. "string expected, got function)", f, print)
    raises(t, bad .. "string expected, got boolean)", f, true)
    raises(t, bad .. "string expected, got userdata)", f, ud)
    raises(t, bad .. "string expected, got userdata)", f, json.null)
    raises(t, bad .. "string expected, got thread)", f, co)
    t:eq(f(42), 42, "a number is its text, as Lua converts it")
    local function invalid(s, want)
      local r, m = f(s)
      t:eq(r, nil, name .. " result")
      t:eq(type(m), "string", name .. " message")
      t:ok(m:find(want, 1, true), string.format("%s: %q, want %q", name, m, want))
    end
    invalid(0/0, "invalid JSON at offset ")
    invalid(1/0, "invalid JSON at offset 0: unexpected character")
    invalid(huge, "invalid JSON at offset 0: unexpected character 'x'")
    invalid(string.rep("[", MB8), "invalid JSON at offset 200: nesting too deep (more than 200 levels)")
    invalid(string.rep("{\"a\":", 1000), "nesting too deep")
    invalid("1e400", "invalid JSON at offset 0: bad number")
    invalid("-1e400", "bad number")
    invalid("\0", "unexpected character '\\x00'")
    invalid('"a\0b"', "invalid JSON at offset 2: control character in string")
    invalid('"' .. huge, "unterminated string")
    invalid(string.rep(" ", 1000), "invalid JSON at offset 1000: unexpected end of input")
    t:eq(f("1e-400"), 0, "underflow is 0")
    t:eq(f("123456789012345678901234567890"), 1.2345678901234568e+29)
    t:eq(f('"' .. huge .. '"'), huge, "an 8 MB string")
    t:eq(#f("[" .. string.rep("1,", 100000) .. "1]"), 100001)
    t:eq(f('"\255\0"'), nil, "a raw NUL is a control character")
    t:eq(f('"\255"'), "\255", "bytes pass through")
    t:eq(f('"\\u0000"'), "\0")
  end
end)

-- json.decode's options.
test("odd values: json.decode's options", function(t)
  local bad2d = "bad argument #2 to 'json.decode' ("
  raises(t, bad2d .. "table expected, got string)", json.decode, "1", "x")
  raises(t, bad2d .. "table expected, got boolean)", json.decode, "1", true)
  for _, depth in ipairs({0, 201, 1.5, "2", -1, 0/0, 1/0, true, {}, json.null, 2^53}) do
    raises(t, bad2d .. "option 'max_depth' must be an integer from 1 to 200)", json.decode, "1", {max_depth = depth})
  end
  raises(t, bad2d .. "unknown option 'depth')", json.decode, "1", {depth = 3})
  raises(t, bad2d .. "unknown option 'null')", json.decode, "1", {null = false})
  t:eq(json.decode("[1]", {})[1], 1)
  t:eq(json.decode("[1]", nil)[1], 1)
end)
