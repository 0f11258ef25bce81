package sql

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/engine/value"
	"github.com/drlee/drlee/packed"
)

// Lua values -> driver arguments, on the loop.

// typeLightUserdata is lua_type's code of json.null and json.empty_array.
const typeLightUserdata = 2

// callFrameArgs is cgo's CLUA_MAXARGS: the arguments a Call holds in its frame.
const callFrameArgs = 8

// maxExactInt is 2^53: Lua numbers (doubles) hold every integer up to it exactly, and
// integers beyond it come back as strings (see writeCell).
const maxExactInt = 1 << 53

// maxMilliunix bounds a Timestamp parameter to years 0001..9999, which both drivers take.
const (
	minMilliunix = -62135596800000 // 0001-01-01T00:00:00Z
	maxMilliunix = 253402300799999 // 9999-12-31T23:59:59.999Z
)

// The argument types given to pgx: each encodes itself as the parameter's type asks, so that
// one Lua string can fill a text, a bytea (binary-safe: sent as bytes, never parsed as
// bytea's text escapes), a jsonb, a numeric or a uuid parameter, and one Lua integer an
// int4, an int8, a float8, a numeric or a text one. pgx tries the binary format the type
// prefers first, then text (TextValue), which PostgreSQL parses as the type's input.
type (
	pgString string
	pgInt    int64
	pgFloat  float64
)

func (s pgString) TextValue() (pgtype.Text, error) {
	return pgtype.Text{String: string(s), Valid: true}, nil
}
func (s pgString) BytesValue() ([]byte, error) { return []byte(s), nil }
func (v pgInt) Int64Value() (pgtype.Int8, error) {
	return pgtype.Int8{Int64: int64(v), Valid: true}, nil
}
func (v pgInt) TextValue() (pgtype.Text, error) {
	return pgtype.Text{String: strconv.FormatInt(int64(v), 10), Valid: true}, nil
}
func (v pgFloat) Float64Value() (pgtype.Float8, error) {
	return pgtype.Float8{Float64: float64(v), Valid: true}, nil
}
func (v pgFloat) TextValue() (pgtype.Text, error) {
	return pgtype.Text{String: formatFloat(float64(v)), Valid: true}, nil
}

func formatFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// readArgs converts arguments from..to (inclusive) of c into driver values. A value that
// cannot be a parameter raises an argument error naming it.
func readArgs(c *engine.Call, from, to int, pg bool) []any {
	if to < from {
		return nil
	}
	args := make([]any, 0, to-from+1)
	for i := from; i <= to; i++ {
		args = append(args, readArg(c, i, pg))
	}
	return args
}

func readArg(c *engine.Call, i int, pg bool) any {
	switch t := c.Type(i); t {
	case engine.TypeNil, engine.TypeNone:
		return nil
	case engine.TypeBoolean:
		if i > callFrameArgs {
			// Call.Bool reads arguments past the call frame's 8 with lua_tonumber, which
			// gives 0 for true: the packed form is right.
			v, _ := packedArg(c.Encode(i), pg)
			return v
		}
		return c.Bool(i)
	case engine.TypeNumber:
		return numberArg(c.CheckNumber(i), pg)
	case engine.TypeString:
		return stringArg(c.CheckBytes(i), pg)
	case engine.TypeTable, typeLightUserdata:
		v, err := packedArg(c.Encode(i), pg)
		if err != nil {
			c.ArgError(i, err.Error())
		}
		return v
	default:
		c.ArgError(i, "a "+typeName(t)+" cannot be an SQL parameter (nil, json.null, booleans, numbers, strings and Timestamps can)")
	}
	return nil
}

func typeName(t int) string {
	switch t {
	case engine.TypeFunction:
		return "function"
	case engine.TypeUserdata:
		return "userdata"
	}
	return "value of this type"
}

// numberArg is an integral number as an integer (every integral double within ±2^63 is
// one, exactly), any other as a float. -0 stays a float.
func numberArg(f float64, pg bool) any {
	if f == math.Trunc(f) && f >= -(1<<63) && f < 1<<63 && !(f == 0 && math.Signbit(f)) {
		if pg {
			return pgInt(int64(f))
		}
		return int64(f)
	}
	if pg {
		return pgFloat(f)
	}
	return f
}

// stringArg copies a Lua string (its bytes are Lua's, valid only during the call). For
// SQLite, valid UTF-8 is TEXT and anything else a BLOB, so that binary data is stored as
// it is.
func stringArg(b []byte, pg bool) any {
	if pg {
		return pgString(b)
	}
	if utf8.Valid(b) {
		return string(b)
	}
	return append([]byte(nil), b...)
}

var errTableArg = errors.New("a table cannot be an SQL parameter, except a Timestamp (with milliunix, as time.now() gives): encode others first (json.encode for a json column)")

// packedArg converts one packed value (what C encodes of a Lua argument) into a driver
// value: the scalars as readArg does, json.null as NULL, a Timestamp (a table with an
// integral milliunix in years 1 to 9999) as a time. Anything else is an error.
func packedArg(b []byte, pg bool) (any, error) {
	r := packed.Reader{B: b}
	k, num, str, narr, nrec, err := r.Next()
	if err != nil {
		return nil, err
	}
	switch k {
	case packed.TagNil, packed.TagNull:
		return nil, nil
	case packed.TagTrue:
		return true, nil
	case packed.TagFalse:
		return false, nil
	case packed.TagInt, packed.TagFloat:
		return numberArg(num, pg), nil
	case packed.TagString:
		return stringArg(str, pg), nil
	case packed.TagArray:
		if narr == 0 {
			return nil, errors.New("json.empty_array cannot be an SQL parameter (json.encode it for a json column)")
		}
		return nil, errTableArg
	case packed.TagTable:
		if narr > 0 || nrec == 0 {
			return nil, errTableArg
		}
		v, err := packed.Decode(b)
		if err != nil {
			return nil, errTableArg
		}
		m, _ := v.(map[any]any)
		ms, ok := m["milliunix"].(float64)
		if !ok {
			return nil, errTableArg
		}
		if ms != math.Trunc(ms) || ms < minMilliunix || ms > maxMilliunix {
			return nil, fmt.Errorf("a Timestamp's milliunix must be an integer from %d to %d (years 1 to 9999)", int64(minMilliunix), int64(maxMilliunix))
		}
		return time.UnixMilli(int64(ms)).UTC(), nil
	}
	return nil, errTableArg
}

// Rows -> Lua, on the loop.

// jsonText is a json or jsonb value as PostgreSQL sent it: decoded as json.decode does.
type jsonText []byte

// result is what a query returned, made on the pool: the column names and the cells of
// every row, row after row, normalised by the driver's code to the kinds writeCell knows.
type result struct {
	cols  []string
	cells []any
}

// writeRows writes res as a Lua array of rows, each a table keyed by column name. ts
// writes a Timestamp.
func writeRows(out *packed.Writer, res *result, ts func(*packed.Writer, time.Time)) {
	n := len(res.cols)
	rows := 0
	if n > 0 {
		rows = len(res.cells) / n
	}
	out.Array(rows)
	for r := 0; r < rows; r++ {
		out.Table(0, n)
		for i, name := range res.cols {
			out.String(name)
			writeCell(out, res.cells[r*n+i], ts)
		}
	}
}

// writeCell writes one value: NULL as json.null (so that the column stays in the row),
// integers as numbers while they are exact (|v| <= 2^53) and as their decimal strings
// beyond, floats, strings and bytes, booleans, times as Timestamps, JSON decoded (null as
// json.null; JSON that does not parse as its text), lists (PostgreSQL arrays) as arrays.
func writeCell(out *packed.Writer, v any, ts func(*packed.Writer, time.Time)) {
	switch v := v.(type) {
	case nil:
		out.Null()
	case int64:
		if v >= -maxExactInt && v <= maxExactInt {
			out.Int(v)
		} else {
			out.String(formatInt(v))
		}
	case float64:
		out.Number(v)
	case string:
		out.String(v)
	case []byte:
		out.Bytes(v)
	case bool:
		out.Bool(v)
	case time.Time:
		ts(out, v)
	case jsonText:
		at := len(out.B)
		if err := (value.DecodeOptions{Null: true}).FromJSON(out, v); err != nil {
			out.B = out.B[:at]
			out.Bytes(v)
		}
	case []any:
		out.Array(len(v))
		for _, e := range v {
			writeCell(out, e, ts)
		}
	default:
		out.String(fmt.Sprint(v)) // not reached: the drivers' code normalises every value
	}
}

func formatInt(v int64) string { return strconv.FormatInt(v, 10) }
