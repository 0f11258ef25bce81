package engine_test

import (
	"testing"
	"time"

	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/engine/enginetest"
)

// The module "testfinal": objects of a class finalized on demand, and the switches.
var (
	finalThing = &engine.Class{Name: "thing", FinalizeOnDemand: true}
	finalized  = engine.NewWorkerLocal(func(*engine.Worker) *int { return new(int) })
)

func init() {
	finalThing.Finalize = func(w *engine.Worker, v any) { *finalized.Get(w)++ }
	engine.Register(&engine.Module{
		Name: "testfinal",
		Funcs: []engine.Function{
			{Name: "new", Fn: func(c *engine.Call) int {
				w := engine.WorkerOf(c)
				w.NewObject(c.Out(), finalThing, struct{}{})
				return c.Return()
			}},
			{Name: "want", Fn: func(c *engine.Call) int { engine.WorkerOf(c).WantFinalize(finalThing); return 0 }},
			{Name: "done", Fn: func(c *engine.Call) int { engine.WorkerOf(c).DoneFinalize(finalThing); return 0 }},
			{Name: "finalized", Fn: func(c *engine.Call) int {
				return c.ReturnNumber(float64(*finalized.Get(engine.WorkerOf(c))))
			}},
			{Name: "collect_soon", Fn: func(c *engine.Call) int { engine.WorkerOf(c).CollectSoon(); return 0 }},
		},
		Classes: []*engine.Class{finalThing},
	})
}

// TestFinalizeOnDemand: objects of a FinalizeOnDemand class are finalized when collected
// only while some WantFinalize is in effect (nested wants count), objects made before it
// included.
func TestFinalizeOnDemand(t *testing.T) {
	t.Parallel()
	res := enginetest.Run(t, `local f = require "testfinal"
local function churn(n)
  for _ = 1, n do f.new() end
  collectgarbage()
  collectgarbage()
  return f.finalized()
end
print("off", churn(10))
local early = {}
for i = 1, 5 do early[i] = f.new() end
f.want()
f.want()
early = nil
print("on", churn(10))
f.done()
print("still on", churn(10))
f.done()
f.done() -- one too many: ignored
print("off again", churn(10))
`, enginetest.Options{Workers: 1})
	res.MustSucceed(t)
	res.Contains(t, "off\t0\n", "on\t15\n", "still on\t25\n", "off again\t25\n")
}

// TestCollectSoon: a collection asked for runs once the loop is idle, soon, without
// keeping the worker alive; a second one within collectEvery waits for its turn.
func TestCollectSoon(t *testing.T) {
	t.Parallel()
	start := time.Now()
	res := enginetest.Run(t, `local f = require "testfinal"
local time = require "time"
f.want()
f.new()
f.collect_soon()
time.timeout(50, function()
  print("first", f.finalized())
  f.new()
  f.collect_soon() -- within a second of the first: later
  time.timeout(50, function()
    print("not yet", f.finalized())
    time.timeout(1200, function() print("second", f.finalized()) end)
  end)
end)
`, enginetest.Options{Workers: 1})
	res.MustSucceed(t)
	res.Contains(t, "first\t1\n", "not yet\t1\n", "second\t2\n")
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the run took %v: a pending collection kept the worker alive?", took)
	}
}
