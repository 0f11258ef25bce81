//go:build luajit

package lua

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/drlee/drlee/packed"
)

// Go functions of the tests. Registration must happen before the first state exists, so
// they are package variables (initialised before TestMain runs).
var (
	fnNoop   = Register("t.noop", false, func(c *Call) int { return 0 })
	fnCheck  = Register("t.check", false, tCheck)
	fnAdd    = Register("t.add", false, func(c *Call) int { return c.ReturnNumber(c.CheckNumber(1) + c.CheckNumber(2)) })
	fnPanic  = Register("t.panic", false, tPanic)
	fnReport = Register("t.report", false, tReport)
	fnCall   = Register("t.call", false, tCall)
	fnKeep   = Register("t.keep", false, func(c *Call) int { return c.ReturnNumber(float64(c.CheckFunc(1))) })
	fnEcho   = Register("t.echo", false, tEcho)
	fnMany   = Register("t.many", false, tMany)
	fnNewObj = Register("t.newobj", false, tNewObj)
	fnOutCB  = Register("t.outcall", false, tOutCall)
	fnOpt    = Register("t.opt", false, tOpt)
	fnList   = Register("t.list", false, tList)
	fnCount  = Register("t.count", false, func(c *Call) int { callsSeen.Add(1); return 0 })
	fnHuge   = Register("t.huge", false, tHuge)
	fnPack   = Register("t.pack", false, func(c *Call) int { return c.ReturnBytes(c.Encode(1)) })
	fnJSONV  = Register("t.jsonvalues", false, tJSONValues)
	fnMethod = Register("obj:m", true, func(c *Call) int {
		if cls, _ := c.Object(1); cls != testClass {
			c.TypeError(1, "obj")
		}
		return c.ReturnString("m:" + c.CheckString(2))
	})
	fnGetter = Register("obj.name", true, func(c *Call) int {
		_, id := c.Object(1)
		return c.ReturnString(fmt.Sprintf("obj#%d", id))
	})
	fnToString = Register("obj.__tostring", true, func(c *Call) int {
		_, id := c.Object(1)
		return c.ReturnString(fmt.Sprintf("<obj %d>", id))
	})
)

const testClass = 7

var panicsSeen, callsSeen atomic.Int64

// t.huge() returns a string longer than Lua can hold (address space no memory backs).
func tHuge(c *Call) int {
	m, err := syscall.Mmap(-1, 0, packed.MaxString+1, syscall.PROT_READ, syscall.MAP_PRIVATE|syscall.MAP_ANON|syscall.MAP_NORESERVE)
	if err != nil {
		c.Raise("mmap: %v", err)
	}
	defer syscall.Munmap(m)
	return c.ReturnBytes(m)
}

// t.list(n, tag) -> {tag.."1", ..., tag..n}: a result big enough that decoding it allocates
// many times (and so runs collection steps, and finalizers).
func tList(c *Call) int {
	n := int(c.CheckInt(1))
	tag := c.CheckString(2)
	out := c.Out()
	out.Table(n, 0)
	for i := 1; i <= n; i++ {
		out.String(tag + strconv.Itoa(i))
	}
	return c.Return()
}

// owner is the per-state data of the test functions (State.Owner).
type owner struct {
	mu      sync.Mutex
	nums    map[string]float64
	strs    map[string]string
	classMT int32
	final   []uint64 // ids finalized
	awaits  int      // t.wait calls that suspended
}

func ownerOf(c *Call) *owner { return c.State().Owner.(*owner) }

func tCheck(c *Call) int {
	s := c.CheckString(1)
	n := c.CheckNumber(2)
	return c.ReturnNumber(float64(len(s)) + n)
}

func tPanic(c *Call) int {
	switch c.OptString(1, "string") {
	case "error":
		panic(errors.New("an error value"))
	case "nil map":
		var m map[string]int
		m["x"] = 1
	case "index":
		var s []int
		_ = s[c.N()+5]
	case "nil deref":
		var p *owner
		_ = p.nums
	}
	panic("boom")
}

// t.report(name, value): value is a number or a string.
func tReport(c *Call) int {
	o := ownerOf(c)
	name := c.CheckString(1)
	o.mu.Lock()
	defer o.mu.Unlock()
	if c.Type(2) == TypeNumber {
		o.nums[name] = c.CheckNumber(2)
	} else {
		o.strs[name] = c.CheckString(2)
	}
	return 0
}

// t.call(f, v): calls f(v) from Go (a nested Go->Lua call); returns the error text or
// nothing.
func tCall(c *Call) int {
	ref := c.CheckFunc(1)
	var args []byte
	if c.N() >= 2 {
		args = append(args, c.Encode(2)...) // copied: a nested call may Encode again
	}
	if err := c.State().CallRef(ref, true, args); err != nil {
		return c.ReturnString(err.Error())
	}
	return 0
}

// t.echo(v): v encoded by C into the packed format and decoded back.
func tEcho(c *Call) int {
	b := c.Encode(1)
	if err := packed.Validate(b); err != nil {
		c.Raise("Encode wrote an invalid buffer: %v", err)
	}
	out := c.Out()
	out.Raw(b)
	return c.Return()
}

// t.many(...): more arguments than the trampoline's frame holds. Returns the count and
// the arguments as strings, joined.
func tMany(c *Call) int {
	parts := make([]string, 0, c.N())
	for i := 1; i <= c.N(); i++ {
		parts = append(parts, c.CheckString(i))
	}
	out := c.Out()
	out.Int(int64(c.N()))
	out.String(strings.Join(parts, ","))
	return c.Return()
}

// t.newobj(id) -> an obj userdata.
func tNewObj(c *Call) int {
	o := ownerOf(c)
	out := c.Out()
	out.Object(o.classMT, testClass, uint64(c.CheckInt(1)))
	return c.Return()
}

// t.outcall(f): writes a result, calls f from Go, writes another result.
func tOutCall(c *Call) int {
	ref := c.CheckFunc(1)
	out := c.Out()
	out.String("before")
	if err := c.State().CallRef(ref, true, nil); err != nil {
		c.Raise("%v", err)
	}
	out.String("after")
	return c.Return()
}

// t.opt(s, n, b): the optional accessors.
func tOpt(c *Call) int {
	s := c.OptString(1, "def")
	n := c.OptInt(2, 42)
	out := c.Out()
	out.String(s)
	out.Int(n)
	out.Bool(c.Bool(3))
	out.String(TypeName(c.Type(4)))
	return c.Return()
}

// t.jsonvalues() -> json.null, json.empty_array, json.array_mt, as the json module gets them.
func tJSONValues(c *Call) int {
	out := c.Out()
	out.Null()
	out.Ref(RefEmptyArray)
	out.Ref(RefArrayMeta)
	return c.Return()
}

var testFuncs = []Export{
	{"noop", fnNoop}, {"check", fnCheck}, {"add", fnAdd}, {"panic", fnPanic},
	{"report", fnReport}, {"call", fnCall}, {"keep", fnKeep}, {"echo", fnEcho},
	{"many", fnMany}, {"newobj", fnNewObj}, {"outcall", fnOutCB}, {"opt", fnOpt},
	{"list", fnList}, {"count", fnCount}, {"huge", fnHuge},
	{"pack", fnPack}, {"jsonvalues", fnJSONV},
	{"keepif", fnKeepIf}, {"seefunc", fnSeeFunc}, {"refunref", fnRefUnref}, {"unref", fnUnrefNum}, {"bools", fnBools},
}

// Lua helpers every test state has: T (the test module) and regcount() (registry refs in
// use: integer keys whose value is not a number, since luaL_ref's free list holds numbers).
const prelude = `
T = require "t"
function regcount()
  local n = 0
  for k, v in pairs(debug.getregistry()) do
    if type(k) == "number" and type(v) ~= "number" then n = n + 1 end
  end
  return n
end
function measure(tag)
  collectgarbage(); collectgarbage()
  T.report(tag .. ".mem", collectgarbage("count"))
  T.report(tag .. ".reg", regcount())
end
`

func newState(t testing.TB) (*State, *owner) {
	t.Helper()
	s, err := New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	o := &owner{nums: map[string]float64{}, strs: map[string]string{}}
	s.Owner = o
	s.PanicHandler = func(fn string, p any, stack []byte) { panicsSeen.Add(1) }
	s.Finalize = func(cls uint32, id uint64) {
		if cls == testClass {
			o.final = append(o.final, id)
		}
	}
	mt, err := s.NewClass(ClassDef{Name: "obj", Methods: []Export{{"m", fnMethod}},
		Getters: []Export{{"name", fnGetter}}, Meta: []Export{{"__tostring", fnToString}}, Finalize: true})
	if err != nil {
		t.Fatal(err)
	}
	o.classMT = mt
	ref, err := s.NewModule(testFuncs)
	if err == nil {
		err = s.RegisterLoaded("t", ref)
	}
	if err != nil {
		panic(err)
	}
	s.Unref(ref)
	mustDo(t, s, prelude)
	return s, o
}

func mustDo(t testing.TB, s *State, code string) {
	t.Helper()
	if err := s.DoChunk([]byte(code), "@cgo_test.lua"); err != nil {
		t.Fatalf("DoChunk: %v", err)
	}
}

func (o *owner) num(t testing.TB, name string) float64 {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	v, ok := o.nums[name]
	if !ok {
		t.Fatalf("nothing reported as %q", name)
	}
	return v
}

func (o *owner) str(name string) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.strs[name]
}

// checkNoGrowth compares what measure("a") and measure("b") reported.
func checkNoGrowth(t *testing.T, o *owner, a, b string, slackKB float64) {
	t.Helper()
	if m0, m1 := o.num(t, a+".mem"), o.num(t, b+".mem"); m1-m0 > slackKB {
		t.Errorf("Lua memory grew from %.1f KB to %.1f KB", m0, m1)
	}
	if r0, r1 := o.num(t, a+".reg"), o.num(t, b+".reg"); r1 != r0 {
		t.Errorf("registry refs went from %v to %v", r0, r1)
	}
}

func TestNewState(t *testing.T) {
	t.Parallel()
	s, _ := newState(t)
	if s.Top() != 0 {
		t.Errorf("Top = %d after setup, want 0 (the stack starts empty)", s.Top())
	}
	if kb := s.MemoryKB(); kb <= 0 || kb > 10000 {
		t.Errorf("MemoryKB = %d", kb)
	}
	// The real pcall and xpcall, not golua's unsafe_pcall.
	mustDo(t, s, `
assert(type(pcall) == "function" and type(xpcall) == "function")
assert(select(2, xpcall(function() error("x", 0) end, function(m) return "handled " .. m end)) == "handled x")
assert(T.add(1, 2) == 3)
assert(T.add("1", 2) == 3, "numeric strings convert")
assert(T.check(12, 0) == 2, "numbers convert to strings")
`)
	s.Close()
	s.Close() // idempotent
}

func TestRegisterAfterNewPanics(t *testing.T) {
	t.Parallel()
	newState(t) // the table is frozen by the first New at the latest
	defer func() {
		if recover() == nil {
			t.Fatal("Register after New did not panic")
		}
	}()
	Register("t.late", false, func(c *Call) int { return 0 })
}

// TestArgErrorsNoLeak: argument errors raised for Go functions (from C, after Go returned)
// are caught by Lua's pcall, 100k times, without growth of the stack, the heap or the
// registry.
func TestArgErrorsNoLeak(t *testing.T) {
	t.Parallel()
	s, o := newState(t)
	top := s.Top()
	mustDo(t, s, `
local check, pcall, find = T.check, pcall, string.find
local function expect(want, ok, err)
  if ok then error("no error, want " .. want) end
  if not find(err, want, 1, true) then error("got " .. tostring(err) .. ", want " .. want) end
end
measure("before")
for i = 1, 50000 do
  expect("bad argument #1 to 't.check' (string expected, got nil)", pcall(check, nil, 1))
  expect("bad argument #2 to 't.check' (number expected, got table)", pcall(check, "x", {}))
end
measure("after")
`)
	if s.Top() != top {
		t.Errorf("Top went from %d to %d", top, s.Top())
	}
	checkNoGrowth(t, o, "before", "after", 32)
}

func TestArgErrorMessages(t *testing.T) {
	t.Parallel()
	s, _ := newState(t)
	mustDo(t, s, `
local function err(f, ...)
  local ok, e = pcall(f, ...)
  assert(not ok, "no error")
  return e
end
local function is(got, want)
  if got ~= want then error(string.format("got %q, want %q", got, want), 2) end
end
is(err(T.check), "bad argument #1 to 't.check' (string expected, got no value)")
is(err(T.check, true, 1), "bad argument #1 to 't.check' (string expected, got boolean)")
is(err(T.check, "s", "x"), "bad argument #2 to 't.check' (number expected, got string)")
is(err(T.keep, 1), "bad argument #1 to 't.keep' (function expected, got number)")
-- Called from a Lua function, the message carries the caller's file:line.
is(err(function() T.check(nil) end), "cgo_test.lua:15: bad argument #1 to 't.check' (string expected, got nil)")
-- The module's colon form drops the module: T:check("ab", 1) is T.check("ab", 1).
is(T:check("ab", 1), 3)
-- Methods count arguments after self, and name a bad self.
local o = T.newobj(1)
is(o:m("x"), "m:x")
is(err(o.m, o), "bad argument #1 to 'obj:m' (string expected, got no value)")
is(err(o.m, {}), "calling 'obj:m' on bad self (obj expected, got table)")
is(err(o.m), "calling 'obj:m' on bad self (obj expected, got no value)")
-- Errors in coroutines are caught there.
local co = coroutine.create(function() return pcall(T.check, nil) end)
local _, ok, e = coroutine.resume(co)
is(ok, false)
is(e, "bad argument #1 to 't.check' (string expected, got nil)")
co = coroutine.create(function() T.check(nil) end)
ok, e = coroutine.resume(co)
is(ok, false)
is(e, "cgo_test.lua:29: bad argument #1 to 't.check' (string expected, got nil)")
`)
}

func TestOptionalArgs(t *testing.T) {
	t.Parallel()
	s, _ := newState(t)
	mustDo(t, s, `
local a, b, c, d = T.opt()
assert(a == "def" and b == 42 and c == false and d == "no value", table.concat({tostring(a), tostring(b), tostring(c), d}, " "))
a, b, c, d = T.opt(nil, nil, nil, nil)
assert(a == "def" and b == 42 and c == false and d == "nil")
a, b, c, d = T.opt("s", 7.9, 0, {})
assert(a == "s" and b == 7 and c == true and d == "table")
assert(not pcall(T.opt, {}))
`)
}

func TestManyArgs(t *testing.T) {
	t.Parallel()
	s, _ := newState(t)
	mustDo(t, s, `
local n, s = T.many("a", "b", "c", "d", "e", "f", "g", "h", "i", "j", 11, "l")
assert(n == 12, n)
assert(s == "a,b,c,d,e,f,g,h,i,j,11,l", s)
local ok, e = pcall(T.many, "a", "b", "c", "d", "e", "f", "g", "h", "i", {})
assert(not ok and e:find("bad argument #10 to 't.many' (string expected, got table)", 1, true), e)
`)
}

// TestGoPanicIsLuaError: a Go panic inside a Func becomes a catchable Lua error and the
// state stays usable.
func TestGoPanicIsLuaError(t *testing.T) {
	t.Parallel()
	s, o := newState(t)
	before := panicsSeen.Load()
	top := s.Top()
	mustDo(t, s, `
measure("before")
local kinds = {"string", "error", "nil map", "index", "nil deref"}
local wants = {"boom", "an error value", "assignment to entry in nil map", "index out of range", "nil pointer dereference"}
for i = 1, 10000 do
  local k = (i % #kinds) + 1
  local ok, err = pcall(T.panic, kinds[k])
  assert(not ok)
  assert(err:find("internal error in 't.panic': ", 1, true), err)
  assert(err:find(wants[k], 1, true), err)
  assert(T.check("abc", i) == 3 + i)
end
measure("after")
`)
	if s.Top() != top {
		t.Errorf("Top went from %d to %d", top, s.Top())
	}
	checkNoGrowth(t, o, "before", "after", 32)
	if n := panicsSeen.Load() - before; n < 10000 {
		t.Errorf("PanicHandler saw %d panics, want >= 10000", n)
	}
	// An uncaught panic in the main chunk is an *Error.
	err := s.DoChunk([]byte(`T.panic()`), "@cgo_test.lua")
	var le *Error
	if !errors.As(err, &le) || !strings.Contains(le.Msg, "internal error in 't.panic': boom") {
		t.Fatalf("err = %v", err)
	}
}

func TestCallRefError(t *testing.T) {
	t.Parallel()
	s, o := newState(t)
	mustDo(t, s, `
local function inner(x)
  error("failed with " .. x)
end
local function outer(x)
  inner(x)
end
T.report("ref", T.keep(outer))
T.report("ref2", T.keep(function() error({}) end))
T.report("ref3", T.keep(function() error(setmetatable({}, {__tostring = function() return "custom error" end})) end))
T.report("ref4", T.keep(function() error() end))
measure("kept")
`)
	top := s.Top()
	var args packed.Writer
	args.String("arg")
	err := s.CallRef(int32(o.num(t, "ref")), false, args.B)
	var le *Error
	if !errors.As(err, &le) {
		t.Fatalf("CallRef = %v (%T), want *lua.Error", err, err)
	}
	for _, want := range []string{"cgo_test.lua:3: failed with arg", "stack traceback:", "cgo_test.lua:3: in function", "cgo_test.lua:6:"} {
		if !strings.Contains(le.Msg, want) {
			t.Errorf("error lacks %q:\n%s", want, le.Msg)
		}
	}
	if s.Top() != top {
		t.Errorf("Top went from %d to %d", top, s.Top())
	}
	for _, tt := range []struct{ ref, want string }{
		{"ref2", "(error object is a table value)"},
		{"ref3", "custom error"},
		{"ref4", "(error object is a nil value)"},
	} {
		err := s.CallRef(int32(o.num(t, tt.ref)), true, nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "stack traceback:") {
			t.Errorf("%s: err = %v, want %q with a traceback", tt.ref, err, tt.want)
		}
	}
	// The ref kept (not released by the failing call) still works; releasing it with the
	// call (unref) brings the registry back to the start.
	mustDo(t, s, `measure("mid")`)
	s.CallRef(int32(o.num(t, "ref")), true, args.B)
	mustDo(t, s, `measure("end")`)
	if got, want := o.num(t, "end.reg"), o.num(t, "kept.reg")-4; got != want {
		t.Errorf("registry refs: %v after releasing the 4 kept, want %v", got, want)
	}
	if s.Top() != top {
		t.Errorf("Top went from %d to %d", top, s.Top())
	}
}

func TestCallRefArgs(t *testing.T) {
	t.Parallel()
	s, o := newState(t)
	mustDo(t, s, `T.report("ref", T.keep(function(...)
  local n = select("#", ...)
  local a, b, c, d, e, f = ...
  T.report("n", n)
  T.report("a", a)
  T.report("b", b)
  T.report("c", tostring(c))
  T.report("d", d.x .. #d .. d[1])
  T.report("e", type(e) .. tostring(next(e)))
  T.report("f", f == nil and "nil" or "?")
end))`)
	var w packed.Writer
	w.Number(0.5)
	w.String("a\x00b\xff")
	w.Bool(false)
	w.Table(2, 1)
	w.String("p")
	w.String("q")
	w.String("x")
	w.String("y")
	w.Table(0, 0)
	w.Nil()
	for i := 0; i < 3; i++ {
		if err := s.CallRef(int32(o.num(t, "ref")), false, w.B); err != nil {
			t.Fatal(err)
		}
	}
	if n := o.num(t, "n"); n != 6 {
		t.Errorf("n = %v", n)
	}
	if a := o.num(t, "a"); a != 0.5 {
		t.Errorf("a = %v", a)
	}
	for name, want := range map[string]string{"b": "a\x00b\xff", "c": "false", "d": "y2p", "e": "tablenil", "f": "nil"} {
		if got := o.str(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	// A malformed buffer is a Lua error, not a crash.
	err := s.CallRef(int32(o.num(t, "ref")), false, []byte{'x'})
	if err == nil || !strings.Contains(err.Error(), "bad value tag") {
		t.Errorf("malformed args: %v", err)
	}
	// (A truncated payload is not tried: C checks tags, not lengths, and trusts buffers
	// written by a Writer or checked by packed.Validate.)
}

// TestEncodeRoundTrip: values encoded by C (clua_encode) and decoded back by C.
func TestEncodeRoundTrip(t *testing.T) {
	t.Parallel()
	s, _ := newState(t)
	mustDo(t, s, `
local function same(a, b, path)
  path = path or "v"
  if type(a) ~= type(b) then error(path .. ": " .. type(a) .. " vs " .. type(b), 2) end
  if type(a) == "table" then
    for k, v in pairs(a) do same(v, b[k], path .. "." .. tostring(k)) end
    for k in pairs(b) do if a[k] == nil then error(path .. ": extra key " .. tostring(k), 2) end end
  elseif a ~= b and not (a ~= a and b ~= b) then
    error(path .. ": " .. tostring(a) .. " vs " .. tostring(b), 2)
  end
end
for _, v in ipairs({
  0, 1, -1, 0.5, -0.5, 2^53, 2^53 + 2, -2^60, 1e300, 1/0, -1/0, 2^31, 2^32 + 1,
  "", "abc", "a\0b", "\255\254", string.rep("x", 100000),
  {}, {1, 2, 3}, {a = 1, b = {c = {d = {}}}}, {1, 2, nil, 4}, {[1.5] = "f", [-1] = "neg", [0] = "zero"},
  {true, false, {x = "y"}}, {[true] = 1},
}) do
  same(v, T.echo(v))
end
assert(T.echo(nil) == nil)
assert(T.echo(true) == true and T.echo(false) == false)
local nan = T.echo(0/0)
assert(nan ~= nan)
-- The same table twice is not a cycle.
local shared = {1}
local r = T.echo({shared, shared, {shared}})
same(r, {{1}, {1}, {{1}}})
`)
}

// TestEncodeArraysAndNull: json.null, json.empty_array and tables with the array
// metatable cross C's encoder and decoder as arrays and null; an array-marked table that
// is not an array (other keys, too sparse) crosses as a plain table with every key.
func TestEncodeArraysAndNull(t *testing.T) {
	t.Parallel()
	s, o := newState(t)
	top := s.Top()
	mustDo(t, s, `
local null, empty, mt = T.jsonvalues()
assert(type(null) == "userdata" and type(empty) == "userdata" and type(mt) == "table")
assert(null ~= empty)
local function tag(v) return string.char(T.pack(v):byte(1)) end
local function arr(t) return setmetatable(t, mt) end
local function check(v, want_tag, want_mt, n)
  assert(tag(v) == want_tag, "tag " .. tag(v) .. ", want " .. want_tag)
  local back = T.echo(v)
  if type(v) == "table" then
    assert(getmetatable(back) == want_mt, "metatable")
    local keys = 0
    for k, x in pairs(v) do
      keys = keys + 1
      assert(back[k] == x or type(x) == "table", "key " .. tostring(k))
    end
    for k in pairs(back) do keys = keys - 1 end
    assert(keys == 0, "extra or missing keys")
  end
  return back
end
-- Run once to warm up (interned strings, JIT traces), then again between two measures:
-- what it leaks per run shows as growth.
local function run(N)
  for i = 1, N do
    assert(tag(null) == "N" and T.echo(null) == null)
    check(empty, "[")
    local e = T.echo(empty)
    assert(type(e) == "table" and next(e) == nil and getmetatable(e) == mt, "empty_array comes back as []")
    assert(T.pack(empty) == "[\0\0\0\0")
    check(arr({}), "[", mt)
    check(arr({1, "two", true}), "[", mt)
    local holes = check(arr({1, nil, 3, nil, 5}), "[", mt)
    assert(holes[3] == 3 and holes[5] == 5 and holes[2] == nil)
    assert(T.pack(arr({[2] = 1})) == "[\2\0\0\0ni\1\0\0\0\0\0\0\0", "length is the largest key")
    check(arr({null, null}), "[", mt)
    -- As sparse as allowed: length 10 (safe), or twice the entries.
    check(arr({[10] = 1}), "[", mt)
    check(arr({1, 2, 3, [6] = 6, [11] = 11, [12] = 12}), "[", mt)
    check(arr({1, 2, 3, [6] = 6, [12] = 12}), "{", nil)
    -- Not arrays: packed plain, every key kept, no metatable on the way back.
    check(arr({[11] = 1}), "{", nil)
    check(arr({1, 2, name = "x"}), "{", nil)
    check(arr({[0] = 1}), "{", nil)
    check(arr({[-1] = 1}), "{", nil)
    check(arr({[1.5] = 1}), "{", nil)
    check(arr({[2^31] = 1, 1, 2}), "{", nil)
    -- Another metatable is no mark; plain tables stay plain.
    check(setmetatable({1, 2}, {}), "{", nil)
    check({1, 2}, "{", nil)
    -- Nested, and null as a table value.
    local v = T.echo({list = arr({arr({}), {x = null}}), n = null})
    assert(v.n == null and getmetatable(v.list) == mt and getmetatable(v.list[1]) == mt)
    assert(v.list[2].x == null and getmetatable(v.list[2]) == nil)
  end
end
run(200)
measure("before")
run(2000)
-- Cycles through an array are cycles.
local cyc = arr({})
cyc[1] = cyc
local ok, e = pcall(T.echo, cyc)
assert(not ok and e:find("cycle", 1, true), e)
measure("after")
`)
	if s.Top() != top {
		t.Errorf("Top went from %d to %d", top, s.Top())
	}
	checkNoGrowth(t, o, "before", "after", 32)

	// Go writes arrays and null; Lua receives marked tables and json.null.
	mustDo(t, s, `T.report("ref", T.keep(function(a, n, e)
  local null, _, mt = T.jsonvalues()
  T.report("a", (getmetatable(a) == mt and "marked" or "plain") .. " " .. #a .. " " .. tostring(a[2] == null) .. " " .. tostring(a[3]))
  T.report("n", tostring(n == null))
  T.report("e", tostring(getmetatable(e) == mt and next(e) == nil))
end))`)
	var w packed.Writer
	w.Array(3)
	w.String("x")
	w.Null()
	w.Nil()
	w.Null()
	w.Array(0)
	if err := s.CallRef(int32(o.num(t, "ref")), false, w.B); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"a": "marked 2 true nil", "n": "true", "e": "true"} {
		if got := o.str(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
}

func TestEncodeErrors(t *testing.T) {
	t.Parallel()
	s, o := newState(t)
	top := s.Top()
	mustDo(t, s, `
local function err(...)
  local ok, e = pcall(T.echo, ...)
  assert(not ok, "no error")
  return e
end
local function is(got, want)
  if got ~= want then error(string.format("got %q, want %q", got, want), 2) end
end
measure("before")
for i = 1, 1000 do
  is(err(print), "bad argument #1 to 't.echo' (cannot encode a function value)")
  is(err({1, {x = print}}), "bad argument #1 to 't.echo' (cannot encode a function value)")
  local cyc = {}
  cyc.self = cyc
  is(err(cyc), "bad argument #1 to 't.echo' (cannot encode a table: cycle)")
  local deep = {{{}}}
  deep[1][1][1] = deep
  is(err(deep), "bad argument #1 to 't.echo' (cannot encode a table: cycle)")
  is(err(T.newobj(1)), "bad argument #1 to 't.echo' (cannot encode a userdata value)")
  is(err(coroutine.create(print)), "bad argument #1 to 't.echo' (cannot encode a thread value)")
end
-- packed.MaxDepth tables deep is the most.
local nested = {}
for i = 1, 199 do nested = {nested} end
assert(pcall(T.echo, nested))
nested = {nested}
is(err(nested), "bad argument #1 to 't.echo' (cannot encode a table: nesting too deep)")
measure("after")
`)
	if s.Top() != top {
		t.Errorf("Top went from %d to %d", top, s.Top())
	}
	checkNoGrowth(t, o, "before", "after", 32)
}

// TestNestedCalls: Lua -> Go -> Lua -> Go ... deeper than the preallocated call frames,
// with errors raised and caught at different depths.
func TestNestedCalls(t *testing.T) {
	t.Parallel()
	s, o := newState(t)
	top := s.Top()
	mustDo(t, s, `
measure("before")
local depth = 0
local function dive(n)
  depth = math.max(depth, n)
  if n == 20 then
    -- innermost: an argument error raised for a Go function, caught here
    local ok, e = pcall(T.check, nil)
    assert(not ok and e:find("bad argument #1 to 't.check'", 1, true), e)
    return
  end
  local err = T.call(dive, n + 1)
  assert(err == nil, err)
  assert(T.add(n, 1) == n + 1)
end
dive(1)
assert(depth == 20, depth)

-- An error deep down comes back to the Go function that called Lua as a *lua.Error and
-- to Lua as its message.
local function fail(n)
  if n == 0 then error("deep failure") end
  local err = T.call(fail, n - 1)
  if err then error(err, 0) end
end
local err = T.call(fail, 12)
assert(err and err:find("deep failure", 1, true), tostring(err))
assert(select(2, err:gsub("stack traceback", "")) >= 1)
measure("after")
`)
	if s.Top() != top {
		t.Errorf("Top went from %d to %d", top, s.Top())
	}
	checkNoGrowth(t, o, "before", "after", 64)
}

// TestNestedCallArgCounts: a Go function that calls back into Lua (as ticker:stop() calls
// the callbacks still waiting) works whatever arguments it was called with. The C helper
// must not read its fixed slots relative to the current C frame.
func TestNestedCallArgCounts(t *testing.T) {
	t.Parallel()
	s, _ := newState(t)
	mustDo(t, s, `
local got = {}
local function f(v) got[#got + 1] = tostring(v) end
assert(T.call(f, "one") == nil)
assert(T.call(f, "two", "extra", "args") == nil)
assert(T.call(f) == nil)
local co = coroutine.wrap(function() return T.call(f, "in coroutine") end)
assert(co() == nil)
assert(#got == 4, "callbacks run: " .. #got)
assert(table.concat(got, ",") == "one,two,nil,in coroutine", table.concat(got, ","))
`)
}

// TestNestedCallKeepsOuterResults: a Go function that writes results, calls Lua (which
// calls another Go function with results of its own) and writes more returns all of its own.
func TestNestedCallKeepsOuterResults(t *testing.T) {
	t.Parallel()
	s, _ := newState(t)
	mustDo(t, s, `
local a, b, c = T.outcall(function() assert(T.add(1, 2) == 3) end)
assert(a == "before" and b == "after" and c == nil,
  "got " .. table.concat({tostring(a), tostring(b), tostring(c)}, ", "))
`)
}

func TestDoChunkErrors(t *testing.T) {
	t.Parallel()
	s, _ := newState(t)
	top := s.Top()
	for _, tt := range []struct{ code, want string }{
		{"local x = \n x +", "cgo_test.lua:2: unexpected symbol near '<eof>'"},
		{"\n\nlocal t = nil\nreturn t.x", "cgo_test.lua:4: attempt to index local 't' (a nil value)"},
		{"error('plain', 0)", "plain"},
	} {
		err := s.DoChunk([]byte(tt.code), "@cgo_test.lua")
		var le *Error
		if !errors.As(err, &le) || !strings.Contains(le.Msg, tt.want) {
			t.Errorf("DoChunk(%q) = %v, want %q", tt.code, err, tt.want)
		}
		if s.Top() != top {
			t.Errorf("Top went from %d to %d", top, s.Top())
		}
	}
	// Runtime errors carry a traceback, and each error its kind.
	err := s.DoChunk([]byte("local function f() error('x') end\nf()"), "@cgo_test.lua")
	if err == nil || !strings.Contains(err.Error(), "stack traceback:") {
		t.Errorf("no traceback: %v", err)
	}
	var le *Error
	if !errors.As(err, &le) || le.Status != StatusRuntime || le.Status.String() != "runtime error" {
		t.Errorf("status of a runtime error: %v", err)
	}
	if err := s.DoChunk([]byte("x ="), "@cgo_test.lua"); !errors.As(err, &le) || le.Status != StatusSyntax {
		t.Errorf("status of a syntax error: %v", err)
	}
	if err := s.SetGlobal("g", []byte{packed.TagInt, 5, 0, 0, 0, 0, 0, 0, 0}); err != nil {
		t.Fatal(err)
	}
	mustDo(t, s, `assert(g == 5)`)
	if err := s.SetGlobal("g", []byte{'?'}); err == nil {
		t.Error("SetGlobal with a malformed value succeeded")
	}
	if s.Top() != top {
		t.Errorf("Top went from %d to %d", top, s.Top())
	}
}

func TestClassesAndFinalize(t *testing.T) {
	t.Parallel()
	s, o := newState(t)
	mustDo(t, s, `
local a = T.newobj(5)
assert(a:m("x") == "m:x")
assert(a.name == "obj#5", a.name)
assert(tostring(a) == "<obj 5>", tostring(a))
assert(a.nothing == nil)
do local tmp = T.newobj(6) end
collectgarbage(); collectgarbage()
keep = T.newobj(8)
`)
	if len(o.final) != 1 || o.final[0] != 6 {
		t.Errorf("finalized %v after GC, want [6]", o.final)
	}
	s.Close()
	if len(o.final) != 3 {
		t.Errorf("finalized %v after Close, want 6, then 5 and 8", o.final)
	}
}

func TestUnrefReleases(t *testing.T) {
	t.Parallel()
	s, o := newState(t)
	mustDo(t, s, `
measure("a")
refs = {}
for i = 1, 1000 do refs[i] = T.keep(function() end) end
measure("b")
`)
	if got := o.num(t, "b.reg") - o.num(t, "a.reg"); got != 1000 {
		t.Fatalf("1000 kept functions: %v refs", got)
	}
	mustDo(t, s, `for i = 1, 1000 do T.report("r" .. i, refs[i]) end`)
	for i := 1; i <= 1000; i++ {
		s.Unref(int32(o.num(t, fmt.Sprint("r", i))))
	}
	s.Unref(0) // no ref: nothing happens
	mustDo(t, s, `refs = nil measure("c")`)
	// The registry's array part keeps the size it grew to (1000 refs, plus the batch of
	// free slots refs are taken from: clua_ref_arg), 16 KB at most: slots, not leaks.
	checkNoGrowth(t, o, "a", "c", 32)
	if math.Abs(o.num(t, "c.mem")-o.num(t, "a.mem")) > 32 {
		t.Errorf("memory: %v KB before, %v KB after", o.num(t, "a.mem"), o.num(t, "c.mem"))
	}
	// FullGC and MemoryKB from Go agree with Lua.
	s.FullGC()
	if kb := s.MemoryKB(); math.Abs(float64(kb)-o.num(t, "c.mem")) > 16 {
		t.Errorf("MemoryKB = %d, Lua says %.1f", kb, o.num(t, "c.mem"))
	}
}

// TestStatesInParallel: states on different goroutines do not share anything (run with
// -race).
func TestStatesInParallel(t *testing.T) {
	t.Parallel()
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := New()
			if err != nil {
				t.Error(err)
				return
			}
			defer s.Close()
			s.Owner = &owner{nums: map[string]float64{}, strs: map[string]string{}}
			ref, err := s.NewModule(testFuncs)
			if err == nil {
				err = s.RegisterLoaded("t", ref)
			}
			if err != nil {
				panic(err)
			}
			s.Unref(ref)
			if err := s.DoChunk([]byte(`local T = require "t"
for i = 1, 20000 do
  assert(T.add(i, 1) == i + 1)
  assert(not pcall(T.check, nil))
end`), "=par"); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
}

// TestReentrantCallsKeepResults: a __gc finalizer that calls a Go function while C is still
// decoding another call's results (collection steps run inside the decode's allocations)
// gets results of its own, and the interrupted decode still sees its own bytes. Both used to
// share one buffer: the finalizer's call overwrote it (wrong values, "bad value tag"), or
// grew it with realloc and the decode read freed memory (SIGSEGV).
func TestReentrantCallsKeepResults(t *testing.T) {
	t.Parallel()
	s, o := newState(t)
	mustDo(t, s, `
collectgarbage("setpause", 1); collectgarbage("setstepmul", 100000)
local inner, bad = 0, 0
for round = 1, 30 do
  for i = 1, 20 do
    local p = newproxy(true)
    -- Alternately smaller and larger than the outer result: the larger one used to move
    -- the shared buffer, the smaller one to overwrite its start.
    local n = (i % 2 == 0) and 4000 or 3
    getmetatable(p).__gc = function()
      local r = T.list(n, "gc")
      if #r ~= n or r[n] ~= "gc" .. n then bad = bad + 1 end
      inner = inner + 1
    end
  end
  local ok, r = pcall(T.list, 1500, "outer")
  if not ok or type(r) ~= "table" or #r ~= 1500 then
    bad = bad + 1
  else
    for i = 1, 1500 do
      if r[i] ~= "outer" .. i then bad = bad + 1 break end
    end
  end
end
collectgarbage("setpause", 200); collectgarbage("setstepmul", 200)
T.report("inner", inner)
T.report("bad", bad)
`)
	if o.num(t, "inner") == 0 {
		t.Fatal("no finalizer ran during the test: it tested nothing")
	}
	if bad := o.num(t, "bad"); bad != 0 {
		t.Fatalf("%v results were wrong", bad)
	}
}

// TestResultBufferGivenBackAfterRaise: a finalizer that raises inside a trampoline's decode
// unwinds the trampoline's C frame; its cleanup handler must still give the result buffer
// back (LuaJIT's unwinder runs cleanups of C frames built with -fexceptions). Without it the
// buffer leaks, and the state's spare stays empty.
func TestResultBufferGivenBackAfterRaise(t *testing.T) {
	t.Parallel()
	s, o := newState(t)
	mustDo(t, s, `
collectgarbage("setpause", 1); collectgarbage("setstepmul", 100000)
local raised, keep = 0, nil
-- Proxies reachable until just before the call, so that they are finalized inside its
-- decode. Every allocation may run a finalizer left from the round before, hence the
-- pcall, and no allocation in the loop itself.
local function litter()
  keep = {}
  for i = 1, 10 do
    keep[i] = newproxy(true)
    getmetatable(keep[i]).__gc = function() error("gc boom") end
  end
end
for round = 1, 50 do
  pcall(litter)
  keep = nil
  local ok, e = pcall(T.list, 3000, "x")
  if not ok and tostring(e):find("gc boom", 1, true) then raised = raised + 1 end
end
collectgarbage("setpause", 200); collectgarbage("setstepmul", 200)
T.report("raised", raised)
`)
	if o.num(t, "raised") == 0 {
		t.Fatal("no finalizer error reached a decode: the test tested nothing")
	}
	// One buffer, or a few when a finalizer's call needed one while another was taken; not
	// one per raise.
	if n := s.retBufs; n > 4 {
		t.Fatalf("%d result buffers allocated for %v decodes that raised: taken buffers were not given back", n, o.num(t, "raised"))
	}
}

// TestFinalizerErrorsNeverReachGo: collections that run from Go (FullGC) or at a call's
// boundary run finalizers that raise; none may unwind into a Go frame (that aborts the
// process), and the state goes on.
func TestFinalizerErrorsNeverReachGo(t *testing.T) {
	t.Parallel()
	s, o := newState(t)
	mustDo(t, s, `
T.report("ref", T.keep(function(...) T.report("args", select("#", ...)) end))
function litter(n)
  for i = 1, n do getmetatable(newproxy(true)).__gc = function() error("gc boom") end end
end`)
	litter := func(n int) {
		// A collection step inside the chunk may already run some of them: their error
		// then ends the chunk, which is fine.
		if err := s.DoChunk([]byte(fmt.Sprintf("litter(%d)", n)), "=litter"); err != nil && !strings.Contains(err.Error(), "gc boom") {
			t.Fatal(err)
		}
	}
	litter(100)
	s.FullGC()
	for i := 0; i < 100; i++ {
		litter(10)
		args := []byte{}
		for j := 0; j < 50; j++ {
			args = append(args, 's', 3, 0, 0, 0, 'a', 'b', 'c')
		}
		if err := s.CallRef(int32(o.num(t, "ref")), false, args); err != nil && !strings.Contains(err.Error(), "gc boom") {
			t.Fatalf("CallRef: %v", err)
		}
		s.FullGC()
	}
	// With no finalizer left, the state works as before.
	s.FullGC()
	if err := s.CallRef(int32(o.num(t, "ref")), false, []byte("s\x01\x00\x00\x00a")); err != nil {
		t.Fatalf("CallRef after the finalizers: %v", err)
	}
	if o.num(t, "args") != 1 {
		t.Fatalf("the callback got %v arguments", o.num(t, "args"))
	}
}

// TestNoGoCallsWhileClosing: finalizers that lua_close runs may call Go functions; they get
// an error instead of running (the owner has ended: nothing they start could complete).
func TestNoGoCallsWhileClosing(t *testing.T) {
	t.Parallel()
	s, err := New()
	if err != nil {
		t.Fatal(err)
	}
	ref, err := s.NewModule(testFuncs)
	if err == nil {
		err = s.RegisterLoaded("t", ref)
	}
	if err != nil {
		panic(err)
	}
	s.Unref(ref)
	mustDo(t, s, `
local T = require "t"
keep = {}
for i = 1, 10 do
  local p = newproxy(true)
  getmetatable(p).__gc = function() T.count() end
  keep[i] = p
end`)
	before := callsSeen.Load()
	s.Close()
	if n := callsSeen.Load() - before; n != 0 {
		t.Fatalf("%d Go calls ran while the state closed", n)
	}
}

// TestResultTooLargeForLua: a Go function whose result Lua cannot hold raises a clear error
// (its length used to be cut to 32 bits).
func TestResultTooLargeForLua(t *testing.T) {
	t.Parallel()
	s, _ := newState(t)
	mustDo(t, s, `
local ok, err = pcall(T.huge)
assert(not ok and err:find("too large for a Lua value: a string of 2147483393 bytes", 1, true), err)
`)
}
