//go:build luajit

package lua

import (
	"fmt"
	"sync"
	"testing"

	"github.com/drlee/drlee/packed"
)

// Script fields (ClassDef.ScriptFields): a class "fobj" with a method, a getter and fields
// of the script's own, and "fbare" with fields and a method but no getter (its __index is
// then a function, not the methods table).

const (
	fieldsClass = 9
	bareClass   = 10
)

var (
	fnFieldsNew = Register("tf.new", false, func(c *Call) int {
		o := fieldsOwnerOf(c)
		out := c.Out()
		out.Object(o.fieldsMT, fieldsClass, uint64(c.CheckInt(1)))
		return c.Return()
	})
	fnBareNew = Register("tf.bare", false, func(c *Call) int {
		o := fieldsOwnerOf(c)
		out := c.Out()
		out.Object(o.bareMT, bareClass, uint64(c.CheckInt(1)))
		return c.Return()
	})
	fnFieldsMethod = Register("fobj:id", true, func(c *Call) int {
		_, id := c.Object(1)
		return c.ReturnNumber(float64(id))
	})
	fnFieldsGetter = Register("fobj.name", true, func(c *Call) int {
		_, id := c.Object(1)
		return c.ReturnString(fmt.Sprintf("fobj#%d", id))
	})
)

// fieldsOwner is what a state of these tests keeps beside its owner (State.Owner stays
// the owner, which the t module's functions use).
type fieldsOwner struct {
	*owner
	fieldsMT, bareMT int32
}

var fieldStates sync.Map // *State -> *fieldsOwner

func fieldsOwnerOf(c *Call) *fieldsOwner {
	o, _ := fieldStates.Load(c.State())
	return o.(*fieldsOwner)
}

// newFieldsState is newState with the two classes and the module "tf" (tf.new(id),
// tf.bare(id)); finalized objects of both classes are counted in o.final.
func newFieldsState(t testing.TB) (*State, *fieldsOwner) {
	t.Helper()
	s, base := newState(t)
	o := &fieldsOwner{owner: base}
	fieldStates.Store(s, o)
	t.Cleanup(func() { fieldStates.Delete(s) })
	s.Finalize = func(cls uint32, id uint64) {
		if cls == fieldsClass || cls == bareClass || cls == testClass {
			o.final = append(o.final, id)
		}
	}
	var err error
	o.fieldsMT, err = s.NewClass(ClassDef{Name: "fobj", Methods: []Export{{"id", fnFieldsMethod}},
		Getters: []Export{{"name", fnFieldsGetter}}, Finalize: true, ScriptFields: true})
	if err != nil {
		t.Fatal(err)
	}
	o.bareMT, err = s.NewClass(ClassDef{Name: "fbare", Methods: []Export{{"id", fnFieldsMethod}},
		Finalize: true, ScriptFields: true})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := s.NewModule([]Export{{"new", fnFieldsNew}, {"bare", fnBareNew}})
	if err == nil {
		err = s.RegisterLoaded("tf", ref)
	}
	if err != nil {
		t.Fatal(err)
	}
	s.Unref(ref)
	mustDo(t, s, `TF = require "tf"`)
	return s, o
}

// What a script sets is its own, per object; methods and getters are untouched and cannot
// be assigned; odd keys and odd callers of the metamethods raise clear errors.
func TestScriptFields(t *testing.T) {
	t.Parallel()
	s, _ := newFieldsState(t)
	mustDo(t, s, `
local function raises(want, f, ...)
  local ok, err = pcall(f, ...)
  assert(not ok, "no error, want " .. want)
  assert(string.find(tostring(err), want, 1, true), "error " .. tostring(err) .. ", want " .. want)
end
for _, make in ipairs({TF.new, TF.bare}) do
  local a, b = make(1), make(2)
  assert(a.user == nil, "no field before one is set")
  a.user = "ann"
  a.ctx = {n = 1}
  a[1] = "one"
  a[true] = "yes"
  assert(a.user == "ann" and a.ctx.n == 1 and a[1] == "one" and a[true] == "yes")
  assert(b.user == nil and b.ctx == nil and b[1] == nil, "fields are per object")
  b.user = "bob"
  assert(a.user == "ann" and b.user == "bob")
  a.ctx.n = 2
  assert(a.ctx.n == 2, "a field holds the value itself, not a copy")
  a.user = nil
  assert(a.user == nil, "nil removes a field")
  b.gone = nil -- removing what was never set
  local c = make(3)
  c.x = nil -- the first assignment is a removal: no table is made
  assert(c.x == nil)
  -- the class is untouched
  assert(a:id() == 1 and b:id() == 2)
  raises("cannot set " .. (make == TF.new and "fobj" or "fbare") .. ".id: it is a method", function() a.id = 5 end)
  raises("a nil key", function() a[nil] = 1 end)
  raises("a NaN key", function() a[0/0] = 1 end)
  assert(a:id() == 1, "a refused assignment changes nothing")
  a.self = a -- a cycle through the object's own table
  assert(a.self == a)
end
local f = TF.new(4)
assert(f.name == "fobj#4")
raises("cannot set fobj.name: it is a read-only field", function() f.name = "x" end)
assert(f.name == "fobj#4")
-- Classes without script fields refuse any assignment, as before.
local o = T.newobj(5)
raises("attempt to index", function() o.x = 1 end)
-- The metamethods, called by a script with something else, raise or find nothing.
local mt = getmetatable(f)
raises("fobj field set on something else (number)", mt.__newindex, 5, "k", 1)
raises("fobj field set on something else (table)", mt.__newindex, {}, "k", 1)
raises("fobj field set on something else (userdata)", mt.__newindex, o, "k", 1)
raises("fobj field set on something else (userdata)", mt.__newindex, TF.bare(6), "k", 1)
assert(mt.__index({}, "zzz") == nil)
assert(mt.__index(o, "zzz") == nil)
assert(mt.__index(f, "id") == f.id)
-- A field named like a metamethod is a field, not a metamethod.
f.__tostring = function() return "shadow" end
assert(tostring(f) ~= "shadow")
`)
}

// Objects with fields, cycles included (a field holding the object, two objects holding
// each other), are collected with their fields: finalized, Lua memory back where it was,
// no registry ref left.
func TestScriptFieldsCollected(t *testing.T) {
	t.Parallel()
	s, o := newFieldsState(t)
	mustDo(t, s, `
local function round(n)
  for i = 1, n do
    local a, b = TF.new(i), TF.bare(i)
    a.self, a.peer, a.data = a, b, string.rep("x", 100) .. i
    b.peer, b.t = a, {a, b, {deep = {a}}}
  end
end
round(1000) -- warms what the loop allocates once (interned strings, table sizes)
measure("a")
for r = 1, 20 do round(1000) end
measure("b")
`)
	checkNoGrowth(t, o.owner, "a", "b", 64)
	if len(o.final) != 42000 {
		t.Errorf("finalized %d objects, want 42000 (2 per iteration)", len(o.final))
	}
}

// BenchmarkScriptFieldSetGet: obj.f = i then obj.f on an object with script fields (an
// __newindex and an __index C call, the table made once). Its baseline twin,
// BenchmarkTableFieldSetGet, does the same on a plain Lua table; BenchmarkGetterGet reads
// a getter (a crossing into Go), for scale.
func BenchmarkScriptFieldSetGet(b *testing.B) {
	benchFields(b, `function(n)
  local o, s = TF.new(1), 0
  for i = 1, n do o.f = i; s = s + o.f end
  assert(s > 0)
end`)
}

func BenchmarkTableFieldSetGet(b *testing.B) {
	benchFields(b, `function(n)
  local o, s = {}, 0
  for i = 1, n do o.f = i; s = s + o.f end
  assert(s > 0)
end`)
}

// BenchmarkMethodLookup: obj.id looked up (not called) on an object with script fields and
// getters, and on one of a class with getters and no script fields: found first, a method
// costs the same in both.
func BenchmarkMethodLookup(b *testing.B) {
	b.Run("fields=true", func(b *testing.B) {
		benchFields(b, `function(n)
  local o, m = TF.new(1)
  o.f = 1
  for i = 1, n do m = o.id end
  assert(m)
end`)
	})
	b.Run("fields=false", func(b *testing.B) {
		benchFields(b, `function(n)
  local o, m = T.newobj(1)
  for i = 1, n do m = o.m end
  assert(m)
end`)
	})
}

func BenchmarkGetterGet(b *testing.B) {
	benchFields(b, `function(n)
  local o, v = TF.new(1)
  for i = 1, n do v = o.name end
  assert(v)
end`)
}

// benchFields is benchLoop in a state with the classes of the script fields.
func benchFields(b *testing.B, body string) {
	s, o := newFieldsState(b)
	mustDo(b, s, `T.report("ref", T.keep(`+body+`))`)
	ref := int32(o.num(b, "ref"))
	var args packed.Writer
	args.Int(int64(b.N))
	b.ReportAllocs()
	b.ResetTimer()
	if err := s.CallRef(ref, false, args.B); err != nil {
		b.Fatal(err)
	}
}
