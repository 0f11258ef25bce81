//go:build luajit

package lua

import (
	"testing"

	"github.com/drlee/drlee/packed"
)

// benchLoop runs the Lua function body (which receives the iteration count n) once, with
// n = b.N, so that the result is the cost per iteration of the Lua loop.
func benchLoop(b *testing.B, body string) {
	s, o := newState(b)
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

// BenchmarkLuaToGo: a Lua loop calling a Go function that does nothing (trampoline,
// cgo callback, dispatch): ns per call.
func BenchmarkLuaToGo(b *testing.B) {
	benchLoop(b, `function(n) local noop = T.noop for i = 1, n do noop() end end`)
}

// BenchmarkLuaToGoArgs: a string and a number in, a number out.
func BenchmarkLuaToGoArgs(b *testing.B) {
	benchLoop(b, `function(n)
  local check, s = T.check, 0
  for i = 1, n do s = check("hello", i) end
  assert(s == 5 + n)
end`)
}

// BenchmarkGoToLua: Go calls a Lua function held as a registry ref with two packed
// arguments (how every callback is called).
func BenchmarkGoToLua(b *testing.B) {
	s, o := newState(b)
	mustDo(b, s, `count = 0
T.report("ref", T.keep(function(err, result) count = count + 1 end))`)
	ref := int32(o.num(b, "ref"))
	var args packed.Writer
	args.Nil()
	args.String("result")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.CallRef(ref, false, args.B); err != nil {
			b.Fatal(err)
		}
	}
}
