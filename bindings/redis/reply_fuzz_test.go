package redis

// Fuzz targets of this package: FuzzWriteReply (the conversion of replies to Lua values).

import (
	"encoding/binary"
	"errors"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/drlee/drlee/packed"
)

// replyError is an error reply as go-redis gives one inside an array (its RedisError type
// is internal): what goredis.Error matches.
type replyError string

func (e replyError) Error() string { return string(e) }
func (replyError) RedisError()     {}

var _ goredis.Error = replyError("")

// tree makes a reply from fuzz bytes, the shapes go-redis gives for RESP2: strings,
// integers, nil, error entries and arrays of them, nested as deep as the bytes say.
func tree(b []byte, depth int) (any, []byte) {
	if len(b) == 0 {
		return nil, b
	}
	op, b := b[0], b[1:]
	switch op % 6 {
	case 0:
		return nil, b
	case 1:
		n := 0
		if len(b) > 0 {
			n, b = int(b[0]), b[1:]
		}
		n = min(n, len(b))
		return string(b[:n]), b[n:]
	case 2:
		var v [8]byte
		n := copy(v[:], b)
		return int64(binary.LittleEndian.Uint64(v[:])), b[n:]
	case 3:
		n := 0
		if len(b) > 0 {
			n, b = int(b[0])%8, b[1:]
		}
		list := make([]any, n)
		for i := range list {
			list[i], b = tree(b, depth+1)
		}
		return list, b
	case 4:
		return replyError("ERR " + string(b[:min(len(b), 5)])), b[min(len(b), 5):]
	default: // a chain of single-element arrays: deep nesting
		n := int(op)
		var v any = "leaf"
		for range n {
			v = []any{v}
		}
		return v, b
	}
}

func depthOf(v any) int {
	switch v := v.(type) {
	case []any:
		d := 0
		for _, e := range v {
			d = max(d, depthOf(e))
		}
		return d + 1
	case goredis.Error:
		return 1
	}
	return 0
}

// same reports whether the decoded Lua value is what the reply converts to.
func same(reply, lua any) bool {
	switch r := reply.(type) {
	case nil:
		return lua == false
	case string:
		return lua == r
	case int64:
		return lua == float64(r)
	case []any:
		l, ok := lua.([]any)
		if !ok {
			return len(r) == 0 && isEmptyTable(lua)
		}
		if len(l) != len(r) {
			return false
		}
		for i := range r {
			if !same(r[i], l[i]) {
				return false
			}
		}
		return true
	case goredis.Error:
		m, ok := lua.(map[any]any)
		return ok && len(m) == 1 && m["err"] == "EREDIS: "+r.Error()
	}
	return false
}

func isEmptyTable(v any) bool {
	switch t := v.(type) {
	case []any:
		return len(t) == 0
	case map[any]any:
		return len(t) == 0
	}
	return false
}

// FuzzWriteReply: any reply converts to a well-formed packed value (which C decodes
// without checking) that holds the same values, or, nested deeper than Lua values may be,
// to the EPROTO error; never a panic.
func FuzzWriteReply(f *testing.F) {
	f.Add([]byte{1, 3, 'a', 0, 'b'})
	f.Add([]byte{3, 3, 1, 1, 'x', 0, 2, 1, 2, 3, 4, 5, 6, 7, 8})
	f.Add([]byte{3, 2, 4, 'o', 'o', 'p', 's', '!', 0})
	f.Add([]byte{5 + 6*33})   // 203 levels: too deep
	f.Add([]byte{5 + 6*32})   // 197 levels, and the string
	f.Add([]byte{3, 1, 3, 0}) // an empty array inside one
	f.Fuzz(func(t *testing.T, b []byte) {
		reply, _ := tree(b, 1)
		var w packed.Writer
		err := writeReply(&w, reply, 1)
		if depthOf(reply) > packed.MaxDepth {
			if !errors.Is(err, errReplyTooDeep) {
				t.Fatalf("a reply %d deep: err %v", depthOf(reply), err)
			}
			return
		}
		if err != nil {
			t.Fatalf("writeReply: %v", err)
		}
		if err := packed.ValidateOne(w.B); err != nil {
			t.Fatalf("malformed: %v", err)
		}
		v, err := packed.Decode(w.B)
		if err != nil {
			t.Fatal(err)
		}
		if !same(reply, v) {
			t.Fatalf("reply %#v became %#v", reply, v)
		}
	})
}
