-- json_encode / json_decode, the globals: as documented before the json module, and now
-- with arrays that survive a round trip.
local check = require "check"
local json = require "json"

local function roundtrip(v)
  local s = json_encode(v)
  check.eq(type(s), "string", "json_encode result")
  local back, err = json_decode(s)
  check.eq(err, nil, "json_decode(" .. s .. ")")
  return back, s
end

for _, v in ipairs({
  0, 1, -1, 0.5, -123.25, 1e300, 2^53 - 1, "", "abc", "a\"b\\c\n\t\r\0", "é☃😀",
  true, false,
  {1, 2, 3}, {a = 1, b = "two", c = {d = {e = {1, {f = false}}}}},
  {"x", {y = {}}}, {[1] = "a", [2] = "b"},
}) do
  local back, s = roundtrip(v)
  check.same(back, v, "round trip of " .. s)
end

check.eq(json_encode({}), "{}", "empty table")
check.eq(json_encode({1, 2, 3}), "[1,2,3]")
check.eq(json_encode({a = {1, "x"}}), '{"a":[1,"x"]}')
check.eq(json_encode("\1<&>"), '"\\u0001<&>"')
check.eq(json_encode(nil), "null")
check.eq(json_encode(12), "12")
check.eq(json_encode(0.1), "0.1")
check.eq(json_encode(1234567.5), "1234567.5")
check.eq(json_encode({[1000] = "k"}), '{"1000":"k"}', "a very sparse table is an object")

-- The issue: arrays survive, empty ones and ones with null included.
check.eq(json_encode(json_decode("[]")), "[]")
check.eq(json_encode(json_decode("[1,null,3]")), "[1,null,3]")
local nested = json_decode('{"a":[],"b":{},"c":[[],{}]}')
check.eq(json_encode(nested.a), "[]")
check.eq(json_encode(nested.b), "{}")
check.eq(json_encode(nested.c), "[[],{}]")
check.eq(getmetatable(nested.a), json.array_mt, "decoded arrays carry json.array_mt")
check.eq(getmetatable(nested.b), nil, "decoded objects are plain tables")
-- A decoded array may grow and still be an array.
local list = json_decode("[]")
list[#list + 1] = "x"
list[#list + 1] = "y"
check.eq(json_encode(list), '["x","y"]')

-- null: nil in arrays (positions kept up to the last element), no entry in objects.
local v = json_decode('{"a":null,"b":[1,null,3],"c":"\\u00e9\\ud83d\\ude00"}')
check.eq(v.a, nil)
check.eq(v.b[1], 1)
check.eq(v.b[2], nil)
check.eq(v.b[3], 3)
check.eq(v.c, "é😀")
check.eq(json_encode(json_decode("[null,null]")), "[]", "trailing nulls are nil: json.decode keeps them")
local nothing, err = json_decode("null")
check.eq(nothing, nil)
check.eq(err, nil, "null is not an error")
check.same(json_decode("[]"), {})
check.eq(json_decode(" 42 "), 42)

-- Invalid JSON: nil and an error with the offset, code EINVAL (bad input is data, not a
-- raise).
for _, bad in ipairs({"", "{", "[1,]", '{"a" 1}', "tru", '"abc', "1 2", "{'a':1}"}) do
  local r, msg = json_decode(bad)
  check.eq(r, nil, "json_decode(" .. bad .. ")")
  check.match(msg, "^EINVAL: invalid JSON at offset %d+: ", "message for " .. bad)
  check.eq(err_code(msg), "EINVAL", "code for " .. bad)
end

-- Values JSON cannot hold raise.
check.raises("bad argument #1 to 'json_encode' (cannot encode a function value)", json_encode, print)
check.raises("bad argument #1 to 'json_encode' (cannot encode a function value)", json_encode, {f = print})
local cyc = {}
cyc[1] = cyc
check.raises("bad argument #1 to 'json_encode' (cannot encode a table: cycle)", json_encode, cyc)
check.raises("json_encode: cannot encode NaN in JSON", json_encode, 0/0)
check.raises("json_encode: cannot encode +Inf in JSON (at .x)", json_encode, {x = 1/0})
check.raises("bad argument #1 to 'json_encode' (value expected)", json_encode)
check.raises("bad argument #1 to 'json_decode' (string expected, got no value)", json_decode)
check.raises("bad argument #1 to 'json_decode' (string expected, got table)", json_decode, {})

-- A byte string that is not UTF-8 is refused, never changed (it used to become U+FFFD).
check.raises("json_encode: string is not valid UTF-8: byte 0xff at offset 1", json_encode, "a\255")
-- ... and bytes json_decode let through are refused on the way back, not replaced.
local raw = json_decode('"\255"')
check.eq(raw, "\255", "json_decode passes bytes through")
check.raises("byte 0xff at offset 0", json_encode, raw)

print("PASS")
