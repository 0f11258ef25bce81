package sql

import (
	"math"
	"testing"
	"time"

	"github.com/drlee/drlee/packed"
)

// FuzzPackedArg: any packed buffer (what C encodes of a Lua argument, and garbage) gives a
// driver value of the kinds the drivers take, or an error; never a panic.
func FuzzPackedArg(f *testing.F) {
	var w packed.Writer
	w.Table(0, 1)
	w.String("milliunix")
	w.Int(1700000000123)
	f.Add(append([]byte(nil), w.B...))
	w.Reset()
	w.Table(0, 1)
	w.String("milliunix")
	w.Number(1e300)
	f.Add(append([]byte(nil), w.B...))
	f.Add([]byte{packed.TagNull})
	f.Add([]byte{packed.TagArray, 0, 0, 0, 0})
	f.Add([]byte{packed.TagString, 3, 0, 0, 0, 0xff, 0, 'a'})
	f.Add([]byte{packed.TagTable, 1, 0, 0, 0, 0, 0, 0, 0, packed.TagTrue})
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, pg := range []bool{true, false} {
			v, err := packedArg(b, pg)
			if err != nil {
				if v != nil {
					t.Fatalf("%v with the error %v", v, err)
				}
				continue
			}
			switch v := v.(type) {
			case nil, bool, int64, float64, string, []byte, pgString, pgInt, pgFloat:
			case time.Time:
				if v.Year() < 1 || v.Year() > 9999 {
					t.Fatalf("a time out of range: %v", v)
				}
			default:
				t.Fatalf("%T", v)
			}
		}
	})
}

// FuzzWriteCell: every value a row can hold writes packed data that is valid and reads
// back as the value, integers beyond 2^53 as their exact decimal strings.
func FuzzWriteCell(f *testing.F) {
	f.Add(int64(1), 1.5, []byte("x"), []byte(`{"a":[1,null]}`))
	f.Add(int64(1<<53+1), math.NaN(), []byte{0, 0xff}, []byte(`{`))
	f.Add(int64(math.MinInt64), math.Inf(-1), []byte{}, []byte(`[[[[]]]]`))
	f.Fuzz(func(t *testing.T, i int64, fl float64, s, js []byte) {
		var w packed.Writer
		res := &result{cols: []string{"i", "f", "s", "b", "n", "j", "l", "t"},
			cells: []any{i, fl, string(s), s, nil, jsonText(js), []any{i, nil, string(s)}, time.UnixMilli(i % (1 << 40))}}
		writeRows(&w, res, func(out *packed.Writer, t time.Time) { out.Int(t.UnixMilli()) })
		if err := packed.ValidateOne(w.B); err != nil {
			t.Fatalf("invalid: %v", err)
		}
		v, err := packed.Decode(w.B)
		if err != nil {
			t.Fatal(err)
		}
		row := v.([]any)[0].(map[any]any)
		if i >= -maxExactInt && i <= maxExactInt {
			if row["i"] != float64(i) {
				t.Fatalf("i: %v for %d", row["i"], i)
			}
		} else if row["i"] != formatInt(i) {
			t.Fatalf("i: %v for %d", row["i"], i)
		}
		if got, ok := row["f"].(float64); !ok || (got != fl && !(got != got && fl != fl)) {
			t.Fatalf("f: %v for %v", row["f"], fl)
		}
		if row["s"] != string(s) || row["b"] != string(s) || row["n"] != packed.Null {
			t.Fatalf("s, b, n: %q %q %v", row["s"], row["b"], row["n"])
		}
		if _, ok := row["j"]; !ok {
			t.Fatal("j missing")
		}
		if l := row["l"].([]any); len(l) != 3 || l[1] != packed.Null {
			t.Fatalf("l: %v", l)
		}
	})
}
