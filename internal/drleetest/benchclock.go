package drleetest

import (
	"sync/atomic"
	"testing"

	"github.com/drlee/drlee/engine"
)

// BenchClock lets a benchmark time its Lua loop rather than the engine's start-up: it is a
// Lua module with start() and stop(), which reset and stop the timer of the benchmark
// Set last. Make it at init (modules register before any state exists); benchmarks are not
// parallel, so one benchmark at a time uses it.
//
//	var clock = drleetest.NewBenchClock("jsonbench")
//	...
//	clock.Set(b)
//	drleetest.Run(b, `local bench = require "jsonbench"; bench.start() ... bench.stop()`)
type BenchClock struct{ b atomic.Pointer[testing.B] }

// NewBenchClock registers the module name and returns its clock.
func NewBenchClock(name string) *BenchClock {
	c := &BenchClock{}
	engine.Register(&engine.Module{
		Name: name,
		Funcs: []engine.Function{
			{Name: "start", Fn: func(*engine.Call) int { c.b.Load().ResetTimer(); return 0 }},
			{Name: "stop", Fn: func(*engine.Call) int { c.b.Load().StopTimer(); return 0 }},
		},
	})
	return c
}

// Set makes b the benchmark start and stop act on.
func (c *BenchClock) Set(b *testing.B) { c.b.Store(b) }
