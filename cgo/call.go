//go:build luajit

package lua

/*
#include <stdlib.h>
#include <string.h>
#include "clua.h"
*/
import "C"

import (
	"fmt"
	"math"
	"strconv"
	"sync"
	"unsafe"

	"github.com/drlee/drlee/packed"
)

// Func is a Go function callable from Lua. It reads its arguments from c and returns
// c.Return() after writing results to c.Out(), or 0 for no results. Argument errors
// (c.Check*) and c.Raise unwind with a Go panic that the dispatcher recovers and turns into
// a Lua error raised by C, so a Func needs no error plumbing of its own.
type Func func(c *Call) int

// FuncID identifies a registered Func; it is the trampoline's second upvalue.
type FuncID int32

type funcEntry struct {
	fn     Func
	name   string // as Lua users see it in errors: "fs.open", "file:read"
	method bool   // argument 1 is self: errors count from the argument after it
}

var (
	funcsMu sync.Mutex
	funcs   []funcEntry // append-only; read without lock after registration (see Register)
	frozen  bool
)

// Register adds a Go function. name is what error messages call it ("fs.open", or
// "file:read" with method set). All registration happens at init, before any state exists;
// registering later panics, which keeps the table immutable while trampolines read it.
func Register(name string, method bool, fn Func) FuncID {
	funcsMu.Lock()
	defer funcsMu.Unlock()
	if frozen {
		panic("lua: Register after the first state was created: " + name)
	}
	if name == "" || fn == nil {
		panic("lua: Register with an empty name or nil function")
	}
	funcs = append(funcs, funcEntry{fn: fn, name: name, method: method})
	return FuncID(len(funcs) - 1)
}

func freezeFuncs() []funcEntry {
	funcsMu.Lock()
	frozen = true
	f := funcs
	funcsMu.Unlock()
	return f
}

// Lua type codes, as lua_type returns them.
const (
	TypeNone          = -1
	TypeNil           = 0
	TypeBoolean       = 1
	TypeLightUserdata = 2
	TypeNumber        = 3
	TypeString        = 4
	TypeTable         = 5
	TypeFunction      = 6
	TypeUserdata      = 7
	TypeThread        = 8
)

var typeNames = [...]string{"nil", "boolean", "userdata", "number", "string", "table", "function", "userdata", "thread"}

// TypeName is Lua's name of a type code ("no value" for TypeNone).
func TypeName(t int) string {
	if t < 0 || t >= len(typeNames) {
		return "no value"
	}
	return typeNames[t]
}

// Call is one call of a Go function from Lua. It is valid only during that call.
type Call struct {
	s     *State
	l     *C.lua_State
	f     *C.clua_frame
	entry *funcEntry
	fid   C.int
	out   packed.Writer // this call's results; a nested call has its own
}

// raised is the panic value of an error to raise in Lua.
type raised struct{ msg string }

// State is the state the call runs in.
func (c *Call) State() *State { return c.s }

// N is the number of arguments, self included for methods.
func (c *Call) N() int { return int(c.f.n) }

// Type is the Lua type of argument i (1-based), TypeNone past the last.
func (c *Call) Type(i int) int {
	if i < 1 || i > int(c.f.n) {
		return TypeNone
	}
	if i <= C.CLUA_MAXARGS {
		return int(c.f._type[i-1])
	}
	return int(C.lua_type(c.l, C.int(i)))
}

// Raise aborts the call with a Lua error; the message gets the caller's file:line.
func (c *Call) Raise(format string, args ...any) {
	panic(raised{fmt.Sprintf(format, args...)})
}

// ArgError raises "bad argument #i to 'name' (msg)", counting as the Lua user does.
func (c *Call) ArgError(i int, msg string) {
	n := i
	if c.entry.method {
		n--
		if n == 0 {
			panic(raised{fmt.Sprintf("calling '%s' on bad self (%s)", c.entry.name, msg)})
		}
	}
	panic(raised{fmt.Sprintf("bad argument #%d to '%s' (%s)", n, c.entry.name, msg)})
}

// TypeError raises the standard "x expected, got y" argument error.
func (c *Call) TypeError(i int, expected string) {
	c.ArgError(i, expected+" expected, got "+TypeName(c.Type(i)))
}

// view returns the bytes of string argument i without copying. They stay valid only during
// the call (Lua owns them).
func (c *Call) view(i int) []byte {
	if i <= C.CLUA_MAXARGS {
		n := int(c.f.len[i-1])
		if n == 0 {
			return []byte{}
		}
		return unsafe.Slice((*byte)(unsafe.Pointer(c.f.str[i-1])), n)
	}
	var n C.size_t
	p := C.lua_tolstring(c.l, C.int(i), &n)
	return unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n))
}

func (c *Call) num(i int) float64 {
	if i <= C.CLUA_MAXARGS {
		return float64(c.f.num[i-1])
	}
	return float64(C.lua_tonumber(c.l, C.int(i)))
}

// CheckString returns string argument i (a number is converted, as in Lua), copied.
func (c *Call) CheckString(i int) string {
	switch c.Type(i) {
	case TypeString:
		return string(c.view(i))
	case TypeNumber:
		return formatNumber(c.num(i))
	}
	c.TypeError(i, "string")
	return ""
}

// CheckBytes returns string argument i as bytes that are valid only during the call. Copy
// them before keeping them or handing them to another goroutine.
func (c *Call) CheckBytes(i int) []byte {
	switch c.Type(i) {
	case TypeString:
		return c.view(i)
	case TypeNumber:
		return []byte(formatNumber(c.num(i)))
	}
	c.TypeError(i, "string")
	return nil
}

// OptString is CheckString with a default for nil or an absent argument.
func (c *Call) OptString(i int, def string) string {
	if t := c.Type(i); t == TypeNil || t == TypeNone {
		return def
	}
	return c.CheckString(i)
}

// CheckNumber returns number argument i (a numeric string is converted, as in Lua).
func (c *Call) CheckNumber(i int) float64 {
	switch c.Type(i) {
	case TypeNumber:
		return c.num(i)
	case TypeString:
		if f, err := strconv.ParseFloat(string(c.view(i)), 64); err == nil {
			return f
		}
	}
	c.TypeError(i, "number")
	return 0
}

// CheckInt returns number argument i as an integer, truncated toward zero as Lua 5.1 does.
// NaN, the infinities and numbers beyond ±2^63 raise an argument error: Go's conversion of
// them is undefined (NaN became -2^63), and no binding means them.
func (c *Call) CheckInt(i int) int64 {
	f := c.CheckNumber(i)
	if f != f || f >= 1<<63 || f < -(1<<63) {
		c.ArgError(i, "number has no integer representation")
	}
	return int64(f)
}

// CheckIntRange is CheckInt for an integer that must lie in [lo, hi]; others raise
// "number out of range (lo to hi expected)".
func (c *Call) CheckIntRange(i int, lo, hi int64) int64 {
	v := c.CheckInt(i)
	if v < lo || v > hi {
		c.ArgError(i, fmt.Sprintf("number out of range (%d to %d expected)", lo, hi))
	}
	return v
}

// CheckFinite returns number argument i, raising for NaN and the infinities.
func (c *Call) CheckFinite(i int) float64 {
	f := c.CheckNumber(i)
	if f != f || f > math.MaxFloat64 || f < -math.MaxFloat64 {
		c.ArgError(i, "finite number expected, got "+formatNumber(f))
	}
	return f
}

// OptInt is CheckInt with a default for nil or an absent argument.
func (c *Call) OptInt(i int, def int64) int64 {
	if t := c.Type(i); t == TypeNil || t == TypeNone {
		return def
	}
	return c.CheckInt(i)
}

// Bool returns argument i as Lua truth (nil and false are false).
func (c *Call) Bool(i int) bool {
	switch c.Type(i) {
	case TypeNil, TypeNone:
		return false
	case TypeBoolean:
		if i > C.CLUA_MAXARGS { // past the frame: lua_tonumber of a boolean is 0
			return C.lua_toboolean(c.l, C.int(i)) != 0
		}
		return c.num(i) != 0
	}
	return true
}

// OptFunc returns a registry ref to function argument i, or 0 when it is nil or absent.
// The caller owns the ref and must release it (State.Unref, or CallRef with unref).
func (c *Call) OptFunc(i int) int32 {
	switch c.Type(i) {
	case TypeNil, TypeNone:
		return 0
	case TypeFunction:
		return c.ref(i)
	}
	c.TypeError(i, "function")
	return 0
}

// ref takes a registry ref to argument i; it raises when none could be taken (the free
// slots of clua_ref_arg ran out, and no memory was left to add any).
func (c *Call) ref(i int) int32 {
	if i >= 1 && i <= int(c.f.n) && i <= C.CLUA_MAXARGS {
		if r := c.f.ref[i-1]; r > 0 { // taken by the trampoline: see clua_st.keeps
			c.f.ref[i-1] = 0
			return int32(r)
		}
		if c.f._type[i-1] == TypeFunction && c.fid < c.s.cst.nkeeps {
			// This function keeps callbacks: its next calls get their refs from C.
			*(*C.uchar)(unsafe.Add(unsafe.Pointer(c.s.cst.keeps), c.fid)) = 1
		}
	}
	switch r := int32(C.clua_ref_arg(c.l, C.int(i))); r {
	case C.LUA_REFNIL: // the argument is nil: nothing to keep
		return 0
	case C.LUA_NOREF:
		c.Raise("drlee: cannot keep a reference to argument #%d (out of memory)", i)
		return 0
	default:
		return r
	}
}

// CheckFunc is OptFunc for a required function.
func (c *Call) CheckFunc(i int) int32 {
	if c.Type(i) != TypeFunction {
		c.TypeError(i, "function")
	}
	return c.OptFunc(i)
}

// RefArg returns a registry ref to argument i whatever its type (0 for nil).
func (c *Call) RefArg(i int) int32 { return c.ref(i) }

// Object returns the class and id of argument i when it is one of our objects, else 0, 0.
func (c *Call) Object(i int) (cls uint32, id uint64) {
	if i < 1 || i > int(c.f.n) || i > C.CLUA_MAXARGS {
		return 0, 0
	}
	return uint32(c.f.cls[i-1]), uint64(c.f.id[i-1])
}

// Encode packs argument i (nil, booleans, numbers, strings and tables of them, json.null
// and json.empty_array) into the packed format (package packed); a table with the array metatable
// (RefArrayMeta) is packed as an array when it is one (see package packed). The bytes are
// valid until the next Encode on this state; copy them to keep them. A function, userdata
// or cycle raises a Lua error naming the argument.
func (c *Call) Encode(i int) []byte {
	// why is a State field: a local's address passed to C would escape (one allocation
	// per call).
	if C.clua_encode(c.l, C.int(i), &c.s.enc, &c.s.encLen, &c.s.encCap, &c.s.encWhy) != 0 {
		reason := C.GoString(c.s.encWhy)
		switch reason {
		case "cycle", "nesting too deep", "out of memory":
			c.ArgError(i, "cannot encode a table: "+reason)
		default:
			c.ArgError(i, "cannot encode a "+reason+" value")
		}
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(c.s.enc)), int(c.s.encLen))
}

// Out returns the writer for this call's results (emptied).
func (c *Call) Out() *packed.Writer {
	c.out.Reset()
	return &c.out
}

// Return hands the values written to Out back to Lua; return its result from the Func.
// A result the format cannot carry (Writer.Err: a string over 2 GiB) raises instead.
func (c *Call) Return() int {
	if c.out.Err != nil {
		c.Raise("%v", c.out.Err)
	}
	return int(c.s.setRet(c.f, c.out.B))
}

// ReturnSoon hands the values written to Out to the function at argument i instead of
// returning them: it is called with them as soon as the code that made this call returns,
// in the same runtime thread and scope, before the loop goes on (the thread's soon queue),
// and the call returns nothing. For a callback whose outcome is known now (a read of a
// body in memory): no trip through the loop and no second entry into Lua. Only when
// CanAwait (a runtime thread's own code); argument i must be a function.
func (c *Call) ReturnSoon(i int) int {
	if c.out.Err != nil {
		c.Raise("%v", c.out.Err)
	}
	if !c.CanAwait() || c.Type(i) != TypeFunction {
		c.Raise("drlee: ReturnSoon without a runtime thread or a function (a bug)")
	}
	c.f.soon = C.int(i)
	if r := c.s.setRet(c.f, c.out.B); r != C.CLUA_VALUES {
		return int(r)
	}
	return int(C.CLUA_SOON)
}

// ReturnString returns one string.
func (c *Call) ReturnString(s string) int {
	c.Out().String(s)
	return c.Return()
}

// ReturnBytes returns one string made of b.
func (c *Call) ReturnBytes(b []byte) int {
	c.Out().Bytes(b)
	return c.Return()
}

// ReturnNumber returns one number.
func (c *Call) ReturnNumber(f float64) int {
	c.Out().Number(f)
	return c.Return()
}

// ReturnBool returns one boolean.
func (c *Call) ReturnBool(b bool) int {
	c.Out().Bool(b)
	return c.Return()
}

// setRet copies b into the state's C result buffer (cst.spare), growing it when needed, and
// points the frame at it. The trampoline takes the buffer for as long as it decodes it
// (clua_tramp), so a call made meanwhile finds spare empty and gets a buffer of its own.
// When no memory is left it hands over a fixed message for the trampoline to raise.
func (s *State) setRet(f *C.clua_frame, b []byte) C.int {
	st := s.cst
	if len(b) > int(st.sparecap) {
		n := max(256, 2*len(b))
		p := (*C.char)(C.realloc(unsafe.Pointer(st.spare), C.size_t(n)))
		if p == nil {
			f.ret, f.retlen = errNoMemory, C.size_t(C.strlen(errNoMemory))
			return C.CLUA_RAISE
		}
		if st.spare == nil {
			s.retBufs++
		}
		st.spare, st.sparecap = p, C.size_t(n)
	}
	if len(b) > 0 {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(st.spare)), len(b)), b)
	}
	f.ret = st.spare
	f.retlen = C.size_t(len(b))
	return C.CLUA_VALUES
}

// errNoMemory is raised when a result cannot be handed to C (static: it needs no memory).
var errNoMemory = C.CString("drlee: out of memory for a result")

func formatNumber(f float64) string {
	switch {
	case f != f:
		return "nan"
	case f > math.MaxFloat64:
		return "inf"
	case f < -math.MaxFloat64:
		return "-inf"
	}
	if f == float64(int64(f)) && f < 1e15 && f > -1e15 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'g', 14, 64)
}
