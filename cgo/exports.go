//go:build luajit

package lua

/*
#include <string.h>
#include "clua.h"
*/
import "C"

import (
	"fmt"
	"runtime/debug"
	"sync/atomic"
)

// dispatch is the function table the trampolines index, frozen when the first state is
// created so that it can be read without a lock.
var dispatch atomic.Pointer[[]funcEntry]

// goDispatch runs a Go function for the trampoline. It never lets a panic escape: a Go
// panic must not unwind through LuaJIT frames (docs/ARCHITECTURE.md, "The C boundary").
//
//export goDispatch
func goDispatch(h C.uintptr_t, fid C.int, l *C.lua_State, f *C.clua_frame) (r C.int) {
	s := states[uintptr(h)].Load()
	if s == nil {
		return 0 // the state is gone; nothing can be done for it
	}
	if s.closing {
		// A finalizer run by lua_close: the owner has ended, and nothing a Go function
		// would start (an operation, a listener) could ever complete or be released.
		f.ret, f.retlen = errClosing, C.size_t(C.strlen(errClosing))
		return C.CLUA_RAISE
	}
	table := *dispatch.Load()
	e := &table[fid]
	var c *Call
	if s.depth < len(s.calls) {
		c = &s.calls[s.depth]
	} else {
		c = new(Call)
	}
	s.depth++
	c.s, c.l, c.f, c.entry, c.fid = s, l, f, e, fid
	defer func() {
		s.depth--
		c.f = nil
		if p := recover(); p != nil {
			var msg string
			if rz, ok := p.(raised); ok {
				msg = rz.msg
			} else {
				msg = fmt.Sprintf("internal error in '%s': %v", e.name, p)
				if s.PanicHandler != nil {
					s.PanicHandler(e.name, p, debug.Stack())
				}
			}
			s.setRet(f, []byte(msg))
			r = C.CLUA_RAISE // also when setRet had no memory: f holds its message
		}
	}()
	return C.int(e.fn(c))
}

var errClosing = C.CString("drlee: the worker has ended")

// goFinalize tells the owner that Lua collected one of its objects. Never panics out.
//
//export goFinalize
func goFinalize(h C.uintptr_t, cls C.uint32_t, id C.uint64_t) {
	s := states[uintptr(h)].Load()
	if s == nil || s.Finalize == nil {
		return
	}
	defer func() {
		if p := recover(); p != nil && s.PanicHandler != nil {
			s.PanicHandler("__gc", p, debug.Stack())
		}
	}()
	s.Finalize(uint32(cls), uint64(id))
}
