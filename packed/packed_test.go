package packed

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"syscall"
	"testing"
	"unsafe"
)

// item is one decoded value, tables flattened into their header and elements.
type item struct {
	k          Kind
	num        float64
	str        string
	narr, nrec int
}

func readAll(t *testing.T, b []byte) []item {
	t.Helper()
	r := Reader{B: b}
	var out []item
	for !r.Done() {
		k, num, str, narr, nrec, err := r.Next()
		if err != nil {
			t.Fatalf("Next at %d: %v", r.Pos, err)
		}
		out = append(out, item{k, num, string(str), narr, nrec})
	}
	return out
}

func sameNumber(a, b float64) bool {
	if math.IsNaN(a) {
		return math.IsNaN(b)
	}
	return a == b && math.Signbit(a) == math.Signbit(b)
}

func numberTests() []struct {
	in  float64
	tag Kind
} {
	return []struct {
		in  float64
		tag Kind
	}{
		{0, TagInt},
		{1, TagInt},
		{-1, TagInt},
		{-123456789, TagInt},
		{0.5, TagFloat},
		{-0.5, TagFloat},
		{1e-300, TagFloat},
		{1<<53 - 1, TagInt},
		{-(1<<53 - 1), TagInt},
		{1 << 53, TagFloat},
		{1<<53 + 2, TagFloat},
		{-(1 << 60), TagFloat},
		{math.MaxFloat64, TagFloat},
		{math.SmallestNonzeroFloat64, TagFloat},
		{math.Inf(1), TagFloat},
		{math.Inf(-1), TagFloat},
		{math.NaN(), TagFloat},
	}
}

func TestNumberRoundTrip(t *testing.T) {
	t.Parallel()
	for _, tt := range numberTests() {
		var w Writer
		w.Number(tt.in)
		if Kind(w.B[0]) != tt.tag {
			t.Errorf("Number(%v): tag %q, want %q", tt.in, w.B[0], tt.tag)
		}
		got := readAll(t, w.B)
		if len(got) != 1 || !sameNumber(got[0].num, tt.in) {
			t.Errorf("Number(%v) read back as %+v", tt.in, got)
		}
		if err := Validate(w.B); err != nil {
			t.Errorf("Validate(Number(%v)): %v", tt.in, err)
		}
	}
}

func TestIntRoundTrip(t *testing.T) {
	t.Parallel()
	for _, v := range []int64{0, 1, -1, 42, -1 << 31, 1<<53 - 1, -(1<<53 - 1)} {
		var w Writer
		w.Int(v)
		got := readAll(t, w.B)
		if len(got) != 1 || got[0].k != TagInt || got[0].num != float64(v) {
			t.Errorf("Int(%d) read back as %+v", v, got)
		}
	}
}

func TestStringRoundTrip(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		"",
		"a",
		"hello, world",
		"\x00",
		"a\x00b\x00",
		"\xff\xfe\xfd",              // invalid UTF-8
		"\xc3\x28",                  // invalid 2-byte sequence
		"\xed\xa0\x80",              // encoded surrogate
		"héllo wörld ☃ 😀",           // valid multi-byte
		string(make([]byte, 70000)), // longer than 16 bits of length
	} {
		var w Writer
		w.String(s)
		w.Bytes([]byte(s))
		got := readAll(t, w.B)
		if len(got) != 2 || got[0].k != TagString || got[0].str != s || got[1].str != s {
			t.Errorf("String(%q) read back wrongly", s)
		}
	}
}

func TestScalarsAndTables(t *testing.T) {
	t.Parallel()
	var w Writer
	w.Nil()
	w.Bool(true)
	w.Bool(false)
	w.Table(0, 0) // empty table
	// {1, "two", {x = {}}, [0.5] = true}
	w.Table(3, 1)
	w.Int(1)
	w.String("two")
	w.Table(0, 1)
	w.String("x")
	w.Table(0, 0)
	w.Number(0.5)
	w.Bool(true)
	// A table built with TableAt/SetCounts.
	at := w.TableAt()
	w.String("k")
	w.String("v")
	w.Field("k2", "v2")
	w.SetCounts(at, 0, 2)

	if err := Validate(w.B); err != nil {
		t.Fatal(err)
	}
	want := []item{
		{k: TagNil}, {k: TagTrue}, {k: TagFalse},
		{k: TagTable},
		{k: TagTable, narr: 3, nrec: 1},
		{k: TagInt, num: 1}, {k: TagString, str: "two"},
		{k: TagTable, nrec: 1}, {k: TagString, str: "x"}, {k: TagTable},
		{k: TagFloat, num: 0.5}, {k: TagTrue},
		{k: TagTable, nrec: 2},
		{k: TagString, str: "k"}, {k: TagString, str: "v"},
		{k: TagString, str: "k2"}, {k: TagString, str: "v2"},
	}
	got := readAll(t, w.B)
	if len(got) != len(want) {
		t.Fatalf("got %d items, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("item %d: got %+v, want %+v", i, got[i], want[i])
		}
	}

	// Skip steps over whole values, nested tables included.
	if n := countValues(t, w.B); n != 6 {
		t.Errorf("Skip: %d top-level values, want 6", n)
	}
}

// countValues counts the top-level values of b with Skip, which steps over whole values,
// nested tables included.
func countValues(t *testing.T, b []byte) int {
	t.Helper()
	r := Reader{B: b}
	n := 0
	for !r.Done() {
		if err := r.Skip(); err != nil {
			t.Fatal(err)
		}
		n++
	}
	return n
}

// TestWriterReset is not parallel: AllocsPerRun refuses to run in parallel tests.
func TestWriterReset(t *testing.T) {
	var w Writer
	w.String("something long enough")
	c := cap(w.B)
	w.Reset()
	if w.Len() != 0 || cap(w.B) != c {
		t.Fatalf("Reset: len %d cap %d, want 0 and %d", w.Len(), cap(w.B), c)
	}
	w.Raw([]byte{TagTrue})
	if !bytes.Equal(w.B, []byte{TagTrue}) {
		t.Fatalf("Raw: %q", w.B)
	}
	allocs := testing.AllocsPerRun(100, func() {
		w.Reset()
		w.Int(1)
		w.String("abc")
		w.Nil()
	})
	if allocs != 0 {
		t.Errorf("warm Writer allocates %v times per use", allocs)
	}
}

func TestValidateRejects(t *testing.T) {
	t.Parallel()
	var obj, ref, meta Writer
	obj.Object(1, 2, 3)
	ref.Ref(4)
	meta.Meta(5)
	meta.Nil()
	for name, b := range map[string][]byte{
		"unknown tag":        {'x'},
		"short int":          {TagInt, 1, 2, 3},
		"short float":        {TagFloat, 0},
		"short length":       {TagString, 1, 0},
		"string past end":    {TagString, 5, 0, 0, 0, 'a'},
		"short table":        {TagTable, 1, 0, 0, 0},
		"missing element":    {TagTable, 1, 0, 0, 0, 0, 0, 0, 0},
		"missing value":      {TagTable, 0, 0, 0, 0, 1, 0, 0, 0, TagNil},
		"huge count":         {TagTable, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		"short array":        {TagArray, 1, 0},
		"missing array elem": {TagArray, 2, 0, 0, 0, TagNull},
		"huge array count":   {TagArray, 0xff, 0xff, 0xff, 0xff},
		"object (push-only)": obj.B,
		"ref (push-only)":    ref.B,
		"meta (push-only)":   meta.B,
	} {
		if err := Validate(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: Validate = %v, want ErrMalformed", name, err)
		}
	}
	if err := Validate(nil); err != nil {
		t.Errorf("Validate(nil) = %v", err)
	}
}

// TestArrayAndNull: the two tags JSON needs read back as written and validate.
func TestArrayAndNull(t *testing.T) {
	t.Parallel()
	var w Writer
	w.Null()
	w.Array(0) // []
	w.Array(3) // [1, null, nil]
	w.Int(1)
	w.Null()
	w.Nil()
	at := w.ArrayAt() // [[], {"k": null}]
	w.Array(0)
	w.Table(0, 1)
	w.String("k")
	w.Null()
	w.SetLen(at, 2)
	if err := Validate(w.B); err != nil {
		t.Fatal(err)
	}
	want := []item{
		{k: TagNull},
		{k: TagArray},
		{k: TagArray, narr: 3}, {k: TagInt, num: 1}, {k: TagNull}, {k: TagNil},
		{k: TagArray, narr: 2}, {k: TagArray}, {k: TagTable, nrec: 1}, {k: TagString, str: "k"}, {k: TagNull},
	}
	if got := readAll(t, w.B); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if n := countValues(t, w.B); n != 4 {
		t.Errorf("Skip: %d top-level values, want 4", n)
	}
}

// TestValidateDepth: MaxDepth tables deep is valid, one more is ErrTooDeep, whether the
// levels are tables, arrays or both (the guard C relies on for network input).
func TestValidateDepth(t *testing.T) {
	t.Parallel()
	nest := func(levels int, array bool) []byte {
		var w Writer
		for i := 0; i < levels; i++ {
			if array || i%2 == 1 {
				w.Array(1)
			} else {
				w.Table(0, 1)
				w.String("k")
			}
		}
		w.Nil()
		return w.B
	}
	for _, array := range []bool{false, true} {
		if err := ValidateOne(nest(MaxDepth, array)); err != nil {
			t.Errorf("array=%v: %d levels: %v", array, MaxDepth, err)
		}
		if err := ValidateOne(nest(MaxDepth+1, array)); !errors.Is(err, ErrTooDeep) {
			t.Errorf("array=%v: %d levels: %v, want ErrTooDeep", array, MaxDepth+1, err)
		}
		if _, err := Decode(nest(MaxDepth+1, array)); !errors.Is(err, ErrTooDeep) {
			t.Errorf("array=%v: Decode of %d levels: %v, want ErrTooDeep", array, MaxDepth+1, err)
		}
	}
	// A table key counts as nested in its table.
	var w Writer
	for i := 0; i < MaxDepth; i++ {
		w.Table(0, 1)
	}
	w.Table(0, 0) // key at level MaxDepth+1
	w.Nil()
	if err := Validate(w.B); !errors.Is(err, ErrTooDeep) {
		t.Errorf("deep key: %v, want ErrTooDeep", err)
	}
}

func TestDecodeEncode(t *testing.T) {
	t.Parallel()
	var w Writer
	w.Table(1, 3)
	w.String("first")
	w.String("null")
	w.Null()
	w.String("list")
	w.Array(3)
	w.Int(1)
	w.Nil()
	w.Null()
	w.Number(0.5)
	w.Table(0, 0)
	v, err := Decode(w.B)
	if err != nil {
		t.Fatal(err)
	}
	want := map[any]any{
		float64(1): "first",
		"null":     Null,
		"list":     []any{float64(1), nil, Null},
		0.5:        []any{},
	}
	if !reflect.DeepEqual(v, want) {
		t.Fatalf("Decode = %#v, want %#v", v, want)
	}
	// Encode writes what Decode read (arrays as plain tables), and Decode reads it back
	// the same.
	var w2 Writer
	Encode(&w2, v)
	if err := Validate(w2.B); err != nil {
		t.Fatal(err)
	}
	for _, it := range readAll(t, w2.B) {
		if it.k == TagArray {
			t.Errorf("Encode wrote an array tag: %q", w2.B)
		}
	}
	back, err := Decode(w2.B)
	if err != nil || !reflect.DeepEqual(back, want) {
		t.Fatalf("Decode(Encode(v)) = %#v, %v", back, err)
	}
	// A table as a key is an error, not a panic.
	w2.Reset()
	w2.Table(0, 1)
	w2.Table(0, 0)
	w2.Int(1)
	if _, err := Decode(w2.B); !errors.Is(err, ErrTableKey) {
		t.Errorf("table key: %v, want ErrTableKey", err)
	}
	// Bad input is an error, never a huge allocation.
	for _, b := range [][]byte{{TagArray, 0xff, 0xff, 0xff, 0x7f}, {TagTable, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f}, {'o'}} {
		if _, err := Decode(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("Decode(%q) = %v, want ErrMalformed", b, err)
		}
	}
}

func TestReaderPeek(t *testing.T) {
	t.Parallel()
	var w Writer
	w.String("x")
	r := Reader{B: w.B}
	if r.Peek() != TagString {
		t.Fatalf("Peek = %q", r.Peek())
	}
	r.Skip()
	if r.Peek() != 0 || !r.Done() {
		t.Fatalf("at end: Peek = %q, Done = %v", r.Peek(), r.Done())
	}
}

// hugeBytes is MaxString+1 bytes of address space that no memory backs until it is touched
// (an anonymous mapping with no reserve): the Writer must refuse it from its length alone.
func hugeBytes(t *testing.T) []byte {
	m, err := syscall.Mmap(-1, 0, MaxString+1, syscall.PROT_READ, syscall.MAP_PRIVATE|syscall.MAP_ANON|syscall.MAP_NORESERVE)
	if err != nil {
		t.Fatalf("mmap: %v", err)
	}
	t.Cleanup(func() { syscall.Munmap(m) })
	return m
}

// TestWriterRefusesWhatLuaCannotHold: a string longer than MaxString is written as an empty
// string and recorded in Err (the buffer stays valid); lengths used to be cut to 32 bits,
// so C read the rest of the string as values.
func TestWriterRefusesWhatLuaCannotHold(t *testing.T) {
	t.Parallel()
	huge := hugeBytes(t)
	var w Writer
	w.String("a")
	w.String(unsafe.String(&huge[0], len(huge)))
	w.Bytes(huge)
	w.Int(7)
	if !errors.Is(w.Err, ErrTooLarge) {
		t.Fatalf("Err = %v, want ErrTooLarge", w.Err)
	}
	if err := Validate(w.B); err != nil {
		t.Fatalf("the buffer is malformed: %v", err)
	}
	if want := []byte("s\x01\x00\x00\x00as\x00\x00\x00\x00s\x00\x00\x00\x00i\x07\x00\x00\x00\x00\x00\x00\x00"); !bytes.Equal(w.B, want) {
		t.Fatalf("buffer %q, want %q", w.B, want)
	}
	w.Reset()
	if w.Err != nil {
		t.Fatal("Reset kept Err")
	}
	w.Table(-1, 0)
	if !errors.Is(w.Err, ErrTooLarge) {
		t.Fatalf("a table count beyond 32 bits: Err = %v", w.Err)
	}
}
