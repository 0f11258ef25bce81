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

// awaits runs inflight runtime threads, each awaiting op() in a loop, b.N awaits in all:
// the await twin of chains.
const awaits = `
local total, inflight = tonumber(arg[1]), tonumber(arg[2])
local started, finished = 0, 0
local function loop()
  while started < total do
    started = started + 1
    assert(op())
    finished = finished + 1
  end
  if finished == total then print("done") end
end
for i = 1, math.min(inflight, total) do spawn_loop(loop) end
`

// BenchmarkAwaitRoundTrip: BenchmarkCompletionRoundTrip in the await style (the calling
// thread suspends and is resumed with the result), its baseline.
func BenchmarkAwaitRoundTrip(b *testing.B) {
	benchScript(b, false, 1, `local rt = require("testasync").roundtrip_await
function op() return rt() end
function spawn_loop(f) require("time").timeout(0, f) end`+awaits)
}

// BenchmarkAwaitRoundTrip16: the same with 16 threads awaiting at once.
func BenchmarkAwaitRoundTrip16(b *testing.B) {
	benchScript(b, false, 16, `local rt = require("testasync").roundtrip_await
function op() return rt() end
function spawn_loop(f) require("time").timeout(0, f) end`+awaits)
}

// BenchmarkAwaitLoopRoundTrip: time.sleep(0) in a loop, the await twin of
// BenchmarkLoopRoundTrip.
func BenchmarkAwaitLoopRoundTrip(b *testing.B) {
	benchScript(b, false, 1, `local sleep = require("time").sleep
function op() return sleep(0) end
function spawn_loop(f) require("time").timeout(0, f) end`+awaits)
}
