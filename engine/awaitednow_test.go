package engine_test

import (
	"sync"
	"testing"

	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/engine/enginetest"
)

// styleOwner records whether its scope awaited, as an HTTP request decides its end by it.
type styleOwner struct {
	scope engine.Scope
	mu    *sync.Mutex
	seen  *[]bool
}

func (o *styleOwner) ScopeFailed(*engine.Worker, *engine.Scope, error) {}

func (o *styleOwner) ScopeIdle(_ *engine.Worker, sc *engine.Scope) {
	o.mu.Lock()
	*o.seen = append(*o.seen, sc.Awaited())
	o.mu.Unlock()
}

var (
	styleMu   sync.Mutex
	styleSeen []bool
)

func init() {
	engine.Register(&engine.Module{
		Name: "testknown",
		Funcs: []engine.Function{
			// run(fn): fn in a scope of a styleOwner.
			{Name: "run", Fn: func(c *engine.Call) int {
				w := engine.WorkerOf(c)
				o := &styleOwner{mu: &styleMu, seen: &styleSeen}
				w.RunScoped(w.InitScope(&o.scope, o), c.RefArg(1), nil)
				return 0
			}},
			// value(x): x, a result known at once; awaited when called without a callback
			// in a runtime thread.
			{Name: "value", Fn: func(c *engine.Call) int {
				x := c.CheckNumber(1)
				if c.CanAwait() {
					engine.WorkerOf(c).AwaitedNow()
				}
				return c.ReturnNumber(x)
			}},
		},
	})
}

// A call answered with AwaitedNow returns its result at once and counts as an await of its
// scope, as ReserveCall and ReturnNow would; a scope that made none did not await.
func TestAwaitedNow(t *testing.T) {
	styleMu.Lock()
	styleSeen = nil
	styleMu.Unlock()
	res := enginetest.Run(t, `local k = require "testknown"
k.run(function() assert(k.value(5) == 5) end)
k.run(function() end)
local co = coroutine.wrap(function() return k.value(7) end) -- not a runtime thread
assert(co() == 7)
print("ran")
`, enginetest.Options{Workers: 1})
	res.MustSucceed(t)
	res.Contains(t, "ran\n")
	styleMu.Lock()
	defer styleMu.Unlock()
	if len(styleSeen) != 2 || !styleSeen[0] || styleSeen[1] {
		t.Errorf("scopes awaited %v, want [true false]", styleSeen)
	}
}
