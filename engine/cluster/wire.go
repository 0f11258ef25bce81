package cluster

import (
	"encoding/binary"
	"sync"
	"time"
)

// Wire format. All of it is private to this package; both ends are drlee.
//
// Subjects (prefix = Config.Prefix, "drlee" by default):
//
//	<prefix>.n.<instance>.c.<name>  a call to one node; each node subscribes <prefix>.n.<instance>.c.>
//	<prefix>.b.<name>               a broadcast; each node with a handler for name subscribes (no queue group)
//	<prefix>.census                 the census (see census.go)
//	_INBOX.<nuid>.<id>              replies, one wildcard subscription per node
//
// A request body is: version byte, uvarint timeout in milliseconds, payload.
//
// A call reply body is: tag byte, then the result (tagOK) or the handler's error
// text (tagErr); other tags carry nothing.
//
// A broadcast reply body is: tag byte, zigzag varint worker id, uvarint count of
// handlers that node is answering with ("of"), uvarint-prefixed instance id,
// uvarint-prefixed node name, then the result or error text.
//
// A NATS "no responders" status (503, empty body, headers) means no
// subscriber at all for the subject.
const wireVersion = 1

const (
	tagOK        byte = iota // result follows
	tagErr                   // handler-reported error text follows
	tagQueueFull             // no local worker could take it; the caller may try another node
	tagNotHere               // the node has no handler (anymore) or is leaving; the caller may try another node
	tagShutdown              // the node shut down before its handler answered
	tagNone                  // broadcast: the node has no handler for the name (of = 0)
)

var errBadWire = codedError("EPROTO", "drlee: malformed cluster message")

// maxNameLen bounds an RPC name (the subject also carries a prefix and an instance id).
const maxNameLen = 200

// ValidName reports whether name can be registered and called: 1 to 200 bytes, no
// spaces or control characters, no '*' or '>', and no empty '.'-separated token
// ("a.b" is fine, ".a", "a..b" and "a." are not).
func ValidName(name string) error {
	if name == "" {
		return badNameError(name, "empty")
	}
	if len(name) > maxNameLen {
		return badNameError(name, "longer than 200 bytes")
	}
	if name[0] == '.' || name[len(name)-1] == '.' {
		return badNameError(name, "starts or ends with '.'")
	}
	prev := byte(0)
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c <= ' ' || c == 0x7f:
			return badNameError(name, "contains a space or control character")
		case c == '*' || c == '>':
			return badNameError(name, "contains a wildcard ('*' or '>')")
		case c == '.' && prev == '.':
			return badNameError(name, "contains '..'")
		}
		prev = c
	}
	return nil
}

// appendRequest appends a request envelope to b.
func appendRequest(b []byte, timeout time.Duration, payload []byte) []byte {
	b = append(b, wireVersion)
	b = binary.AppendUvarint(b, uint64(timeout/time.Millisecond))
	return append(b, payload...)
}

// parseRequest splits a request body into its timeout and payload.
func parseRequest(b []byte) (time.Duration, []byte, error) {
	if len(b) < 2 || b[0] != wireVersion {
		return 0, nil, errBadWire
	}
	ms, n := binary.Uvarint(b[1:])
	if n <= 0 {
		return 0, nil, errBadWire
	}
	return time.Duration(ms) * time.Millisecond, b[1+n:], nil
}

// bcastReply is a decoded broadcast reply.
type bcastReply struct {
	tag      byte
	workerID int
	of       int
	inst     string
	node     string
	data     []byte
}

// appendBcastHead appends the fixed part of a broadcast reply.
func appendBcastHead(b []byte, tag byte, workerID, of int, inst, node string) []byte {
	b = append(b, tag)
	b = binary.AppendVarint(b, int64(workerID))
	b = binary.AppendUvarint(b, uint64(of))
	b = binary.AppendUvarint(b, uint64(len(inst)))
	b = append(b, inst...)
	b = binary.AppendUvarint(b, uint64(len(node)))
	return append(b, node...)
}

func parseBcastReply(b []byte) (r bcastReply, err error) {
	if len(b) < 1 {
		return r, errBadWire
	}
	r.tag = b[0]
	b = b[1:]
	w, n := binary.Varint(b)
	if n <= 0 {
		return r, errBadWire
	}
	r.workerID = int(w)
	b = b[n:]
	of, n := binary.Uvarint(b)
	if n <= 0 || of > 1<<20 {
		return r, errBadWire
	}
	r.of = int(of)
	b = b[n:]
	if r.inst, b, err = cutString(b); err != nil {
		return r, err
	}
	if r.node, b, err = cutString(b); err != nil {
		return r, err
	}
	r.data = b
	return r, nil
}

func cutString(b []byte) (string, []byte, error) {
	l, n := binary.Uvarint(b)
	if n <= 0 || uint64(len(b)-n) < l {
		return "", nil, errBadWire
	}
	return string(b[n : n+int(l)]), b[n+int(l):], nil
}

// bufPool holds scratch buffers for outgoing messages. nats.go copies a
// published body into its own buffer before Publish returns, so a buffer
// goes back to the pool right after.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

const maxPooledBuf = 64 << 10

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) > maxPooledBuf {
		return
	}
	*b = (*b)[:0]
	bufPool.Put(b)
}
