package engine_test

import (
	"testing"

	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/engine/enginetest"
)

// The module "testfields": objects of a class with script fields (Class.ScriptFields), a
// method, a getter and a close, and of a class without them.
var (
	fieldsThing = &engine.Class{Name: "fthing", ScriptFields: true}
	plainThing  = &engine.Class{Name: "pthing"}
	fieldsDead  = engine.NewWorkerLocal(func(*engine.Worker) *int { return new(int) })
)

func init() {
	fieldsThing.Methods = []engine.Function{
		{Name: "n", Fn: func(c *engine.Call) int {
			return c.ReturnNumber(float64(engine.WorkerOf(c).Object(c, 1, fieldsThing).(int)))
		}},
		{Name: "close", Fn: func(c *engine.Call) int {
			w := engine.WorkerOf(c)
			w.Release(w.ObjectID(c, 1, fieldsThing))
			return 0
		}},
	}
	fieldsThing.Getters = []engine.Function{
		{Name: "kind", Fn: func(c *engine.Call) int { return c.ReturnString("fthing") }},
	}
	fieldsThing.Finalize = func(w *engine.Worker, v any) { *fieldsDead.Get(w)++ }
	engine.Register(&engine.Module{
		Name: "testfields",
		Funcs: []engine.Function{
			{Name: "new", Fn: func(c *engine.Call) int {
				w := engine.WorkerOf(c)
				w.NewObject(c.Out(), fieldsThing, int(c.CheckInt(1)))
				return c.Return()
			}},
			{Name: "plain", Fn: func(c *engine.Call) int {
				w := engine.WorkerOf(c)
				w.NewObject(c.Out(), plainThing, 0)
				return c.Return()
			}},
			{Name: "finalized", Fn: func(c *engine.Call) int {
				return c.ReturnNumber(float64(*fieldsDead.Get(engine.WorkerOf(c))))
			}},
		},
		Classes: []*engine.Class{fieldsThing, plainThing},
	})
}

// TestScriptFields: a script's fields on an object, through the engine: kept across
// callbacks, per object, never over a method or a getter, readable after the object was
// closed; a class without ScriptFields refuses them as before.
func TestScriptFields(t *testing.T) {
	t.Parallel()
	res := enginetest.Run(t, `
local f = require "testfields"
local time = require "time"
local a, b = f.new(1), f.new(2)
a.user = {name = "ann"}
b.user = {name = "bob"}
local ok, err = pcall(function() a.n = 5 end)
assert(not ok and string.find(err, "cannot set fthing.n: it is a method", 1, true), err)
ok, err = pcall(function() a.kind = "x" end)
assert(not ok and string.find(err, "cannot set fthing.kind: it is a read-only field", 1, true), err)
ok, err = pcall(function() local p = f.plain(); p.x = 1 end)
assert(not ok and string.find(err, "attempt to index", 1, true), err)
time.timeout(1, function()
  assert(a.user.name == "ann" and b.user.name == "bob")
  assert(a:n() == 1 and a.kind == "fthing")
  a:close()
  assert(a.user.name == "ann", "a closed object keeps its fields")
  ok, err = pcall(a.n, a)
  assert(not ok and string.find(err, "fthing is closed", 1, true), err)
  print("fields ok")
end)
`, enginetest.Options{Workers: 1})
	res.MustSucceed(t)
	res.Contains(t, "fields ok\n")
}

// TestScriptFieldsNoLeak: objects with fields (cycles through them included), made and
// dropped by the thousand, are collected with their fields: every one finalized, no growth
// of Lua memory or registry refs.
func TestScriptFieldsNoLeak(t *testing.T) {
	t.Parallel()
	res := enginetest.Run(t, luaMeasure+`
local f = require "testfields"
local function round(n)
  for i = 1, n do
    local a, b = f.new(i), f.new(-i)
    a.self, a.peer, a.blob = a, b, string.rep("z", 200) .. i
    b.peer, b.list = a, {a, b}
    if i % 2 == 0 then a:close() end
  end
end
round(2000)
measure("start")
for _ = 1, 10 do round(2000) end
measure("end")
print("finalized " .. f.finalized())
`, enginetest.Options{Workers: 1})
	res.MustSucceed(t)
	checkBaseline(t, res.Stdout, "start", "end", 64)
	// Every object was collected; those closed first are not finalized (released): 3 of
	// every 4 of the 44000 are.
	res.Contains(t, "finalized 33000\n")
}
