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
