//go:build luajit

package lua

// Fuzz targets of package lua (make fuzz runs each for a bounded time):
//
//	FuzzPackedValues   whatever packed.Validate accepts, C decodes without a crash, and
//	                   Lua values encoded back by C decode to the same Go values.

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"sync"
	"testing"

	"github.com/drlee/drlee/packed"
)

var (
	fuzzOnce  sync.Once
	fuzzMu    sync.Mutex // one input at a time through the one state
	fuzzState *State
	fuzzOwner *owner
	fuzzRef   int32
)

// fuzzEcho is the Lua side: it re-encodes its arguments (C's encoder) and hands them back.
const fuzzEcho = `T.report("echo", T.keep(function(...)
  local n = select("#", ...)
  T.report("echo.n", n)
  T.report("echo.out", T.packall(...))
end))`

var fnPackAll = Register("t.packall", false, func(c *Call) int {
	var all []byte
	for i := 1; i <= c.N(); i++ {
		all = append(all, c.Encode(i)...)
	}
	return c.ReturnBytes(all)
})

func fuzzSetup(tb testing.TB) {
	fuzzOnce.Do(func() {
		s, err := New()
		if err != nil {
			tb.Fatal(err)
		}
		o := &owner{nums: map[string]float64{}, strs: map[string]string{}}
		s.Owner = o
		ref, err := s.NewModule(append(testFuncs[:len(testFuncs):len(testFuncs)], Export{"packall", fnPackAll}))
		if err == nil {
			err = s.RegisterLoaded("t", ref)
		}
		if err != nil {
			panic(err)
		}
		s.Unref(ref)
		if err := s.DoChunk([]byte(prelude+fuzzEcho), "=fuzz"); err != nil {
			tb.Fatal(err)
		}
		fuzzState, fuzzOwner, fuzzRef = s, o, int32(o.nums["echo"])
	})
}

func FuzzPackedValues(f *testing.F) {
	var w packed.Writer
	seed := func(build func(w *packed.Writer)) {
		w.Reset()
		build(&w)
		f.Add(append([]byte(nil), w.B...))
	}
	seed(func(w *packed.Writer) {
		w.Nil()
		w.Bool(true)
		w.Bool(false)
		w.Int(-5)
		w.Number(1.5)
		w.String("s\x00\xff")
	})
	seed(func(w *packed.Writer) {
		w.Number(math.NaN())
		w.Number(math.Inf(-1))
		w.Number(math.Copysign(0, -1))
		w.Int(1 << 62)
	})
	seed(func(w *packed.Writer) {
		w.Table(3, 2)
		w.Int(1)
		w.Nil()
		w.String("three")
		w.String("k")
		w.Table(0, 0)
		w.Int(2) // overlaps the array part: the record wins, as in Lua
		w.String("two")
	})
	seed(func(w *packed.Writer) { w.Table(0, 1); w.Number(math.NaN()); w.Int(1) }) // NaN key
	seed(func(w *packed.Writer) { w.Table(0, 1); w.Nil(); w.Int(1) })              // nil key
	seed(func(w *packed.Writer) { w.Table(0, 1); w.Table(0, 0); w.Int(1) })        // table key
	seed(func(w *packed.Writer) { w.Table(0, 2); w.Bool(true); w.Int(1); w.Number(-0.0); w.Int(2) })
	seed(func(w *packed.Writer) { // deeper than MaxDepth: Validate refuses it
		for i := 0; i < 300; i++ {
			w.Table(1, 0)
		}
		w.Int(1)
	})
	seed(func(w *packed.Writer) { w.Null(); w.Array(3); w.Nil(); w.Null(); w.Array(0) }) // json.null, arrays with holes
	seed(func(w *packed.Writer) {
		for i := 0; i < packed.MaxDepth; i++ {
			w.Array(1)
		}
		w.Null()
	})
	f.Add([]byte{})
	f.Add([]byte("{\xff\xff\xff\xff\x00\x00\x00\x00")) // a huge count with nothing behind it
	f.Add([]byte("s\xff\xff\xff\x7f"))                 // a huge length with nothing behind it
	f.Add([]byte("o\x00\x00\x00\x00"))                 // a push-only tag
	f.Fuzz(func(t *testing.T, b []byte) {
		if packed.Validate(b) != nil {
			return
		}
		fuzzSetup(t)
		fuzzMu.Lock()
		defer fuzzMu.Unlock()
		s, o := fuzzState, fuzzOwner
		top := s.Top()
		if err := s.CallRef(fuzzRef, false, b); err != nil {
			t.Fatalf("a valid buffer %q failed to decode: %v", b, err)
		}
		if s.Top() != top {
			t.Fatalf("the stack went from %d to %d", top, s.Top())
		}
		want, err := decodeAll(b)
		if errors.Is(err, packed.ErrTableKey) {
			return // fine in Lua, beyond what Go's Decode holds: nothing to compare with
		}
		if err != nil {
			t.Fatalf("Validate accepted %q but Decode says %v", b, err)
		}
		o.mu.Lock()
		n, out := int(o.nums["echo.n"]), o.strs["echo.out"]
		o.mu.Unlock()
		if n != len(want) {
			t.Fatalf("%q: Lua got %d values, want %d", b, n, len(want))
		}
		got, err := decodeAll([]byte(out))
		if err != nil {
			t.Fatalf("C encoded an invalid buffer %q: %v", out, err)
		}
		if g, w := canonical(got), canonical(want); g != w {
			t.Fatalf("round trip of %q:\n got %s\nwant %s", b, g, w)
		}
	})
}

// decodeAll decodes every value of a buffer into Go values.
func decodeAll(b []byte) ([]any, error) {
	var vs []any
	r := packed.Reader{B: b}
	for !r.Done() {
		start := r.Pos
		if err := r.Skip(); err != nil {
			return nil, err
		}
		v, err := packed.Decode(b[start:r.Pos])
		if err != nil {
			return nil, err
		}
		vs = append(vs, v)
	}
	return vs, nil
}

// canonical prints values the way Lua sees them: a table is its set of non-nil entries
// (array or records alike), with keys sorted; NaN keys and nil keys do not exist in Lua.
func canonical(vs []any) string {
	var b []byte
	for _, v := range vs {
		b = appendCanonical(b, v)
		b = append(b, ' ')
	}
	return string(b)
}

func appendCanonical(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, "nil"...)
	case float64:
		if v == 0 {
			v = 0 // -0 and 0 are one key in Lua; as values they print alike here
		}
		return fmt.Appendf(b, "%v", v)
	case string:
		return fmt.Appendf(b, "%q", v)
	case packed.NullValue:
		return append(b, "null"...)
	case []any:
		m := map[any]any{}
		for i, e := range v {
			m[float64(i+1)] = e
		}
		return appendTable(b, m)
	case map[any]any:
		return appendTable(b, v)
	}
	return fmt.Appendf(b, "%v", v)
}

func appendTable(b []byte, m map[any]any) []byte {
	type kv struct{ k, v string }
	var entries []kv
	for k, v := range m {
		if v == nil || k == nil {
			continue
		}
		if f, ok := k.(float64); ok && f != f {
			continue
		}
		entries = append(entries, kv{string(appendCanonical(nil, k)), string(appendCanonical(nil, v))})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].k < entries[j].k })
	b = append(b, '{')
	for _, e := range entries {
		b = append(b, e.k...)
		b = append(b, '=')
		b = append(b, e.v...)
		b = append(b, ',')
	}
	return append(b, '}')
}
