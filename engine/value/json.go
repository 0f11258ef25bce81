package value

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/drlee/drlee/packed"
)

// JSON in and out of the packed format: the codec behind the json module and the
// json_encode/json_decode globals (bindings/json). The rules, which the README repeats:
//
// Encoding (ToJSON):
//   - nil and null (packed.TagNull, json.null) are null; booleans, strings and numbers are
//     themselves. Integers are exact; NaN and the infinities are errors.
//   - An array (packed.TagArray: a table with json.array_mt, json.empty_array) is a JSON array,
//     "[]" when empty, null in its holes. (A table with json.array_mt that has other keys,
//     or holes beyond the ratio below, is packed as a plain table and follows the rules
//     of plain tables: no key is dropped.)
//   - A plain table whose keys are 1..n is an array; an empty plain table is "{}".
//   - A plain table whose keys are all positive integers, with holes, is an array with
//     null in the holes when it is not excessively sparse: its largest key n is at most
//     packed.SparseSafe (10), or at most packed.SparseRatio (2) times its number of entries (lua-cjson's
//     encode_sparse_array defaults). A sparser one is an object, as any other table: keys
//     are strings, numbers written as strings ({[1000] = 1} is {"1000":1}).
//   - Strings, keys included, must be valid UTF-8: JSON text is UTF-8 (RFC 8259 §8.1), and
//     a byte string is not text. An invalid byte is an error naming its offset in the
//     string; nothing is ever replaced (not by U+FFFD either).
//   - Errors say where the bad value is, in Lua syntax from the root: "(at .items[3].name)".
//
// Decoding (FromJSON):
//   - Arrays become arrays (packed.TagArray: Lua tables with json.array_mt), so that they encode
//     as arrays again, "[]" included. Objects become plain tables.
//   - null is packed.TagNull (json.null) with DecodeOptions.Null; otherwise nil: a hole in an
//     array, no member in an object.
//   - Bytes inside strings pass through as they are, invalid UTF-8 included (the encoder
//     then refuses them, so they are never silently changed); \u escapes are decoded, a
//     lone surrogate escape becoming U+FFFD as encoding/json has it.
//   - Nesting is limited (packed.MaxDepth, or DecodeOptions.MaxDepth): the parser recurses once
//     per level and fails cleanly beyond, whatever the input.
//   - Errors name the offset: "invalid JSON at offset 7: expected ',' or '}'".

// EncodeOptions adjust ToJSON. The zero value writes compact JSON, members in the tables'
// own order.
type EncodeOptions struct {
	// Indent, when set, pretty-prints: each element and member on its own line, indented
	// by Indent once per level, and ": " after keys. Only spaces and tabs are allowed, so
	// that the output stays JSON.
	Indent string
	// SortKeys writes each object's members in byte order of their keys, so that the text
	// does not depend on the order of Lua's tables (for caches, signatures and tests).
	SortKeys bool
}

// ToJSON appends the compact JSON text of the first value in src to dst (see the rules
// above). It allocates nothing beyond dst's growth, sparse arrays aside.
func ToJSON(dst, src []byte) ([]byte, error) { return EncodeOptions{}.ToJSON(dst, src) }

// ToJSON appends the JSON text of the first value in src to dst, as o says.
func (o EncodeOptions) ToJSON(dst, src []byte) ([]byte, error) {
	if strings.Trim(o.Indent, " \t") != "" {
		return dst, errors.New("indent must be made of spaces and tabs")
	}
	e := jsonEncoder{r: packed.Reader{B: src}, opts: o}
	return e.value(dst, 0)
}

type jsonEncoder struct {
	r    packed.Reader
	opts EncodeOptions
	// entries of sparse arrays and sorted objects, a stack shared by the nesting levels:
	// each level appends its own and truncates back when done.
	entries []jsonEntry
}

type jsonEntry struct {
	index int64       // sparse array: the element's index
	key   []byte      // sorted object: the key as written between the quotes
	kind  packed.Kind // sorted object: the key's tag
	pos   int         // where the value starts in the source
}

// jsonPathError is an encoding error and where it happened, from the root: the path is
// added as the recursion unwinds, so that the path costs nothing until there is an error.
type jsonPathError struct {
	msg  string
	path []string // innermost first
}

func (e *jsonPathError) Error() string {
	if len(e.path) == 0 {
		return e.msg
	}
	var b strings.Builder
	b.WriteString(e.msg)
	b.WriteString(" (at ")
	for i := len(e.path) - 1; i >= 0; i-- {
		b.WriteString(e.path[i])
	}
	b.WriteByte(')')
	return b.String()
}

func pathErrorf(format string, args ...any) error {
	return &jsonPathError{msg: fmt.Sprintf(format, args...)}
}

// atIndex adds "[i]" to the path of err.
func atIndex(err error, i int64) error {
	if pe, ok := err.(*jsonPathError); ok {
		pe.path = append(pe.path, "["+strconv.FormatInt(i, 10)+"]")
	}
	return err
}

// atKey adds the member key (a string or number, as read from the source) to the path.
func atKey(err error, k packed.Kind, key []byte, num float64) error {
	pe, ok := err.(*jsonPathError)
	if !ok {
		return err
	}
	var elem string
	switch {
	case k == packed.TagString && isIdentifier(key):
		elem = "." + string(key)
	case k == packed.TagString:
		elem = "[" + strconv.Quote(string(key)) + "]"
	default:
		elem = "[" + string(appendFloat(nil, num)) + "]"
	}
	pe.path = append(pe.path, elem)
	return err
}

func isIdentifier(s []byte) bool {
	if len(s) == 0 || (s[0] >= '0' && s[0] <= '9') {
		return false
	}
	for _, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// value writes the next value; depth is the number of tables around it. Scalars are
// written here and tables in table, which keeps this frame small: it runs for every value.
func (e *jsonEncoder) value(dst []byte, depth int) ([]byte, error) {
	k, num, str, narr, nrec, err := e.r.Next()
	if err != nil {
		return dst, err
	}
	switch k {
	case packed.TagString:
		dst, bad := appendJSONString(dst, str)
		if bad >= 0 {
			return dst, utf8Error("string", str, bad)
		}
		return dst, nil
	case packed.TagInt:
		// The exact int64 from the buffer: num, a float64, cannot hold all of them.
		return strconv.AppendInt(dst, int64(binary.LittleEndian.Uint64(e.r.B[e.r.Pos-8:])), 10), nil
	case packed.TagFloat:
		if math.IsNaN(num) || math.IsInf(num, 0) {
			return dst, pathErrorf("cannot encode %v in JSON", num)
		}
		return appendFloat(dst, num), nil
	case packed.TagTrue:
		return append(dst, "true"...), nil
	case packed.TagFalse:
		return append(dst, "false"...), nil
	case packed.TagNil, packed.TagNull:
		return append(dst, "null"...), nil
	}
	return e.table(dst, k, narr, nrec, depth)
}

// table writes a table or an array whose header was just read.
func (e *jsonEncoder) table(dst []byte, k packed.Kind, narr, nrec, depth int) ([]byte, error) {
	if depth >= packed.MaxDepth {
		return dst, pathErrorf("nesting too deep (more than %d levels)", packed.MaxDepth)
	}
	depth++
	switch {
	case k == packed.TagArray || nrec == 0 && narr > 0:
		return e.array(dst, narr, depth)
	case nrec == 0:
		return append(dst, "{}"...), nil
	}
	if n, ok := e.sparseLen(narr, nrec); ok {
		return e.sparseArray(dst, narr, nrec, n, depth)
	}
	if e.opts.SortKeys {
		return e.sortedObject(dst, narr, nrec, depth)
	}
	return e.object(dst, narr, nrec, depth)
}

// utf8Error is the error for s, which is not UTF-8 from offset bad on; what names it
// ("string", "key").
func utf8Error(what string, s []byte, bad int) error {
	return pathErrorf("%s is not valid UTF-8: byte 0x%02x at offset %d", what, s[bad], bad)
}

// sep starts element i of a container at depth (its own level: 1 for the root).
func (e *jsonEncoder) sep(dst []byte, i, depth int) []byte {
	if i > 0 {
		dst = append(dst, ',')
	}
	if e.opts.Indent != "" {
		dst = e.newline(dst, depth)
	}
	return dst
}

func (e *jsonEncoder) newline(dst []byte, depth int) []byte {
	dst = append(dst, '\n')
	for i := 0; i < depth; i++ {
		dst = append(dst, e.opts.Indent...)
	}
	return dst
}

// end closes a container of n elements at depth with c.
func (e *jsonEncoder) end(dst []byte, c byte, n, depth int) []byte {
	if n > 0 && e.opts.Indent != "" {
		dst = e.newline(dst, depth-1)
	}
	return append(dst, c)
}

func (e *jsonEncoder) colon(dst []byte) []byte {
	if e.opts.Indent != "" {
		return append(dst, ':', ' ')
	}
	return append(dst, ':')
}

func (e *jsonEncoder) array(dst []byte, n, depth int) ([]byte, error) {
	dst = append(dst, '[')
	var err error
	for i := 0; i < n; i++ {
		dst = e.sep(dst, i, depth)
		if dst, err = e.value(dst, depth); err != nil {
			return dst, atIndex(err, int64(i+1))
		}
	}
	return e.end(dst, ']', n, depth), nil
}

// sparseLen reports whether a table of narr array entries and nrec others is an array with
// holes: every other key an integer beyond narr, and not excessively sparse (packed.SparseOK). It
// reads ahead and leaves the reader where it was. A table with a string key, the usual
// object, is told apart at its first key.
//
// A mixed table's array part is skipped to reach its first key, so nested mixed tables
// are read more than once: at most packed.MaxDepth times, and only tables built in Lua are mixed
// (FromJSON never writes one).
func (e *jsonEncoder) sparseLen(narr, nrec int) (int, bool) {
	if narr == 0 && e.r.Peek() != packed.TagInt {
		return 0, false // an object with a string key first: most objects, told at once
	}
	start := e.r.Pos
	n, ok := e.scanSparse(narr, nrec)
	e.r.Pos = start
	return n, ok
}

func (e *jsonEncoder) scanSparse(narr, nrec int) (int, bool) {
	for i := 0; i < narr; i++ {
		if e.r.Skip() != nil {
			return 0, false
		}
	}
	maxKey := int64(narr)
	for i := 0; i < nrec; i++ {
		k, _, _, _, _, err := e.r.Next()
		if err != nil || k != packed.TagInt {
			return 0, false
		}
		key := int64(binary.LittleEndian.Uint64(e.r.B[e.r.Pos-8:]))
		if key <= int64(narr) {
			return 0, false
		}
		maxKey = max(maxKey, key)
		if e.r.Skip() != nil {
			return 0, false
		}
	}
	if !packed.SparseOK(maxKey, int64(narr+nrec)) {
		return 0, false
	}
	return int(maxKey), true
}

// sparseArray writes a table that sparseLen found to be an array of length n.
func (e *jsonEncoder) sparseArray(dst []byte, narr, nrec, n, depth int) ([]byte, error) {
	dst = append(dst, '[')
	var err error
	for i := 0; i < narr; i++ {
		dst = e.sep(dst, i, depth)
		if dst, err = e.value(dst, depth); err != nil {
			return dst, atIndex(err, int64(i+1))
		}
	}
	base := len(e.entries)
	defer func() { e.entries = e.entries[:base] }()
	for i := 0; i < nrec; i++ {
		e.r.Next() // the key: an int, as sparseLen checked
		key := int64(binary.LittleEndian.Uint64(e.r.B[e.r.Pos-8:]))
		e.entries = append(e.entries, jsonEntry{index: key, pos: e.r.Pos})
		if err := e.r.Skip(); err != nil {
			return dst, err
		}
	}
	end := e.r.Pos
	// A view of this level's entries: deeper levels append after them (maybe into a new
	// array) and truncate back, which leaves these as they are.
	ents := e.entries[base:]
	slices.SortFunc(ents, func(a, b jsonEntry) int { return cmp.Compare(a.index, b.index) })
	j := 0
	for i := int64(narr + 1); i <= int64(n); i++ {
		dst = e.sep(dst, int(i-1), depth)
		if j < len(ents) && ents[j].index == i {
			e.r.Pos = ents[j].pos
			if dst, err = e.value(dst, depth); err != nil {
				return dst, atIndex(err, i)
			}
			for j < len(ents) && ents[j].index == i { // a key twice (a Go writer's doing)
				j++
			}
		} else {
			dst = append(dst, "null"...)
		}
	}
	e.r.Pos = end
	return e.end(dst, ']', n, depth), nil
}

func kindName(k packed.Kind) string {
	switch k {
	case packed.TagTrue, packed.TagFalse:
		return "booleans"
	case packed.TagTable, packed.TagArray:
		return "tables"
	case packed.TagNull:
		return "null"
	case packed.TagNil:
		return "nil"
	}
	return fmt.Sprintf("tag %q", byte(k))
}

func (e *jsonEncoder) object(dst []byte, narr, nrec, depth int) ([]byte, error) {
	dst = append(dst, '{')
	var err error
	for i := 0; i < narr; i++ {
		dst = e.sep(dst, i, depth)
		dst = append(dst, '"')
		dst = strconv.AppendInt(dst, int64(i+1), 10)
		dst = e.colon(append(dst, '"'))
		if dst, err = e.value(dst, depth); err != nil {
			return dst, atIndex(err, int64(i+1))
		}
	}
	for i := 0; i < nrec; i++ {
		dst = e.sep(dst, narr+i, depth)
		k, num, str, _, _, err := e.r.Next()
		if err != nil {
			return dst, err
		}
		switch k {
		case packed.TagString:
			var bad int
			if dst, bad = appendJSONString(dst, str); bad >= 0 {
				return dst, atKey(utf8Error("key", str, bad), k, str, 0)
			}
		case packed.TagInt:
			dst = append(dst, '"')
			dst = strconv.AppendInt(dst, int64(binary.LittleEndian.Uint64(e.r.B[e.r.Pos-8:])), 10)
			dst = append(dst, '"')
		case packed.TagFloat:
			dst = append(dst, '"')
			dst = appendFloat(dst, num)
			dst = append(dst, '"')
		default:
			return dst, pathErrorf("JSON object keys must be strings or numbers, not %s", kindName(k))
		}
		if dst, err = e.value(e.colon(dst), depth); err != nil {
			return dst, atKey(err, k, str, num)
		}
	}
	return e.end(dst, '}', narr+nrec, depth), nil
}

// sortedObject is object with the members in byte order of their keys.
func (e *jsonEncoder) sortedObject(dst []byte, narr, nrec, depth int) ([]byte, error) {
	base := len(e.entries)
	defer func() { e.entries = e.entries[:base] }()
	for i := 0; i < narr; i++ {
		e.entries = append(e.entries, jsonEntry{kind: packed.TagInt, key: strconv.AppendInt(nil, int64(i+1), 10), pos: e.r.Pos})
		if err := e.r.Skip(); err != nil {
			return dst, err
		}
	}
	for i := 0; i < nrec; i++ {
		k, num, str, _, _, err := e.r.Next()
		if err != nil {
			return dst, err
		}
		ent := jsonEntry{kind: k, key: str}
		switch k {
		case packed.TagString:
		case packed.TagInt:
			ent.key = strconv.AppendInt(nil, int64(binary.LittleEndian.Uint64(e.r.B[e.r.Pos-8:])), 10)
		case packed.TagFloat:
			ent.key = appendFloat(nil, num)
		default:
			return dst, pathErrorf("JSON object keys must be strings or numbers, not %s", kindName(k))
		}
		ent.pos = e.r.Pos
		e.entries = append(e.entries, ent)
		if err := e.r.Skip(); err != nil {
			return dst, err
		}
	}
	end := e.r.Pos
	ents := e.entries[base:] // see sparseArray
	slices.SortStableFunc(ents, func(a, b jsonEntry) int { return bytes.Compare(a.key, b.key) })
	dst = append(dst, '{')
	var err error
	for i, ent := range ents {
		dst = e.sep(dst, i, depth)
		if ent.kind == packed.TagString {
			var bad int
			if dst, bad = appendJSONString(dst, ent.key); bad >= 0 {
				return dst, atKey(utf8Error("key", ent.key, bad), ent.kind, ent.key, 0)
			}
		} else {
			dst = append(dst, '"')
			dst = append(dst, ent.key...)
			dst = append(dst, '"')
		}
		dst = e.colon(dst)
		e.r.Pos = ent.pos
		if dst, err = e.value(dst, depth); err != nil {
			if ent.kind == packed.TagString {
				return dst, atKey(err, ent.kind, ent.key, 0)
			}
			f, _ := strconv.ParseFloat(string(ent.key), 64)
			return dst, atKey(err, ent.kind, nil, f)
		}
	}
	e.r.Pos = end
	return e.end(dst, '}', len(ents), depth), nil
}

// appendFloat writes a finite float as encoding/json does: the shortest text that reads
// back as the same float, in exponent form only below 1e-6 and from 1e21 (so 1234567.5
// is not 1.2345675e+06).
func appendFloat(dst []byte, f float64) []byte {
	format := byte('f')
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// 1e-07 -> 1e-7, as encoding/json writes it.
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

const hexDigits = "0123456789abcdef"

// plainASCII[b] says that byte b stands for itself inside a JSON string: one table load
// per byte instead of four comparisons on the hot path of every string.
var plainASCII = func() (t [256]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = b != '"' && b != '\\'
	}
	return t
}()

// appendJSONString appends s quoted. It returns the offset of the first byte that is not
// valid UTF-8, or -1: the caller fails then, so s is never changed on the way.
func appendJSONString(dst, s []byte) ([]byte, int) {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if plainASCII[b] {
			i++
			continue
		}
		if b < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			return dst, i
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"'), -1
}

// DecodeOptions adjust FromJSON. The zero value is json_decode's behaviour.
type DecodeOptions struct {
	// Null writes JSON's null as packed.TagNull (json.null in Lua) wherever it is, so that
	// it survives in arrays and objects. Without it null is nil: a hole in an array, and no
	// member at all in an object, as assigning nil in Lua.
	Null bool
	// MaxDepth limits the nesting of arrays and objects, the root counting as one. Zero, or
	// more than packed.MaxDepth (the packed format's own limit), means packed.MaxDepth.
	MaxDepth int
}

// FromJSON parses one JSON text and writes it to w with the zero DecodeOptions: arrays
// become arrays, objects tables, null nil (see the rules above).
func FromJSON(w *packed.Writer, src []byte) error { return DecodeOptions{}.FromJSON(w, src) }

// FromJSON parses one JSON text and writes it to w, as o says. On error, w holds a partial
// value: reset it.
func (o DecodeOptions) FromJSON(w *packed.Writer, src []byte) error {
	p := jsonParser{s: src, null: o.Null, maxDepth: o.MaxDepth}
	if p.maxDepth <= 0 || p.maxDepth > packed.MaxDepth {
		p.maxDepth = packed.MaxDepth
	}
	p.skipSpace()
	if err := p.value(w, 0); err != nil {
		return err
	}
	p.skipSpace()
	if p.i != len(p.s) {
		return p.errorf("unexpected data after the value")
	}
	return nil
}

type jsonParser struct {
	s        []byte
	i        int
	buf      []byte
	null     bool
	maxDepth int
}

func (p *jsonParser) errorf(format string, args ...any) error {
	return fmt.Errorf("invalid JSON at offset %d: %s", p.i, fmt.Sprintf(format, args...))
}

func (p *jsonParser) skipSpace() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonParser) literal(lit string) error {
	if len(p.s)-p.i < len(lit) || string(p.s[p.i:p.i+len(lit)]) != lit {
		return p.errorf("unexpected character")
	}
	p.i += len(lit)
	return nil
}

// value parses the next value; depth is the number of arrays and objects around it.
func (p *jsonParser) value(w *packed.Writer, depth int) error {
	if p.i >= len(p.s) {
		return p.errorf("unexpected end of input")
	}
	switch c := p.s[p.i]; {
	case c == '{' || c == '[':
		if depth >= p.maxDepth {
			return p.errorf("nesting too deep (more than %d levels)", p.maxDepth)
		}
		if c == '{' {
			return p.object(w, depth+1)
		}
		return p.array(w, depth+1)
	case c == '"':
		s, err := p.str()
		if err != nil {
			return err
		}
		w.Bytes(s)
		return nil
	case c == 't':
		w.Bool(true)
		return p.literal("true")
	case c == 'f':
		w.Bool(false)
		return p.literal("false")
	case c == 'n':
		if p.null {
			w.Null()
		} else {
			w.Nil()
		}
		return p.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number(w)
	default:
		return p.errorf("unexpected character %q", c)
	}
}

func (p *jsonParser) number(w *packed.Writer) error {
	start := p.i
	// Fast path: a short integer (most numbers in JSON) is written as is, without
	// ParseFloat; 15 digits stay below 2^53, where Number would write an Int all the same.
	i, neg := start, p.s[start] == '-'
	if neg {
		i++
	}
	digits := i
	var n int64
	for i < len(p.s) && p.s[i] >= '0' && p.s[i] <= '9' && i-digits < 16 {
		n = n*10 + int64(p.s[i]-'0')
		i++
	}
	if nd := i - digits; nd > 0 && nd <= 15 && (p.s[digits] != '0' || nd == 1) &&
		(i == len(p.s) || !isNumberByte(p.s[i])) {
		if neg {
			n = -n
		}
		w.Int(n)
		p.i = i
		return nil
	}
	for p.i < len(p.s) && isNumberByte(p.s[p.i]) {
		p.i++
	}
	num := p.s[start:p.i]
	f, err := strconv.ParseFloat(string(num), 64)
	if err != nil || !jsonNumber(num) {
		p.i = start
		return p.errorf("bad number")
	}
	w.Number(f)
	return nil
}

// array parses an array at depth (its own level) into an array value, whose elements keep
// their positions: a null is nil or packed.TagNull, never dropped.
func (p *jsonParser) array(w *packed.Writer, depth int) error {
	p.i++ // [
	at := w.ArrayAt()
	n := 0
	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == ']' {
		p.i++
		return nil
	}
	for {
		p.skipSpace()
		if err := p.value(w, depth); err != nil {
			return err
		}
		n++
		p.skipSpace()
		if p.i >= len(p.s) {
			return p.errorf("unexpected end of input in array")
		}
		if p.s[p.i] == ',' {
			p.i++
			continue
		}
		if p.s[p.i] == ']' {
			p.i++
			w.SetLen(at, n)
			return nil
		}
		return p.errorf("expected ',' or ']'")
	}
}

func (p *jsonParser) object(w *packed.Writer, depth int) error {
	p.i++ // {
	at := w.TableAt()
	n := 0
	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
		return nil
	}
	for {
		p.skipSpace()
		if p.i >= len(p.s) || p.s[p.i] != '"' {
			return p.errorf("expected a string key")
		}
		k, err := p.str()
		if err != nil {
			return err
		}
		p.skipSpace()
		if p.i >= len(p.s) || p.s[p.i] != ':' {
			return p.errorf("expected ':'")
		}
		p.i++
		p.skipSpace()
		mark := len(w.B)
		w.Bytes(k)
		vmark := len(w.B)
		if err := p.value(w, depth); err != nil {
			return err
		}
		if len(w.B) == vmark+1 && w.B[vmark] == packed.TagNil {
			w.B = w.B[:mark] // {"a": null} without Null: no entry, as assigning nil in Lua
		} else {
			n++
		}
		p.skipSpace()
		if p.i >= len(p.s) {
			return p.errorf("unexpected end of input in object")
		}
		if p.s[p.i] == ',' {
			p.i++
			continue
		}
		if p.s[p.i] == '}' {
			p.i++
			w.SetCounts(at, 0, n)
			return nil
		}
		return p.errorf("expected ',' or '}'")
	}
}

func (p *jsonParser) str() ([]byte, error) {
	start := p.i + 1 // after the opening quote
	// Fast path, a string without escapes (locals, not p's fields: the loop runs per byte).
	s, i := p.s, start
	for i < len(s) {
		c := s[i]
		if c == '"' {
			p.i = i + 1
			return s[start:i], nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			p.i = i
			return nil, p.errorf("control character in string")
		}
		i++
	}
	p.i = i
	// Slow path: escapes.
	p.buf = append(p.buf[:0], p.s[start:p.i]...)
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			return p.buf, nil
		case c < 0x20:
			return nil, p.errorf("control character in string")
		case c != '\\':
			p.buf = append(p.buf, c)
			p.i++
			continue
		}
		p.i++
		if p.i >= len(p.s) {
			break
		}
		e := p.s[p.i]
		p.i++
		switch e {
		case '"', '\\', '/':
			p.buf = append(p.buf, e)
		case 'b':
			p.buf = append(p.buf, '\b')
		case 'f':
			p.buf = append(p.buf, '\f')
		case 'n':
			p.buf = append(p.buf, '\n')
		case 'r':
			p.buf = append(p.buf, '\r')
		case 't':
			p.buf = append(p.buf, '\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return nil, p.errorf("bad \\u escape")
			}
			if utf16.IsSurrogate(r) {
				// A high surrogate pairs with a following \u low surrogate; anything else
				// (a lone surrogate) becomes U+FFFD, and what follows is read on its own.
				paired := false
				if r < 0xDC00 && p.i+1 < len(p.s) && p.s[p.i] == '\\' && p.s[p.i+1] == 'u' {
					save := p.i
					p.i += 2
					if r2, ok := p.hex4(); ok && r2 >= 0xDC00 && r2 < 0xE000 {
						r = utf16.DecodeRune(r, r2)
						paired = true
					} else {
						p.i = save
					}
				}
				if !paired {
					r = utf8.RuneError
				}
			}
			p.buf = utf8.AppendRune(p.buf, r)
		default:
			return nil, p.errorf("bad escape \\%c", e)
		}
	}
	return nil, p.errorf("unterminated string")
}

func (p *jsonParser) hex4() (rune, bool) {
	if p.i+4 > len(p.s) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(p.s[p.i:p.i+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	p.i += 4
	return rune(v), true
}

// isNumberByte reports whether c may continue a number (number's slow path reads them all).
func isNumberByte(c byte) bool {
	return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}

// jsonNumber reports whether b follows JSON's number grammar, which is stricter than
// ParseFloat: no leading zeros, digits on both sides of '.', no '+' sign.
func jsonNumber(b []byte) bool {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(b) && b[i] == '0' {
		i++
	} else if digits() == 0 {
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(b)
}
