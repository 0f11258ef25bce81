-- The await style: timeout, sleep and next_tick without a callback suspend the caller.
local check = require "check"
local time = require "time"

local function ms() return time.now().milliunix end

-- In the main chunk: timeout(ms) waits, then returns true; sleep is the same.
local t0 = ms()
check.eq(time.timeout(30), true, "timeout without cb")
check.ok(ms() - t0 >= 29, "timeout(30) waited " .. (ms() - t0) .. " ms")
t0 = ms()
check.eq(time.sleep(20), true, "sleep")
check.ok(ms() - t0 >= 19, "sleep(20) waited " .. (ms() - t0) .. " ms")
check.eq(time.sleep(0), true, "sleep(0)")
check.eq(time.timeout(1, nil), true, "explicit nil callback awaits too")

-- Locals survive a suspension; several in a row, in a loop.
local acc = {}
for i = 1, 5 do
  time.sleep(1)
  acc[#acc + 1] = i
end
check.eq(table.concat(acc, ","), "1,2,3,4,5", "loop of sleeps")

-- Inside a timer callback (nested awaits), while the main chunk goes on.
local order = {}
time.timeout(1, check.once("timer callback awaits", function()
  order[#order + 1] = "cb start"
  time.sleep(10)
  order[#order + 1] = "cb after sleep"
  local cbtk = time.tick(5)
  local ts = cbtk:next_tick()
  cbtk:stop()
  check.eq(getmetatable(ts), time.Timestamp, "awaited tick gives a Timestamp")
  order[#order + 1] = "cb after tick"
end))
time.sleep(60)
check.eq(table.concat(order, ";"), "cb start;cb after sleep;cb after tick", "callback awaited")

-- A ticker's ticks, awaited.
-- Never early against the schedule (a late tick may be followed closely by the next one,
-- so the gap between two says nothing on a loaded machine).
local tk = time.tick(5)
local start = ms()
for i = 1, 3 do
  local ts, err = tk:next_tick()
  check.eq(err, nil, "next_tick err")
  check.ok(ts.milliunix - start >= 5 * i - 1, "tick not early")
end
tk:stop()

-- A thread waiting on a ticker that another one stops gets nil, "ECLOSED: ticker stopped".
local tk2 = time.tick(10000)
local woke
time.timeout(5, function() tk2:stop() end)
local ts, err = tk2:next_tick()
check.eq(ts, nil, "stopped tick result")
check.eq(err, "ECLOSED: ticker stopped", "stopped tick error")
-- And one stopped from inside a call of another thread: the waiter resumes nested in it.
local tk3 = time.tick(10000)
time.timeout(1, function()
  woke = {tk3:next_tick()}
end)
time.sleep(5)
tk3:stop()
check.eq(woke[1], nil)
check.eq(woke[2], "ECLOSED: ticker stopped", "waiter woken by stop")

-- Many waiters at once, woken in order of their deadlines.
local seq = {}
for i = 5, 1, -1 do
  time.timeout(0, function()
    time.sleep(i * 3)
    seq[#seq + 1] = i
  end)
end
time.sleep(40)
check.eq(table.concat(seq, ","), "1,2,3,4,5", "waiters by deadline")

-- In a coroutine of the script's own, nothing can suspend: timeout without a callback is
-- fire and forget (a timer comes back), sleep raises.
coroutine.wrap(function()
  local tm = time.timeout(1000)
  check.eq(type(tm), "userdata", "timeout in a script coroutine gives a timer")
  check.eq(tm:cancel(), true)
  check.raises("time.sleep: only a callback, a handler or the main chunk can wait", time.sleep, 1)
end)()

-- Yielding where LuaJIT cannot (inside table.sort's comparator) is a clear error.
local ok, sortErr = pcall(table.sort, {3, 1, 2}, function(a, b)
  time.sleep(1)
  return a < b
end)
check.eq(ok, false, "await in a sort comparator")
check.ok(string.find(tostring(sortErr), "yield", 1, true), "says it cannot yield: " .. tostring(sortErr))

-- Wrong arguments still raise at once.
check.raises("bad argument #2 to 'time.sleep' (no callback expected", time.sleep, 1, function() end)
check.raises("bad argument #1 to 'time.sleep' (negative duration)", time.sleep, -1)
check.raises("bad argument #1 to 'time.timeout' (delay must be a finite number", time.timeout, 0 / 0)

check.pass_after(10)
