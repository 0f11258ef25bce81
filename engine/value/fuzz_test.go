// Fuzz targets of the packed format and its JSON codec (make fuzz runs each with
// -fuzztime; without -fuzz, go test runs their seed corpora as plain tests):
//
//	FuzzFromJSON  arbitrary text: an error with an offset, or a valid buffer whose JSON
//	              means what encoding/json reads and survives a second round trip
//	FuzzToJSON    arbitrary valid buffers: valid JSON or an error, options never change
//	              the value, and the text decodes and encodes to itself
//	FuzzValidate  arbitrary bytes (RPC input): what packed.Validate accepts, Skip, packed.Decode, packed.Encode
//	              and ToJSON read without a panic
package value

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/drlee/drlee/packed"
)

// FuzzFromJSON: whatever the input, FromJSON fails with an offset or writes a valid buffer
// whose JSON means what encoding/json reads, and a second round trip changes nothing.
func FuzzFromJSON(f *testing.F) {
	for _, doc := range jsonDocs() {
		f.Add([]byte(doc))
	}
	for _, s := range []string{``, `null`, `[]`, `{}`, `"\u"`, `[1,`, `{"a":`, `-`, `01`, `1.`, "\"\xff\"", `[[[[[[1]]]]]]`, `[null,{"a":null}]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		for _, null := range []bool{false, true} {
			opts := DecodeOptions{Null: null}
			var w packed.Writer
			err := opts.FromJSON(&w, src)
			if err != nil {
				if !strings.HasPrefix(err.Error(), "invalid JSON at offset ") {
					t.Fatalf("error without offset: %v", err)
				}
				// Everything encoding/json accepts is accepted, deep nesting aside.
				var v any
				if json.Unmarshal(src, &v) == nil && bytes.Count(src, []byte("["))+bytes.Count(src, []byte("{")) <= packed.MaxDepth {
					t.Fatalf("FromJSON rejects valid JSON %q: %v", src, err)
				}
				return
			}
			if err := packed.Validate(w.B); err != nil {
				t.Fatalf("FromJSON(%q) wrote an invalid buffer: %v", src, err)
			}
			out, err := ToJSON(nil, w.B)
			if err != nil {
				// Only bytes that are not UTF-8 stop the way back, and never silently.
				if !utf8.Valid(src) && strings.Contains(err.Error(), "not valid UTF-8") {
					continue
				}
				t.Fatalf("ToJSON of FromJSON(%q): %v", src, err)
			}
			if !json.Valid(out) {
				t.Fatalf("ToJSON of FromJSON(%q) = %q: not valid JSON", src, out)
			}
			var want, got any
			if json.Unmarshal(src, &want) == nil {
				if err := json.Unmarshal(out, &got); err != nil {
					t.Fatal(err)
				}
				if !null {
					want = normalize(want)
				}
				if !reflect.DeepEqual(want, got) && !inexact(want) {
					t.Fatalf("%q: encoding/json reads %#v, ours %#v", src, want, got)
				}
			}
			// Once through, the value is stable.
			var w2 packed.Writer
			if err := opts.FromJSON(&w2, out); err != nil || !bytes.Equal(w.B, w2.B) {
				t.Fatalf("round trip not stable: %q -> %q (%v)", src, out, err)
			}
		}
	})
}

// inexact reports whether v holds a number that a round trip through JSON does not keep
// as it is: integers beyond 2^53 (floats once parsed, printed differently) and -0 (which
// the packed format writes as the integer 0).
func inexact(v any) bool {
	switch v := v.(type) {
	case float64:
		return math.Abs(v) >= 1<<53 || v == 0 && math.Signbit(v)
	case []any:
		for _, e := range v {
			if inexact(e) {
				return true
			}
		}
	case map[string]any:
		for _, e := range v {
			if inexact(e) {
				return true
			}
		}
	}
	return false
}

// packedInexact is inexact for a packed value: an integer beyond 2^53 or a -0.
func packedInexact(t *testing.T, b []byte) bool {
	r := packed.Reader{B: b}
	for !r.Done() {
		k, num, _, _, _, err := r.Next()
		if err != nil {
			t.Fatalf("Next at %d: %v", r.Pos, err)
		}
		if k == packed.TagInt && math.Abs(num) >= 1<<53 || k == packed.TagFloat && num == 0 && math.Signbit(num) {
			return true
		}
	}
	return false
}

// FuzzToJSON: any buffer that packed.Validate accepts encodes to valid JSON or fails with an
// error, never a panic; what it writes decodes to the same packed value when the input
// holds only what JSON can express exactly (packed.Writer-made tables of the fuzzed values).
func FuzzToJSON(f *testing.F) {
	seed := func(fn func(w *packed.Writer)) {
		var w packed.Writer
		fn(&w)
		f.Add(w.B, false, false)
	}
	seed(func(w *packed.Writer) { w.Null() })
	seed(func(w *packed.Writer) { w.Array(3); w.Int(1); w.Nil(); w.String("x") })
	seed(func(w *packed.Writer) {
		w.Table(2, 2)
		w.Int(1)
		w.Int(2)
		w.Int(5)
		w.Bool(true)
		w.String("k")
		w.Array(0)
	})
	seed(func(w *packed.Writer) { w.Table(0, 2); w.Number(0.5); w.Null(); w.String("a\xff"); w.Int(1) })
	seed(func(w *packed.Writer) { w.Table(0, 1); w.Int(40); w.Number(math.NaN()) })
	for _, doc := range jsonDocs() {
		f.Add(mustFromJSON(f, doc), true, true)
	}
	f.Fuzz(func(t *testing.T, src []byte, indent, sortKeys bool) {
		if packed.ValidateOne(src) != nil {
			return
		}
		o := EncodeOptions{SortKeys: sortKeys}
		if indent {
			o.Indent = "\t"
		}
		out, err := o.ToJSON(nil, src)
		if err != nil {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("ToJSON(%q) = %q: not valid JSON", src, out)
		}
		// Sorting and indenting never change the value.
		plain, err := ToJSON(nil, src)
		if err != nil {
			t.Fatalf("ToJSON with %+v succeeds, without fails: %v", o, err)
		}
		var a, b any
		if json.Unmarshal(out, &a) != nil || json.Unmarshal(plain, &b) != nil || !reflect.DeepEqual(a, b) {
			t.Fatalf("%q: %s and %s differ", src, out, plain)
		}
		// The text decodes (packed.Null kept) and encodes to itself again.
		var w packed.Writer
		if err := (DecodeOptions{Null: true}).FromJSON(&w, plain); err != nil {
			t.Fatalf("FromJSON(%s): %v", plain, err)
		}
		again, err := ToJSON(nil, w.B)
		if err != nil || !bytes.Equal(again, plain) && !packedInexact(t, src) {
			t.Fatalf("%s came back as %s (%v)", plain, again, err)
		}
	})
}

// FuzzValidate: packed.Validate never panics; a buffer it accepts is read to its end by Skip,
// each value by packed.Decode (and what packed.Encode writes of it is valid again), and ToJSON, which may
// only fail with an error.
func FuzzValidate(f *testing.F) {
	seed := func(fn func(w *packed.Writer)) {
		var w packed.Writer
		fn(&w)
		f.Add(w.B)
	}
	seed(func(w *packed.Writer) {
		w.Nil()
		w.Null()
		w.Bool(true)
		w.Int(-5)
		w.Number(0.25)
		w.String("s")
	})
	seed(func(w *packed.Writer) {
		w.Array(2)
		w.Null()
		w.Table(1, 1)
		w.Int(1)
		w.String("k")
		w.Array(0)
	})
	seed(func(w *packed.Writer) { w.Table(0, 1); w.Table(0, 0); w.Int(1) }) // a table as a key
	seed(func(w *packed.Writer) { w.Object(1, 2, 3) })
	for _, doc := range jsonDocs() {
		f.Add(mustFromJSON(f, doc))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if packed.Validate(b) != nil {
			return
		}
		r := packed.Reader{B: b}
		for !r.Done() {
			start := r.Pos
			if err := r.Skip(); err != nil {
				t.Fatalf("packed.Validate accepts %q, Skip fails at %d: %v", b, start, err)
			}
			one := b[start:r.Pos]
			if err := packed.ValidateOne(one); err != nil {
				t.Fatalf("packed.ValidateOne(%q): %v", one, err)
			}
			if v, err := packed.Decode(one); err == nil {
				var w packed.Writer
				packed.Encode(&w, v)
				if err := packed.ValidateOne(w.B); err != nil {
					t.Fatalf("packed.Encode(packed.Decode(%q)) = %q: %v", one, w.B, err)
				}
			}
			if out, err := ToJSON(nil, one); err == nil && !json.Valid(out) {
				t.Fatalf("ToJSON(%q) = %q: not valid JSON", one, out)
			}
		}
	})
}
