package lua

/*
#include <stdlib.h>
#include "clua.h"
*/
import "C"

import "unsafe"

// RespBuffer is the C-side buffer of one HTTP response (clua_resp in clua.h): while Begin
// is in effect, the response's fast methods (InstallRespMethods) record status, headers and
// body there instead of calling Go, which saves a cgo callback per method call. It is owned
// by the loop; Go reads it directly, without a cgo call.
type RespBuffer struct{ r *C.clua_resp }

// RespList is a worker's list of dirty response buffers: those the fast methods recorded
// into since Go last took them over. The loop drains it after every callback.
type RespList struct{ l *C.clua_resp_list }

// NewRespList allocates an empty list in C memory; Free releases it.
func NewRespList() RespList {
	return RespList{(*C.clua_resp_list)(C.calloc(1, C.sizeof_clua_resp_list))}
}

// Free releases the list's C memory.
func (l RespList) Free() { C.clua_resp_list_free(l.l) }

// Pending reports whether a buffer was put on the list since the last Drain.
func (l RespList) Pending() bool { return l.l != nil && l.l.n > 0 }

// Drain calls fn for each buffer still dirty on the list, clearing its mark, and empties
// the list. fn must take the buffer over (or Clear it); it may not call into Lua.
func (l RespList) Drain(fn func(RespBuffer)) {
	for i := 0; i < int(l.l.n); i++ { // n and items re-read: a robust loop costs nothing here
		b := RespBuffer{unsafe.Slice(l.l.items, int(l.l.n))[i]}
		if b.r.dirty != 0 {
			b.r.dirty = 0
			fn(b)
		}
	}
	l.l.n = 0
}

// NewRespBuffer allocates a buffer in C memory, reporting to list when it gets dirty; Free
// releases it.
func NewRespBuffer(list RespList) RespBuffer {
	b := RespBuffer{(*C.clua_resp)(C.calloc(1, C.sizeof_clua_resp))}
	b.r.list = list.l
	return b
}

// ID is the id of the object whose fast methods may use the buffer (Begin).
func (b RespBuffer) ID() uint64 { return uint64(b.r.id) }

// Free releases the buffer's C memory.
func (b RespBuffer) Free() { C.clua_resp_free(b.r) }

// Data is the pointer to store in the response object (value.Writer.ObjectData).
func (b RespBuffer) Data() uint64 { return uint64(uintptr(unsafe.Pointer(b.r))) }

// Begin empties the buffer and lets the fast methods of object id use it.
func (b RespBuffer) Begin(id uint64) {
	b.Clear()
	b.r.id = C.uint64_t(id)
	b.r.inline_ = 1
}

// End stops the fast methods; later calls go to Go.
func (b RespBuffer) End() { b.r.inline_ = 0 }

// Active reports whether the fast methods are in effect.
func (b RespBuffer) Active() bool { return b.r.inline_ != 0 }

// Empty reports whether nothing was recorded since the last Clear.
func (b RespBuffer) Empty() bool {
	return b.r.status == 0 && b.r.hdrlen == 0 && b.r.bodylen == 0 && b.r.finished == 0 && b.r.written == 0
}

// Status is the status set, or 0.
func (b RespBuffer) Status() int { return int(b.r.status) }

// Finished reports whether finish was called.
func (b RespBuffer) Finished() bool { return b.r.finished != 0 }

// Written reports whether write was called.
func (b RespBuffer) Written() bool { return b.r.written != 0 }

// Body is the body written; a view into C memory, valid until the next Clear or call into
// Lua.
func (b RespBuffer) Body() []byte {
	if b.r.bodylen == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(b.r.body)), int(b.r.bodylen))
}

// Headers calls fn for each header set, in order; the slices are views into C memory.
func (b RespBuffer) Headers(fn func(name, value []byte)) {
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

// Clear forgets what was recorded (after Go took it over), keeping the id and mode. The
// next record marks the buffer dirty again.
func (b RespBuffer) Clear() {
	b.r.status, b.r.finished, b.r.written = 0, 0, 0
	b.r.hdrlen, b.r.bodylen = 0, 0
	b.r.dirty = 0
}

// InstallRespMethods gives the class whose metatable is at registry ref mt the fast
// set_status, set, write and finish of cresp.c, each falling back to the Go method it
// replaces.
func (s *State) InstallRespMethods(mt int32) { C.clua_resp_install(s.l, C.int(mt)) }
