package http

/*
#cgo CFLAGS: -I${SRCDIR}/../../cgo/include -O2
#include <stdlib.h>
#include "resp.h"
*/
import "C"

import (
	"unsafe"

	"github.com/drlee/drlee/engine"
)

// respBuffer is the C-side record of one response (http_resp in resp.h): while its fast
// object is active, res:set_status, set, write and finish record there (resp.c) instead of
// calling Go, a cgo callback fewer per call; Go takes the record over after the callback
// (takeOver in server.go). Loop only; Go reads it directly, without a cgo call.
type respBuffer struct{ r *C.http_resp }

// flushAt is how much body a response keeps buffered, unfinished, before it streams: a
// response written in a chain of callbacks goes out with Content-Length up to this size,
// and a large one does not pile up in memory (resp.h's HTTP_FLUSH_AT).
const flushAt = C.HTTP_FLUSH_AT

// fastResponse are the fast methods of responseClass, in the order of resp.h's ops.
var fastResponse = engine.FastMethods{
	Fn:       unsafe.Pointer(C.http_resp_fast),
	Methods:  []string{"set_status", "set", "write", "finish"},
	TakeOver: takeOverBuffer,
}

func (b respBuffer) ptr() unsafe.Pointer  { return unsafe.Pointer(b.r) }
func (b respBuffer) fast() engine.FastObj { return engine.FastObjAt(b.ptr()) }

// Empty reports whether nothing was recorded since the last Clear.
func (b respBuffer) Empty() bool {
	return b.r.status == 0 && b.r.hdrlen == 0 && b.r.bodylen == 0 && b.r.finished == 0 && b.r.written == 0
}

// Status is the status set, or 0.
func (b respBuffer) Status() int { return int(b.r.status) }

// Finished reports whether finish was called.
func (b respBuffer) Finished() bool { return b.r.finished != 0 }

// Written reports whether write was called.
func (b respBuffer) Written() bool { return b.r.written != 0 }

// Body is the body written: a view into C memory, valid until the next Clear or call into
// Lua.
func (b respBuffer) Body() []byte {
	if b.r.bodylen == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(b.r.body)), int(b.r.bodylen))
}

// Headers calls fn for each header set, in order; the slices are views into C memory.
func (b respBuffer) Headers(fn func(name, value []byte)) {
	if b.r.hdrlen == 0 {
		return
	}
	h := unsafe.Slice((*byte)(unsafe.Pointer(b.r.hdr)), int(b.r.hdrlen))
	next := func() []byte {
		n := int(h[0]) | int(h[1])<<8 | int(h[2])<<16 | int(h[3])<<24
		s := h[4 : 4+n]
		h = h[4+n:]
		return s
	}
	for len(h) > 0 {
		k := next()
		fn(k, next())
	}
}

// StartStreaming tells the fast methods that the response streams: write(data) and
// finish() still record (a write becomes a chunk when Go takes the record over: a
// crossing fewer per chunk), the rest goes to Go.
func (b respBuffer) StartStreaming() { b.r.streaming = 1 }

// Streaming reports whether StartStreaming was called since the buffer was acquired.
func (b respBuffer) Streaming() bool { return b.r.streaming != 0 }

// Clear forgets what was recorded (after Go took it over).
func (b respBuffer) Clear() {
	b.r.status, b.r.finished, b.r.written = 0, 0, 0
	b.r.hdrlen, b.r.bodylen = 0, 0
}

// takeOverBuffer applies what the fast methods recorded into a response's buffer
// (fastResponse.TakeOver: the engine calls it after the callback, or when a Go method asks).
func takeOverBuffer(w *engine.Worker, obj unsafe.Pointer) {
	b := respBuffer{(*C.http_resp)(obj)}
	if v, ok := w.Lookup(b.fast().ID()); ok {
		if rs, ok := v.(*request); ok && rs.hasBuf && rs.cbuf == b {
			rs.takeOver(w)
			return
		}
	}
	b.Clear() // the response ended meanwhile: nothing to apply it to
}

// respPool is a worker's response buffers. They never leave their worker and are freed only
// once its state is closed, so that a response object a script kept beyond its request can
// never reach freed memory or another worker's buffer: its fast methods see another id and
// fall back to Go.
type respPool struct {
	free, all []respBuffer
}

var respPools = engine.NewWorkerLocal(func(w *engine.Worker) *respPool {
	p := &respPool{}
	w.AfterClose(func() {
		for _, b := range p.all {
			C.http_resp_free(b.r)
		}
		p.free, p.all = nil, nil
	})
	return p
})

// acquire takes a cleared buffer from the pool (or allocates one). Loop only.
func (p *respPool) acquire() respBuffer {
	if n := len(p.free); n > 0 {
		b := p.free[n-1]
		p.free = p.free[:n-1]
		return b
	}
	b := respBuffer{C.http_resp_new()}
	if b.r == nil {
		panic("http: out of memory for a response buffer")
	}
	p.all = append(p.all, b)
	return b
}

// release detaches the buffer from its response and gives it back to the pool. Loop only.
func (p *respPool) release(b respBuffer) {
	b.fast().Detach()
	b.Clear()
	b.r.streaming = 0
	p.free = append(p.free, b)
}
