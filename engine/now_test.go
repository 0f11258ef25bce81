package engine_test

import (
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
`)
	res.Contains(t, "chain\t1000\t500500", "in flight\t600", "after the raise\t2", "await\t7\n", "await, reserved\t8\n")
	res.StderrContains(t, "main.lua:25: boom")
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
