package engine

import (
	"flag"
	"fmt"
	"sync"
	"unsafe"

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
	// Flags defines the module's command-line flags on fs, bound to its settings in cfg
	// (Setting.Ptr), so that parsing fills them in (see engine.Flags).
	Flags func(fs *flag.FlagSet, cfg *Config)
	// Configure runs when an engine is made from cfg, before anything else: the module may
	// check its settings (an error stops engine.New) and fill in what depends on them
	// (the rpc module names a clustered node after its port).
	Configure func(cfg *Config) error

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
	// FinalizeOnDemand, with Finalize, runs it only while some object of the class needs
	// it (Worker.WantFinalize): a finalizer costs every object Lua collects a call, which a
	// class made once per request and almost always released first should not pay.
	FinalizeOnDemand bool
	// Fast, when set, lets some methods run in C (FastMethods). Its objects are made with
	// NewFastObject.
	Fast *FastMethods
	// ScriptFields lets Lua code set fields of its own on each object and read them back
	// (req.user = u, then req.user): per object, made at the first assignment and
	// collected with the object (a released object keeps them for as long as Lua holds
	// it). Assigning to a method's or a getter's name raises ("cannot set httpRequest.path:
	// it is a read-only field"), so a field never shadows the class. Methods, getters and
	// objects that no script set a field on cost nothing more; but a class without
	// getters gets an __index function instead of its methods table, a C call for every
	// method look-up, and like a class with getters it cannot have Fast methods.
	ScriptFields bool

	id                      uint32
	methods, getters, metas []lua.Export
}

// FastMethods lets the simplest calls of some methods of a class run in C, without a
// crossing into Go: a binding's C function (a drlee_fast_fn, see cgo/include/drlee_fast.h)
// records such a call into the object's C-side state, or declines it, and the Go method
// then runs as usual. After every callback in which an object recorded, and whenever the
// binding asks (Worker.TakeOver), TakeOver applies what was recorded. The HTTP response's
// set_status, set, write and finish are the example: three crossings fewer per hello-world
// request.
type FastMethods struct {
	// Fn is the C function, as a pointer (C.my_fast_fn, converted to unsafe.Pointer).
	Fn unsafe.Pointer
	// Methods are the names it handles, among the class's Methods: op 1 is Methods[0].
	Methods []string
	// TakeOver applies what was recorded into obj (the binding's C struct) and clears the
	// record. It runs on the loop and must not call into Lua.
	TakeOver func(w *Worker, obj unsafe.Pointer)
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

// classOf is the class of id (nil for none). Classes are registered at init and never
// change after, so reading them takes no lock once workers run.
func classOf(id uint32) *Class {
	if id == 0 || int(id) > len(classes) {
		return nil
	}
	return classes[id-1]
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
		mt, err := w.st.NewClass(lua.ClassDef{
			Name: c.Name, Methods: c.methods, Getters: c.getters, Meta: c.metas,
			Finalize: c.Finalize != nil && !c.FinalizeOnDemand, ScriptFields: c.ScriptFields,
		})
		if err != nil {
			return err
		}
		w.classMeta[c.id] = mt
		if c.Fast != nil {
			if w.fastDirty == (lua.FastList{}) {
				w.fastDirty = lua.NewFastList()
			}
			if err := w.st.InstallFast(w.classMeta[c.id], c.Fast.Methods, c.Fast.Fn); err != nil {
				return fmt.Errorf("class %s: %w", c.Name, err)
			}
		}
	}
	for _, m := range mods {
		if m.Name == "" {
			if err := w.st.SetGlobalFuncs(m.exports); err != nil {
				return err
			}
			continue
		}
		ref, err := w.st.NewModule(m.exports)
		if err != nil {
			return err
		}
		err = w.st.RegisterLoaded(m.Name, ref)
		w.st.Unref(ref)
		if err != nil {
			return err
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

// FastObj is the C-side state of an object with fast methods (see FastMethods).
type FastObj = lua.FastObj

// FastObjAt is the FastObj at the start of a binding's C struct.
func FastObjAt(p unsafe.Pointer) FastObj { return lua.FastObjAt(p) }

// NewFastObject is NewObject for an object of a class with fast methods, whose C-side state
// (a binding's C struct, which begins with a drlee_fast_obj) is at obj: the state is given
// to the new object, with the fast methods active until obj's End. The binding owns obj's
// memory and must keep it valid until the state is closed (AfterClose): a script may keep
// the object, and its calls still reach obj (they fall back to Go once the state serves
// another object). Loop only.
func (w *Worker) NewFastObject(out *packed.Writer, cls *Class, v any, obj unsafe.Pointer) uint64 {
	if cls.Fast == nil {
		panic("engine: NewFastObject for class " + cls.Name + ", which has no fast methods")
	}
	id := w.objs.add(cls, v)
	lua.FastObjAt(obj).Attach(w.fastDirty, cls.id, id)
	out.ObjectData(w.classMeta[cls.id], cls.id, id, uint64(uintptr(obj)))
	return id
}

// TakeOver applies what the fast methods recorded into obj since it was last taken over,
// by calling its class's FastMethods.TakeOver, and does nothing when nothing was recorded.
// The loop does it after every callback; a binding does it before a Go method of the class,
// so that the calls apply in the order Lua made them. Loop only.
func (w *Worker) TakeOver(obj unsafe.Pointer) {
	if o := lua.FastObjAt(obj); o.TakeDirty() {
		w.takeOver(o)
	}
}

// takeOver hands a dirty object to its class (the dirty mark is already cleared).
func (w *Worker) takeOver(o lua.FastObj) {
	if cls := classOf(o.Class()); cls != nil && cls.Fast != nil {
		cls.Fast.TakeOver(w, o.Ptr())
	}
}

// AfterClose runs fn once the worker's state is closed: no Lua can run any more, so no
// object can reach what fn frees (the C state of fast objects). Loop only.
func (w *Worker) AfterClose(fn func()) { w.afterClose = append(w.afterClose, fn) }

// A Metatable is one that a module's Lua prelude hands over, for Go to attach to the values
// it builds (Writer.Meta): time's Timestamp, http's header tables. Declare it at init; the
// ref lives as long as each state.
type Metatable struct{ refs *WorkerLocal[int32] }

// NewMetatable declares a metatable handed over by Lua. Call it at init.
func NewMetatable() *Metatable {
	return &Metatable{NewWorkerLocal(func(*Worker) *int32 { return new(int32) })}
}

// Setter is the Func the prelude calls with the table (a module function named, by
// convention, __set_..._meta, which the prelude removes after use).
func (m *Metatable) Setter() Func {
	return func(c *Call) int {
		if c.Type(1) != TypeTable {
			c.TypeError(1, "table")
		}
		*m.refs.Get(WorkerOf(c)) = c.RefArg(1)
		return 0
	}
}

// Ref returns w's registry ref of the metatable, if the prelude handed it over. Loop only.
func (m *Metatable) Ref(w *Worker) (int32, bool) {
	if p := m.refs.Peek(w); p != nil && *p != 0 {
		return *p, true
	}
	return 0, false
}
