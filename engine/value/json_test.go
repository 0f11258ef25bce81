package value

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
)

func mustFromJSON(t testing.TB, src string) []byte {
	t.Helper()
	var w Writer
	if err := FromJSON(&w, []byte(src)); err != nil {
		t.Fatalf("FromJSON(%q): %v", src, err)
	}
	if err := Validate(w.B); err != nil {
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
		{`9007199254740993`, `9.007199254740992e+15`}, // beyond 2^53: nearest float
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
		{`[]`, `{}`}, // an empty table is an object
		{`{}`, `{}`},
		{`[1,"two",true,false]`, `[1,"two",true,false]`},
		{`[1,null,3]`, `[1,null,3]`},
		{`[[],[[]],{}]`, `[{},[{}],{}]`},
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
	// Objects keep their keys and drop nulls; arrays keep nulls (holes) in position.
	got := readAll(t, mustFromJSON(t, `{"a":null,"b":[null,2],"c":{}}`))
	want := []item{
		{k: TagTable, nrec: 2},
		{k: TagString, str: "b"}, {k: TagTable, narr: 2}, {k: TagNil}, {k: TagInt, num: 2},
		{k: TagString, str: "c"}, {k: TagTable},
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
	enc := func(f func(w *Writer)) string {
		var w Writer
		f(&w)
		return mustToJSON(t, w.B)
	}
	for _, tt := range []struct {
		name string
		f    func(w *Writer)
		want string
	}{
		{"control chars", func(w *Writer) { w.String("\x00\x01\x1f\x7f") }, `"\u0000\u0001\u001f` + "\x7f" + `"`},
		{"invalid utf8", func(w *Writer) { w.String("a\xffb\xc3") }, `"a\ufffdb\ufffd"`},
		{"valid utf8", func(w *Writer) { w.String("é😀") }, `"é😀"`},
		{"quotes", func(w *Writer) { w.String(`"\`) }, `"\"\\"`},
		{"empty table", func(w *Writer) { w.Table(0, 0) }, `{}`},
		{"array", func(w *Writer) { w.Table(2, 0); w.Int(1); w.Number(2.5) }, `[1,2.5]`},
		{"mixed table", func(w *Writer) {
			w.Table(2, 1)
			w.Int(10)
			w.Int(20)
			w.String("x")
			w.Bool(true)
		}, `{"1":10,"2":20,"x":true}`},
		{"number keys", func(w *Writer) {
			w.Table(0, 2)
			w.Int(5)
			w.String("five")
			w.Number(0.5)
			w.String("half")
		}, `{"5":"five","0.5":"half"}`},
		{"large float", func(w *Writer) { w.Number(1 << 60) }, `1.152921504606847e+18`},
		{"tiny float", func(w *Writer) { w.Number(1e-7) }, `1e-07`},
	} {
		if got := enc(tt.f); got != tt.want {
			t.Errorf("%s: got %s, want %s", tt.name, got, tt.want)
		}
		if got := enc(tt.f); !json.Valid([]byte(got)) {
			t.Errorf("%s: %s is not valid JSON", tt.name, got)
		}
	}
}

// TestToJSONLargeInt: an int64 written with Writer.Int is written to JSON with its sign
// (the Reader hands ints over as float64, and float64(MaxInt64) does not fit back).
func TestToJSONLargeInt(t *testing.T) {
	t.Parallel()
	for _, v := range []int64{math.MaxInt64, 1<<62 + 1, math.MinInt64 + 1} {
		var w Writer
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
		f    func(w *Writer)
		want string
	}{
		{"NaN", func(w *Writer) { w.Number(math.NaN()) }, "NaN"},
		{"Inf", func(w *Writer) { w.Number(math.Inf(1)) }, "Inf"},
		{"nested NaN", func(w *Writer) { w.Table(1, 0); w.Number(math.NaN()) }, "NaN"},
		{"boolean key", func(w *Writer) { w.Table(0, 1); w.Bool(true); w.Int(1) }, "keys"},
		{"table key", func(w *Writer) { w.Table(0, 1); w.Table(0, 0); w.Int(1) }, "keys"},
		{"truncated", func(w *Writer) { w.Table(2, 0); w.Int(1) }, "malformed"},
		{"push-only tag", func(w *Writer) { w.Object(1, 1, 1) }, "malformed"},
		{"too deep", func(w *Writer) {
			for i := 0; i < 300; i++ {
				w.Table(1, 0)
			}
			w.Nil()
		}, "deep"},
	} {
		var w Writer
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
		var w Writer
		err := FromJSON(&w, []byte(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("FromJSON(%q): err %v, want one containing %q", tt.in, err, tt.want)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "invalid JSON at offset ") {
			t.Errorf("FromJSON(%q): err %q lacks the offset prefix", tt.in, err)
		}
	}
}

// normalize turns what encoding/json decodes into what a Lua table round trip gives: nulls
// in objects disappear and an empty array is an empty object.
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
		if len(v) == 0 {
			return map[string]any{}
		}
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
	}
}

// TestJSONAgreesWithEncodingJSON: FromJSON then ToJSON means what encoding/json means.
func TestJSONAgreesWithEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, doc := range jsonDocs() {
		var want any
		if err := json.Unmarshal([]byte(doc), &want); err != nil {
			t.Fatal(err)
		}
		out := mustToJSON(t, mustFromJSON(t, doc))
		var got any
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("%s: ToJSON wrote invalid JSON %s: %v", doc, out, err)
		}
		if w, g := normalize(want), normalize(got); !reflect.DeepEqual(w, g) {
			t.Errorf("%s:\n got %#v\nwant %#v", doc, g, w)
		}
	}
}

func FuzzFromJSON(f *testing.F) {
	for _, doc := range jsonDocs() {
		f.Add([]byte(doc))
	}
	for _, s := range []string{``, `null`, `[]`, `{}`, `"\u"`, `[1,`, `{"a":`, `-`, `01`, `1.`, "\"\xff\"", `[[[[[[1]]]]]]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		var w Writer
		err := FromJSON(&w, src)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "invalid JSON at offset ") {
				t.Fatalf("error without offset: %v", err)
			}
			// Everything encoding/json accepts is accepted, deep nesting aside.
			var v any
			if json.Unmarshal(src, &v) == nil && bytes.Count(src, []byte("["))+bytes.Count(src, []byte("{")) < maxJSONDepth {
				t.Fatalf("FromJSON rejects valid JSON %q: %v", src, err)
			}
			return
		}
		if err := Validate(w.B); err != nil {
			t.Fatalf("FromJSON(%q) wrote an invalid buffer: %v", src, err)
		}
		out, err := ToJSON(nil, w.B)
		if err != nil {
			t.Fatalf("ToJSON of FromJSON(%q): %v", src, err)
		}
		if !json.Valid(out) {
			t.Fatalf("ToJSON of FromJSON(%q) = %q: not valid JSON", src, out)
		}
		// Once through, the value is stable: decoding the output again gives the same
		// value (the first pass may replace invalid UTF-8 with U+FFFD).
		var w2, w3 Writer
		if err := FromJSON(&w2, out); err != nil {
			t.Fatalf("FromJSON(%q) (own output): %v", out, err)
		}
		out2, err := ToJSON(nil, w2.B)
		if err != nil {
			t.Fatalf("ToJSON: %v", err)
		}
		if err := FromJSON(&w3, out2); err != nil || !bytes.Equal(w2.B, w3.B) {
			t.Fatalf("round trip not stable: %q -> %q (%v)", out, out2, err)
		}
	})
}
