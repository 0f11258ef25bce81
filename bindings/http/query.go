package http

import (
	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/packed"
)

// Query strings and application/x-www-form-urlencoded bodies: req.query and req:form.
//
// The format is the one browsers send (the WHATWG URL standard's
// application/x-www-form-urlencoded parser), read leniently:
//
//   - fields are separated by "&" (";" is an ordinary byte, as in Go's net/url since 1.17);
//     empty fields ("a=1&&b=2", a trailing "&") are skipped;
//   - a field is name=value, split at the first "="; a field with no "=" is a name with the
//     value "" ("?debug" gives debug = "");
//   - "+" is a space, "%XX" (two hex digits, any case) is that byte; a "%" not followed by two
//     hex digits is kept as it is ("%zz", "100%");
//   - the bytes are what they decode to: not checked for UTF-8, NUL included;
//   - a name given once has its value, a string; a name given several times has the list of
//     its values in order (a table with json.array_mt, so that it encodes as a JSON array):
//     "?a=1&b=2&a=3" gives {a = {"1", "3"}, b = "2"}. The empty name ("?=x") is a name too.

// queryField is one decoded field: offsets into queryParser.buf.
type queryField struct {
	k0, k1, v0, v1 int
	next           int // the next field with the same name, -1 for none (grouping)
	first          bool
}

// queryParser decodes fields into a reused buffer. Loop only (one per worker), or a local.
type queryParser struct {
	buf    []byte
	fields []queryField
	byName map[string]int // name -> first field, for many fields
}

var queryParsers = engine.NewWorkerLocal(func(*engine.Worker) *queryParser { return &queryParser{} })

// linearGroup is how many fields are grouped by comparing names pairwise; beyond, a map.
const linearGroup = 16

// parse decodes s into p.fields, at most max fields (0: no limit); it reports false when s
// has more.
func (p *queryParser) parse(s []byte, max int) bool {
	p.buf = p.buf[:0]
	p.fields = p.fields[:0]
	for len(s) > 0 {
		var f []byte
		f, s = cutByte(s, '&')
		if len(f) == 0 {
			continue
		}
		if max > 0 && len(p.fields) == max {
			return false
		}
		k, v, _ := cutByteFound(f, '=')
		var qf queryField
		qf.k0 = len(p.buf)
		p.buf = appendUnescaped(p.buf, k)
		qf.k1 = len(p.buf)
		qf.v0 = qf.k1
		p.buf = appendUnescaped(p.buf, v)
		qf.v1 = len(p.buf)
		qf.next = -1
		p.fields = append(p.fields, qf)
	}
	return true
}

func cutByte(s []byte, c byte) (before, after []byte) {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return s[:i], s[i+1:]
		}
	}
	return s, nil
}

func cutByteFound(s []byte, c byte) (before, after []byte, found bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return s[:i], s[i+1:], true
		}
	}
	return s, nil, false
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// appendUnescaped appends s decoded: "+" is a space, "%XX" a byte, any other "%" itself.
func appendUnescaped(dst, s []byte) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '+':
			c = ' '
		case '%':
			if i+2 < len(s) {
				hi, ok1 := unhex(s[i+1])
				lo, ok2 := unhex(s[i+2])
				if ok1 && ok2 {
					c = hi<<4 | lo
					i += 2
				}
			}
		}
		dst = append(dst, c)
	}
	return dst
}

func (p *queryParser) key(i int) []byte { f := &p.fields[i]; return p.buf[f.k0:f.k1] }
func (p *queryParser) val(i int) []byte { f := &p.fields[i]; return p.buf[f.v0:f.v1] }

// group links the fields of each name (first, next) and returns the number of names.
func (p *queryParser) group() int {
	n := len(p.fields)
	names := 0
	last := func(i int) int { // the last field of i's chain
		for p.fields[i].next >= 0 {
			i = p.fields[i].next
		}
		return i
	}
	if n <= linearGroup {
	outer:
		for i := 0; i < n; i++ {
			k := p.key(i)
			for j := 0; j < i; j++ {
				if p.fields[j].first && string(p.key(j)) == string(k) {
					p.fields[last(j)].next = i
					continue outer
				}
			}
			p.fields[i].first = true
			names++
		}
		return names
	}
	if p.byName == nil {
		p.byName = make(map[string]int, n)
	}
	for i := 0; i < n; i++ { // byName: name -> the last field of its chain so far
		k := p.key(i)
		if j, ok := p.byName[string(k)]; ok {
			p.fields[j].next = i
			p.byName[string(k)] = i
			continue
		}
		p.byName[string(k)] = i
		p.fields[i].first = true
		names++
	}
	if n > 4096 {
		p.byName = nil // a map that big is not kept for the next request
	} else {
		clear(p.byName)
	}
	return names
}

// write writes the fields as a table: name = value, or name = {values...} for a repeated
// name (an array). group must have run.
func (p *queryParser) write(out *packed.Writer, names int) {
	out.Table(0, names)
	for i := range p.fields {
		f := &p.fields[i]
		if !f.first {
			continue
		}
		out.Bytes(p.key(i))
		if f.next < 0 {
			out.Bytes(p.val(i))
			continue
		}
		at := out.ArrayAt()
		count := 0
		for j := i; j >= 0; j = p.fields[j].next {
			out.Bytes(p.val(j))
			count++
		}
		out.SetLen(at, count)
	}
}

// writeFields parses s and writes its table to out; false when s has more than max fields
// (nothing is written then).
func (p *queryParser) writeFields(out *packed.Writer, s []byte, max int) bool {
	if !p.parse(s, max) {
		return false
	}
	p.write(out, p.group())
	if cap(p.buf) > 1<<20 { // a large form's buffers are not pinned for the next request
		p.buf = nil
	}
	if cap(p.fields) > 1<<12 {
		p.fields = nil
	}
	return true
}
