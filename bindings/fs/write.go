package fs

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/packed"
)

// writeOptions are fs.writefile's options.
type writeOptions struct {
	atomic    bool        // a temporary file renamed over the path
	append    bool        // O_APPEND
	exclusive bool        // O_EXCL: the file must not exist
	mode      os.FileMode // of a file created (before the umask)
	hasMode   bool        // mode was given (atomic: else the replaced file's permissions)
}

// fs.writefile(path, data, [options,] cb): cb(nil, bytes_written), always #data: a short
// write is an error.
func writeFileFn(c *engine.Call) int {
	w := engine.WorkerOf(c)
	path := c.CheckString(1)
	data := bytes.Clone(c.CheckBytes(2)) // Lua owns the original only during this call
	if data == nil {
		data = []byte{}
	}
	o := writeOptions{mode: 0o644}
	cbArg := 4
	switch c.Type(3) {
	case engine.TypeFunction:
		cbArg = 3
	case engine.TypeTable:
		writeOptionsOf(c, 3, &o)
	case engine.TypeNil, engine.TypeNone:
	default:
		c.TypeError(3, "table")
	}
	return w.AsyncCall(c, cbArg, func() engine.Completion {
		var err error
		if o.atomic {
			err = writeAtomic(path, data, o)
		} else {
			err = writePlain(path, data, o)
		}
		if err != nil {
			return failed(err)
		}
		return func(w *engine.Worker, a *engine.Args) {
			a.Nil()
			a.Int(int64(len(data)))
		}
	})
}

// writeOptionsOf reads the options table at argument i into o. Unknown names, values of
// the wrong type and atomic with append or exclusive are argument errors.
func writeOptionsOf(c *engine.Call, i int, o *writeOptions) {
	v, err := packed.Decode(c.Encode(i))
	if err != nil {
		c.ArgError(i, "options: "+err.Error())
	}
	opts, isMap := v.(map[any]any)
	if !isMap {
		if list, _ := v.([]any); len(list) > 0 {
			c.ArgError(i, "options must be a table of name = value (atomic, append, exclusive, mode)")
		}
		return // {}: no options
	}
	flag := func(name string, val any) bool {
		b, isBool := val.(bool)
		if !isBool {
			c.ArgError(i, "options."+name+" must be a boolean")
		}
		return b
	}
	for k, val := range opts {
		switch k {
		case "atomic":
			o.atomic = flag("atomic", val)
		case "append":
			o.append = flag("append", val)
		case "exclusive":
			o.exclusive = flag("exclusive", val)
		case "mode":
			m, err := modeValue(val)
			if err != nil {
				c.ArgError(i, "options.mode: "+err.Error())
			}
			o.mode, o.hasMode = m, true
		default:
			c.ArgError(i, fmt.Sprintf("unknown option %s (atomic, append, exclusive, mode)", optionName(k)))
		}
	}
	if o.atomic && o.append {
		c.ArgError(i, "options.atomic and options.append exclude each other (an atomic write replaces the whole file)")
	}
	if o.atomic && o.exclusive {
		c.ArgError(i, "options.atomic and options.exclusive exclude each other")
	}
}

// optionName is how an option's key is named in an error.
func optionName(k any) string {
	switch k := k.(type) {
	case string:
		if len(k) > 40 {
			k = k[:40] + "..."
		}
		return strconv.Quote(k)
	case float64:
		return "[" + strconv.FormatFloat(k, 'g', 14, 64) + "]"
	case bool:
		return "[" + strconv.FormatBool(k) + "]"
	}
	return fmt.Sprint(k)
}

// writePlain writes data to path as os.WriteFile does, or appends it: the file is opened
// (created with o.mode if missing; an existing file keeps its mode), written and closed.
func writePlain(path string, data []byte, o writeOptions) error {
	flag := os.O_WRONLY | os.O_CREATE
	if o.append {
		flag |= os.O_APPEND
	} else {
		flag |= os.O_TRUNC
	}
	if o.exclusive {
		flag |= os.O_EXCL
	}
	f, err := os.OpenFile(path, flag, o.mode)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err1 := f.Close(); err == nil {
		err = err1
	}
	return err
}

// maxTempBase bounds the part of a file's name that its temporary file's name repeats, so
// that the temporary name stays within NAME_MAX (255 bytes) with its prefix and suffix.
const maxTempBase = 200

// writeAtomic replaces the file at path with one that holds data: it writes a temporary
// file in the same directory, syncs it, renames it over path and syncs the directory. A
// reader opening path meanwhile gets the old file or the new one, whole. A symbolic link at
// path is followed (the file it names is replaced, the link stays); anything at the end of
// it but a regular file (a directory, a device) is refused. The new file gets o.mode when
// it is given (before the umask), else the permission bits of the file it replaces, else
// 0644 (before the umask). On any error before the rename the temporary file is removed and
// path is untouched.
func writeAtomic(path string, data []byte, o writeOptions) error {
	switch base := filepath.Base(path); {
	case path == "":
		return &os.PathError{Op: "writefile", Path: path, Err: syscall.ENOENT}
	case os.IsPathSeparator(path[len(path)-1]) || base == "." || base == "..":
		return &os.PathError{Op: "writefile", Path: path, Err: syscall.EISDIR}
	}
	target, err := resolveLinks(path)
	if err != nil {
		return atomicError(path, err)
	}
	perm, keep := o.mode, false
	switch info, err := os.Stat(target); {
	case err == nil && info.IsDir():
		return &os.PathError{Op: "writefile", Path: path, Err: syscall.EISDIR}
	case err == nil && !info.Mode().IsRegular():
		return &os.PathError{Op: "writefile", Path: path, Err: errNotRegular}
	case err == nil && !o.hasMode:
		perm, keep = info.Mode().Perm(), true
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return atomicError(path, err)
	}
	dir, base := filepath.Dir(target), filepath.Base(target)
	createPerm := perm
	if keep {
		createPerm = 0o600 // then set exactly, without the umask, below
	}
	f, tmp, err := createTemp(dir, base, createPerm)
	if err != nil {
		return atomicError(path, err)
	}
	renamed := false
	defer func() {
		if !renamed {
			os.Remove(tmp)
		}
	}()
	_, err = f.Write(data)
	if err == nil && keep {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if err1 := f.Close(); err == nil {
		err = err1
	}
	if err != nil {
		return atomicError(path, err)
	}
	if err := os.Rename(tmp, target); err != nil {
		return atomicError(path, err)
	}
	renamed = true
	return atomicError(path, syncDir(dir))
}

// errNotRegular is the error of an atomic write over a device, a fifo or a socket. It is
// EINVAL underneath, for whatever classifies errors by their errno.
var errNotRegular error = notRegular{}

type notRegular struct{}

func (notRegular) Error() string {
	return "not a regular file (an atomic write replaces regular files only)"
}
func (notRegular) Unwrap() error { return syscall.EINVAL }

// atomicError names path in an error of writeAtomic rather than its temporary file: "writefile
// path: no such file or directory". The system's error (a syscall.Errno) is kept inside.
func atomicError(path string, err error) error {
	var pe *os.PathError
	var le *os.LinkError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &pe):
		return &os.PathError{Op: "writefile", Path: path, Err: pe.Err}
	case errors.As(err, &le):
		return &os.PathError{Op: "writefile", Path: path, Err: le.Err}
	}
	return &os.PathError{Op: "writefile", Path: path, Err: err}
}

// resolveLinks follows the symbolic links at path, as opening it would, to the entry they
// end at, which need not exist (a dangling link names the file to create). A directory on
// the way that cannot be resolved leaves path as it is: creating the file will fail there.
// Like the kernel, it gives up after 40 links (ELOOP).
func resolveLinks(path string) (string, error) {
	p := path
	for range 40 {
		dir, err := filepath.EvalSymlinks(filepath.Dir(p))
		if err != nil {
			return p, nil
		}
		// dir has no links left, so a ".." in a relative target may be resolved by name.
		p = filepath.Join(dir, filepath.Base(p))
		info, err := os.Lstat(p)
		if err != nil || info.Mode()&os.ModeSymlink == 0 {
			return p, nil
		}
		link, err := os.Readlink(p)
		if err != nil {
			return "", err
		}
		if filepath.IsAbs(link) {
			p = link
		} else {
			p = filepath.Join(dir, link)
		}
	}
	return "", syscall.ELOOP
}

// createTemp creates a new file in dir for writeAtomic, named after base
// (".base.<random>.tmp"), with perm before the umask.
func createTemp(dir, base string, perm os.FileMode) (*os.File, string, error) {
	if len(base) > maxTempBase {
		base = base[:maxTempBase]
	}
	for try := 0; ; try++ {
		name := filepath.Join(dir, "."+base+"."+strconv.FormatUint(rand.Uint64(), 36)+".tmp")
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
		if err == nil {
			return f, name, nil
		}
		if !errors.Is(err, os.ErrExist) || try == 100 {
			return nil, "", err
		}
	}
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if err1 := d.Close(); err == nil {
		err = err1
	}
	return err
}
