package engine_test

import (
	"sync"
	"testing"
	"time"

	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/engine/enginetest"
)

// pooledOwner owns a scope kept in its own memory, as a pooled HTTP request does, and hands
// that memory to another goroutine the moment the scope ends: what a pool may do once the
// last reference goes.
type pooledOwner struct {
	scope    engine.Scope
	recycled *sync.WaitGroup
}

func (o *pooledOwner) ScopeFailed(*engine.Worker, *engine.Scope, error) {}

func (o *pooledOwner) ScopeIdle(_ *engine.Worker, sc *engine.Scope) {
	go func() { // another goroutine reuses the memory, with nothing ordering it after us
		*sc = engine.Scope{}
		o.recycled.Done()
	}()
}

var recycledScopes sync.WaitGroup

func init() {
	engine.Register(&engine.Module{
		Name: "testscope",
		Funcs: []engine.Function{
			// run(fn): fn in a scope of a pooledOwner.
			{Name: "run", Fn: func(c *engine.Call) int {
				w := engine.WorkerOf(c)
				o := &pooledOwner{recycled: &recycledScopes}
				recycledScopes.Add(1)
				w.RunScoped(w.InitScope(&o.scope, o), c.RefArg(1), nil)
				return 0
			}},
			// later(ms): a timer of the current scope that does nothing.
			{Name: "later", Fn: func(c *engine.Call) int {
				ms := c.CheckIntRange(1, 0, 1000)
				engine.WorkerOf(c).After(time.Duration(ms)*time.Millisecond, func(*engine.Worker) {})
				return 0
			}},
		},
	})
}

// TestScopeMemoryNotTouchedAfterIdle: once ScopeIdle returns, the engine leaves the scope's
// memory alone, whatever ended the scope (the call itself, or a timer after the call had
// returned and left its thread to the scope). Under -race, a write after ScopeIdle is a
// data race with the goroutine that recycles the memory.
func TestScopeMemoryNotTouchedAfterIdle(t *testing.T) {
	res := enginetest.Run(t, `local s = require "testscope"
for i = 1, 20 do
  s.run(function() end)                       -- ends with the call
  s.run(function() s.later(i % 3) end)        -- ends with its timer, after the call
  s.run(function(...) s.later(1); return ... end)
end
print("ran")
`, enginetest.Options{Workers: 1})
	res.MustSucceed(t)
	res.Contains(t, "ran\n")
	recycledScopes.Wait()
}
