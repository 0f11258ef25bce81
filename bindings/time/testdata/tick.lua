-- time.tick(ms): ticker:next_tick(cb) x3, then stop.
local check = require "check"
local time = require "time"

local tk = time.tick(10)
local ticks, start = 0, time.now().milliunix
local function wait()
  tk:next_tick(function(err, ts)
    check.eq(err, nil, "tick err")
    check.eq(getmetatable(ts), time.Timestamp, "tick timestamp")
    -- Tick n is due n periods after the start: a late tick does not delay the next ones
    -- (which may then come sooner after it), as with Go's time.Ticker.
    local since = ts.milliunix - start
    check.ok(since >= 10 * (ticks + 1) - 1, "tick " .. (ticks + 1) .. " after " .. since .. " ms")
    ticks = ticks + 1
    if ticks < 3 then
      wait()
    else
      tk:stop()
      tk:stop() -- twice: fine
      -- After stop, next_tick raises.
      check.raises("ticker stopped", tk.next_tick, tk, function() error("called after stop") end)
    end
  end)
end
wait()
time.timeout(200, function() check.eq(ticks, 3, "ticks") end)

-- Callbacks waiting when the ticker stops get the error, in order.
local tk2 = time.tick(1000)
local got = {}
tk2:next_tick(check.once("waiting 1", function(err, ts) got[#got + 1] = tostring(err); check.eq(ts, nil) end))
tk2:next_tick(check.once("waiting 2", function(err) got[#got + 1] = tostring(err) end))
tk2:stop()
check.eq(table.concat(got, ","), "ECLOSED: ticker stopped,ECLOSED: ticker stopped", "waiting callbacks")
check.eq(err_code(got[1]), "ECLOSED", "code of a stopped ticker")

-- Several waiting callbacks: one per tick, first in first out.
local tk3 = time:tick(5)   -- colon form
local seq = {}
tk3:next_tick(check.once("fifo 1", function() seq[#seq + 1] = 1 end))
tk3:next_tick(check.once("fifo 2", function() seq[#seq + 1] = 2; check.eq(table.concat(seq, ","), "1,2"); tk3:stop() end))

-- A ticker stopped from inside a coroutine.
local tk4 = time.tick(1000)
tk4:next_tick(check.once("stopped in coroutine", function(err) check.eq(err, "ECLOSED: ticker stopped") end))
coroutine.wrap(function() tk4:stop() end)()

-- ticker.period: the period in milliseconds, as given (fractions too), also after stop;
-- it cannot be set.
check.eq(tk.period, 10, "period")
check.eq(tk2.period, 1000, "period of a stopped ticker")
local frac = time.tick(2.5)
check.eq(frac.period, 2.5, "fractional period")
frac:stop()
local big = time.tick(1e300)
check.eq(big.period, 100 * 365 * 24 * 3600 * 1000, "period clamped to about 100 years")
big:stop()
check.eq(tk.no_such_field, nil, "unknown field")
check.raises("attempt to index", function() tk.period = 5 end)

-- Wrong arguments.
check.raises("bad argument #1 to 'time.tick' (number expected, got string)", time.tick, "fast")
check.raises("bad argument #1 to 'time.tick' (interval must be positive)", time.tick, 0)
check.raises("bad argument #1 to 'time.tick' (negative duration)", time.tick, -5)
check.raises("bad argument #1 to 'ticker:next_tick' (function expected, got string)", tk.next_tick, tk, "soon")
check.raises("calling 'ticker:next_tick' on bad self (ticker expected, got table)", tk.next_tick, {}, print)
check.raises("calling 'ticker:stop' on bad self (ticker expected, got nil)", tk.stop, nil)

check.pass_after(250)
