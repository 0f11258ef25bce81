package value

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/drlee/drlee/packed"
)

func mustFromJSON(t testing.TB, src string) []byte {
	t.Helper()
	var w packed.Writer
	if err := FromJSON(&w, []byte(src)); err != nil {
		t.Fatalf("FromJSON(%q): %v", src, err)
	}
	if err := packed.Validate(w.B); err != nil {
		t.Fatalf("FromJSON(%q) wrote an invalid buffer: %v", src, err)
	}
	return w.B
}

func mustToJSON(t testing.TB, b []byte) string {
	t.Helper()
	out, err := ToJSON(nil, b)
	if err != nil {
		t.Fatalf("ToJSON: %v", err)
	}
	return string(out)
}

func TestJSONRoundTrip(t *testing.T) {
	t.Parallel()
	// in -> FromJSON -> ToJSON -> out
	for _, tt := range []struct{ in, out string }{
		{`null`, `null`},
		{`true`, `true`},
		{` false `, `false`},
		{`0`, `0`},
		{`-0`, `0`},
		{`42`, `42`},
		{`-7`, `-7`},
		{`0.5`, `0.5`},
		{`1e3`, `1000`},
		{`1E-2`, `0.01`},
		{`-1.25e+2`, `-125`},
		{`9007199254740991`, `9007199254740991`},
		{`9007199254740993`, `9007199254740992`}, // beyond 2^53: nearest float
		{`1e21`, `1e+21`},
		{`""`, `""`},
		{`"abc"`, `"abc"`},
		{`"a\"b\\c\/d"`, `"a\"b\\c/d"`},
		{`"\b\f\n\r\t"`, `"\u0008\u000c\n\r\t"`},
		{`"\u0041\u00e9\u2603"`, `"Aé☃"`},
		{`"\ud83d\ude00"`, `"😀"`},
		{`"\ud800"`, `"` + "\uFFFD" + `"`},   // lone high surrogate
		{`"\udc00x"`, `"` + "\uFFFD" + `x"`}, // lone low surrogate
		{`"<&>"`, `"<&>"`},
		{`[]`, `[]`}, // arrays stay arrays, empty ones too
		{`{}`, `{}`},
		{`[1,"two",true,false]`, `[1,"two",true,false]`},
		{`[1,null,3]`, `[1,null,3]`},
		{`[[],[[]],{}]`, `[[],[[]],{}]`},
		{`[null]`, `[null]`},
		{`[null,null,1]`, `[null,null,1]`},
		{`{"a":null}`, `{}`}, // null in an object: no entry
		{`{"a":null,"b":1,"c":null}`, `{"b":1}`},
		{`{"a":{"b":{"c":[1,{"d":"e"}]}}}`, `{"a":{"b":{"c":[1,{"d":"e"}]}}}`},
		{" \t\r\n[ 1 , 2 ]\n", `[1,2]`},
	} {
		if got := mustToJSON(t, mustFromJSON(t, tt.in)); got != tt.out {
			t.Errorf("%s: got %s, want %s", tt.in, got, tt.out)
		}
	}
}

// TestJSONLoneSurrogateKeepsNext: a high surrogate followed by an escape that is not a
// low surrogate is one U+FFFD, and the next character survives (as in encoding/json).
func TestJSONLoneSurrogateKeepsNext(t *testing.T) {
	t.Parallel()
	for _, in := range []string{`"\ud800\u0041"`, `"\ud83d\u00e9z"`, `"\ud800\ud800"`} {
		var want string
		if err := json.Unmarshal([]byte(in), &want); err != nil {
			t.Fatal(err)
		}
		got := readAll(t, mustFromJSON(t, in))
		if len(got) != 1 || got[0].str != want {
			t.Errorf("FromJSON(%s) = %q, want %q (encoding/json)", in, got[0].str, want)
		}
	}
}

func TestJSONStructure(t *testing.T) {
	t.Parallel()
	// Objects keep their keys and drop nulls; arrays are arrays and keep nulls (holes) in
	// position.
	got := readAll(t, mustFromJSON(t, `{"a":null,"b":[null,2],"c":{},"d":[]}`))
	want := []item{
		{k: packed.TagTable, nrec: 3},
		{k: packed.TagString, str: "b"}, {k: packed.TagArray, narr: 2}, {k: packed.TagNil}, {k: packed.TagInt, num: 2},
		{k: packed.TagString, str: "c"}, {k: packed.TagTable},
		{k: packed.TagString, str: "d"}, {k: packed.TagArray},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	// Binary bytes in strings pass through FromJSON unchanged.
	got = readAll(t, mustFromJSON(t, "\"a\\u0000b\xffc\""))
	if got[0].str != "a\x00b\xffc" {
		t.Fatalf("binary string: %q", got[0].str)
	}
}

func TestToJSON(t *testing.T) {
	t.Parallel()
	enc := func(f func(w *packed.Writer)) string {
		var w packed.Writer
		f(&w)
		return mustToJSON(t, w.B)
	}
	for _, tt := range []struct {
		name string
		f    func(w *packed.Writer)
		want string
	}{
		{"control chars", func(w *packed.Writer) { w.String("\x00\x01\x1f\x7f") }, `"\u0000\u0001\u001f` + "\x7f" + `"`},
		{"valid utf8", func(w *packed.Writer) { w.String("é😀") }, `"é😀"`},
		{"quotes", func(w *packed.Writer) { w.String(`"\`) }, `"\"\\"`},
		{"empty table", func(w *packed.Writer) { w.Table(0, 0) }, `{}`},
		{"array", func(w *packed.Writer) { w.Table(2, 0); w.Int(1); w.Number(2.5) }, `[1,2.5]`},
		{"mixed table", func(w *packed.Writer) {
			w.Table(2, 1)
			w.Int(10)
			w.Int(20)
			w.String("x")
			w.Bool(true)
		}, `{"1":10,"2":20,"x":true}`},
		{"number keys", func(w *packed.Writer) {
			w.Table(0, 2)
			w.Int(5)
			w.String("five")
			w.Number(0.5)
			w.String("half")
		}, `{"5":"five","0.5":"half"}`},
		// Floats as encoding/json writes them: the shortest digits that read back the same,
		// exponents only below 1e-6 and from 1e21.
		{"large float", func(w *packed.Writer) { w.Number(1 << 60) }, `1152921504606847000`},
		{"tiny float", func(w *packed.Writer) { w.Number(1e-7) }, `1e-7`},
		{"float", func(w *packed.Writer) { w.Number(1234567.5) }, `1234567.5`},
		{"huge float", func(w *packed.Writer) { w.Number(1e21) }, `1e+21`},
		{"negative zero", func(w *packed.Writer) { // as C writes it: packed.Writer.Number makes it 0
			w.Raw(binary.LittleEndian.AppendUint64([]byte{packed.TagFloat}, math.Float64bits(math.Copysign(0, -1))))
		}, `-0`},
	} {
		if got := enc(tt.f); got != tt.want {
			t.Errorf("%s: got %s, want %s", tt.name, got, tt.want)
		}
		if got := enc(tt.f); !json.Valid([]byte(got)) {
			t.Errorf("%s: %s is not valid JSON", tt.name, got)
		}
	}
}

// TestToJSONLargeInt: an int64 written with packed.Writer.Int is written to JSON with its sign
// (the packed.Reader hands ints over as float64, and float64(MaxInt64) does not fit back).
func TestToJSONLargeInt(t *testing.T) {
	t.Parallel()
	for _, v := range []int64{math.MaxInt64, 1<<62 + 1, math.MinInt64 + 1} {
		var w packed.Writer
		w.Int(v)
		got := mustToJSON(t, w.B)
		if (v > 0) != !strings.HasPrefix(got, "-") {
			t.Errorf("ToJSON(Int(%d)) = %s: sign flipped", v, got)
		}
	}
}

func TestToJSONErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		f    func(w *packed.Writer)
		want string
	}{
		{"NaN", func(w *packed.Writer) { w.Number(math.NaN()) }, "NaN"},
		{"Inf", func(w *packed.Writer) { w.Number(math.Inf(1)) }, "Inf"},
		{"nested NaN", func(w *packed.Writer) { w.Table(1, 0); w.Number(math.NaN()) }, "NaN"},
		{"boolean key", func(w *packed.Writer) { w.Table(0, 1); w.Bool(true); w.Int(1) }, "keys"},
		{"table key", func(w *packed.Writer) { w.Table(0, 1); w.Table(0, 0); w.Int(1) }, "keys"},
		{"truncated", func(w *packed.Writer) { w.Table(2, 0); w.Int(1) }, "malformed"},
		{"push-only tag", func(w *packed.Writer) { w.Object(1, 1, 1) }, "malformed"},
		{"too deep", func(w *packed.Writer) {
			for i := 0; i < 300; i++ {
				w.Table(1, 0)
			}
			w.Nil()
		}, "deep"},
	} {
		var w packed.Writer
		tt.f(&w)
		_, err := ToJSON(nil, w.B)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err %v, want one containing %q", tt.name, err, tt.want)
		}
	}
}

func TestFromJSONErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		want string // error text, offset included
	}{
		{``, "offset 0: unexpected end of input"},
		{`   `, "offset 3: unexpected end of input"},
		{`tru`, "offset 0: unexpected character"},
		{`nul`, "offset 0: unexpected character"},
		{`x`, "offset 0: unexpected character 'x'"},
		{`1 2`, "offset 2: unexpected data after the value"},
		{`{} {}`, "offset 3: unexpected data after the value"},
		{`-`, "offset 0: bad number"},
		{`1e999`, "offset 0: bad number"},
		{`[1,]`, "offset 3: unexpected character ']'"},
		{`[1`, "offset 2: unexpected end of input in array"},
		{`[1 2]`, "offset 3: expected ',' or ']'"},
		{`{"a" 1}`, "offset 5: expected ':'"},
		{`{"a":1`, "offset 6: unexpected end of input in object"},
		{`{"a":1 "b":2}`, "offset 7: expected ',' or '}'"},
		{`{1:2}`, "offset 1: expected a string key"},
		{`{"a":1,}`, "offset 7: expected a string key"},
		{`"abc`, "offset 4: unterminated string"},
		{`"ab\`, "unterminated string"},
		{"\"a\x01\"", "offset 2: control character in string"},
		{"\"a\\n\x01\"", "offset 4: control character in string"},
		{`"\q"`, "offset 3: bad escape \\q"},
		{`"\u12"`, "bad \\u escape"},
		{`"\u12g4"`, "bad \\u escape"},
		{`"\ud800\u12"`, "bad \\u escape"},
		{strings.Repeat("[", 300) + strings.Repeat("]", 300), "nesting too deep"},
	} {
		var w packed.Writer
		err := FromJSON(&w, []byte(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("FromJSON(%q): err %v, want one containing %q", tt.in, err, tt.want)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "invalid JSON at offset ") {
			t.Errorf("FromJSON(%q): err %q lacks the offset prefix", tt.in, err)
		}
	}
}

// normalize turns what encoding/json decodes into what a Lua table round trip gives with
// the default DecodeOptions: nulls in objects disappear (arrays keep theirs).
func normalize(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if e == nil {
				delete(v, k)
			} else {
				v[k] = normalize(e)
			}
		}
		return v
	case []any:
		for i := range v {
			v[i] = normalize(v[i])
		}
		return v
	}
	return v
}

func jsonDocs() []string {
	return []string{
		`{"name":"drlee","n":3,"f":0.25,"ok":true,"no":false,"list":[1,2,3],"m":{"x":"y"}}`,
		`[{"a":1},{"b":[true,false,null]},"s",-1.5e-3]`,
		`{"esc":"\"\\\/\b\f\n\r\t\u0000\u001f\u00e9\ud83d\ude00","empty":"","nested":{"deep":{"deeper":[[[]]]}}}`,
		`{"nulls":null,"arr":[null,null,1],"obj":{"k":null}}`,
		`"\ud800\u0041"`,
		`[1e308,-1e-308,123456789012345678901234567890]`,
		`{"empty":[],"emptyobj":{},"in":[[],{}],"z":1,"a":2,"10":3,"9":4}`,
	}
}

// TestJSONAgreesWithEncodingJSON: FromJSON then ToJSON means what encoding/json means, and
// so do the indented and sorted forms.
func TestJSONAgreesWithEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, doc := range jsonDocs() {
		var want any
		if err := json.Unmarshal([]byte(doc), &want); err != nil {
			t.Fatal(err)
		}
		packed := mustFromJSON(t, doc)
		out := mustToJSON(t, packed)
		var got any
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("%s: ToJSON wrote invalid JSON %s: %v", doc, out, err)
		}
		if w, g := normalize(want), normalize(got); !reflect.DeepEqual(w, g) {
			t.Errorf("%s:\n got %#v\nwant %#v", doc, g, w)
		}
		// Indented: exactly what encoding/json's Indent makes of the compact text.
		for _, indent := range []string{"  ", "\t", " \t"} {
			pretty, err := EncodeOptions{Indent: indent}.ToJSON(nil, packed)
			if err != nil {
				t.Fatal(err)
			}
			var ref bytes.Buffer
			if err := json.Indent(&ref, []byte(out), "", indent); err != nil {
				t.Fatal(err)
			}
			if string(pretty) != ref.String() {
				t.Errorf("%s indented by %q:\n got %s\nwant %s", doc, indent, pretty, ref.String())
			}
		}
		// Sorted: the same value, and encoding/json (which sorts map keys) agrees on the
		// order once both are re-encoded from the value.
		sorted, err := EncodeOptions{SortKeys: true}.ToJSON(nil, packed)
		if err != nil {
			t.Fatal(err)
		}
		var sv any
		if err := json.Unmarshal(sorted, &sv); err != nil || !reflect.DeepEqual(normalize(sv), normalize(want)) {
			t.Errorf("%s sorted: %s (%v)", doc, sorted, err)
		}
		if !sortedKeys(t, sorted) {
			t.Errorf("%s: SortKeys wrote %s", doc, sorted)
		}
	}
}

// sortedKeys reports whether every object in the JSON text has its keys in byte order.
func sortedKeys(t *testing.T, text []byte) bool {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(text))
	type frame struct {
		object bool
		last   string
		key    bool // the next string token is a key
	}
	var stack []frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return true // io.EOF: all read
		}
		if len(stack) > 0 && stack[len(stack)-1].object {
			top := &stack[len(stack)-1]
			if top.key {
				if d, ok := tok.(json.Delim); ok && d == '}' {
					stack = stack[:len(stack)-1]
					continue
				}
				k := tok.(string)
				if k < top.last {
					return false
				}
				top.last, top.key = k, false
				continue
			}
			top.key = true
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, frame{object: true, key: true})
		case json.Delim('['):
			stack = append(stack, frame{})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
	}
}

// TestToJSONArraysAndNull: arrays (packed.TagArray) are arrays whatever their length, null is
// null, and plain tables with integer keys are arrays up to the sparse ratio.
func TestToJSONArraysAndNull(t *testing.T) {
	t.Parallel()
	// sparse writes a plain table with the integer keys given, each value its key.
	sparse := func(narr int, keys ...int64) func(w *packed.Writer) {
		return func(w *packed.Writer) {
			w.Table(narr, len(keys))
			for i := 1; i <= narr; i++ {
				w.Int(int64(i))
			}
			for _, k := range keys {
				w.Int(k)
				w.Int(k)
			}
		}
	}
	nulls := func(n int) string { return strings.Repeat("null,", n) }
	for _, tt := range []struct {
		name string
		f    func(w *packed.Writer)
		want string
	}{
		{"null", func(w *packed.Writer) { w.Null() }, `null`},
		{"empty array", func(w *packed.Writer) { w.Array(0) }, `[]`},
		{"array", func(w *packed.Writer) { w.Array(2); w.String("a"); w.Int(2) }, `["a",2]`},
		{"array with holes", func(w *packed.Writer) { w.Array(4); w.Nil(); w.Int(2); w.Null(); w.Nil() }, `[null,2,null,null]`},
		{"null member", func(w *packed.Writer) { w.Table(0, 1); w.String("a"); w.Null() }, `{"a":null}`},
		{"nested empties", func(w *packed.Writer) { w.Array(2); w.Array(0); w.Table(0, 0) }, `[[],{}]`},
		{"key 1 only", sparse(0, 1), `[1]`},
		{"holes", sparse(2, 4), `[1,2,null,4]`},
		{"unordered keys", sparse(0, 3, 1, 2), `[1,2,3]`},
		{"safe length", sparse(0, 10), `[` + nulls(9) + `10]`},
		{"beyond safe", sparse(0, 11), `{"11":11}`},
		{"ratio", sparse(3, 6, 11, 12), `[1,2,3,null,null,6,` + nulls(4) + `11,12]`},
		{"beyond ratio", sparse(3, 6, 12), `{"1":1,"2":2,"3":3,"6":6,"12":12}`},
		{"huge key", sparse(1, 1<<40), `{"1":1,"1099511627776":1099511627776}`},
		{"zero key", sparse(0, 0, 1), `{"0":0,"1":1}`},
		{"negative key", sparse(1, -1), `{"1":1,"-1":-1}`},
		{"string key", func(w *packed.Writer) { w.Table(1, 1); w.Int(1); w.String("x"); w.Int(2) }, `{"1":1,"x":2}`},
		{"float key", func(w *packed.Writer) { w.Table(0, 1); w.Number(1.5); w.Int(1) }, `{"1.5":1}`},
		{"nested sparse", func(w *packed.Writer) {
			w.Table(0, 2)
			w.Int(3)
			sparse(0, 2)(w)
			w.Int(1)
			w.Array(0)
		}, `[[],null,[null,2]]`},
	} {
		var w packed.Writer
		tt.f(&w)
		if got := mustToJSON(t, w.B); got != tt.want {
			t.Errorf("%s: got %s, want %s", tt.name, got, tt.want)
		}
	}
}

// TestToJSONUTF8: a string that is not UTF-8 is an error naming the offset of the first
// bad byte and where the string is; valid text of any script passes unchanged.
func TestToJSONUTF8(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"é😀☃", "\u2028\u2029", "\x7f", "\uFFFD"} {
		var w packed.Writer
		w.String(s)
		if got, want := mustToJSON(t, w.B), `"`+s+`"`; got != want {
			t.Errorf("ToJSON(%q) = %s, want %s", s, got, want)
		}
	}
	for _, tt := range []struct {
		name string
		f    func(w *packed.Writer)
		want string
	}{
		{"root", func(w *packed.Writer) { w.String("ab\xff") }, "string is not valid UTF-8: byte 0xff at offset 2"},
		{"truncated sequence", func(w *packed.Writer) { w.String("é\xc3") }, "byte 0xc3 at offset 2"},
		{"encoded surrogate", func(w *packed.Writer) { w.String("\xed\xa0\x80") }, "byte 0xed at offset 0"},
		{"overlong", func(w *packed.Writer) { w.String("\xc0\xaf") }, "byte 0xc0 at offset 0"},
		{"in an array", func(w *packed.Writer) { w.Array(2); w.String("ok"); w.String("\xfe") }, "byte 0xfe at offset 0 (at [2])"},
		{"in an object", func(w *packed.Writer) {
			w.Table(0, 1)
			w.String("items")
			w.Array(1)
			w.Table(0, 1)
			w.String("a b")
			w.String("\x80")
		}, `string is not valid UTF-8: byte 0x80 at offset 0 (at .items[1]["a b"])`},
		{"key", func(w *packed.Writer) { w.Table(0, 1); w.String("k\xff"); w.Int(1) }, `key is not valid UTF-8: byte 0xff at offset 1 (at ["k\xff"])`},
	} {
		var w packed.Writer
		tt.f(&w)
		_, err := ToJSON(nil, w.B)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err %v, want one containing %q", tt.name, err, tt.want)
		}
	}
}

// TestToJSONErrorPaths: every kind of error says where the bad value is.
func TestToJSONErrorPaths(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		f    func(w *packed.Writer)
		want string
	}{
		{"root", func(w *packed.Writer) { w.Number(math.NaN()) }, "cannot encode NaN in JSON"},
		{"number key", func(w *packed.Writer) { w.Table(0, 1); w.Int(1000); w.Number(math.Inf(1)) }, "cannot encode +Inf in JSON (at [1000])"},
		{"sparse index", func(w *packed.Writer) { w.Table(1, 1); w.Int(1); w.Int(3); w.Number(math.Inf(-1)) }, "cannot encode -Inf in JSON (at [3])"},
		{"array part of an object", func(w *packed.Writer) {
			w.Table(1, 1)
			w.Table(0, 1)
			w.String("_x1")
			w.Number(math.NaN())
			w.String("k")
			w.Int(1)
		}, "(at [1]._x1)"},
		{"sorted", func(w *packed.Writer) {
			w.Table(0, 2)
			w.String("b")
			w.Int(1)
			w.String("a")
			w.Table(0, 1)
			w.Bool(true)
			w.Int(1)
		}, "JSON object keys must be strings or numbers, not booleans (at .a)"},
	} {
		var w packed.Writer
		tt.f(&w)
		_, err := EncodeOptions{SortKeys: tt.name == "sorted"}.ToJSON(nil, w.B)
		if err == nil || !strings.HasSuffix(err.Error(), tt.want) && !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err %v, want one containing %q", tt.name, err, tt.want)
		}
	}
	if _, err := (EncodeOptions{Indent: "  x"}).ToJSON(nil, []byte{packed.TagNil}); err == nil || !strings.Contains(err.Error(), "spaces and tabs") {
		t.Errorf("bad indent: %v", err)
	}
}

// TestJSONDepth: packed.MaxDepth levels of arrays or objects decode and encode; one more is an
// error on both sides, and DecodeOptions.MaxDepth lowers the limit.
func TestJSONDepth(t *testing.T) {
	t.Parallel()
	nest := func(n int) string {
		var b strings.Builder
		for i := 0; i < n; i++ {
			if i%2 == 0 {
				b.WriteString(`[`)
			} else {
				b.WriteString(`{"k":`)
			}
		}
		b.WriteString("1")
		for i := n - 1; i >= 0; i-- {
			if i%2 == 0 {
				b.WriteString(`]`)
			} else {
				b.WriteString(`}`)
			}
		}
		return b.String()
	}
	doc := nest(packed.MaxDepth)
	if got := mustToJSON(t, mustFromJSON(t, doc)); got != doc {
		t.Errorf("%d levels: round trip changed the text", packed.MaxDepth)
	}
	var w packed.Writer
	if err := FromJSON(&w, []byte(nest(packed.MaxDepth+1))); err == nil || !strings.Contains(err.Error(), "nesting too deep (more than 200 levels)") {
		t.Errorf("%d levels: %v", packed.MaxDepth+1, err)
	}
	w.Reset()
	for i := 0; i < packed.MaxDepth+1; i++ {
		w.Array(1)
	}
	w.Nil()
	if _, err := ToJSON(nil, w.B); err == nil || !strings.Contains(err.Error(), "nesting too deep") {
		t.Errorf("ToJSON of %d levels: %v", packed.MaxDepth+1, err)
	}
	for _, tt := range []struct {
		max, levels int
		ok          bool
	}{{1, 1, true}, {1, 2, false}, {3, 3, true}, {3, 4, false}, {packed.MaxDepth + 50, packed.MaxDepth + 1, false}, {-1, packed.MaxDepth, true}} {
		w.Reset()
		err := DecodeOptions{MaxDepth: tt.max}.FromJSON(&w, []byte(nest(tt.levels)))
		if (err == nil) != tt.ok {
			t.Errorf("packed.MaxDepth %d, %d levels: %v", tt.max, tt.levels, err)
		}
	}
}

// TestFromJSONNull: with DecodeOptions.Null, null is packed.TagNull everywhere and object members
// that are null are kept.
func TestFromJSONNull(t *testing.T) {
	t.Parallel()
	var w packed.Writer
	if err := (DecodeOptions{Null: true}).FromJSON(&w, []byte(`{"a":null,"b":[null,1,null]}`)); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, w.B)
	want := []item{
		{k: packed.TagTable, nrec: 2},
		{k: packed.TagString, str: "a"}, {k: packed.TagNull},
		{k: packed.TagString, str: "b"}, {k: packed.TagArray, narr: 3}, {k: packed.TagNull}, {k: packed.TagInt, num: 1}, {k: packed.TagNull},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if out := mustToJSON(t, w.B); out != `{"a":null,"b":[null,1,null]}` {
		t.Errorf("round trip: %s", out)
	}
}
