package engine_test

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/drlee/drlee/engine/enginetest"
)

// benchScript runs script in one worker with arg[1] = b.N and arg[2] = inflight. The
// script does b.N operations, so ns/op is the cost of one (the engine's start is
// amortised over b.N).
func benchScript(b *testing.B, lock bool, inflight int, script string) {
	b.ReportAllocs()
	res := enginetest.Run(b, script, enginetest.Options{
		Workers: 1, LockThreads: lock, Args: []string{strconv.Itoa(b.N), strconv.Itoa(inflight)},
	})
	res.MustSucceed(b)
	res.Contains(b, "done")
}

// chains runs inflight chains of sequential async operations, b.N operations in all;
// start(step) begins one operation that calls step(err) when it completes.
const chains = `
local total, inflight = tonumber(arg[1]), tonumber(arg[2])
local started, finished = 0, 0
local function chain()
  local function step(err)
    if err then error(err) end
    finished = finished + 1
    if started < total then
      started = started + 1
      start(step)
    elseif finished == total then
      print("done")
    end
  end
  started = started + 1
  start(step)
end
for i = 1, math.min(inflight, total) do chain() end
`

func benchLocks(b *testing.B, inflight int, start string) {
	for _, lock := range []bool{false, true} {
		b.Run(fmt.Sprintf("lock=%v", lock), func(b *testing.B) {
			benchScript(b, lock, inflight, start+chains)
		})
	}
}

// BenchmarkCompletionRoundTrip: one operation at a time from the loop to the I/O pool and
// back (Reserve, pool goroutine, completion queue, Lua callback), with the loop's goroutine
// unlocked (the default) and locked to its OS thread (--lock-threads).
func BenchmarkCompletionRoundTrip(b *testing.B) {
	benchLocks(b, 1, `local rt = require("testasync").roundtrip
function start(step) rt(step) end`)
}

// BenchmarkCompletionRoundTrip16: the same with 16 operations in flight.
func BenchmarkCompletionRoundTrip16(b *testing.B) {
	benchLocks(b, 16, `local rt = require("testasync").roundtrip
function start(step) rt(step) end`)
}

// BenchmarkLoopRoundTrip: time.timeout(0, cb) chains: the loop's own turn (timer heap,
// callback), no other goroutine involved.
func BenchmarkLoopRoundTrip(b *testing.B) {
	benchLocks(b, 1, `local timeout = require("time").timeout
function start(step) timeout(0, step) end`)
}
