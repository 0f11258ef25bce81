// Package fs is the Lua module "fs": files and directories, with every blocking call run on
// the engine's I/O pool and its result delivered to a callback on the worker's loop.
//
//	local fs = require "fs"
//	fs.open(path, cb)                 -- READ_ONLY
//	fs.open(path, flag, cb)
//	fs.open(path, flag, mode, cb)     -- mode (default 0644, i.e. 420) applies with CREATE
//	fs.flags                          -- READ_ONLY 0x0, WRITE_ONLY 0x1, READ_WRITE 0x2,
//	                                  -- APPEND 0x8, SYNC 0x80, CREATE 0x200, TRUNC 0x400,
//	                                  -- EXCL 0x800
//	fs.remove(path, cb)               -- a file or an empty directory
//	fs.remove_all(path, cb)           -- recursively; a missing path is no error
//	fs.stat(path, cb)                 -- cb(nil, {name, isdir, mode, size, timestamp})
//	fs.read_dir(path, cb)             -- cb(nil, {stat, ...}) sorted by name
//	fs.mkdir(path, cb)                -- the parent must exist
//	fs.mkdir_all(path, cb)            -- mkdir -p
//	fs.readfile(path, cb)             -- cb(nil, content)
//	file:read(n, cb)                  -- cb(nil, data): at most n bytes; "" at the end
//	file:write(data, cb)              -- cb(nil, bytes_written)
//	file:close(cb)                    -- cb(nil)
//
// Callbacks are function(err, result); err is nil or the Go error text. A callback is
// optional: an error nobody receives is reported as uncaught. I/O failures never raise;
// wrong argument types do ("bad argument #1 to 'fs.open' (string expected, got nil)"), and
// so does a method called on a closed file ("file is closed"). Module functions may be
// called with a colon too (fs:open(...)).
//
// The flag numbers are those of the original Dr.LEE on every OS and are translated to the
// host's O_ flags; an unknown bit is an argument error. mode is a Unix permission number
// (0 to 0o7777); stat's mode is the same kind of number (0644 gives 420), with the file type
// in isdir. stat follows symbolic links, read_dir describes the entries themselves. The
// timestamp is a Timestamp of the time module (the modification time). Paths are relative
// to the process's working directory, as in Lua's io library.
//
// Operations on one file run one at a time in the order they were issued, although they
// run on a shared pool: each file keeps a FIFO of pending operations, served by at most one
// pool task, and close waits behind the operations issued before it. A file that Lua
// collects without close() is closed then (after its pending operations).
package fs

import (
	"bytes"
	_ "embed"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"

	ltime "github.com/drlee/drlee/bindings/time"
	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/packed"
)

//go:embed fs.lua
var prelude string

// fileClass is the class of the file handles fs.open gives.
var fileClass = &engine.Class{Name: "file"}

func init() {
	// Methods are set here, not in the declaration: they refer to the class.
	fileClass.Methods = []engine.Function{
		{Name: "read", Fn: fileRead},
		{Name: "write", Fn: fileWrite},
		{Name: "close", Fn: fileClose},
	}
	fileClass.Meta = []engine.Function{{Name: "__tostring", Fn: fileString}}
	fileClass.Finalize = func(w *engine.Worker, v any) { v.(*file).collect() }
	engine.Register(&engine.Module{
		Name: "fs",
		Funcs: []engine.Function{
			{Name: "open", Fn: open},
			{Name: "remove", Fn: pathOnly(os.Remove)},
			{Name: "remove_all", Fn: pathOnly(os.RemoveAll)},
			{Name: "stat", Fn: stat},
			{Name: "read_dir", Fn: readDir},
			{Name: "mkdir", Fn: pathOnly(func(p string) error { return os.Mkdir(p, 0o777) })},
			{Name: "mkdir_all", Fn: pathOnly(func(p string) error { return os.MkdirAll(p, 0o777) })},
			{Name: "readfile", Fn: readFile},
		},
		Classes: []*engine.Class{fileClass},
		Lua:     prelude,
	})
}

// ok is the completion of an operation that succeeded with no result.
func ok(w *engine.Worker, a *engine.Args) { a.Nil() }

// failed is the completion of an operation that failed.
func failed(err error) engine.Completion {
	return func(w *engine.Worker, a *engine.Args) { a.Error(err) }
}

// optInteger reads an optional integral number argument.
func optInteger(c *engine.Call, i int, def int64) int64 {
	if t := c.Type(i); t == engine.TypeNil || t == engine.TypeNone {
		return def
	}
	f := c.CheckNumber(i)
	if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		c.ArgError(i, "number has no integer representation")
	}
	return int64(f)
}

// fs.open(path, [flag, [mode,]] cb): cb(nil, file).
func open(c *engine.Call) int {
	w := engine.WorkerOf(c)
	path := c.CheckString(1)
	flag, mode, cbArg := int64(flagReadOnly), int64(0o644), 2
	if c.Type(2) != engine.TypeFunction {
		flag, cbArg = optInteger(c, 2, flagReadOnly), 3
		if c.Type(3) != engine.TypeFunction {
			mode, cbArg = optInteger(c, 3, 0o644), 4
		}
	}
	hflag, err := hostFlags(flag)
	if err != nil {
		c.ArgError(2, err.Error())
	}
	perm, err := fileMode(mode)
	if err != nil {
		c.ArgError(3, err.Error())
	}
	op := w.ReserveCall(c, cbArg) // last: an op reserved before a raising check would leak
	received := op.Awaits() || op.HasCallback()
	submit := w.Engine().Pool
	e, id := w.Engine(), w.ID
	w.AsyncOp(op, func() engine.Completion {
		f, err := os.OpenFile(path, hflag, perm)
		if err != nil {
			return failed(err)
		}
		if !received {
			// Nobody receives the handle, so nobody could close it (open with CREATE and
			// no callback creates the file).
			f.Close()
			return ok
		}
		return func(w *engine.Worker, a *engine.Args) {
			a.Nil()
			fl := newFile(f, submit)
			fl.onPanic = func(p any) { e.InternalError(id, "a file operation", p) }
			w.NewObject(&a.Writer, fileClass, fl)
		}
	})
	return op.Return(c)
}

// pathOnly makes a module function fn(path, cb) that calls do on the pool: cb(err).
func pathOnly(do func(path string) error) engine.Func {
	return func(c *engine.Call) int {
		w := engine.WorkerOf(c)
		path := c.CheckString(1)
		return w.AsyncCall(c, 2, func() engine.Completion {
			if err := do(path); err != nil {
				return failed(err)
			}
			return ok
		})
	}
}

// writeStat writes the stat table of info.
func writeStat(w *engine.Worker, out *packed.Writer, info os.FileInfo) {
	out.Table(0, 5)
	out.String("name")
	out.String(info.Name())
	out.String("isdir")
	out.Bool(info.IsDir())
	out.String("mode")
	out.Int(unixMode(info.Mode()))
	out.String("size")
	out.Int(info.Size())
	out.String("timestamp")
	ltime.WriteTimestamp(w, out, info.ModTime())
}

// fs.stat(path, cb): cb(nil, stat).
func stat(c *engine.Call) int {
	w := engine.WorkerOf(c)
	path := c.CheckString(1)
	return w.AsyncCall(c, 2, func() engine.Completion {
		info, err := os.Stat(path)
		if err != nil {
			return failed(err)
		}
		return func(w *engine.Worker, a *engine.Args) {
			a.Nil()
			writeStat(w, &a.Writer, info)
		}
	})
}

// fs.read_dir(path, cb): cb(nil, list of stats sorted by name).
func readDir(c *engine.Call) int {
	w := engine.WorkerOf(c)
	path := c.CheckString(1)
	return w.AsyncCall(c, 2, func() engine.Completion {
		f, err := os.Open(path)
		if err != nil {
			return failed(err)
		}
		infos, err := f.Readdir(-1) // lstat of each entry, as os.ReadDir's Info
		f.Close()
		if err != nil {
			return failed(err)
		}
		slices.SortFunc(infos, func(a, b os.FileInfo) int { return strings.Compare(a.Name(), b.Name()) })
		return func(w *engine.Worker, a *engine.Args) {
			a.Nil()
			a.Table(len(infos), 0)
			for _, info := range infos {
				writeStat(w, &a.Writer, info)
			}
		}
	})
}

// fs.readfile(path, cb): cb(nil, content). os.ReadFile stats the file for its size first
// and reads it into a buffer of that size, as the seed describes. A file larger than a Lua
// string can be (packed.MaxString, just under 2 GiB) is an error before anything is read.
func readFile(c *engine.Call) int {
	w := engine.WorkerOf(c)
	path := c.CheckString(1)
	return w.AsyncCall(c, 2, func() engine.Completion {
		if info, err := os.Stat(path); err == nil && info.Mode().IsRegular() && info.Size() > packed.MaxString {
			return failed(fmt.Errorf("fs.readfile: %s is %d bytes, more than a Lua string can hold (%d): read it in parts with file:read", path, info.Size(), packed.MaxString))
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return failed(err)
		}
		return func(w *engine.Worker, a *engine.Args) {
			a.Nil()
			a.Bytes(data)
		}
	})
}

// file:read(n, cb): cb(nil, data) with at most n bytes; "" at the end of the file.
func fileRead(c *engine.Call) int {
	w := engine.WorkerOf(c)
	fl := w.Object(c, 1, fileClass).(*file)
	n := c.CheckNumber(2)
	if n < 0 || math.IsNaN(n) {
		c.ArgError(2, "non-negative count expected")
	}
	n = min(n, maxRead)
	op := w.ReserveCall(c, 3)
	fl.read(int(n), func(r result) {
		op.Complete(func(w *engine.Worker, a *engine.Args) {
			a.Error(r.err)
			if r.err == nil {
				a.Bytes(r.data)
				putReadBuf(r.data)
			}
		})
	})
	return op.Return(c)
}

// file:write(data, cb): cb(nil, bytes_written).
func fileWrite(c *engine.Call) int {
	w := engine.WorkerOf(c)
	fl := w.Object(c, 1, fileClass).(*file)
	data := bytes.Clone(c.CheckBytes(2)) // Lua owns the original only during this call
	op := w.ReserveCall(c, 3)
	fl.write(data, func(r result) {
		op.Complete(func(w *engine.Worker, a *engine.Args) {
			a.Error(r.err)
			if r.err == nil {
				a.Int(int64(r.n))
			}
		})
	})
	return op.Return(c)
}

// file:close(cb): cb(nil) once the operations issued before it are done. The handle is
// closed for Lua at once: any later method raises "file is closed".
func fileClose(c *engine.Call) int {
	w := engine.WorkerOf(c)
	fl := w.Object(c, 1, fileClass).(*file)
	id := w.ObjectID(c, 1, fileClass)
	op := w.ReserveCall(c, 2)
	w.Release(id)
	fl.close(func(r result) {
		if r.err != nil {
			op.Complete(failed(r.err))
			return
		}
		op.Complete(ok)
	})
	return op.Return(c)
}

// tostring(file): "file (path)", or "file (closed)".
func fileString(c *engine.Call) int {
	w := engine.WorkerOf(c)
	if v, live := w.Lookup(w.ObjectID(c, 1, fileClass)); live {
		return c.ReturnString("file (" + v.(*file).f.Name() + ")")
	}
	return c.ReturnString("file (closed)")
}
