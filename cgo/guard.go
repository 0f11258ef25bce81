//go:build luajit

package lua

/*
#include <stdlib.h>
#include "clua.h"
*/
import "C"

import (
	"sync"
	"sync/atomic"
	"unsafe"
)

// Guard lets a goroutine other than the owner interrupt a state's top-level Lua call (a
// callback the loop made, not the main chunk) that has run too long. It is the one
// exception to the rule that only the owner touches a state, and it is narrow: Interrupt
// arms a count hook with lua_sethook, which Lua's manual allows calling asynchronously (in
// LuaJIT it sets the hook fields, updates the interpreter's dispatch table and stops a trace
// being recorded, all of which the owner's thread picks up at its next instruction); the
// hook then raises on the owner's thread, inside Lua, where raising is safe.
//
// Limits (docs/ARCHITECTURE.md, "The watchdog"): Debian's LuaJIT does not check hooks in
// JIT-compiled code, so a loop the JIT compiled whole (`while true do i = i + 1 end`, or one
// calling os.clock) is never interrupted. A loop that allocates (the JIT leaves its trace to
// collect garbage) or runs in the interpreter is, within 1000 instructions: guard_test.go
// has the cases.
type Guard struct {
	s      *State
	g      *C.clua_guard // C memory: read by the hook without a call into Go
	mu     sync.Mutex    // serialises Interrupt with the owner's disarming and with Close
	closed bool          // under mu
}

// EnableGuard gives the state a guard. Owner only.
func (s *State) EnableGuard() *Guard {
	if s.guard == nil {
		s.guard = &Guard{s: s, g: (*C.clua_guard)(C.calloc(1, C.sizeof_clua_guard))}
		// Without memory for its registry key, the hook finds no guard and the state runs
		// unguarded; nothing else depends on it.
		C.clua_guard_install(s.l, s.guard.g)
	}
	return s.guard
}

func (g *Guard) seqp() *uint64   { return (*uint64)(unsafe.Pointer(&g.g.seq)) }
func (g *Guard) killp() *uint64  { return (*uint64)(unsafe.Pointer(&g.g.kill)) }
func (g *Guard) insidep() *int32 { return (*int32)(unsafe.Pointer(&g.g.inside)) }

// enter and exit bracket a top-level call. Owner only; two atomic stores on the hot path.
func (g *Guard) enter() {
	atomic.AddUint64(g.seqp(), 1)
	atomic.StoreInt32(g.insidep(), 1)
}

func (g *Guard) exit() {
	atomic.StoreInt32(g.insidep(), 0)
	if atomic.LoadUint64(g.killp()) != 0 {
		// Interrupted (this call or, in a race, the one before): disarm the hook. Under mu,
		// so that an Interrupt still arming finishes first.
		g.mu.Lock()
		C.clua_guard_disarm(g.s.l)
		atomic.StoreUint64(g.killp(), 0)
		g.mu.Unlock()
	}
}

// Sample returns how many top-level calls the state has entered and whether one is running
// now. Any goroutine.
func (g *Guard) Sample() (seq uint64, running bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return 0, false
	}
	return atomic.LoadUint64(g.seqp()), atomic.LoadInt32(g.insidep()) != 0
}

// Interrupt makes top-level call seq raise msg (with the position of the Lua code that was
// running) at its next Lua instructions, if it is still the call running. It reports
// whether it armed the hook. Any goroutine.
func (g *Guard) Interrupt(seq uint64, msg string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed || atomic.LoadInt32(g.insidep()) == 0 || atomic.LoadUint64(g.seqp()) != seq {
		return false
	}
	// The message first: the hook reads it after it has seen kill.
	n := min(len(msg), len(g.g.msg)-1)
	dst := unsafe.Slice((*byte)(unsafe.Pointer(&g.g.msg[0])), len(g.g.msg))
	copy(dst, msg[:n])
	dst[n] = 0
	atomic.StoreUint64(g.killp(), seq)
	C.clua_guard_arm(g.s.l)
	return true
}

// close ends the guard with its state (Close): later Samples and Interrupts do nothing.
func (g *Guard) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}

func (g *Guard) free() { C.free(unsafe.Pointer(g.g)) }

// For tests: arm as Interrupt does, without its checks.
func storeKill(g *Guard, seq uint64) { atomic.StoreUint64(g.killp(), seq) }
func armHook(g *Guard)               { C.clua_guard_arm(g.s.l) }
