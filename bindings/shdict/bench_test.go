package shdict_test

import (
	"strconv"
	"testing"

	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/internal/drleetest"
)

// counters is the baseline's dictionary: a plain map that only worker 1's loop touches, as
// a script would keep shared state without shdict (one owner, the others asking it).
var counters = engine.NewWorkerLocal(func(w *engine.Worker) *map[string]float64 {
	m := map[string]float64{}
	return &m
})

func init() {
	engine.Register(&engine.Module{
		Name:  "shdictbench",
		Funcs: []engine.Function{{Name: "queue_incr", Fn: queueIncr}},
	})
}

// shdictbench.queue_incr(key, n, cb?) -> sum: the baseline twin of d:incr. The increment
// is a task posted to worker 1's queue, which adds to its map and completes the caller's
// operation: a round trip through a worker queue and back, which is what sharing a counter
// costs without a shared dictionary.
func queueIncr(c *engine.Call) int {
	w := engine.WorkerOf(c)
	key := c.CheckString(1)
	n := c.CheckFinite(2)
	op := w.ReserveCall(c, 3)
	owner := w.Engine().Workers()[0]
	if err := owner.Post(engine.TaskFunc(func(ow *engine.Worker) {
		m := counters.Get(ow)
		(*m)[key] += n
		sum := (*m)[key]
		op.Complete(func(w *engine.Worker, a *engine.Args) {
			a.Nil()
			a.Number(sum)
		})
	})); err != nil {
		op.Complete(func(w *engine.Worker, a *engine.Args) { a.Error(err) })
	}
	return op.Return(c)
}

// benchLua runs script in one worker with arg[1] = b.N; it does b.N operations and prints
// "done", so ns/op is one operation's cost (the engine's start amortised over b.N).
func benchLua(b *testing.B, script string) {
	b.ReportAllocs()
	res := drleetest.Run(b, script, drleetest.Options{Workers: 1, Args: []string{strconv.Itoa(b.N)}})
	res.MustSucceed(b)
	res.Contains(b, "done")
}

// BenchmarkLuaIncr: d:incr from Lua, one call after the other.
func BenchmarkLuaIncr(b *testing.B) {
	benchLua(b, `local d = require("shdict").new("bench")
local n = tonumber(arg[1])
for i = 1, n do d:incr("hits", 1, 0) end
assert(d:get("hits") == n)
print("done")`)
}

// BenchmarkLuaGet: d:get of a short string from Lua.
func BenchmarkLuaGet(b *testing.B) {
	benchLua(b, `local d = require("shdict").new("bench")
d:set("greeting", "hello world")
local get = d.get
for i = 1, tonumber(arg[1]) do get(d, "greeting") end
assert(d:get("greeting") == "hello world")
print("done")`)
}

// BenchmarkLuaQueueIncr is BenchmarkLuaIncr's baseline twin: the same increment as a round
// trip through worker 1's queue (await style), which is how workers share a counter
// without shdict. shdict must be the faster.
func BenchmarkLuaQueueIncr(b *testing.B) {
	benchLua(b, `local qincr = require("shdictbench").queue_incr
local n = tonumber(arg[1])
local last
for i = 1, n do last = qincr("hits", 1) end
assert(last == n)
print("done")`)
}
