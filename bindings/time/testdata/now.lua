-- time.now(): a Timestamp with its fields, :format and tostring.
local check = require "check"
local time = require "time"

local before = os.time()
local ts = time.now()
local after = os.time()
for _, k in ipairs({"year", "month", "day", "weekday", "hour", "minute", "second", "millisecond", "milliunix"}) do
  check.eq(type(ts[k]), "number", k)
  check.eq(ts[k], math.floor(ts[k]), k .. " is an integer")
end
check.ok(ts.year >= 2024, "year " .. ts.year)
check.ok(ts.month >= 1 and ts.month <= 12, "month")
check.ok(ts.day >= 1 and ts.day <= 31, "day")
check.ok(ts.weekday >= 0 and ts.weekday <= 6, "weekday")
check.ok(ts.hour >= 0 and ts.hour <= 23, "hour")
check.ok(ts.minute >= 0 and ts.minute <= 59, "minute")
check.ok(ts.second >= 0 and ts.second <= 60, "second")
check.ok(ts.millisecond >= 0 and ts.millisecond <= 999, "millisecond")
-- os.time() reads the kernel's coarse clock, which may lag a few ms behind time.now()'s.
check.ok(ts.milliunix >= before * 1000 and ts.milliunix <= (after + 1) * 1000 + 50, "milliunix " .. ts.milliunix)
check.eq(ts.milliunix % 1000, ts.millisecond, "milliunix and millisecond")

-- The fields agree with the C library's local time.
local d = os.date("*t", math.floor(ts.milliunix / 1000))
check.eq(ts.year, d.year, "year")
check.eq(ts.month, d.month, "month")
check.eq(ts.day, d.day, "day")
check.eq(ts.weekday, d.wday - 1, "weekday (0 = Sunday)")
check.eq(ts.hour, d.hour, "hour")
check.eq(ts.minute, d.min, "minute")
check.eq(ts.second, d.sec, "second")

-- :format takes a Go layout.
check.eq(ts:format("2006-01-02"), string.format("%04d-%02d-%02d", ts.year, ts.month, ts.day))
check.eq(ts:format("15:04:05.000"), string.format("%02d:%02d:%02d.%03d", ts.hour, ts.minute, ts.second, ts.millisecond))
check.eq(ts:format("Mon"), os.date("%a", math.floor(ts.milliunix / 1000)))

-- tostring: RFC 3339 with milliseconds, the same instant.
local s = tostring(ts)
check.match(s, "^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%d[Z+-]", "tostring")
check.eq(s:sub(1, 23), ts:format("2006-01-02T15:04:05.000"), "tostring")
check.eq(tostring(ts), ts:format(), "format() with no layout")

-- The colon form works as the dot form; a Timestamp is a plain table with a metatable.
local ts2 = time:now()
check.ok(ts2.milliunix >= ts.milliunix, "time:now()")
check.eq(getmetatable(ts), time.Timestamp, "metatable")
check.eq(getmetatable(ts2), getmetatable(ts), "one metatable")
ts.year = 1999 -- a plain table: fields can be changed
check.eq(ts.year, 1999)

-- Timestamps survive json_encode (plain data).
local back = json_decode(json_encode(time.now()))
check.eq(type(back.milliunix), "number", "json round trip")

check.raises("bad argument #1 to 'time.__format'", time.now().format, {milliunix = "x"})

print("PASS")
