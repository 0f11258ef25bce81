-- time.timeout(ms, cb) and timer:cancel()
local check = require "check"
local time = require "time"

local order = {}
local function record(name) return function(...) order[#order + 1] = name; check.eq(select("#", ...), 0, name .. " args") end end
time.timeout(30, record("30"))
time.timeout(10, record("10"))
time:timeout(20, record("20"))     -- colon form
time.timeout(0, record("0"))
time.timeout(0.5, record("0.5"))   -- fractions of a millisecond
check.eq(#order, 0, "a timeout of 0 does not run at once")

-- cancel: true while pending, then false.
local t = time.timeout(10, function() error("cancelled timer fired") end)
check.eq(t:cancel(), true, "first cancel")
check.eq(t:cancel(), false, "second cancel")
check.eq(t.cancel(t), false, "dot form")

-- cancel of a fired timer: false.
local fired
fired = time.timeout(1, check.once("fired", function()
  check.eq(fired:cancel(), false, "cancel inside its own callback")
end))
time.timeout(40, function()
  check.eq(fired:cancel(), false, "cancel after it fired")
end)

-- cancel from another callback before it fires.
local victim = time.timeout(50, function() error("cancelled timer fired") end)
time.timeout(5, function() check.eq(victim:cancel(), true, "cancel from a callback") end)

-- Without a callback in a coroutine of the script's own: fire and forget, and cancellable
-- (in the main chunk it waits: await.lua).
coroutine.wrap(function()
  time.timeout(5)
  check.eq(time.timeout(5, nil):cancel(), true)
end)()

-- A timer fires no earlier than asked.
local t0 = time.now().milliunix
time.timeout(60, check.once("elapsed", function()
  local el = time.now().milliunix - t0
  check.ok(el >= 59, "timeout(60) fired after " .. el .. " ms")
end))

-- Errors inside one callback do not stop the others (checked from Go: timeout_error).

time.timeout(100, function()
  check.eq(table.concat(order, ","), "0,0.5,10,20,30", "order")
end)

-- Wrong arguments.
check.raises("bad argument #1 to 'time.timeout' (number expected, got string)", time.timeout, "soon", print)
check.raises("bad argument #1 to 'time.timeout' (number expected, got string)", time.timeout, "soon")
check.raises("bad argument #1 to 'time.timeout' (number expected, got no value)", time.timeout)
check.raises("bad argument #1 to 'time.timeout' (negative duration)", time.timeout, -1, print)
-- Delays that are not finite raise (they used to fire at once); huge ones are clamped to
-- about 100 years, so they wait.
for _, v in ipairs({math.huge, -math.huge, 0/0, "inf", "nan", "-inf"}) do
  check.raises("bad argument #1 to 'time.timeout' (delay must be a finite number of milliseconds)", time.timeout, v, print)
  check.raises("bad argument #1 to 'time.tick' (delay must be a finite number of milliseconds)", time.tick, v)
end
local clamped = {}
for _, v in ipairs({1e13, 1e300, 2^63, 2^1023, "1e20"}) do
  clamped[#clamped + 1] = time.timeout(v, function() error("a clamped timer fired at once") end)
  clamped[#clamped + 1] = time.tick(v)
end
time.timeout(20, check.once("clamped timers wait", function()
  for i, t in ipairs(clamped) do
    if i % 2 == 1 then check.eq(t:cancel(), true, "clamped timer still pending") else t:stop() end
  end
end))
check.raises("bad argument #2 to 'time.timeout' (function expected, got number)", time.timeout, 10, 5)
check.raises("bad argument #1 to 'time.timeout' (number expected, got string)", time.timeout, time, "x")
check.raises("calling 'timer:cancel' on bad self (timer expected, got table)", t.cancel, {})
check.raises("calling 'timer:cancel' on bad self (timer expected, got no value)", t.cancel)
local ok, err = pcall(function() time.timeout("x") end)
check.match(err, "^[^:]+main%.lua:%d+: bad argument #1 to 'time%.timeout'", "file:line of the caller")

check.pass_after(150)
