// Fuzz targets of the C side of packed values (make fuzz runs each with -fuzztime; without
// -fuzz, go test runs their seed corpora as plain tests):
//
//	FuzzDecodeValidated  bytes that value.Validate accepts (what RPC hands to C) pushed by
//	                     decode_one: Lua values or a Lua error, never a crash, and C's
//	                     encoder packs what it pushed into a valid buffer again
package lua

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/drlee/drlee/engine/value"
)

func FuzzDecodeValidated(f *testing.F) {
	seed := func(fn func(w *value.Writer)) {
		var w value.Writer
		fn(&w)
		f.Add(w.B)
	}
	seed(func(w *value.Writer) {
		w.Nil()
		w.Null()
		w.Bool(false)
		w.Int(7)
		w.Number(0.5)
		w.String("a\x00\xff")
	})
	seed(func(w *value.Writer) { w.Array(3); w.Nil(); w.Null(); w.Array(0) })
	seed(func(w *value.Writer) {
		w.Table(1, 2)
		w.String("x")
		w.String("k")
		w.Null()
		w.Array(1)
		w.Int(1)
		w.Bool(true)
	})
	seed(func(w *value.Writer) { w.Table(0, 1); w.Nil(); w.Int(1) })              // a nil key: Lua refuses it
	seed(func(w *value.Writer) { w.Table(0, 1); w.Number(math.NaN()); w.Int(1) }) // a NaN key too
	seed(func(w *value.Writer) {
		for i := 0; i < value.MaxDepth; i++ {
			w.Array(1)
		}
		w.Null()
	})
	s, o := newState(f)
	// Each argument is packed again by C (T.echo validates what clua_encode wrote).
	mustDo(f, s, `T.report("ref", T.keep(function(...)
  for i = 1, select("#", ...) do
    T.echo((select(i, ...)))
  end
end))`)
	ref := int32(o.num(f, "ref"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if value.Validate(b) != nil {
			return
		}
		err := s.CallRef(ref, false, b)
		if err == nil {
			return
		}
		// What Lua itself refuses, raised inside the protected call.
		var le *Error
		if !errors.As(err, &le) {
			t.Fatalf("CallRef(%q): %v", b, err)
		}
		for _, ok := range []string{"table index is nil", "table index is NaN", "too many values", "stack overflow"} {
			if strings.Contains(err.Error(), ok) {
				return
			}
		}
		t.Fatalf("CallRef(%q): %v", b, err)
	})
}
