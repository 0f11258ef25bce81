//go:build luajit

package lua

/*
#include <stdlib.h>
#include "clua.h"
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// Fast methods (include/drlee_fast.h, cfast.c): a class's simplest method calls recorded
// in C by a binding's function, without a crossing into Go. This file is the Go side: the
// header every object's C state starts with, and the worker's list of objects recorded into.

// FastObj is the C-side state of an object with fast methods: a binding's C struct, which
// begins with a drlee_fast_obj. Owner goroutine only; Go reads and writes it directly,
// without a cgo call.
type FastObj struct{ p *C.drlee_fast_obj }

// FastObjAt is the FastObj at the start of a binding's C struct.
func FastObjAt(p unsafe.Pointer) FastObj { return FastObj{(*C.drlee_fast_obj)(p)} }

// Ptr is the address of the binding's struct.
func (o FastObj) Ptr() unsafe.Pointer { return unsafe.Pointer(o.p) }

// Attach gives the state to object id of class cls, reporting to list when it records, and
// makes the fast methods active. What the previous object recorded is forgotten.
func (o FastObj) Attach(list FastList, cls uint32, id uint64) {
	o.p.list = list.l
	o.p.cls = C.uint32_t(cls)
	o.p.id = C.uint64_t(id)
	o.p.dirty = 0
	o.p.active = 1
}

// End stops the fast methods: later calls go to Go.
func (o FastObj) End() { o.p.active = 0 }

// Detach ends the fast methods and the state's service of its object, once Go released
// it: calls fall back to Go, and Lua collecting the object no longer calls into Go (its
// class's finalizer is for objects that were not released).
func (o FastObj) Detach() {
	o.p.active = 0
	o.p.id = 0
}

// Active reports whether the fast methods are in effect.
func (o FastObj) Active() bool { return o.p.active != 0 }

// ID is the object the state serves (Attach).
func (o FastObj) ID() uint64 { return uint64(o.p.id) }

// Class is the class of the object the state serves.
func (o FastObj) Class() uint32 { return uint32(o.p.cls) }

// TakeDirty reports whether the fast methods recorded since the last TakeDirty, and clears
// the mark: the next record puts the state on the list again.
func (o FastObj) TakeDirty() bool {
	if o.p.dirty == 0 {
		return false
	}
	o.p.dirty = 0
	return true
}

// FastList is a worker's list of fast objects recorded into since Go last took them over.
type FastList struct{ l *C.drlee_fast_list }

// NewFastList allocates an empty list in C memory; Free releases it.
func NewFastList() FastList {
	return FastList{(*C.drlee_fast_list)(C.calloc(1, C.sizeof_drlee_fast_list))}
}

// Free releases the list's C memory.
func (l FastList) Free() {
	C.free(unsafe.Pointer(l.l.items))
	C.free(unsafe.Pointer(l.l))
}

// Pending reports whether an object was put on the list since the last Drain.
func (l FastList) Pending() bool { return l.l != nil && l.l.n > 0 }

// Drain calls fn for each object still dirty on the list, clearing its mark (TakeDirty),
// and empties the list. fn may not call into Lua.
func (l FastList) Drain(fn func(FastObj)) {
	for i := 0; i < int(l.l.n); i++ { // n and items re-read: a robust loop costs nothing here
		if o := (FastObj{unsafe.Slice(l.l.items, int(l.l.n))[i]}); o.TakeDirty() {
			fn(o)
		}
	}
	l.l.n = 0
}

// InstallFast gives the class whose metatable is at registry ref mt fast methods: the
// methods named take calls in fn (a C drlee_fast_fn; op 1 for names[0], ...) when it
// accepts them, and fall back to the Go method they replace. Init time.
func (s *State) InstallFast(mt int32, names []string, fn unsafe.Pointer) error {
	for i, name := range names {
		cn := C.CString(name)
		rc := C.clua_fast_install(s.l, C.int(mt), cn, C.int(i+1), C.drlee_fast_fn(fn))
		C.free(unsafe.Pointer(cn))
		if rc != 0 {
			return fmt.Errorf("lua: fast method %q: the class has no such method, or computed fields (getters, script fields)", name)
		}
	}
	return nil
}
