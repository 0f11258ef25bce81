package engine

import (
	"fmt"
	"sync"

	lua "github.com/drlee/drlee/cgo"
	"github.com/drlee/drlee/packed"
)

// Call is one call of a Go function from Lua: arguments in, results out. It is valid only
// during the call. See the methods of lua.Call (Check*, Opt*, Encode, Out, Return).
type Call = lua.Call

// Func is a Go function visible to Lua.
type Func = lua.Func

// Function names a Func inside a module or class.
type Function struct {
	Name string
	Fn   Func
}

// Module is what a binding contributes to every worker: Lua functions under require(Name)
// (or as globals when Name is empty), classes of Go objects, and Lua source run once per
// worker after the Go functions exist (for the parts best written in Lua).
type Module struct {
	Name    string
	Funcs   []Function
	Classes []*Class
	// Lua runs in every worker after the module is registered; it may require(Name).
	Lua string
	// Init runs in every worker before Lua, on the loop.
	Init func(w *Worker)

	exports []lua.Export
}

// Class is a kind of Go object that Lua holds as userdata with methods and fields.
type Class struct {
	Name    string     // as errors name it: "file" gives "file expected, got nil"
	Methods []Function // obj:name(...)
	Getters []Function // obj.name, computed on each access
	Meta    []Function // metamethods, such as __tostring
	// Finalize, when set, runs when Lua collects an object that was not released (the
	// script dropped a file without closing it). It runs on the loop inside whatever Lua
	// call triggered the collection, so it must not call into Lua; releasing Go resources
	// is what it is for.
	Finalize func(w *Worker, v any)

	id                      uint32
	methods, getters, metas []lua.Export
}

var (
	modulesMu sync.Mutex
	modules   []*Module
	classes   []*Class
)

// Register adds a module. Call it from an init function: registering after the first
// worker started panics, as does a duplicate name.
func Register(m *Module) {
	modulesMu.Lock()
	defer modulesMu.Unlock()
	for _, o := range modules {
		if o.Name == m.Name && m.Name != "" {
			panic("engine: module registered twice: " + m.Name)
		}
	}
	prefix := m.Name + "."
	if m.Name == "" {
		prefix = ""
	}
	for _, f := range m.Funcs {
		m.exports = append(m.exports, lua.Export{Name: f.Name, ID: lua.Register(prefix+f.Name, false, f.Fn)})
	}
	for _, c := range m.Classes {
		if c.id != 0 {
			continue // shared by several modules
		}
		classes = append(classes, c)
		c.id = uint32(len(classes))
		for _, f := range c.Methods {
			c.methods = append(c.methods, lua.Export{Name: f.Name, ID: lua.Register(c.Name+":"+f.Name, true, f.Fn)})
		}
		for _, f := range c.Getters {
			c.getters = append(c.getters, lua.Export{Name: f.Name, ID: lua.Register(c.Name+"."+f.Name, true, f.Fn)})
		}
		for _, f := range c.Meta {
			c.metas = append(c.metas, lua.Export{Name: f.Name, ID: lua.Register(c.Name+"."+f.Name, true, f.Fn)})
		}
	}
	modules = append(modules, m)
}

func registeredModules() []*Module {
	modulesMu.Lock()
	defer modulesMu.Unlock()
	return append([]*Module(nil), modules...)
}

// install builds every module and class in w's state. Runs on w's loop.
func (w *Worker) install() error {
	mods := registeredModules()
	modulesMu.Lock()
	all := append([]*Class(nil), classes...)
	modulesMu.Unlock()
	w.classMeta = make([]int32, len(all)+1)
	for _, c := range all {
		w.classMeta[c.id] = w.st.NewClass(c.Name, c.methods, c.getters, c.metas, c.Finalize != nil)
	}
	for _, m := range mods {
		if m.Name == "" {
			w.st.SetGlobalFuncs(m.exports)
		} else {
			ref := w.st.NewModule(m.exports)
			w.st.RegisterLoaded(m.Name, ref)
			w.st.Unref(ref)
		}
	}
	for _, m := range mods {
		if m.Init != nil {
			m.Init(w)
		}
	}
	for _, m := range mods {
		if m.Lua == "" {
			continue
		}
		name := m.Name
		if name == "" {
			name = "globals"
		}
		if err := w.st.DoChunk([]byte(m.Lua), "=[drlee "+name+"]"); err != nil {
			return fmt.Errorf("module %s: %w", name, err)
		}
	}
	return nil
}

// NewObject adds v to the worker's objects as an instance of cls and writes it to out (so
// that the Lua side receives a userdata with the class's methods). Loop only.
func (w *Worker) NewObject(out *packed.Writer, cls *Class, v any) uint64 {
	id := w.objs.add(cls, v)
	out.Object(w.classMeta[cls.id], cls.id, id)
	return id
}

// Object returns the Go value of object argument i of class cls, raising a Lua argument
// error when it is something else or was released.
func (w *Worker) Object(c *Call, i int, cls *Class) any {
	k, id := c.Object(i)
	if k == cls.id {
		if v, _ := w.objs.get(id); v != nil {
			return v
		}
		c.ArgError(i, cls.Name+" is closed")
	}
	c.TypeError(i, cls.Name)
	return nil
}

// ObjectID returns the id of object argument i (0 when it is not an object of cls).
func (w *Worker) ObjectID(c *Call, i int, cls *Class) uint64 {
	k, id := c.Object(i)
	if k != cls.id {
		return 0
	}
	return id
}

// Release removes an object from the worker's table: its userdata stays valid in Lua, but
// methods called on it raise "<class> is closed". Loop only.
func (w *Worker) Release(id uint64) { w.objs.remove(id) }

// finalize is the state's __gc hook.
func (w *Worker) finalize(clsID uint32, id uint64) {
	v, cls := w.objs.get(id)
	if cls == nil {
		return
	}
	w.objs.remove(id)
	if cls.Finalize != nil {
		cls.Finalize(w, v)
	}
}

// Lookup returns the Go value of a live object id.
func (w *Worker) Lookup(id uint64) (any, bool) {
	v, cls := w.objs.get(id)
	return v, cls != nil
}

// RespBuffer is a response's C-side buffer (see lua.RespBuffer).
type RespBuffer = lua.RespBuffer

// AcquireRespBuffer takes a buffer from the worker's own free list (or allocates one).
// Buffers never leave their worker and are freed only when its state is closed, so that a
// response object a script kept beyond its request can never reach freed memory or another
// worker's buffer: its fast methods see another id and fall back to Go. Loop only.
func (w *Worker) AcquireRespBuffer() RespBuffer {
	if n := len(w.respBufs); n > 0 {
		b := w.respBufs[n-1]
		w.respBufs = w.respBufs[:n-1]
		return b
	}
	b := lua.NewRespBuffer(w.respDirty)
	w.respBufsAll = append(w.respBufsAll, b)
	return b
}

// ReleaseRespBuffer returns a buffer to the worker's free list. Loop only.
func (w *Worker) ReleaseRespBuffer(b RespBuffer) {
	b.End()
	w.respBufs = append(w.respBufs, b)
}

// NewObjectWithBuffer is NewObject for an object whose fast methods use buf.
func (w *Worker) NewObjectWithBuffer(out *packed.Writer, cls *Class, v any, buf RespBuffer) uint64 {
	id := w.objs.add(cls, v)
	out.ObjectData(w.classMeta[cls.id], cls.id, id, buf.Data())
	return id
}

// InstallFastResponse gives cls the C fast methods set_status, set, write and finish (see
// lua.RespBuffer). After every callback in which they recorded into a buffer, the loop
// calls takeOver with it, before the tick-end functions (AtTickEnd) run. Loop only; call it
// from the module's Init.
func (w *Worker) InstallFastResponse(cls *Class, takeOver func(w *Worker, b RespBuffer)) {
	w.st.InstallRespMethods(w.classMeta[cls.id])
	if w.respDirty == (lua.RespList{}) {
		w.respDirty = lua.NewRespList()
	}
	w.respTakeOver = func(b RespBuffer) { takeOver(w, b) }
}

// MetatableSetter returns a Func for a module's Lua prelude to hand over a metatable that
// Go then attaches to values it builds (Writer.Meta), stored under key: time's Timestamp,
// http's header tables. The ref lives as long as the state.
func MetatableSetter(key any) Func {
	return func(c *Call) int {
		if c.Type(1) != TypeTable {
			c.TypeError(1, "table")
		}
		WorkerOf(c).Values[key] = c.RefArg(1)
		return 0
	}
}

// Metatable returns the metatable handed over under key, if any. Loop only.
func (w *Worker) Metatable(key any) (int32, bool) {
	ref, ok := w.Values[key].(int32)
	return ref, ok
}
