-- Every Lua-visible JSON function called with odd values under pcall: a clear error (or a
-- sensible result), never a crash.
local check = require "check"
local json = require "json"

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

-- err(want, f, ...): f(...) raises an error containing want.
local err = check.raises

for name, f in pairs({["json.encode"] = json.encode, json_encode = json_encode}) do
  local bad = "bad argument #1 to '" .. name .. "' ("
  local msg = name .. ": "
  err(bad .. "value expected)", f)
  check.eq(f(nil), "null")
  err(bad .. "cannot encode a function value)", f, print)
  err(bad .. "cannot encode a thread value)", f, co)
  err(bad .. "cannot encode a userdata value)", f, ud)
  err(bad .. "cannot encode a userdata value)", f, io.stdout)
  err(bad .. "cannot encode a function value)", f, {[print] = 1})
  err(bad .. "cannot encode a table: cycle)", f, cyc)
  err(bad .. "cannot encode a table: cycle)", f, cyc2)
  err(bad .. "cannot encode a table: cycle)", f, acyc)
  err(bad .. "cannot encode a table: nesting too deep)", f, too_deep)
  check.eq(#f(deep), 400, "200 levels encode")
  err(msg .. "JSON object keys must be strings or numbers, not tables", f, {[{}] = 1})
  err(msg .. "JSON object keys must be strings or numbers, not booleans", f, {[true] = 1})
  err(msg .. "JSON object keys must be strings or numbers, not null", f, {[json.null] = 1})
  err(msg .. "cannot encode NaN in JSON", f, 0/0)
  err(msg .. "cannot encode +Inf in JSON", f, 1/0)
  err(msg .. "cannot encode -Inf in JSON", f, -1/0)
  err(msg .. "cannot encode +Inf in JSON", f, math.huge)
  err(msg .. "cannot encode NaN in JSON (at .n)", f, {n = 0/0})
  err(msg .. "cannot encode -Inf in JSON (at [2].x[1])", f, {1, {x = {-1/0}}})
  err(msg .. "string is not valid UTF-8: byte 0xff at offset 0 (at [1])", f, {"\255"})
  err(msg .. "key is not valid UTF-8: byte 0xc3 at offset 0", f, {["\195"] = 1})
  check.eq(f(2^53), "9007199254740992")
  check.eq(f(2^63), "9223372036854776000", "floats: shortest digits, as encoding/json")
  check.eq(f(-2^63), "-9223372036854776000")
  check.eq(f(1e308), "1e+308")
  check.eq(f(5e-324), "5e-324")
  check.eq(f(-0.0), "-0")
  check.eq(f(2^53 + 2), "9007199254740994")
  check.eq(#f(huge), MB8 + 2, "an 8 MB string")
  check.eq(f("a\0b"), '"a\\u0000b"')
  check.eq(#f(big), #table.concat(big, ",") + 2, "100000 elements")
  check.eq(f(trap), "{}", "no metamethod runs")
  check.eq(f(setmetatable({1}, {__index = trap})), "[1]")
end

-- json.encode's options.
local bad2 = "bad argument #2 to 'json.encode' ("
err(bad2 .. "table expected, got string)", json.encode, 1, "x")
err(bad2 .. "table expected, got number)", json.encode, 1, 5)
err(bad2 .. "table expected, got function)", json.encode, 1, print)
err(bad2 .. "table expected, got userdata)", json.encode, 1, json.null)
for _, indent in ipairs({-1, 17, 1.5, 0/0, 1/0, -1/0, "x", " x", string.rep(" ", 17), true, {}, json.null}) do
  err(bad2 .. "option 'indent' must be a string of at most 16 spaces and tabs, or a number of spaces from 0 to 16)",
    json.encode, 1, {indent = indent})
end
for _, sort in ipairs({"yes", 1, 0, {}, json.null}) do
  err(bad2 .. "option 'sort_keys' must be a boolean)", json.encode, 1, {sort_keys = sort})
end
err(bad2 .. "unknown option 'bogus')", json.encode, 1, {bogus = 1})
err(bad2 .. "unknown option 'Indent')", json.encode, 1, {Indent = 1})
err(bad2 .. "options must be a table of named options)", json.encode, 1, {1, 2})
err(bad2 .. "options must be a table of named options)", json.encode, 1, {[1.5] = true})
err(bad2 .. "options must be a table of named options)", json.encode, 1, json.decode("[]"))
err(bad2 .. "cannot encode a function value)", json.encode, 1, {indent = print})
err(bad2 .. "cannot encode a table: cycle)", json.encode, 1, cyc)
check.eq(json.encode({1}, setmetatable({}, {__index = function() error("no") end})), "[1]")

for name, f in pairs({["json.decode"] = json.decode, json_decode = json_decode}) do
  local bad = "bad argument #1 to '" .. name .. "' ("
  err(bad .. "string expected, got no value)", f)
  err(bad .. "string expected, got nil)", f, nil)
  err(bad .. "string expected, got table)", f, {})
  err(bad .. "string expected, got function)", f, print)
  err(bad .. "string expected, got boolean)", f, true)
  err(bad .. "string expected, got userdata)", f, ud)
  err(bad .. "string expected, got userdata)", f, json.null)
  err(bad .. "string expected, got thread)", f, co)
  check.eq(f(42), 42, "a number is its text, as Lua converts it")
  local function invalid(s, want)
    local r, m = f(s)
    check.eq(r, nil, name .. " result")
    check.eq(type(m), "string", name .. " message")
    if not m:find(want, 1, true) then error(string.format("%s: %q, want %q", name, m, want), 2) end
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
  check.eq(f("1e-400"), 0, "underflow is 0")
  check.eq(f("123456789012345678901234567890"), 1.2345678901234568e+29)
  check.eq(f('"' .. huge .. '"'), huge, "an 8 MB string")
  check.eq(#f("[" .. string.rep("1,", 100000) .. "1]"), 100001)
  check.eq(f('"\255\0"'), nil, "a raw NUL is a control character")
  check.eq(f('"\255"'), "\255", "bytes pass through")
  check.eq(f('"\\u0000"'), "\0")
end

-- json.decode's options.
local bad2d = "bad argument #2 to 'json.decode' ("
err(bad2d .. "table expected, got string)", json.decode, "1", "x")
err(bad2d .. "table expected, got boolean)", json.decode, "1", true)
for _, depth in ipairs({0, 201, 1.5, "2", -1, 0/0, 1/0, true, {}, json.null, 2^53}) do
  err(bad2d .. "option 'max_depth' must be an integer from 1 to 200)", json.decode, "1", {max_depth = depth})
end
err(bad2d .. "unknown option 'depth')", json.decode, "1", {depth = 3})
err(bad2d .. "unknown option 'null')", json.decode, "1", {null = false})
check.eq(json.decode("[1]", {})[1], 1)
check.eq(json.decode("[1]", nil)[1], 1)

print("PASS")
