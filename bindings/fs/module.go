// Package fs is the Lua module "fs": files and directories, with every blocking call run on
// the engine's I/O pool and its result delivered to a callback on the worker's loop.
//
//	local fs = require "fs"
//	fs.open(path, cb)                 -- READ_ONLY
//	fs.open(path, flag, cb)
//	fs.open(path, flag, mode, cb)     -- mode (default "0644") applies with CREATE
//	fs.flags                          -- READ_ONLY 0x0, WRITE_ONLY 0x1, READ_WRITE 0x2,
//	                                  -- APPEND 0x8, SYNC 0x80, CREATE 0x200, TRUNC 0x400,
//	                                  -- EXCL 0x800
//	fs.remove(path, cb)               -- a file or an empty directory
//	fs.remove_all(path, cb)           -- recursively; a missing path is no error
//	fs.stat(path, cb)                 -- cb(nil, {name, type, isdir, issymlink, mode,
//	                                  --   mode_string, size, timestamp}), links followed
//	fs.lstat(path, cb)                -- the same of the entry itself: a link is type "symlink"
//	fs.read_dir(path, cb)             -- cb(nil, {stat, ...}) sorted by name, entries as lstat
//	fs.mkdir(path, [mode,] cb)        -- the parent must exist; mode default "0777"
//	fs.mkdir_all(path, [mode,] cb)    -- mkdir -p; every directory it makes gets mode
//	fs.readfile(path, cb)             -- cb(nil, content)
//	fs.writefile(path, data, [options,] cb) -- cb(nil, bytes_written), always #data
//	fs.rename(old, new, cb)           -- cb(nil); replaces new if it is a file
//	fs.chmod(path, mode, cb)          -- cb(nil); exactly mode (no umask), links followed
//	fs.readlink(path, cb)             -- cb(nil, target) of a symbolic link
//	fs.tmpdir()                       -- os.TempDir() ($TMPDIR, else /tmp), at once
//	file:read(n, cb)                  -- cb(nil, data): at most n bytes; "" at the end
//	file:write(data, cb)              -- cb(nil, bytes_written)
//	file:close(cb)                    -- cb(nil)
//
// Callbacks are function(err, result); err is nil or an error string that starts with its
// code ("ENOENT: open x: no such file or directory"; err_code(err) gives "ENOENT"). A callback is
// optional: without one, in a coroutine the runtime runs (a handler, a callback, the main
// chunk), the call waits and returns result (true when there is none) or nil, err; in a
// coroutine of the script's own, an error nobody receives is reported as uncaught. I/O
// failures never raise; wrong arguments do ("bad argument #1 to 'fs.open' (string
// expected, got nil)"), and so does a method called on a closed file ("file is closed").
// Module functions may be called with a colon too (fs:open(...)).
//
// fs.writefile writes data (a string, any bytes; a number is written as its text, as Lua
// converts it) like os.WriteFile: the file is created (mode, default "0644", before the
// umask) or truncated, written and closed. options is a table of:
//
//	atomic = true     write a temporary file in the same directory (".name.<random>.tmp"),
//	                  fsync it, rename it over path, fsync the directory: a reader sees the
//	                  old content or the new, whole, never a part, and a crash leaves one or
//	                  the other (perhaps a stray temporary file). path gets a new file: a
//	                  symbolic link at path is followed and the file it names replaced (the
//	                  link stays); a directory, device, fifo or socket there is an error. The
//	                  new file gets options.mode if given (before the umask), else the
//	                  permission bits of the file it replaces, else "0644" (before the
//	                  umask); its owner is the process, and hard links to the old file keep
//	                  the old content.
//	append = true     O_APPEND: data goes at the end (the file is created if missing)
//	exclusive = true  O_EXCL: an error ("file exists") if path exists
//	mode = "0600"     of a file it creates; a plain write keeps an existing file's mode
//
// atomic with append or with exclusive is an argument error, as are unknown names and values
// of the wrong type.
//
// Modes (fs.open's, writefile's options.mode, mkdir's, chmod's) are Unix permission numbers
// with the setuid 0o4000, setgid 0o2000 and sticky 0o1000 bits, given as a number from 0 to
// 4095 (0o7777) or as a string of octal digits: "0644", "644", "0o644" (or "0O644"), at
// most "7777". The string is there because Lua has no octal literals: 0644 in Lua is the
// decimal number 644, which is 0o1204 (sticky, -w- for the owner, r-- for others), not
// rw-r--r--; tonumber("644", 8) is the number meant. Anything else (a fraction, NaN, a
// negative number, "rw", " 644", "0x1a4") is an argument error naming the argument. A
// string is always octal: "420" is 0o420, not the decimal 420 that Lua would convert it to.
//
// The flag numbers are those of the original Dr.LEE on every OS and are translated to the
// host's O_ flags; an unknown bit is an argument error. stat's mode is the permission
// number (0644 gives 420), and mode_string the same in four octal digits ("0644"), which
// shows a mode given in decimal by mistake for what it is ("1204"). type is "file", "dir",
// "symlink", "fifo", "socket", "char_device", "block_device" or "other"; isdir and
// issymlink say the same for those two. stat follows symbolic links, lstat and read_dir
// describe the entries themselves. The timestamp is a Timestamp of the time module (the
// modification time). Paths are relative to the process's working directory, as in Lua's
// io library.
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
			{Name: "lstat", Fn: lstat},
			{Name: "read_dir", Fn: readDir},
			{Name: "mkdir", Fn: mkdir(os.Mkdir)},
			{Name: "mkdir_all", Fn: mkdir(os.MkdirAll)},
			{Name: "readfile", Fn: readFile},
			{Name: "writefile", Fn: writeFileFn},
			{Name: "rename", Fn: rename},
			{Name: "chmod", Fn: chmod},
			{Name: "readlink", Fn: readlink},
			{Name: "tmpdir", Fn: tmpdir},
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

// checkMode reads mode argument i: a number (0 to 0o7777) or a string of octal digits
// ("0644", "644", "0o644"; see parseMode).
func checkMode(c *engine.Call, i int) os.FileMode {
	var m int64
	var err error
	switch c.Type(i) {
	case engine.TypeNumber:
		m, err = modeNumber(c.CheckNumber(i))
	case engine.TypeString:
		b := c.CheckBytes(i)
		if len(b) > maxModeString { // refused without a copy of it all
			err = fmt.Errorf("invalid mode (a string of %d bytes; %s)", len(b), modeHint)
		} else {
			m, err = parseMode(string(b))
		}
	default:
		c.TypeError(i, "number or string")
	}
	if err != nil {
		c.ArgError(i, err.Error())
	}
	perm, err := fileMode(m)
	if err != nil {
		c.ArgError(i, err.Error())
	}
	return perm
}

// optMode is checkMode with a default for nil or an absent argument.
func optMode(c *engine.Call, i int, def os.FileMode) os.FileMode {
	if t := c.Type(i); t == engine.TypeNil || t == engine.TypeNone {
		return def
	}
	return checkMode(c, i)
}

// fs.open(path, [flag, [mode,]] cb): cb(nil, file).
func open(c *engine.Call) int {
	w := engine.WorkerOf(c)
	path := c.CheckString(1)
	flag, perm, cbArg := int64(flagReadOnly), os.FileMode(0o644), 2
	if c.Type(2) != engine.TypeFunction {
		flag, cbArg = optInteger(c, 2, flagReadOnly), 3
		if c.Type(3) != engine.TypeFunction {
			perm, cbArg = optMode(c, 3, 0o644), 4
		}
	}
	hflag, err := hostFlags(flag)
	if err != nil {
		c.ArgError(2, err.Error())
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

// mkdir makes fs.mkdir or fs.mkdir_all from do: fn(path, [mode,] cb), cb(err). mode
// defaults to 0o777, before the umask.
func mkdir(do func(path string, perm os.FileMode) error) engine.Func {
	return func(c *engine.Call) int {
		w := engine.WorkerOf(c)
		path := c.CheckString(1)
		perm, cbArg := os.FileMode(0o777), 2
		if c.Type(2) != engine.TypeFunction {
			perm, cbArg = optMode(c, 2, 0o777), 3
		}
		return w.AsyncCall(c, cbArg, func() engine.Completion {
			if err := do(path, perm); err != nil {
				return failed(err)
			}
			return ok
		})
	}
}

// fs.rename(old, new, cb): cb(err).
func rename(c *engine.Call) int {
	w := engine.WorkerOf(c)
	from, to := c.CheckString(1), c.CheckString(2)
	return w.AsyncCall(c, 3, func() engine.Completion {
		if err := os.Rename(from, to); err != nil {
			return failed(err)
		}
		return ok
	})
}

// fs.chmod(path, mode, cb): cb(err). The mode is set as given (no umask), following
// symbolic links.
func chmod(c *engine.Call) int {
	w := engine.WorkerOf(c)
	path := c.CheckString(1)
	perm := checkMode(c, 2)
	return w.AsyncCall(c, 3, func() engine.Completion {
		if err := os.Chmod(path, perm); err != nil {
			return failed(err)
		}
		return ok
	})
}

// fs.readlink(path, cb): cb(nil, target), the target of a symbolic link as it was made.
func readlink(c *engine.Call) int {
	w := engine.WorkerOf(c)
	path := c.CheckString(1)
	return w.AsyncCall(c, 2, func() engine.Completion {
		target, err := os.Readlink(path)
		if err != nil {
			return failed(err)
		}
		return func(w *engine.Worker, a *engine.Args) {
			a.Nil()
			a.String(target)
		}
	})
}

// fs.tmpdir(): the directory for temporary files (os.TempDir: $TMPDIR, else /tmp), at once.
func tmpdir(c *engine.Call) int { return c.ReturnString(os.TempDir()) }

// writeStat writes the stat table of info.
func writeStat(w *engine.Worker, out *packed.Writer, info os.FileInfo) {
	m := info.Mode()
	out.Table(0, 8)
	out.String("name")
	out.String(info.Name())
	out.String("type")
	out.String(fileType(m))
	out.String("isdir")
	out.Bool(info.IsDir())
	out.String("issymlink")
	out.Bool(m&os.ModeSymlink != 0)
	out.String("mode")
	out.Int(unixMode(m))
	out.String("mode_string")
	digits := modeDigits(m)
	out.Bytes(digits[:])
	out.String("size")
	out.Int(info.Size())
	out.String("timestamp")
	ltime.WriteTimestamp(w, out, info.ModTime())
}

// fs.stat(path, cb): cb(nil, stat), following symbolic links.
func stat(c *engine.Call) int { return statWith(c, os.Stat) }

// fs.lstat(path, cb): cb(nil, stat) of the entry itself: a symbolic link is described as
// one (type "symlink", issymlink true), not followed.
func lstat(c *engine.Call) int { return statWith(c, os.Lstat) }

func statWith(c *engine.Call, do func(string) (os.FileInfo, error)) int {
	w := engine.WorkerOf(c)
	path := c.CheckString(1)
	return w.AsyncCall(c, 2, func() engine.Completion {
		info, err := do(path)
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
			return failed(engine.WithCode("EMSGSIZE", fmt.Errorf("fs.readfile: %s is %d bytes, more than a Lua string can hold (%d): read it in parts with file:read", path, info.Size(), packed.MaxString)))
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
