package engine_test

import (
	"fmt"
	"testing"

	"github.com/drlee/drlee/engine/enginetest"
)

// ReturnNowCall's spare Ops: each callback runs once with its own result, however many
// are in flight (more than the worker keeps spare), after a callback that raised, and
// nested in each other's callbacks; without a callback in a runtime thread, the result
// comes back at once.
func TestReturnNowCall(t *testing.T) {
	t.Parallel()
	res := enginetest.Run(t, `
local a = require "testasync"
local time = require "time"
local calls, sum = 0, 0
local function chain(i)
  if i == 0 then print("chain", calls, sum) return end
  a.now(i, function(err, n)
    assert(err == nil, err)
    calls = calls + 1
    sum = sum + n
    chain(i - 1)
  end)
end
chain(1000)

local got, seen = 0, {}
for i = 1, 600 do
  a.now(i, function(err, n)
    assert(not seen[n], "called twice")
    seen[n] = true
    got = got + 1
  end)
end

a.now(1, function() error("boom") end)
a.now(2, function(err, n) print("after the raise", n) end)

time.timeout(0, function()
  print("await", a.now(7))
  print("await, reserved", a.now_reserved(8))
end)
time.timeout(20, function() print("in flight", got) end)

for _, bad in ipairs({5, "x", {}, true}) do
  local ok, err = pcall(a.now, 1, bad)
  print("odd callback", type(bad), ok, (tostring(err):match("function expected")))
end
`)
	res.Contains(t, "chain\t1000\t500500", "in flight\t600", "after the raise\t2", "await\t7\n", "await, reserved\t8\n")
	res.StderrContains(t, "main.lua:25: boom")
	for _, ty := range []string{"number", "string", "table", "boolean"} {
		res.Contains(t, "odd callback\t"+ty+"\tfalse\tfunction expected")
	}
}

// BenchmarkReturnNowCall: chains of calls whose outcome is known at once, their callbacks
// on the loop's next turn, on the worker's spare Ops (the one allocation per op left is
// the completion closure of testasync.now itself).
func BenchmarkReturnNowCall(b *testing.B) {
	benchScript(b, false, 1, `local now = require("testasync").now
function start(step) now(1, step) end`+chains)
}

// BenchmarkReturnNowReserved: the same through ReserveCall and ReturnNow, an Op allocated
// per call (ReturnNowCall's baseline).
func BenchmarkReturnNowReserved(b *testing.B) {
	benchScript(b, false, 1, `local now = require("testasync").now_reserved
function start(step) now(1, step) end`+chains)
}

// A chain of operations that complete at once, each started in the last one's callback,
// does not keep the timers waiting: a timer set during it fires within a few of its links
// (the turn's bound on batches of deferred work), not once the chain ends.
func TestSoonChainLetsTimersRun(t *testing.T) {
	t.Parallel()
	res := enginetest.Run(t, `
local a = require "testasync"
local time = require "time"
local n, fired_at = 0, nil
local function step()
  n = n + 1
  if n == 100 then time.timeout(0, function() fired_at = n - 100 end) end
  if n < 10000 then return a.now(1, step) end
  print("fired after", fired_at)
end
step()
`)
	res.MustSucceed(t)
	var after int
	if _, err := fmt.Sscanf(res.Stdout, "fired after\t%d", &after); err != nil {
		t.Fatalf("%q: %v", res.Stdout, err)
	}
	if after > 100 {
		t.Fatalf("the timer fired %d links after it was set: the chain held the loop", after)
	}
}
