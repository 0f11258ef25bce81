//go:build luajit

package lua

/*
#include <stdlib.h>
#include "clua.h"

// The per-call entries with the state's C pointers as integers: cgo checks each pointer
// argument of a call for Go pointers (cgocheck), some 65 instructions apiece, three for a
// request's handler call; these point to C memory, which needs no check.
static inline int clua_thread_call_u(uintptr_t L, uintptr_t st, uintptr_t co, int qref, int fn, int unref, const char *buf, size_t len) {
	return clua_thread_call((lua_State *)L, (clua_st *)st, (lua_State *)co, qref, fn, unref, buf, len);
}
// The resume's "lost" flag comes back in bit 8 of the result: a Go variable whose address
// is passed to C escapes to the heap, an allocation per await.
#define CLUA_RESUME_LOST 0x100
static inline int clua_thread_resume_u(uintptr_t L, uintptr_t st, uintptr_t co, int qref, const char *buf, size_t len) {
	int lost = 0;
	int r = clua_thread_resume((lua_State *)L, (clua_st *)st, (lua_State *)co, qref, buf, len, &lost);
	return lost ? r | CLUA_RESUME_LOST : r;
}
*/
import "C"

import "unsafe"

// Thread is a runtime thread: a coroutine of the state that the engine owns (cthread.c), in
// which it runs callbacks, handlers and the main chunk, so that a Go function called
// without a callback can suspend the code that called it (Call.Await) until the engine
// resumes it with the operation's results (Resume). A thread serves one call at a time and
// is reused for call after call. Owner goroutine only.
type Thread struct {
	co   *C.lua_State
	ref  int32
	qref C.int // its soon queue's registry ref (cthread.c)
}

// ThreadResult is what running or resuming a thread came to.
type ThreadResult int

const (
	// ThreadDone: the call returned; the thread is free for another.
	ThreadDone ThreadResult = C.CLUA_TH_DONE
	// ThreadFailed: the call raised; the error (with its traceback) came back, and the
	// thread is free for another call.
	ThreadFailed ThreadResult = C.CLUA_TH_FAILED
	// ThreadAwait: the call is suspended in an await; Resume it with the results.
	ThreadAwait ThreadResult = C.CLUA_TH_AWAIT
	// ThreadDead: the thread died of an error outside its call (an interrupt raised
	// between calls); the error came back, and the thread must be freed.
	ThreadDead ThreadResult = C.CLUA_TH_DEAD
)

// MaxResume is how many values Resume hands over (an await's results).
const MaxResume = C.CLUA_MAXRESUME

// NewThread makes a runtime thread.
func (s *State) NewThread() (*Thread, error) {
	var co *C.lua_State
	var qref C.int
	ref := C.clua_thread_new(s.l, &co, &qref)
	if ref < 0 {
		return nil, ErrNoMemory
	}
	return &Thread{co: co, ref: int32(ref), qref: qref}, nil
}

// FreeThread releases a thread (a dead one, or one the engine no longer wants): Lua
// collects it.
func (s *State) FreeThread(t *Thread) {
	s.Unref(t.ref)
	s.Unref(int32(t.qref))
	t.co, t.ref, t.qref = nil, 0, 0
}

// RunIn calls the function at registry ref fn with the packed arguments in thread t,
// releasing the ref first when unref is set, until the call returns, raises or awaits.
// A raise comes back as *Error with the traceback (ThreadFailed, or ThreadDead).
// A top-level call is timed by the guard (EnableGuard) when guarded is set.
func (s *State) RunIn(t *Thread, fn int32, unref bool, args []byte, guarded bool) (ThreadResult, error) {
	u := C.int(0)
	if unref {
		u = 1
	}
	prev := s.enterThread(t, guarded)
	r := ThreadResult(C.clua_thread_call_u(cptr(unsafe.Pointer(s.l)), cptr(unsafe.Pointer(s.cst)), cptr(unsafe.Pointer(t.co)),
		t.qref, C.int(fn), u, bytesPtr(args), C.size_t(len(args))))
	s.leaveThread(prev, guarded)
	return r, s.threadError(t, r)
}

// Resume resumes thread t, suspended in an await, with the packed values as the results of
// the call that awaited (MaxResume at most), until it returns, raises or awaits again.
// lost reports that the values could not be handed over (no memory): t went on with none.
func (s *State) Resume(t *Thread, results []byte) (r ThreadResult, lost bool, err error) {
	prev := s.enterThread(t, true)
	rl := C.clua_thread_resume_u(cptr(unsafe.Pointer(s.l)), cptr(unsafe.Pointer(s.cst)), cptr(unsafe.Pointer(t.co)), t.qref,
		bytesPtr(results), C.size_t(len(results)))
	s.leaveThread(prev, true)
	r, lost = ThreadResult(rl&^C.CLUA_RESUME_LOST), rl&C.CLUA_RESUME_LOST != 0
	return r, lost, s.threadError(t, r)
}

// cptr is p, which points to C memory, as the integer the _u entries take.
func cptr(p unsafe.Pointer) C.uintptr_t { return C.uintptr_t(uintptr(p)) }

// Running is the runtime thread running now (the innermost), or nil.
func (s *State) Running() *Thread { return s.running }

// enterThread makes t the running thread; a top-level run is what the guard times.
func (s *State) enterThread(t *Thread, guarded bool) (prev *Thread) {
	prev = s.running
	s.running = t
	if guarded && s.guard != nil && s.depth == 0 && prev == nil {
		s.guard.enter()
	}
	return prev
}

func (s *State) leaveThread(prev *Thread, guarded bool) {
	if guarded && s.guard != nil && s.depth == 0 && prev == nil {
		s.guard.exit()
	}
	s.running = prev
}

// threadError reads the error a failed or dead thread left on its stack.
func (s *State) threadError(t *Thread, r ThreadResult) error {
	switch r {
	case ThreadFailed: // FAILED token at 1, the message (with its traceback) at 2
		e := &Error{Msg: threadString(t.co, 2), Status: StatusRuntime}
		C.lua_settop(t.co, 0)
		return e
	case ThreadDead:
		return &Error{Msg: threadString(t.co, -1), Status: StatusRuntime}
	}
	return nil
}

// threadString is the string at idx of co's stack, read without converting anything else.
func threadString(co *C.lua_State, idx C.int) string {
	if C.lua_type(co, idx) != C.LUA_TSTRING {
		return "(error object is not a string)"
	}
	var n C.size_t
	p := C.lua_tolstring(co, idx, &n)
	return C.GoStringN(p, C.int(n))
}

// CanAwait reports whether the call runs directly in the running runtime thread, so that
// Await may suspend it (not in a coroutine the script made itself, not on the main thread).
func (c *Call) CanAwait() bool {
	return c.s.running != nil && c.l == c.s.running.co
}

// Await is what a Go function returns to suspend its caller: the running thread yields, and
// the engine resumes it with the results of the operation the function started. Call it
// only when CanAwait. Yielding can still fail (a C function such as a table.sort comparator
// is on the way): the caller then gets the error "attempt to yield across C-call boundary",
// and the thread is not suspended.
func (c *Call) Await() int { return C.CLUA_AWAIT }

// LoadChunk compiles code into a function kept at a registry ref (the caller owns it), to
// run in a thread (RunIn). chunkname follows Lua ("@path"). A syntax error comes back as
// *Error.
func (s *State) LoadChunk(code []byte, chunkname string) (int32, error) {
	name := C.CString(chunkname)
	defer C.free(unsafe.Pointer(name))
	var ref C.int
	if st := C.clua_loadchunk(s.l, bytesPtr(code), C.size_t(len(code)), name, &ref); st != 0 {
		return 0, s.errorFromStack(st)
	}
	return int32(ref), nil
}

// Where is "file:line" of the Lua code that made the call (the first Lua frame up the
// stack), or "" when there is none. For messages about a call that has no callback.
func (c *Call) Where() string {
	var buf [256]C.char
	if C.clua_where(c.l, 1, &buf[0], C.size_t(len(buf))) == 0 {
		return ""
	}
	return C.GoString(&buf[0])
}

// FuncWhere is "file:line" where the Lua function at registry ref was defined, or "".
// Owner only; it needs a free stack slot (from a Go function, or at the top of the loop).
func (s *State) FuncWhere(ref int32) string {
	var buf [256]C.char
	if C.clua_funcwhere(s.l, C.int(ref), &buf[0], C.size_t(len(buf))) == 0 {
		return ""
	}
	return C.GoString(&buf[0])
}
