-- require "time": timeout and timer:cancel, tick and the ticker, now and the Timestamp,
-- and the await style of timeout, sleep and next_tick. Moved from bindings/time/testdata.
local time = require "time"

local raises = require("support").raises

local function ms() return time.now().milliunix end

-- timeout.lua

test("timeouts fire in the order of their delays, with no arguments", function(t)
  local order = {}
  local function record(name)
    return function(...)
      order[#order + 1] = name
      t:eq(select("#", ...), 0, name .. " args")
    end
  end
  time.timeout(30, record("30"))
  time.timeout(10, record("10"))
  time:timeout(20, record("20"))     -- colon form
  time.timeout(0, record("0"))
  time.timeout(0.5, record("0.5"))   -- fractions of a millisecond
  t:eq(#order, 0, "a timeout of 0 does not run at once")
  time.sleep(100)
  t:eq(table.concat(order, ","), "0,0.5,10,20,30", "order")
end)

test("timer:cancel is true while pending, then false", function(t)
  local tm = time.timeout(10, function() error("cancelled timer fired") end)
  t:eq(tm:cancel(), true, "first cancel")
  t:eq(tm:cancel(), false, "second cancel")
  t:eq(tm.cancel(tm), false, "dot form")

  -- cancel of a fired timer: false.
  local fired, calls = nil, 0
  fired = time.timeout(1, function()
    calls = calls + 1
    t:eq(fired:cancel(), false, "cancel inside its own callback")
  end)
  time.sleep(40)
  t:eq(calls, 1, "the timer fired once")
  t:eq(fired:cancel(), false, "cancel after it fired")

  -- cancel from another callback before it fires.
  local victim = time.timeout(50, function() error("cancelled timer fired") end)
  time.timeout(5, function() t:eq(victim:cancel(), true, "cancel from a callback") end)
end)

test("timeout without a callback in a script coroutine: fire and forget, cancellable", function(t)
  -- (in a test's thread it waits: the await tests below)
  coroutine.wrap(function()
    time.timeout(5)
    t:eq(time.timeout(5, nil):cancel(), true)
  end)()
end)

test("a timer fires no earlier than asked", function(t)
  local t0, el = ms(), nil
  time.timeout(60, function() el = ms() - t0 end)
  time.sleep(70)
  while el == nil do time.sleep(5) end
  t:ok(el >= 59, "timeout(60) fired after " .. el .. " ms")
end)

test("time.timeout: wrong arguments raise", function(t)
  raises(t, "bad argument #1 to 'time.timeout' (number expected, got string)", time.timeout, "soon", print)
  raises(t, "bad argument #1 to 'time.timeout' (number expected, got string)", time.timeout, "soon")
  raises(t, "bad argument #1 to 'time.timeout' (number expected, got no value)", time.timeout)
  raises(t, "bad argument #1 to 'time.timeout' (negative duration)", time.timeout, -1, print)
  raises(t, "bad argument #2 to 'time.timeout' (function expected, got number)", time.timeout, 10, 5)
  raises(t, "bad argument #1 to 'time.timeout' (number expected, got string)", time.timeout, time, "x")
  local tm = time.timeout(1, function() end)
  raises(t, "calling 'timer:cancel' on bad self (timer expected, got table)", tm.cancel, {})
  raises(t, "calling 'timer:cancel' on bad self (timer expected, got no value)", tm.cancel)
  local ok, err = pcall(function() time.timeout("x") end)
  t:eq(ok, false)
  t:ok(tostring(err):match("^[^:]*time_test%.lua:%d+: bad argument #1 to 'time%.timeout'"),
    "file:line of the caller: " .. tostring(err))
end)

test("delays that are not finite raise; huge ones are clamped and wait", function(t)
  -- (they used to fire at once); huge ones are clamped to about 100 years.
  for _, v in ipairs({math.huge, -math.huge, 0/0, "inf", "nan", "-inf"}) do
    raises(t, "bad argument #1 to 'time.timeout' (delay must be a finite number of milliseconds)", time.timeout, v, print)
    raises(t, "bad argument #1 to 'time.tick' (delay must be a finite number of milliseconds)", time.tick, v)
  end
  local clamped = {}
  for _, v in ipairs({1e13, 1e300, 2^63, 2^1023, "1e20"}) do
    clamped[#clamped + 1] = time.timeout(v, function() error("a clamped timer fired at once") end)
    clamped[#clamped + 1] = time.tick(v)
  end
  time.sleep(20)
  for i, tm in ipairs(clamped) do
    if i % 2 == 1 then t:eq(tm:cancel(), true, "clamped timer still pending") else tm:stop() end
  end
end)

-- tick.lua

test("ticker:next_tick(cb) three times, then stop", function(t)
  local tk = time.tick(10)
  local ticks, start, stopped = 0, ms(), false
  local function wait()
    tk:next_tick(function(err, ts)
      t:eq(err, nil, "tick err")
      t:eq(getmetatable(ts), time.Timestamp, "tick timestamp")
      -- Tick n is due n periods after the start: a late tick does not delay the next ones
      -- (which may then come sooner after it), as with Go's time.Ticker.
      local since = ts.milliunix - start
      t:ok(since >= 10 * (ticks + 1) - 1, "tick " .. (ticks + 1) .. " after " .. since .. " ms")
      ticks = ticks + 1
      if ticks < 3 then
        wait()
      else
        tk:stop()
        tk:stop() -- twice: fine
        -- After stop, next_tick raises.
        raises(t, "ticker stopped", tk.next_tick, tk, function() error("called after stop") end)
        stopped = true
      end
    end)
  end
  wait()
  time.sleep(200)
  t:eq(ticks, 3, "ticks")
  t:ok(stopped, "stopped after the third tick")
  t:eq(tk.period, 10, "period, also after stop")
  t:eq(tk.no_such_field, nil, "unknown field")
  t:raises(function() tk.period = 5 end, "attempt to index")
end)

test("callbacks waiting when the ticker stops get ECLOSED, in order", function(t)
  local tk2 = time.tick(1000)
  local got = {}
  tk2:next_tick(function(err, ts) got[#got + 1] = tostring(err); t:eq(ts, nil) end)
  tk2:next_tick(function(err) got[#got + 1] = tostring(err) end)
  tk2:stop()
  t:eq(got, {"ECLOSED: ticker stopped", "ECLOSED: ticker stopped"}, "waiting callbacks, each once")
  t:eq(err_code(got[1]), "ECLOSED", "code of a stopped ticker")
  t:eq(tk2.period, 1000, "period of a stopped ticker")
end)

test("several waiting callbacks: one per tick, first in first out", function(t)
  local tk3 = time:tick(5)   -- colon form
  local seq = {}
  tk3:next_tick(function() seq[#seq + 1] = 1 end)
  tk3:next_tick(function() seq[#seq + 1] = 2; tk3:stop() end)
  time.sleep(50)
  t:eq(seq, {1, 2})
end)

test("a ticker stopped from inside a coroutine", function(t)
  local tk4 = time.tick(1000)
  local errs = {}
  tk4:next_tick(function(err) errs[#errs + 1] = err end)
  coroutine.wrap(function() tk4:stop() end)()
  time.sleep(5)
  t:eq(errs, {"ECLOSED: ticker stopped"})
end)

test("ticker.period: as given, fractions too, clamped to about 100 years", function(t)
  local frac = time.tick(2.5)
  t:eq(frac.period, 2.5, "fractional period")
  frac:stop()
  local big = time.tick(1e300)
  t:eq(big.period, 100 * 365 * 24 * 3600 * 1000, "period clamped to about 100 years")
  big:stop()
end)

test("time.tick: wrong arguments raise", function(t)
  local tk = time.tick(10)
  raises(t, "bad argument #1 to 'time.tick' (number expected, got string)", time.tick, "fast")
  raises(t, "bad argument #1 to 'time.tick' (interval must be positive)", time.tick, 0)
  raises(t, "bad argument #1 to 'time.tick' (negative duration)", time.tick, -5)
  raises(t, "bad argument #1 to 'ticker:next_tick' (function expected, got string)", tk.next_tick, tk, "soon")
  raises(t, "calling 'ticker:next_tick' on bad self (ticker expected, got table)", tk.next_tick, {}, print)
  raises(t, "calling 'ticker:stop' on bad self (ticker expected, got nil)", tk.stop, nil)
  tk:stop()
end)

-- now.lua

test("time.now(): a Timestamp with integer fields in range", function(t)
  local before = os.time()
  local ts = time.now()
  local after = os.time()
  for _, k in ipairs({"year", "month", "day", "weekday", "hour", "minute", "second", "millisecond", "milliunix"}) do
    t:eq(type(ts[k]), "number", k)
    t:eq(ts[k], math.floor(ts[k]), k .. " is an integer")
  end
  t:ok(ts.year >= 2024, "year " .. ts.year)
  t:ok(ts.month >= 1 and ts.month <= 12, "month")
  t:ok(ts.day >= 1 and ts.day <= 31, "day")
  t:ok(ts.weekday >= 0 and ts.weekday <= 6, "weekday")
  t:ok(ts.hour >= 0 and ts.hour <= 23, "hour")
  t:ok(ts.minute >= 0 and ts.minute <= 59, "minute")
  t:ok(ts.second >= 0 and ts.second <= 60, "second")
  t:ok(ts.millisecond >= 0 and ts.millisecond <= 999, "millisecond")
  -- os.time() reads the kernel's coarse clock, which may lag a few ms behind time.now()'s.
  t:ok(ts.milliunix >= before * 1000 and ts.milliunix <= (after + 1) * 1000 + 50, "milliunix " .. ts.milliunix)
  t:eq(ts.milliunix % 1000, ts.millisecond, "milliunix and millisecond")

  -- The fields agree with the C library's local time.
  local d = os.date("*t", math.floor(ts.milliunix / 1000))
  t:eq(ts.year, d.year, "year")
  t:eq(ts.month, d.month, "month")
  t:eq(ts.day, d.day, "day")
  t:eq(ts.weekday, d.wday - 1, "weekday (0 = Sunday)")
  t:eq(ts.hour, d.hour, "hour")
  t:eq(ts.minute, d.min, "minute")
  t:eq(ts.second, d.sec, "second")
end)

test("Timestamp:format takes a Go layout; tostring is RFC 3339 with milliseconds", function(t)
  local ts = time.now()
  t:eq(ts:format("2006-01-02"), string.format("%04d-%02d-%02d", ts.year, ts.month, ts.day))
  t:eq(ts:format("15:04:05.000"), string.format("%02d:%02d:%02d.%03d", ts.hour, ts.minute, ts.second, ts.millisecond))
  t:eq(ts:format("Mon"), os.date("%a", math.floor(ts.milliunix / 1000)))
  local s = tostring(ts)
  t:ok(s:match("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%d[Z+-]"), "tostring " .. s)
  t:eq(s:sub(1, 23), ts:format("2006-01-02T15:04:05.000"), "tostring")
  t:eq(tostring(ts), ts:format(), "format() with no layout")
  raises(t, "bad argument #1 to 'time.__format'", time.now().format, {milliunix = "x"})
end)

test("a Timestamp is a plain table with one metatable; the colon form works", function(t)
  local ts = time.now()
  local ts2 = time:now()
  t:ok(ts2.milliunix >= ts.milliunix, "time:now()")
  t:eq(getmetatable(ts), time.Timestamp, "metatable")
  t:eq(getmetatable(ts2), getmetatable(ts), "one metatable")
  ts.year = 1999 -- a plain table: fields can be changed
  t:eq(ts.year, 1999)
  -- Timestamps survive json_encode (plain data).
  local back = json_decode(json_encode(time.now()))
  t:eq(type(back.milliunix), "number", "json round trip")
end)

-- await.lua: timeout, sleep and next_tick without a callback suspend the caller (here the
-- test's thread, as they did the main chunk).

test("await: timeout(ms) and sleep(ms) wait, then return true", function(t)
  local t0 = ms()
  t:eq(time.timeout(30), true, "timeout without cb")
  t:ok(ms() - t0 >= 29, "timeout(30) waited " .. (ms() - t0) .. " ms")
  t0 = ms()
  t:eq(time.sleep(20), true, "sleep")
  t:ok(ms() - t0 >= 19, "sleep(20) waited " .. (ms() - t0) .. " ms")
  t:eq(time.sleep(0), true, "sleep(0)")
  t:eq(time.timeout(1, nil), true, "explicit nil callback awaits too")
end)

test("await: locals survive a suspension, several in a row, in a loop", function(t)
  local acc = {}
  for i = 1, 5 do
    time.sleep(1)
    acc[#acc + 1] = i
  end
  t:eq(table.concat(acc, ","), "1,2,3,4,5", "loop of sleeps")
end)

test("await: inside a timer callback, while the test goes on", function(t)
  local order, calls = {}, 0
  time.timeout(1, function()
    calls = calls + 1
    order[#order + 1] = "cb start"
    time.sleep(10)
    order[#order + 1] = "cb after sleep"
    local cbtk = time.tick(5)
    local ts = cbtk:next_tick()
    cbtk:stop()
    t:eq(getmetatable(ts), time.Timestamp, "awaited tick gives a Timestamp")
    order[#order + 1] = "cb after tick"
  end)
  time.sleep(60)
  t:eq(table.concat(order, ";"), "cb start;cb after sleep;cb after tick", "callback awaited")
  t:eq(calls, 1, "the timer callback ran once")
end)

test("await: a ticker's ticks, never early against the schedule", function(t)
  -- (a late tick may be followed closely by the next one, so the gap between two says
  -- nothing on a loaded machine)
  local tk = time.tick(5)
  local start = ms()
  for i = 1, 3 do
    local ts, err = tk:next_tick()
    t:eq(err, nil, "next_tick err")
    t:ok(ts.milliunix - start >= 5 * i - 1, "tick not early")
  end
  tk:stop()
end)

test("await: a waiter on a ticker another thread stops gets nil, ECLOSED", function(t)
  local tk2 = time.tick(10000)
  time.timeout(5, function() tk2:stop() end)
  local ts, err = tk2:next_tick()
  t:eq(ts, nil, "stopped tick result")
  t:eq(err, "ECLOSED: ticker stopped", "stopped tick error")
  -- And one stopped from inside a call of another thread: the waiter resumes nested in it.
  local tk3 = time.tick(10000)
  local woke
  time.timeout(1, function()
    woke = {tk3:next_tick()}
  end)
  time.sleep(5)
  tk3:stop()
  t:eq(woke, {nil, "ECLOSED: ticker stopped"}, "waiter woken by stop")
end)

test("await: many waiters at once, woken in order of their deadlines", function(t)
  local seq = {}
  for i = 5, 1, -1 do
    time.timeout(0, function()
      time.sleep(i * 3)
      seq[#seq + 1] = i
    end)
  end
  time.sleep(40)
  t:eq(table.concat(seq, ","), "1,2,3,4,5", "waiters by deadline")
end)

test("await: in a coroutine of the script's own, timeout gives a timer and sleep raises", function(t)
  local ran = false
  coroutine.wrap(function()
    local tm = time.timeout(1000)
    t:eq(type(tm), "userdata", "timeout in a script coroutine gives a timer")
    t:eq(tm:cancel(), true)
    raises(t, "time.sleep: only a callback, a handler or the main chunk can wait", time.sleep, 1)
    ran = true
  end)()
  t:ok(ran, "the coroutine ran to its end")
end)

test("await: yielding inside table.sort's comparator is a clear error", function(t)
  local ok, sortErr = pcall(table.sort, {3, 1, 2}, function(a, b)
    time.sleep(1)
    return a < b
  end)
  t:eq(ok, false, "await in a sort comparator")
  t:ok(string.find(tostring(sortErr), "yield", 1, true), "says it cannot yield: " .. tostring(sortErr))
end)

test("await: wrong arguments still raise at once", function(t)
  raises(t, "bad argument #2 to 'time.sleep' (no callback expected", time.sleep, 1, function() end)
  raises(t, "bad argument #1 to 'time.sleep' (negative duration)", time.sleep, -1)
  raises(t, "bad argument #1 to 'time.timeout' (delay must be a finite number", time.timeout, 0 / 0)
end)
