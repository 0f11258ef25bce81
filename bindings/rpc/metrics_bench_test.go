package rpc_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/internal/drleetest"
	"github.com/drlee/drlee/internal/observe"
)

// benchRun is the benchmark the rpcbench module acts on (one at a time: benchmarks do not
// run in parallel), and its engine's cancel.
var benchRun atomic.Pointer[struct {
	b      *testing.B
	cancel context.CancelFunc
}]

func init() {
	engine.Register(&engine.Module{
		Name: "rpcbench",
		Funcs: []engine.Function{
			{Name: "start", Fn: func(*engine.Call) int { benchRun.Load().b.ResetTimer(); return 0 }},
			{Name: "stop", Fn: func(*engine.Call) int { benchRun.Load().b.StopTimer(); return 0 }},
			{Name: "done", Fn: func(*engine.Call) int { benchRun.Load().cancel(); return 0 }},
		},
	})
}

// rpcBenchScript: both workers serve "add"; worker 1, once worker 2 serves too, makes
// arg[1] calls one after the other (await style), timed from Lua.
const rpcBenchScript = `local rpc = require "rpc"
local time = require "time"
local bench = require "rpcbench"
rpc.register("add", function(m, reply) reply(nil, m + 1) end)
if env.worker_id == 2 then rpc.register("up2", function(_, reply) reply(nil, true) end) end
if env.worker_id == 1 then
  local up = false
  for _ = 1, 1000 do
    if rpc.call("up2", nil) then up = true break end
    time.sleep(5)
  end
  assert(up, "worker 2 never registered")
  assert(rpc.call("add", 0) == 1) -- the name is known before the timing starts
  local n = tonumber(arg[1])
  bench.start()
  for i = 1, n do
    local r, err = rpc.call("add", i)
    if r ~= i + 1 then error(err) end
  end
  bench.stop()
  bench.done()
end
`

// BenchmarkCallLocalMetrics is rpc.call between the two workers of one process, as a
// script makes it, with the metrics off (the baseline) and on: the counting's cost per
// call, which must add no allocation.
//
//	go test -tags luajit -run '^$' -bench 'CallLocalMetrics' -benchtime 20000x ./bindings/rpc/
func BenchmarkCallLocalMetrics(b *testing.B) {
	path := filepath.Join(b.TempDir(), "bench.lua")
	if err := os.WriteFile(path, []byte(rpcBenchScript), 0o644); err != nil {
		b.Fatal(err)
	}
	for _, on := range []bool{false, true} {
		name := "off"
		if on {
			name = "on"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			var logs drleetest.SyncBuffer
			e, err := engine.New(engine.Config{
				Script: path, Args: []string{strconv.Itoa(b.N)}, Workers: 2,
				ShutdownTimeout: 5 * time.Second, Stdout: io.Discard, Stderr: &logs,
			})
			if err != nil {
				b.Fatal(err)
			}
			if on {
				if _, err := observe.Serve(e, "127.0.0.1:0"); err != nil {
					b.Fatal(err)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			benchRun.Store(&struct {
				b      *testing.B
				cancel context.CancelFunc
			}{b, cancel})
			if err := e.Run(ctx); err != nil {
				b.Fatalf("%v\n%s", err, logs.String())
			}
			if ctx.Err() == context.DeadlineExceeded {
				b.Fatalf("the script never called bench.done\n%s", logs.String())
			}
		})
	}
}
