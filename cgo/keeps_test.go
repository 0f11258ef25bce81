//go:build luajit

package lua

import (
	"testing"
	"unsafe"
)

// The trampoline takes refs to the function arguments of a Go function that keeps
// callbacks (clua_st.keeps), before the call; these tests check that the refs Go takes
// are the right functions and that the ones it leaves are dropped, however the call ends.

var (
	// t.keepif(keep, f, g, raise): refs f when keep, then g when keep == "both"; raises
	// after taking them when raise is set.
	fnKeepIf = Register("t.keepif", false, func(c *Call) int {
		keep := c.OptString(1, "")
		var refs []int32
		if keep != "" {
			refs = append(refs, c.CheckFunc(2))
		}
		if keep == "both" {
			refs = append(refs, c.CheckFunc(3))
		}
		if c.Bool(4) {
			for _, r := range refs {
				c.State().Unref(r)
			}
			c.Raise("raised after the refs")
		}
		out := c.Out()
		for _, r := range refs {
			out.Int(int64(r))
		}
		return c.Return()
	})
	// t.seefunc(f): looks at its function argument without keeping it.
	fnSeeFunc = Register("t.seefunc", false, func(c *Call) int {
		if c.Type(1) != TypeFunction {
			c.TypeError(1, "function")
		}
		return 0
	})
	// t.unref(ref): releases a ref taken by t.keepif.
	fnUnrefNum = Register("t.unref", false, func(c *Call) int {
		c.State().Unref(int32(c.CheckInt(1)))
		return 0
	})
	// t.refunref(f): takes a ref to f and drops it (a callback kept, then released).
	fnRefUnref = Register("t.refunref", false, func(c *Call) int {
		c.State().Unref(c.CheckFunc(1))
		return 0
	})
)

func TestKeptCallbackRefs(t *testing.T) {
	s, o := newState(t)
	mustDo(t, s, `
local function f() return "f" end
local function g() return "g" end
local base = regcount()
-- The first call takes its ref from Go and marks t.keepif; later calls get refs from C.
for i = 1, 3 do
  local rf, rg = T.keepif("both", f, g)
  assert(debug.getregistry()[rf] == f, "ref of f")
  assert(debug.getregistry()[rg] == g, "ref of g")
  assert(regcount() == base + 2, "two refs kept")
  T.unref(rf); T.unref(rg)
  assert(regcount() == base, "released")
end
-- A call that keeps one of two callbacks, or none: the other refs are dropped.
for i = 1, 3 do
  local rf = T.keepif("one", f, g)
  assert(debug.getregistry()[rf] == f)
  T.unref(rf)
  T.keepif("", f, g)
  assert(regcount() == base, "untaken refs dropped")
end
-- A call that raises: what it did not take is dropped, what it took it released.
for i = 1, 3 do
  local ok, err = pcall(T.keepif, "one", f, g, true)
  assert(not ok and err:find("raised after the refs"), tostring(err))
  ok, err = pcall(T.keepif, "both", 42, g) -- raises before it takes any
  assert(not ok and err:find("function expected"), tostring(err))
  assert(regcount() == base, "refs after a raise: " .. regcount() - base)
end
-- Functions as arguments past the first eight (no frame slot) still work.
local rf = T.keepif("one", f, g, false, 5, 6, 7, 8, f, g)
T.unref(rf)
assert(regcount() == base)
T.report("done", 1)
`)
	if o.num(t, "done") != 1 {
		t.Fatal("script did not finish")
	}
}

// BenchmarkLuaToGoCallback: a Lua loop calling a Go function that keeps its function
// argument (a ref, released at once), as every callback-taking binding does; its baseline
// twin is BenchmarkLuaToGoFunc, the same call that only looks at the function.
func BenchmarkLuaToGoCallback(b *testing.B) {
	benchLoop(b, `function(n) local ru, f = T.refunref, function() end for i = 1, n do ru(f) end end`)
}

// BenchmarkLuaToGoFunc: the baseline of BenchmarkLuaToGoCallback.
func BenchmarkLuaToGoFunc(b *testing.B) {
	benchLoop(b, `function(n) local see, f = T.seefunc, function() end for i = 1, n do see(f) end end`)
}

// keeps follows what the function does: a call that leaves its callback untaken (a
// res:flush whose callback runs soon) clears the mark, so that the calls after it take no
// ref and drop it again for nothing; the next call that keeps one sets it again.
func TestKeepsMarkFollowsTheCalls(t *testing.T) {
	s, _ := newState(t)
	keeps := func() byte { return *(*byte)(unsafe.Add(unsafe.Pointer(s.cst.keeps), int(fnKeepIf))) }
	mustDo(t, s, `local f = function() end; T.unref(T.keepif("one", f))`)
	if keeps() != 1 {
		t.Fatal("a call that kept its callback left no mark")
	}
	mustDo(t, s, `local f = function() end; T.unref(T.keepif("one", f))`)
	if keeps() != 1 {
		t.Fatal("a second call that kept its callback (its ref from C) cleared the mark")
	}
	mustDo(t, s, `T.keepif("", function() end)`)
	if keeps() != 0 {
		t.Fatal("a call that left its callback kept the mark")
	}
	mustDo(t, s, `local base = regcount(); for i = 1, 3 do T.keepif("", function() end) end; assert(regcount() == base)
local f = function() end; local r = T.keepif("one", f); assert(debug.getregistry()[r] == f); T.unref(r)`)
	if keeps() != 1 {
		t.Fatal("a call that kept its callback after some that did not left no mark")
	}
}
