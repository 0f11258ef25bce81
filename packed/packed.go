// Package packed is the format in which Lua values cross the cgo boundary, and in which
// they travel between nodes.
//
// Crossing cgo costs ~27 ns a call, so a callback's arguments are not pushed one Lua API call
// at a time: Go writes them into one buffer with a Writer and C decodes the whole buffer in
// one call (cgo/clua.c, decode_one). The other way, C walks a Lua value into the same format
// and Go reads it with a Reader. RPC messages are this format as is.
//
// The format is a sequence of values, each a one-byte tag then its payload, little-endian:
//
//	'n' nil            't' true           'f' false
//	'i' int64          'd' float64        's' u32 length, bytes
//	'{' u32 narr, u32 nrec, then narr values (keys 1..narr), then nrec key/value pairs
//	'[' u32 n, then n values: an array, keys 1..n ('n' for a hole)
//	'N' null: JSON's null, which Lua holds as json.null (a NULL lightuserdata)
//
// Push-only tags, which only Go writes and only for C to decode:
//
//	'o' u32 metatable ref, u32 class, u64 id: a Go object (userdata) of a class
//	'O' the same, then u64 data: an object with C-side state (fast methods: cgo's FastObj)
//	'r' u32 ref: the value in the Lua registry at ref
//	'M' u32 ref: a prefix: the value that follows gets the metatable at ref
//
// Integral numbers below 2^53 are written as 'i' and others as 'd', so integers stay exact
// when a message is decoded by another language or JSON, and empty tables stay tables.
//
// Arrays and null exist so that JSON survives the trip through Lua: a decoded JSON array
// must encode as an array again, even when it is empty or has null elements. In Lua an
// array is a table whose metatable is the array metatable (json.array_mt), which every
// state has in its registry from the start. C pushes '[' as a table with that metatable,
// and writes '[' for such a table when its keys are exactly integers 1..n, with holes only
// as sparse as JSON allows (n <= SparseSafe or n <= SparseRatio times the entries); any
// other table, marked or not, is written as '{' so that no key is ever lost on the way.
// json.empty_array (a lightuserdata) is written as '[' with n = 0. 'N' and '[' are not
// push-only: RPC messages carry them, and Validate accepts them.
//
// A value nests at most MaxDepth tables deep (the root counts as one): C's encoder refuses
// deeper values and Validate rejects them, so that C, which decodes recursively, never
// recurses deeper on input from the network.
package packed

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Tags of the format.
const (
	TagNil        = 'n'
	TagTrue       = 't'
	TagFalse      = 'f'
	TagInt        = 'i'
	TagFloat      = 'd'
	TagString     = 's'
	TagTable      = '{'
	TagArray      = '['
	TagNull       = 'N'
	TagObject     = 'o'
	TagObjectData = 'O'
	TagRef        = 'r'
	TagMeta       = 'M'
)

// MaxDepth is how many tables deep a value may nest, the root included (cgo/clua.h's
// CLUA_MAXDEPTH is the same number).
const MaxDepth = 200

// SparseSafe and SparseRatio say how sparse an array may be (cgo/clua.h's CLUA_SPARSE_*
// are the same numbers): a table whose keys are integers 1..n with holes is an array when
// n <= SparseSafe or n <= SparseRatio times its number of entries, as lua-cjson's
// encode_sparse_array defaults have it. Beyond, a hole-filled array would be mostly nulls
// (and {[1e9] = 1} a gigabyte of them).
const (
	SparseSafe  = 10
	SparseRatio = 2
)

// SparseOK reports whether an array of length n with entries non-nil elements is dense
// enough to be written as an array.
func SparseOK(n, entries int64) bool { return n <= SparseSafe || n <= SparseRatio*entries }

var (
	// ErrMalformed is returned by a Reader for a buffer that does not follow the format.
	ErrMalformed = errors.New("packed: malformed buffer")
	// ErrTooDeep is returned by Validate and Skip for tables nested deeper than MaxDepth.
	ErrTooDeep = errors.New("packed: tables nested too deep")
)

// MaxString is the longest string the format carries: LuaJIT's own limit on a string
// (LJ_MAX_STR, just under 2 GiB). Lengths are 32 bits on the wire; a longer string could
// not become a Lua value anyway.
const MaxString = 0x7fffff00

// ErrTooLarge is the cause of a Writer's error for a value the format cannot carry.
var ErrTooLarge = errors.New("packed: too large for a Lua value")

// Writer appends values to a buffer. The zero value is ready to use; Reset keeps the
// buffer's memory, so a Writer reused per call allocates nothing once warm.
type Writer struct {
	B []byte
	// Err is the first value the format could not carry (a string longer than MaxString),
	// wrapping ErrTooLarge. That value was written as an empty string and the rest as
	// asked, so the buffer stays well formed; whoever hands the buffer to Lua checks Err
	// and reports it instead (the engine gives the callback the error).
	Err error
}

// Reset empties the buffer, keeping its capacity, and clears Err.
func (w *Writer) Reset() {
	w.B = w.B[:0]
	w.Err = nil
}

// tooLarge records the first value that does not fit.
func (w *Writer) tooLarge(what string, n int) {
	if w.Err == nil {
		w.Err = fmt.Errorf("%w: a %s of %d bytes (at most %d)", ErrTooLarge, what, n, MaxString)
	}
}

// Len is the number of bytes written.
func (w *Writer) Len() int { return len(w.B) }

// Nil writes nil.
func (w *Writer) Nil() { w.B = append(w.B, TagNil) }

// Bool writes a boolean.
func (w *Writer) Bool(b bool) {
	if b {
		w.B = append(w.B, TagTrue)
	} else {
		w.B = append(w.B, TagFalse)
	}
}

// Int writes an integer.
func (w *Writer) Int(v int64) {
	w.B = append(w.B, TagInt)
	w.B = binary.LittleEndian.AppendUint64(w.B, uint64(v))
}

// Number writes a float64, as an integer when it is one (see the package doc).
func (w *Writer) Number(f float64) {
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		w.Int(int64(f))
		return
	}
	w.B = append(w.B, TagFloat)
	w.B = binary.LittleEndian.AppendUint64(w.B, math.Float64bits(f))
}

// String writes a string (an empty one, setting Err, when it is longer than MaxString).
func (w *Writer) String(s string) {
	if len(s) > MaxString {
		w.tooLarge("string", len(s))
		s = ""
	}
	w.B = append(w.B, TagString)
	w.B = binary.LittleEndian.AppendUint32(w.B, uint32(len(s)))
	w.B = append(w.B, s...)
}

// Bytes writes a byte slice as a Lua string (as String does for one that is too long).
func (w *Writer) Bytes(b []byte) {
	if len(b) > MaxString {
		w.tooLarge("string", len(b))
		b = nil
	}
	w.B = append(w.B, TagString)
	w.B = binary.LittleEndian.AppendUint32(w.B, uint32(len(b)))
	w.B = append(w.B, b...)
}

// Null writes JSON's null (json.null in Lua).
func (w *Writer) Null() { w.B = append(w.B, TagNull) }

// Table starts a table of narr array values followed by nrec key/value pairs; the caller
// then writes exactly that many values. Counts beyond 32 bits set Err (the caller writing
// that many values would have run out of memory first).
func (w *Writer) Table(narr, nrec int) {
	if uint64(narr) > math.MaxUint32 || uint64(nrec) > math.MaxUint32 {
		w.tooLarge("table", max(narr, nrec))
	}
	w.B = append(w.B, TagTable)
	w.B = binary.LittleEndian.AppendUint32(w.B, uint32(narr))
	w.B = binary.LittleEndian.AppendUint32(w.B, uint32(nrec))
}

// TableAt starts a table whose counts are not known yet; SetCounts fills them in later.
// It returns the header's offset.
func (w *Writer) TableAt() int {
	at := len(w.B)
	w.Table(0, 0)
	return at
}

// SetCounts fills in the counts of a table started with TableAt.
func (w *Writer) SetCounts(at, narr, nrec int) {
	binary.LittleEndian.PutUint32(w.B[at+1:], uint32(narr))
	binary.LittleEndian.PutUint32(w.B[at+5:], uint32(nrec))
}

// Array starts an array of n elements (Lua: a table with the array metatable); the caller
// then writes exactly n values, nil for a hole.
func (w *Writer) Array(n int) {
	w.B = append(w.B, TagArray)
	w.B = binary.LittleEndian.AppendUint32(w.B, uint32(n))
}

// ArrayAt starts an array whose length is not known yet; SetLen fills it in later. It
// returns the header's offset.
func (w *Writer) ArrayAt() int {
	at := len(w.B)
	w.Array(0)
	return at
}

// SetLen fills in the length of an array started with ArrayAt.
func (w *Writer) SetLen(at, n int) {
	binary.LittleEndian.PutUint32(w.B[at+1:], uint32(n))
}

// Field writes a string key and string value pair (a convenience for records).
func (w *Writer) Field(k, v string) {
	w.String(k)
	w.String(v)
}

// Object writes a Go object of class cls with id, whose metatable is at registry ref mt.
func (w *Writer) Object(mt int32, cls uint32, id uint64) {
	w.B = append(w.B, TagObject)
	w.B = binary.LittleEndian.AppendUint32(w.B, uint32(mt))
	w.B = binary.LittleEndian.AppendUint32(w.B, cls)
	w.B = binary.LittleEndian.AppendUint64(w.B, id)
}

// ObjectData writes an object like Object, with a pointer to its C-side state.
func (w *Writer) ObjectData(mt int32, cls uint32, id, data uint64) {
	w.B = append(w.B, TagObjectData)
	w.B = binary.LittleEndian.AppendUint32(w.B, uint32(mt))
	w.B = binary.LittleEndian.AppendUint32(w.B, cls)
	w.B = binary.LittleEndian.AppendUint64(w.B, id)
	w.B = binary.LittleEndian.AppendUint64(w.B, data)
}

// Ref writes the value held in the Lua registry at ref.
func (w *Writer) Ref(ref int32) {
	w.B = append(w.B, TagRef)
	w.B = binary.LittleEndian.AppendUint32(w.B, uint32(ref))
}

// Meta gives the value written next the metatable at registry ref mt.
func (w *Writer) Meta(mt int32) {
	w.B = append(w.B, TagMeta)
	w.B = binary.LittleEndian.AppendUint32(w.B, uint32(mt))
}

// Raw appends an already encoded value (for example an RPC message).
func (w *Writer) Raw(b []byte) { w.B = append(w.B, b...) }

// Reader reads values from a buffer produced by C or by a Writer (without push-only tags).
type Reader struct {
	B   []byte
	Pos int
}

// Kind is what the next value is.
type Kind byte

// Peek returns the tag of the next value, or 0 at the end.
func (r *Reader) Peek() Kind {
	if r.Pos >= len(r.B) {
		return 0
	}
	return Kind(r.B[r.Pos])
}

// Done reports whether the buffer is consumed.
func (r *Reader) Done() bool { return r.Pos >= len(r.B) }

func (r *Reader) need(n int) error {
	if r.Pos+n > len(r.B) {
		return ErrMalformed
	}
	return nil
}

// Next reads the next scalar or table header. For a table, narr and nrec are set and the
// caller reads the elements next; for an array (TagArray), narr is its length and nrec 0.
// The string is a view into the buffer.
func (r *Reader) Next() (k Kind, num float64, str []byte, narr, nrec int, err error) {
	if err = r.need(1); err != nil {
		return
	}
	k = Kind(r.B[r.Pos])
	r.Pos++
	switch k {
	case TagNil, TagTrue, TagFalse, TagNull:
	case TagInt:
		if err = r.need(8); err != nil {
			return
		}
		num = float64(int64(binary.LittleEndian.Uint64(r.B[r.Pos:])))
		r.Pos += 8
	case TagFloat:
		if err = r.need(8); err != nil {
			return
		}
		num = math.Float64frombits(binary.LittleEndian.Uint64(r.B[r.Pos:]))
		r.Pos += 8
	case TagString:
		if err = r.need(4); err != nil {
			return
		}
		n := int(binary.LittleEndian.Uint32(r.B[r.Pos:]))
		r.Pos += 4
		if err = r.need(n); err != nil {
			return
		}
		str = r.B[r.Pos : r.Pos+n]
		r.Pos += n
	case TagTable:
		if err = r.need(8); err != nil {
			return
		}
		narr = int(binary.LittleEndian.Uint32(r.B[r.Pos:]))
		nrec = int(binary.LittleEndian.Uint32(r.B[r.Pos+4:]))
		r.Pos += 8
	case TagArray:
		if err = r.need(4); err != nil {
			return
		}
		narr = int(binary.LittleEndian.Uint32(r.B[r.Pos:]))
		r.Pos += 4
	default:
		err = ErrMalformed
	}
	return
}

// Skip skips one whole value. It fails with ErrTooDeep for tables nested deeper than
// MaxDepth, so that hostile input cannot make it recurse without bound.
func (r *Reader) Skip() error { return r.skip(1) }

// skip skips a value whose tables, if any, are at nesting depth.
func (r *Reader) skip(depth int) error {
	k, _, _, narr, nrec, err := r.Next()
	if err != nil || (k != TagTable && k != TagArray) {
		return err
	}
	if depth > MaxDepth {
		return ErrTooDeep
	}
	// Every element takes at least one byte: a count beyond what is left is malformed,
	// found here at once instead of after skipping what there is.
	if n := narr + 2*nrec; n < 0 || n > len(r.B)-r.Pos {
		return ErrMalformed
	}
	for i := 0; i < narr+2*nrec; i++ {
		if err := r.skip(depth + 1); err != nil {
			return err
		}
	}
	return nil
}

// Validate checks that b is a sequence of well-formed values without push-only tags and
// nested at most MaxDepth deep, so that it is safe to hand to C (which trusts its input).
// Messages from the network are validated before they are pushed.
func Validate(b []byte) error {
	r := Reader{B: b}
	for !r.Done() {
		if err := r.Skip(); err != nil {
			return err
		}
	}
	return nil
}

// ValidateOne is Validate for exactly one value.
func ValidateOne(b []byte) error {
	r := Reader{B: b}
	if err := r.Skip(); err != nil {
		return err
	}
	if !r.Done() {
		return ErrMalformed
	}
	return nil
}
