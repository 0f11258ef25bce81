package time_test

import (
	"testing"
	gotime "time"

	"github.com/drlee/drlee/internal/drleetest"
)

// TestTimeoutError: an error in a timer callback is reported with file:line and a
// traceback; the other timers still fire.
func TestTimeoutError(t *testing.T) {
	t.Parallel()
	res := drleetest.Run(t, `local time = require "time"
time.timeout(1, function()
  error("timer callback failed")
end)
time.timeout(20, function() print("second timer") end)
`)
	res.MustFail(t)
	res.Contains(t, "second timer")
	res.StderrContains(t, "main.lua:3: timer callback failed", "stack traceback:")
}

// TestTickerKeepsAlive: a running ticker keeps the worker alive; once stopped, the worker
// ends.
func TestTickerKeepsAlive(t *testing.T) {
	t.Parallel()
	start := gotime.Now()
	res := drleetest.Run(t, `local time = require "time"
local tk = time.tick(20)
local n = 0
local function wait()
  tk:next_tick(function()
    n = n + 1
    if n == 5 then tk:stop(); print("stopped") else wait() end
  end)
end
wait()
`)
	res.MustSucceed(t)
	res.Contains(t, "stopped")
	if el := gotime.Since(start); el < 100*gotime.Millisecond {
		t.Fatalf("5 ticks of 20 ms took %v", el)
	}
}

// TestTickerDropped: a ticker the script dropped without stopping, whose userdata Lua
// collects, stops ticking: the worker ends, and callbacks still waiting are released.
func TestTickerDropped(t *testing.T) {
	t.Parallel()
	res := drleetest.Run(t, `local time = require "time"
do
  local tk = time.tick(5)
  tk:next_tick(function() error("waiting callback of a collected ticker called") end)
end
collectgarbage(); collectgarbage()
print("collected")
`, drleetest.Options{Timeout: 10 * gotime.Second})
	res.MustSucceed(t)
	res.Contains(t, "collected")
}

// TestSpareTimers: a timer whose timeout ended is reused for a later time.timeout (the
// spare list: a cancelled timer's at once, a fired one's once its callback returned). A Lua
// timer object outlives its timer: cancelling it once its timeout fired or was cancelled
// returns false and must not cancel the timeout that has the timer now (t3's, then t4's;
// in the chain, each step's timer is the one of two steps back); and timeouts, waits and
// cancellations mixed all fire. That timers are reused at all is BenchmarkLuaTimeoutChain's
// 0 allocs/op.
func TestSpareTimers(t *testing.T) {
	t.Parallel()
	res := drleetest.Run(t, `local time = require "time"
local fired = {}
local t1
t1 = time.timeout(1, function()
  fired[#fired + 1] = "t1"
  -- t1 has fired (its timer is spared once this callback returns)
  local t2 = time.timeout(20, function() fired[#fired + 1] = "t2" end)
  assert(t1:cancel() == false, "cancel of a fired timer")
  assert(t1:cancel() == false, "second cancel of a fired timer")
  -- a cancelled timer's object, then a timeout that reuses its timer
  local t3 = time.timeout(10000, function() error("cancelled timer fired") end)
  assert(t3:cancel() == true, "cancel of a waiting timer")
  local t4 = time.timeout(5, function() fired[#fired + 1] = "t4" end)
  assert(t3:cancel() == false, "cancel of a cancelled timer")
  -- a chain of timeouts, each cancelling the stale objects of all before it
  local stale, n = {}, 0
  local function step()
    n = n + 1
    for _, s in ipairs(stale) do assert(s:cancel() == false, "stale cancel " .. n) end
    if n < 300 then stale[#stale + 1] = time.timeout(0, step)
    else fired[#fired + 1] = "chain" end
  end
  stale[1] = time.timeout(0, step)
  assert(t2 and t4)
end)
-- waits in a runtime thread take spare timers too
time.timeout(2, function()
  for i = 1, 50 do time.sleep(0) end
  fired[#fired + 1] = "slept"
end)
time.timeout(500, function() print(table.concat(fired, ",")) end)
`)
	res.MustSucceed(t)
	res.Contains(t, "t1,")
	for _, want := range []string{"t2", "t4", "chain", "slept"} {
		res.Contains(t, want)
	}
}
