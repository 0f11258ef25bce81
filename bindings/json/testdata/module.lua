-- require "json": encode, decode, null, empty_array, array_mt, options.
local check = require "check"
local json = require "json"

check.eq(type(json.encode), "function")
check.eq(type(json.decode), "function")
check.eq(type(json.null), "userdata")
check.eq(type(json.empty_array), "userdata")
check.eq(type(json.array_mt), "table")
check.eq(json.__values, nil, "the hand-over function is gone")
check.ok(json.null ~= json.empty_array, "null and empty_array differ")
check.eq(require "json", json, "one module table")

-- json.decode keeps null, in arrays and objects, as lua-cjson does.
local v = json.decode('{"a":null,"b":[1,null,3],"c":[null,null]}')
check.eq(v.a, json.null)
check.eq(v.b[2], json.null)
check.eq(#v.b, 3)
check.eq(#v.c, 2)
check.eq(json.decode("null"), json.null)
check.eq(select("#", json.decode("null")), 1, "a value, no message")
for _, doc in ipairs({"[1,null,3]", '{"a":null}', "[null,null]", "[]", "{}", "[[],{},[[]]]", "null",
    '[{"x":[null,{"y":[]}]}]', '"\\u0000"', "-0.5", "[1e+21]"}) do
  check.eq(json.encode(json.decode(doc)), doc, "round trip of " .. doc)
end
-- The globals' decoder gives nil for null; both encoders are the same.
check.eq(json_decode('{"a":null}').a, nil)
check.eq(json_encode(json.decode("[1,null,3]")), "[1,null,3]")
check.eq(json.encode(json_decode("[1,null,3]")), "[1,null,3]")

-- Arrays: json.empty_array, json.array_mt, and plain tables with integer keys.
check.eq(json.encode(json.empty_array), "[]")
check.eq(json.encode({list = json.empty_array}), '{"list":[]}')
check.eq(json.encode({json.empty_array, {}}), "[[],{}]")
check.eq(json.encode(setmetatable({}, json.array_mt)), "[]")
check.eq(json.encode(setmetatable({1, 2}, json.array_mt)), "[1,2]")
check.eq(json.encode(setmetatable({[3] = "c"}, json.array_mt)), '[null,null,"c"]')
check.eq(json.encode(setmetatable({1, name = "x"}, json.array_mt)), json.encode({1, name = "x"}),
  "a marked table with a string key encodes as the plain table: no key dropped")
check.eq(json.encode({}), "{}", "an empty plain table stays an object")
check.eq(json.encode({1, 2, nil, 4}), "[1,2,null,4]")
check.eq(json.encode({json.null, json.null}), "[null,null]")
check.eq(json.encode({a = json.null}), '{"a":null}')
check.eq(getmetatable(json.decode("[1]")), json.array_mt)
check.eq(getmetatable(json.decode("{}")), nil)

-- Sparse arrays: holes up to the ratio (length 10, or twice the entries), objects beyond.
check.eq(json.encode({[10] = 1}), "[null,null,null,null,null,null,null,null,null,1]")
check.eq(json.encode({[11] = 1}), '{"11":1}')
check.eq(json.encode({1, 2, 3, [6] = 6, [11] = 11, [12] = 12}), "[1,2,3,null,null,6,null,null,null,null,11,12]")
check.eq(json.encode({[20] = 20, [1] = 1}), '{"1":1,"20":20}', "too sparse: an object, the run from 1 first")
check.eq(json.encode({[0] = 0}), '{"0":0}')
check.eq(json.encode({[1.5] = 1}), '{"1.5":1}')
check.eq(json.encode({[-1] = 1}), '{"-1":1}')

-- json.empty_array cannot be changed: it is not a table.
check.raises("attempt to index", function() json.empty_array[1] = 1 end)
check.raises("attempt to index", function() return json.empty_array.x end)
check.eq(json.encode(json.empty_array), "[]", "still empty")
-- json.array_mt is read-only: a field on it would change every array of the worker.
check.raises("json.array_mt is read-only", function() json.array_mt.__index = {} end)
check.raises("json.array_mt is read-only", function() json.array_mt.x = 1 end)
check.raises("cannot change a protected metatable", setmetatable, json.array_mt, {})
check.eq(getmetatable(json.array_mt), false)
check.eq(next(json.array_mt), nil, "array_mt has no fields")
check.eq(json.encode(json.decode("[1,2]")), "[1,2]", "arrays still encode as arrays")

-- The colon form works as everywhere.
check.eq(json:encode({1}), "[1]")
check.eq(json:decode("[2]")[1], 2)

-- encode options.
local doc = {name = "x", list = {1, {a = json.empty_array}}, empty = {}}
check.eq(json.encode(doc, {sort_keys = true}), '{"empty":{},"list":[1,{"a":[]}],"name":"x"}')
check.eq(json.encode(doc, {sort_keys = true, indent = "  "}), [[
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
check.eq(json.encode({1, 2}, {indent = 1}), "[\n 1,\n 2\n]")
check.eq(json.encode({1}, {indent = "\t"}), "[\n\t1\n]")
check.eq(json.encode({1}, {indent = 0}), "[1]", "indent 0 is compact")
check.eq(json.encode({1}, {indent = ""}), "[1]")
check.eq(json.encode({b = 1, a = 2, [3] = 3}, {sort_keys = true}), '{"3":3,"a":2,"b":1}')
check.eq(json.encode({1}, {}), "[1]")
check.eq(json.encode({1}, nil), "[1]")
check.eq(json.encode({1}, {sort_keys = false}), "[1]")

-- decode options.
check.eq(json.encode(json.decode("[[1]]", {max_depth = 2})), "[[1]]")
local r, msg = json.decode("[[[1]]]", {max_depth = 2})
check.eq(r, nil)
check.eq(msg, "EINVAL: invalid JSON at offset 2: nesting too deep (more than 2 levels)")
check.eq(json.decode("1", {max_depth = 1}), 1)
local deep = string.rep("[", 200) .. string.rep("]", 200)
check.eq(json.encode(json.decode(deep)), deep, "200 levels, the most")
r, msg = json.decode("[" .. deep .. "]")
check.eq(r, nil)
check.match(msg, "nesting too deep %(more than 200 levels%)")

-- The README's example.
local body = json.decode('{"ids":[1,2],"next":null}')
check.eq(body.next, json.null)
body.ids[#body.ids + 1] = 3
check.eq(json.encode(body, {sort_keys = true}), '{"ids":[1,2,3],"next":null}')
check.eq(json.encode({items = json.empty_array}), '{"items":[]}')
check.eq(json.encode(body, {indent = "  ", sort_keys = true}), '{\n  "ids": [\n    1,\n    2,\n    3\n  ],\n  "next": null\n}')

print("PASS")
