//go:build luajit

// Package lua (directory cgo/) is the only code in Dr.LEE that touches a lua_State.
//
// It owns the C side of the boundary (clua.c) and exposes a small Go API to the engine:
// create and close a state, register Go functions and classes, call a Lua function held as a
// registry ref, run a chunk. It follows docs/ARCHITECTURE.md, "The C boundary", to the
// letter:
//
//   - A Lua error is raised only by C (clua_tramp), after the Go function returned a code.
//   - Every exported Go function recovers; a Go panic never unwinds through LuaJIT frames.
//   - Lua is entered from Go only through lua_pcall inside one C helper per operation, with
//     a traceback message handler.
//   - Values cross in bulk: arguments are read by the trampoline into a C frame, results and
//     callback arguments are packed buffers (package packed).
//
// golua (github.com/aarzilli/golua, tag luajit) is used only to create and close states.
//
// Concurrency: a State is owned by one goroutine at a time (the engine's worker loop). No
// method may be called from any other goroutine, and no *Call may be kept after the Go
// function it was passed to returns.
package lua

/*
#cgo CFLAGS: -I/usr/include/luajit-2.1 -I${SRCDIR}/include -O2 -fexceptions
#cgo LDFLAGS: -lluajit-5.1 -lm -ldl
#include <stdio.h>
#include <stdlib.h>
#include "clua.h"

// io.write goes through C's stdio; line buffering keeps its lines in step with print's
// (written by Go) when stdout is a pipe.
static void clua_line_buffer_stdout(void) { setvbuf(stdout, NULL, _IOLBF, 0); }
*/
import "C"

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"

	golua "github.com/aarzilli/golua/lua"

	"github.com/drlee/drlee/packed"
)

// maxStates bounds how many states may exist at once in a process. The trampoline finds its
// state by index in a fixed table: a lock-free load, so that Lua->Go calls scale over threads
// (golua's global mutex does not; docs/ARCHITECTURE.md, "The C boundary").
const maxStates = 1 << 14

var (
	states     [maxStates]atomic.Pointer[State]
	statesMu   sync.Mutex // protects statesFree and statesNext
	statesFree []uintptr
	statesNext uintptr = 1 // index 0 is never used, so a zero handle is invalid
)

// State is one LuaJIT state. Its fields are read by the owner goroutine only.
type State struct {
	l     *C.lua_State
	gl    *golua.State
	index uintptr

	// Owner is the engine's object for this state (its worker); Go functions reach it
	// through Call.State().Owner.
	Owner any
	// Finalize is called when Lua collects one of our objects (its __gc), on the owner
	// goroutine, inside whatever Lua call triggered the collection. It must not call Lua
	// (releasing a ref with Unref is fine: it runs none and cannot raise).
	Finalize func(cls uint32, id uint64)
	// PanicHandler, when set, is told about every Go panic recovered at the boundary (with
	// the stack), so that it can be logged. The Lua caller gets a plain error.
	PanicHandler func(fn string, p any, stack []byte)

	calls [8]Call // frames for nested Lua->Go calls, reused so a call allocates nothing
	depth int

	guard   *Guard  // EnableGuard; nil: calls are not guarded
	running *Thread // the runtime thread running now (the innermost); nil on the main thread

	cst     *C.clua_st // C side: the handle trampolines pass to Go, and the result buffer
	retBufs int        // result buffers allocated (tests: taken buffers come back)

	enc    *C.char // C buffer filled by clua_encode
	encLen C.size_t
	encCap C.size_t
	encWhy *C.char // clua_encode's reason for failing; a field so that it does not escape

	closing bool // Close has begun: finalizers may still run Lua, but no Go function may
	closed  bool
}

// ErrClosed is returned when a closed state is used.
var ErrClosed = errors.New("lua: state closed")

// ErrNoMemory is returned when the state had no memory left for what was asked.
var ErrNoMemory = errors.New("lua: out of memory")

// Registry refs of values every state has from its start, for packed.Writer.Ref.
const (
	// RefArrayMeta is the array metatable (json.array_mt): C packs a table that has it as
	// an array (packed.TagArray) and pushes an array as a table that has it.
	RefArrayMeta = int32(C.CLUA_REG_ARRAY)
	// RefEmptyArray is json.empty_array, a lightuserdata that C packs as an empty array.
	RefEmptyArray = int32(C.CLUA_REG_EMPTY_ARRAY)
)

// C's limits of the packed format are package packed's: these arrays have a negative length,
// which does not compile, when a number differs.
var (
	_ [C.CLUA_MAXDEPTH - packed.MaxDepth]struct{}
	_ [packed.MaxDepth - C.CLUA_MAXDEPTH]struct{}
	_ [C.CLUA_SPARSE_SAFE - packed.SparseSafe]struct{}
	_ [packed.SparseSafe - C.CLUA_SPARSE_SAFE]struct{}
	_ [C.CLUA_SPARSE_RATIO - packed.SparseRatio]struct{}
	_ [packed.SparseRatio - C.CLUA_SPARSE_RATIO]struct{}
)

// New creates a state with the standard libraries open, the real pcall/xpcall, and nothing
// else. The engine installs its modules next.
func New() (*State, error) {
	gl := golua.NewState()
	if gl == nil {
		return nil, errors.New("lua: cannot create state (out of memory)")
	}
	if dispatch.Load() == nil {
		t := freezeFuncs()
		if dispatch.CompareAndSwap(nil, &t) {
			C.clua_line_buffer_stdout()
		}
	}
	s := &State{gl: gl, l: (*C.lua_State)(unsafe.Pointer(gl.GetState()))}
	s.cst = (*C.clua_st)(C.calloc(1, C.sizeof_clua_st))
	nf := len(*dispatch.Load())
	s.cst.keeps = (*C.uchar)(C.calloc(C.size_t(nf+1), 1))
	s.cst.nkeeps = C.int(nf)
	if C.clua_init(s.l, s.cst) != 0 {
		gl.Close()
		C.free(unsafe.Pointer(s.cst.keeps))
		C.free(unsafe.Pointer(s.cst))
		return nil, errors.New("lua: cannot set up a state (out of memory)")
	}

	statesMu.Lock()
	if n := len(statesFree); n > 0 {
		s.index = statesFree[n-1]
		statesFree = statesFree[:n-1]
	} else if statesNext < maxStates {
		s.index = statesNext
		statesNext++
	}
	statesMu.Unlock()
	if s.index == 0 {
		gl.Close()
		C.free(unsafe.Pointer(s.cst.keeps))
		C.free(unsafe.Pointer(s.cst))
		return nil, fmt.Errorf("lua: more than %d states", maxStates-1)
	}
	s.cst.h = C.uintptr_t(s.index)
	states[s.index].Store(s)
	return s, nil
}

// Close closes the state: every remaining object is finalized (Finalize is called for
// each), and the C buffers are freed. Close is idempotent.
func (s *State) Close() {
	if s.closed {
		return
	}
	s.closed = true
	s.closing = true // lua_close runs the remaining finalizers, which may call Go functions
	if s.guard != nil {
		s.guard.close() // before the state goes: no Interrupt may touch it after
	}
	s.gl.Close()
	if s.guard != nil {
		s.guard.free()
	}
	states[s.index].Store(nil)
	statesMu.Lock()
	statesFree = append(statesFree, s.index)
	statesMu.Unlock()
	C.free(unsafe.Pointer(s.cst.spare))
	C.free(unsafe.Pointer(s.cst.keeps))
	C.free(unsafe.Pointer(s.cst))
	C.free(unsafe.Pointer(s.enc))
	s.cst, s.enc = nil, nil
}

// InCall reports whether a Go function called from Lua is running (the owner is inside a
// crossing, not at the top of its loop).
func (s *State) InCall() bool { return s.depth > 0 }

// Top returns the stack height of the main thread (for leak tests: it stays at the base).
func (s *State) Top() int { return int(C.lua_gettop(s.l)) }

// MemoryKB returns the Lua heap in use, in KiB (without JIT machine code).
func (s *State) MemoryKB() int { return int(C.lua_gc(s.l, C.LUA_GCCOUNT, 0)) }

// FullGC runs a full garbage collection. Finalizers run; an error one raises is dropped.
func (s *State) FullGC() { C.clua_fullgc(s.l) }

// Error is a Lua error raised while Go called into Lua: the message with its traceback, and
// the kind of failure lua_pcall reported.
type Error struct {
	Msg    string
	Status Status
}

func (e *Error) Error() string { return e.Msg }

// Status is lua_pcall's result for a failed call.
type Status int

// The statuses of a failed call (lua.h).
const (
	StatusRuntime Status = C.LUA_ERRRUN    // an error raised by the code (or by Go for it)
	StatusSyntax  Status = C.LUA_ERRSYNTAX // the chunk did not compile
	StatusMemory  Status = C.LUA_ERRMEM    // an allocation failed: the state ran out of memory
	StatusHandler Status = C.LUA_ERRERR    // the message handler itself failed
)

func (st Status) String() string {
	switch st {
	case StatusRuntime:
		return "runtime error"
	case StatusSyntax:
		return "syntax error"
	case StatusMemory:
		return "out of memory"
	case StatusHandler:
		return "error in the error handler"
	}
	return fmt.Sprintf("status %d", int(st))
}

// errorFromStack copies the message that a failed C helper left on the stack and pops it.
// Only a string is read as such: converting anything else would allocate outside any
// protected call.
func (s *State) errorFromStack(st C.int) error {
	msg := "(error object is not a string)"
	if C.lua_type(s.l, -1) == C.LUA_TSTRING {
		var n C.size_t
		p := C.lua_tolstring(s.l, -1, &n)
		msg = C.GoStringN(p, C.int(n))
	}
	C.lua_settop(s.l, -2)
	return &Error{Msg: msg, Status: Status(st)}
}

// CallRef calls the function held at registry ref fn with the packed arguments args
// (package packed), releasing the ref first when unref is set. A Lua error comes back
// as *Error with a traceback.
func (s *State) CallRef(fn int32, unref bool, args []byte) error {
	u := C.int(0)
	if unref {
		u = 1
	}
	// A top-level call (none from Lua is in progress) is what the guard times.
	guarded := s.guard != nil && s.depth == 0
	if guarded {
		s.guard.enter()
	}
	// No out-parameters: their addresses, passed to C, would escape (2 allocations a call).
	rc := C.clua_call(s.l, C.int(fn), u, bytesPtr(args), C.size_t(len(args)))
	if guarded {
		s.guard.exit()
	}
	if rc != 0 {
		return s.errorFromStack(rc)
	}
	return nil
}

// DoChunk compiles and runs code. chunkname follows Lua: "@path" names a file, so that
// messages read "path:line: ...".
func (s *State) DoChunk(code []byte, chunkname string) error {
	name := C.CString(chunkname)
	defer C.free(unsafe.Pointer(name))
	if st := C.clua_dochunk(s.l, bytesPtr(code), C.size_t(len(code)), name); st != 0 {
		return s.errorFromStack(st)
	}
	return nil
}

// Unref releases a registry ref.
func (s *State) Unref(ref int32) {
	if ref > 0 {
		C.clua_unref(s.l, C.int(ref))
	}
}

// SetGlobal sets global name to the first value packed in v.
func (s *State) SetGlobal(name string, v []byte) error {
	cn := C.CString(name)
	defer C.free(unsafe.Pointer(cn))
	if C.clua_set_global(s.l, cn, bytesPtr(v), C.size_t(len(v))) != 0 {
		return fmt.Errorf("lua: cannot set global %q", name)
	}
	return nil
}

// Export is a Go function visible to Lua under a name, as a module field or a method.
type Export struct {
	Name string
	ID   FuncID
}

// NewModule builds a table of Go functions and returns it as a registry ref. The functions
// accept both module.f(...) and module:f(...) (the seed writes time:timeout). Init time.
func (s *State) NewModule(funcs []Export) (int32, error) {
	b := s.newBuild(C.CLUA_BUILD_MODULE, "")
	defer b.free()
	b.exports(&b.c.a, &b.c.na, funcs)
	if err := s.build(b, "module"); err != nil {
		return 0, err
	}
	return int32(b.c.ref), nil
}

// SetGlobalFuncs installs Go functions as globals. Init time.
func (s *State) SetGlobalFuncs(funcs []Export) error {
	b := s.newBuild(C.CLUA_BUILD_GLOBALS, "")
	defer b.free()
	b.exports(&b.c.a, &b.c.na, funcs)
	return s.build(b, "globals")
}

// ClassDef describes a class of Go objects for NewClass.
type ClassDef struct {
	Name    string
	Methods []Export // obj:name(...)
	Getters []Export // obj.name, computed on each access
	Meta    []Export // metamethods (such as __tostring), set on the metatable itself
	// Finalize: Lua's collection of an object calls State.Finalize.
	Finalize bool
	// ScriptFields lets Lua code set fields of its own on an object (obj.user = u) and read
	// them back: they are kept in a table of that object alone (its userdata environment),
	// made at the first assignment and collected with it. A method's or a getter's name
	// cannot be assigned (the assignment raises), so a field never shadows what the class
	// defines; an object no script set a field on costs nothing more, and neither does a
	// method call or a getter. The class's __index is then a C function, as with getters:
	// a class without getters pays a C call for every method look-up, and, as one with
	// getters, cannot have fast methods (InstallFast needs the methods table as __index).
	ScriptFields bool
}

// NewClass builds the metatable of a class of Go objects and returns it as a registry ref.
// Init time.
func (s *State) NewClass(d ClassDef) (int32, error) {
	b := s.newBuild(C.CLUA_BUILD_CLASS, d.Name)
	defer b.free()
	b.exports(&b.c.a, &b.c.na, d.Methods)
	b.exports(&b.c.b, &b.c.nb, d.Getters)
	b.exports(&b.c.c, &b.c.nc, d.Meta)
	if d.Finalize {
		b.c.finalize = 1
	}
	if d.ScriptFields {
		b.c.fields = 1
	}
	if err := s.build(b, "class "+d.Name); err != nil {
		return 0, err
	}
	return int32(b.c.ref), nil
}

// SetClassFinalizer gives the class whose metatable is at registry ref mt a __gc (on) or
// takes it away. LuaJIT looks for __gc when it collects an object, not when the object is
// made, so the objects alive now are finalized or not by what is set when they die: a class
// can pay the finalizer's cost (a call for every object collected) only while it needs
// it. Loop only.
func (s *State) SetClassFinalizer(mt int32, on bool) error {
	b := s.newBuild(C.CLUA_BUILD_GC, "__gc")
	defer b.free()
	b.c.ref = C.int(mt)
	if on {
		b.c.finalize = 1
	}
	return s.build(b, "a class finalizer")
}

// RegisterLoaded makes require(name) return the value at registry ref. Init time.
func (s *State) RegisterLoaded(name string, ref int32) error {
	b := s.newBuild(C.CLUA_BUILD_LOADED, name)
	defer b.free()
	b.c.ref = C.int(ref)
	return s.build(b, "module "+name)
}

// building is a clua_build in C memory (its pointer is handed to C) with the C strings and
// arrays it points to, freed together.
type building struct {
	c     *C.clua_build
	alloc []unsafe.Pointer
}

func (s *State) newBuild(kind C.int, name string) *building {
	b := &building{c: (*C.clua_build)(C.calloc(1, C.sizeof_clua_build))}
	b.alloc = append(b.alloc, unsafe.Pointer(b.c))
	b.c.st, b.c.kind = s.cst, kind
	if name != "" {
		b.c.name = b.cstring(name)
	}
	return b
}

func (b *building) cstring(s string) *C.char {
	p := C.CString(s)
	b.alloc = append(b.alloc, unsafe.Pointer(p))
	return p
}

// exports writes funcs as a C array of clua_export into *arr and *n.
func (b *building) exports(arr **C.clua_export, n *C.int, funcs []Export) {
	if len(funcs) == 0 {
		return
	}
	p := (*C.clua_export)(C.calloc(C.size_t(len(funcs)), C.sizeof_clua_export))
	b.alloc = append(b.alloc, unsafe.Pointer(p))
	es := unsafe.Slice(p, len(funcs))
	for i, f := range funcs {
		es[i].name = b.cstring(f.Name)
		es[i].fid = C.int(f.ID)
	}
	*arr, *n = p, C.int(len(funcs))
}

func (b *building) free() {
	for _, p := range b.alloc {
		C.free(p)
	}
}

// build runs clua_build: the whole construction under protection, since every step of it
// allocates and a Lua error must not reach this Go frame.
func (s *State) build(b *building, what string) error {
	if C.clua_build_run(s.l, b.c) != 0 {
		return fmt.Errorf("lua: cannot build %s (out of memory, or package.loaded is not a table)", what)
	}
	return nil
}

var cstrings sync.Map // string -> *C.char, for the few constant names used at init

func cstr(s string) *C.char {
	if p, ok := cstrings.Load(s); ok {
		return p.(*C.char)
	}
	p, _ := cstrings.LoadOrStore(s, C.CString(s))
	return p.(*C.char)
}

// bytesPtr passes a Go byte slice to a C function that only reads it during the call
// (allowed by the cgo pointer rules: the memory holds no Go pointers).
func bytesPtr(b []byte) *C.char {
	if len(b) == 0 {
		return nil
	}
	return (*C.char)(unsafe.Pointer(unsafe.SliceData(b)))
}

func stringPtr(s string) *C.char {
	if len(s) == 0 {
		return nil
	}
	return (*C.char)(unsafe.Pointer(unsafe.StringData(s)))
}

// FlushStdout flushes C's stdout, which io.write uses (Go's own writes bypass it).
func FlushStdout() { C.fflush(C.stdout) }
