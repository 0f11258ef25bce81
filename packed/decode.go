package packed

import "errors"

// ErrTableKey is returned by Decode for a table with a table as a key.
var ErrTableKey = errors.New("packed: a table key cannot be decoded")

// NullValue is the type of Null.
type NullValue struct{}

// Null is what Decode returns for JSON's null (TagNull, json.null in Lua), and what Encode
// writes as TagNull: unlike nil, it survives in arrays and as a table value.
var Null NullValue

// Decode reads the first value of b as plain Go values: nil, bool, float64, string, Null,
// []any for an array (TagArray, nil for a hole) or a table with only array entries (tables
// that are empty included), and map[any]any for any other table (array entries keyed by
// float64 index). Encode writes every []any back as a plain table: the array mark is for
// JSON, not for Go callers. It is meant for small option tables, not hot paths.
func Decode(b []byte) (any, error) {
	r := Reader{B: b}
	return decode(&r, 1)
}

func decode(r *Reader, depth int) (any, error) {
	k, num, str, narr, nrec, err := r.Next()
	if err != nil {
		return nil, err
	}
	if k == TagTable || k == TagArray {
		// As Skip checks: no allocation sized by a count the buffer cannot hold.
		if depth > MaxDepth {
			return nil, ErrTooDeep
		}
		if narr+2*nrec > len(r.B)-r.Pos {
			return nil, ErrMalformed
		}
	}
	switch k {
	case TagNil:
		return nil, nil
	case TagTrue:
		return true, nil
	case TagFalse:
		return false, nil
	case TagInt, TagFloat:
		return num, nil
	case TagString:
		return string(str), nil
	case TagNull:
		return Null, nil
	}
	if nrec == 0 {
		list := make([]any, narr)
		for i := range list {
			if list[i], err = decode(r, depth+1); err != nil {
				return nil, err
			}
		}
		return list, nil
	}
	m := make(map[any]any, narr+nrec)
	for i := 0; i < narr; i++ {
		v, err := decode(r, depth+1)
		if err != nil {
			return nil, err
		}
		m[float64(i+1)] = v
	}
	for i := 0; i < nrec; i++ {
		key, err := decode(r, depth+1)
		if err != nil {
			return nil, err
		}
		switch key.(type) {
		case []any, map[any]any:
			// Lua allows it; a Go map cannot hold it (a panic, not an error, otherwise).
			return nil, ErrTableKey
		}
		v, err := decode(r, depth+1)
		if err != nil {
			return nil, err
		}
		// nil and NaN cannot be keys in Lua: dropped with their value, as C drops them.
		if f, isNum := key.(float64); key != nil && (!isNum || f == f) {
			m[key] = v
		}
	}
	return m, nil
}

// Encode writes a Go value made by Decode (or of the same kinds, plus int, int64 and
// []byte) to w. Other types are written as nil.
func Encode(w *Writer, v any) {
	switch v := v.(type) {
	case nil:
		w.Nil()
	case NullValue:
		w.Null()
	case bool:
		w.Bool(v)
	case float64:
		w.Number(v)
	case int:
		w.Int(int64(v))
	case int64:
		w.Int(v)
	case string:
		w.String(v)
	case []byte:
		w.Bytes(v)
	case []any:
		w.Table(len(v), 0)
		for _, e := range v {
			Encode(w, e)
		}
	case map[any]any:
		w.Table(0, len(v))
		for k, e := range v {
			Encode(w, k)
			Encode(w, e)
		}
	case map[string]any:
		w.Table(0, len(v))
		for k, e := range v {
			w.String(k)
			Encode(w, e)
		}
	default:
		w.Nil()
	}
}
