package engine

import lua "github.com/drlee/drlee/cgo"

// Lua type codes, for Call.Type.
const (
	TypeNone     = lua.TypeNone
	TypeNil      = lua.TypeNil
	TypeBoolean  = lua.TypeBoolean
	TypeNumber   = lua.TypeNumber
	TypeString   = lua.TypeString
	TypeTable    = lua.TypeTable
	TypeFunction = lua.TypeFunction
	TypeUserdata = lua.TypeUserdata
)

// Registry refs of values every state has from its start, to push with value.Writer.Ref:
// the array metatable (json.array_mt), and json.empty_array (see package packed).
const (
	RefArrayMeta  = lua.RefArrayMeta
	RefEmptyArray = lua.RefEmptyArray
)

// SetGlobal sets a global of the worker's state to the first value packed in v. Loop only.
func (w *Worker) SetGlobal(name string, v []byte) error { return w.st.SetGlobal(name, v) }

// Scratch returns a reusable byte buffer of the worker, emptied. Give it back with
// KeepScratch (so that its growth is kept) before the next Scratch. Loop only.
func (w *Worker) Scratch() []byte { return w.scratch[:0] }

// KeepScratch keeps b as the worker's scratch buffer.
func (w *Worker) KeepScratch(b []byte) {
	if cap(b) <= 1<<20 { // do not pin huge buffers forever
		w.scratch = b[:0]
	}
}
