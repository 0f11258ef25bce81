package value

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// ToJSON appends the JSON text of the first value in src to dst.
//
// A table whose keys are exactly 1..n is an array; any other table is an object, with
// number keys written as strings; an empty table is {}. Strings that are not valid UTF-8
// have the bad bytes replaced by U+FFFD, as encoding/json does. NaN and infinities, and
// boolean keys, are errors.
func ToJSON(dst, src []byte) ([]byte, error) {
	r := Reader{B: src}
	return toJSON(dst, &r, 0)
}

const maxJSONDepth = 200

func toJSON(dst []byte, r *Reader, depth int) ([]byte, error) {
	k, num, str, narr, nrec, err := r.Next()
	if err != nil {
		return dst, err
	}
	switch k {
	case TagNil:
		return append(dst, "null"...), nil
	case TagTrue:
		return append(dst, "true"...), nil
	case TagFalse:
		return append(dst, "false"...), nil
	case TagInt:
		// The exact int64 from the buffer: num, a float64, cannot hold all of them.
		return strconv.AppendInt(dst, int64(binary.LittleEndian.Uint64(r.B[r.Pos-8:])), 10), nil
	case TagFloat:
		if math.IsNaN(num) || math.IsInf(num, 0) {
			return dst, fmt.Errorf("cannot encode %v in JSON", num)
		}
		return strconv.AppendFloat(dst, num, 'g', -1, 64), nil
	case TagString:
		return appendJSONString(dst, str), nil
	case TagTable:
	default:
		return dst, ErrMalformed
	}
	if depth > maxJSONDepth {
		return dst, errors.New("nesting too deep")
	}
	if nrec == 0 && narr > 0 {
		dst = append(dst, '[')
		for i := 0; i < narr; i++ {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, err = toJSON(dst, r, depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	}
	dst = append(dst, '{')
	for i := 0; i < narr; i++ {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = strconv.AppendInt(dst, int64(i+1), 10)
		dst = append(dst, '"', ':')
		if dst, err = toJSON(dst, r, depth+1); err != nil {
			return dst, err
		}
	}
	for i := 0; i < nrec; i++ {
		if i > 0 || narr > 0 {
			dst = append(dst, ',')
		}
		k, num, str, _, _, err := r.Next()
		if err != nil {
			return dst, err
		}
		switch k {
		case TagString:
			dst = appendJSONString(dst, str)
		case TagInt:
			dst = append(dst, '"')
			dst = strconv.AppendInt(dst, int64(num), 10)
			dst = append(dst, '"')
		case TagFloat:
			dst = append(dst, '"')
			dst = strconv.AppendFloat(dst, num, 'g', -1, 64)
			dst = append(dst, '"')
		default:
			return dst, errors.New("JSON object keys must be strings or numbers")
		}
		dst = append(dst, ':')
		if dst, err = toJSON(dst, r, depth+1); err != nil {
			return dst, err
		}
	}
	return append(dst, '}'), nil
}

const hexDigits = "0123456789abcdef"

func appendJSONString(dst, s []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
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
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// FromJSON parses one JSON text and writes it to w: objects and arrays become tables, null
// becomes nil (so it disappears from tables, as in most Lua JSON libraries).
func FromJSON(w *Writer, src []byte) error {
	p := jsonParser{s: src}
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
	s   []byte
	i   int
	buf []byte
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

func (p *jsonParser) value(w *Writer, depth int) error {
	if depth > maxJSONDepth {
		return p.errorf("nesting too deep")
	}
	if p.i >= len(p.s) {
		return p.errorf("unexpected end of input")
	}
	switch c := p.s[p.i]; {
	case c == '{':
		return p.object(w, depth)
	case c == '[':
		return p.array(w, depth)
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
		w.Nil()
		return p.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number(w)
	default:
		return p.errorf("unexpected character %q", c)
	}
}

func (p *jsonParser) number(w *Writer) error {
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		if (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
			p.i++
			continue
		}
		break
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

func (p *jsonParser) array(w *Writer, depth int) error {
	p.i++ // [
	at := w.TableAt()
	n := 0
	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == ']' {
		p.i++
		return nil
	}
	for {
		p.skipSpace()
		// null elements would leave holes; keep them as nil so positions are preserved
		// up to the border Lua sees.
		if err := p.value(w, depth+1); err != nil {
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
			w.SetCounts(at, n, 0)
			return nil
		}
		return p.errorf("expected ',' or ']'")
	}
}

func (p *jsonParser) object(w *Writer, depth int) error {
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
		if err := p.value(w, depth+1); err != nil {
			return err
		}
		if len(w.B) == vmark+1 && w.B[vmark] == TagNil {
			w.B = w.B[:mark] // {"a": null}: no entry, as assigning nil in Lua
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
	p.i++ // opening quote
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == '"' {
			s := p.s[start:p.i]
			p.i++
			return s, nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return nil, p.errorf("control character in string")
		}
		p.i++
	}
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
