package time_test

import (
	"fmt"
	"testing"

	"github.com/drlee/drlee/internal/drleetest"
)

// Benchmarks of time.timeout as a script calls it, in a real worker, timed from Lua
// (timebench.start/stop) so that the engine's start-up is not counted; Go allocations are
// the process's during the run.
//
//	go test -tags luajit -run '^$' -bench 'LuaTimeout' ./bindings/time/
//
// BenchmarkLuaTimeoutChain starts each timeout from the callback of the one before, as a
// timed request does: its timer is a spare one, and nothing is allocated in Go. Its
// baseline BenchmarkLuaTimeoutHeld starts them all before any fires, so that none is
// spare: one allocation per timeout, what every timeout cost before the spare list.

var benchClock = drleetest.NewBenchClock("timebench")

const timeoutBenchScript = `
local bench, time = require "timebench", require "time"
local n, mode = tonumber(arg[1]), arg[2]
local timeout = time.timeout
bench.start()
if mode == "chain" then
  local i = 0
  local function step()
    i = i + 1
    if i < n then timeout(0, step) else bench.stop() end
  end
  timeout(0, step)
else
  local held, left = {}, n
  local function done()
    left = left - 1
    if left == 0 then bench.stop() end
  end
  for i = 1, n do held[i] = timeout(0, done) end
end
`

func benchTimeout(b *testing.B, mode string) {
	benchClock.Set(b)
	b.ReportAllocs()
	res := drleetest.Run(b, timeoutBenchScript, drleetest.Options{Args: []string{fmt.Sprint(b.N), mode}})
	res.MustSucceed(b)
}

func BenchmarkLuaTimeoutChain(b *testing.B) { benchTimeout(b, "chain") }

// BenchmarkLuaTimeoutHeld: the baseline of BenchmarkLuaTimeoutChain.
func BenchmarkLuaTimeoutHeld(b *testing.B) { benchTimeout(b, "held") }
