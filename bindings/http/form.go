package http

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"mime/multipart"
	"os"
	"strings"
	"sync"

	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/packed"
)

// req:form(options?, cb): the body as a form.
//
//   - application/x-www-form-urlencoded: a table like req.query (query.go), decoded on the
//     loop: the body is in memory already.
//   - multipart/form-data: parsed on the I/O pool (Go's mime/multipart) from a copy of the
//     body. Fields are strings; each file part is written to its own temporary file under
//     os.TempDir() (mode 0600) and given as {filename, path, size, content_type}; a name
//     given several times is a list, in order, as in req.query. The temporary files are
//     removed when the request ends (its response is out and nothing its handler started is
//     left), or when the engine closes: a script that keeps an upload moves or copies it
//     before then.
//
// options: max_fields (fields and files together, default 1000), max_files (default 100),
// max_file_size (bytes per file, default --max-body-size). Beyond a limit, cb(err) and no
// file is left behind.

// formOptions are req:form's limits.
type formOptions struct {
	maxFields, maxFiles int
	maxFileSize         int64
}

const (
	defaultMaxFields = 1000
	defaultMaxFiles  = 100
)

const formOptionNames = "max_fields, max_files, max_file_size"

func parseFormOptions(c *engine.Call, i int, o *formOptions) {
	v, err := packed.Decode(c.Encode(i))
	if err != nil {
		c.ArgError(i, err.Error())
	}
	opts, ok := v.(map[any]any)
	if !ok {
		if list, _ := v.([]any); len(list) > 0 {
			c.ArgError(i, "options must be a table of name = value ("+formOptionNames+")")
		}
		return
	}
	count := func(name string, val any, max float64) float64 {
		f, ok := val.(float64)
		if !ok || !(f >= 1) || f != math.Trunc(f) { // NaN fails too
			c.ArgError(i, fmt.Sprintf("options.%s must be a whole number, 1 or more (math.huge: no limit), got %s", name, optionValue(val)))
		}
		return min(f, max)
	}
	for k, val := range opts {
		switch k {
		case "max_fields":
			o.maxFields = int(count("max_fields", val, math.MaxInt32))
		case "max_files":
			o.maxFiles = int(count("max_files", val, math.MaxInt32))
		case "max_file_size":
			o.maxFileSize = int64(count("max_file_size", val, maxReadSize))
		default:
			c.ArgError(i, fmt.Sprintf("unknown option %s (%s)", optionName(k), formOptionNames))
		}
	}
}

var (
	errTooManyFields = errors.New("http: req:form: too many fields (options.max_fields)")
	errTooManyFiles  = errors.New("http: req:form: too many files (options.max_files)")
)

// req:form(options?, cb)
func reqForm(c *engine.Call) int {
	w, rs := reqOf(c)
	o := formOptions{maxFields: defaultMaxFields, maxFiles: defaultMaxFiles, maxFileSize: int64(Settings.Get(w.Engine()).MaxBodySize)}
	cbArg := 2
	switch c.Type(2) {
	case engine.TypeTable:
		parseFormOptions(c, 2, &o)
		cbArg = 3
	case engine.TypeNil:
		if c.N() >= 3 {
			cbArg = 3 // req:form(nil, cb)
		}
	case engine.TypeNone, engine.TypeFunction:
	default:
		c.TypeError(2, "table or function")
	}
	engine.HasCallback(c, cbArg) // raises for a callback that is not a function
	kind, boundary, err := formKind(rs.contentType())
	if err != nil || kind == formURLEncoded {
		return returnKnown(c, cbArg, func(out *packed.Writer) error {
			if err != nil {
				return err
			}
			fits := true
			rs.readBody(maxReadSize, func(b []byte) { fits = queryParsers.Get(w).writeFields(out, b, o.maxFields) })
			if !fits {
				return engine.WithCode("EMSGSIZE", fmt.Errorf("http: req:form: more than %d fields (options.max_fields)", o.maxFields))
			}
			return nil
		})
	}
	var body []byte // a copy: the pool must not read ctx
	rs.readBody(maxReadSize, func(b []byte) { body = append([]byte(nil), b...) })
	temps := rs.tempFiles(w)
	return w.AsyncCall(c, cbArg, func() engine.Completion {
		form, err := parseMultipart("", body, boundary, o, temps)
		return func(w *engine.Worker, a *engine.Args) {
			a.Error(err)
			if err == nil {
				form.write(&a.Writer)
			}
		}
	})
}

const (
	formURLEncoded = iota + 1
	formMultipart
)

// formKind reads a request's Content-Type: url-encoded, or multipart with its boundary.
func formKind(ct string) (kind int, boundary string, err error) {
	if ct == "" {
		return 0, "", engine.NewError("EINVAL", "http: req:form: the request has no Content-Type (want application/x-www-form-urlencoded or multipart/form-data)")
	}
	mt, params, perr := mime.ParseMediaType(ct)
	switch {
	case perr == nil && mt == "application/x-www-form-urlencoded":
		return formURLEncoded, "", nil
	case perr == nil && mt == "multipart/form-data":
		b := params["boundary"]
		if b == "" {
			return 0, "", engine.NewError("EINVAL", "http: req:form: multipart/form-data without a boundary")
		}
		return formMultipart, b, nil
	}
	return 0, "", engine.WithCode("EINVAL", fmt.Errorf("http: req:form: the body is %s, not a form (application/x-www-form-urlencoded or multipart/form-data)", quoteShort(ct)))
}

// contentType is the request's Content-Type. Loop only.
func (rs *request) contentType() string {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	switch {
	case rs.ctx != nil:
		return string(rs.ctx.Request.Header.ContentType())
	case rs.snap != nil:
		for _, p := range rs.snap.headers {
			if strings.EqualFold(string(p[0]), "content-type") {
				return string(p[1])
			}
		}
	}
	return ""
}

// formEntry is a field or a file of a multipart form.
type formEntry struct {
	name  string
	value string
	file  *upload
}

type upload struct {
	filename, path, contentType string
	size                        int64
}

type multipartForm struct{ entries []formEntry }

// parseMultipart reads a multipart/form-data body, writing its files into temporary files
// in dir ("": os.TempDir()) registered with temps (so that they go when the request ends).
// On an error, the files it wrote are removed at once. Plain Go: it runs on the pool.
func parseMultipart(dir string, body []byte, boundary string, o formOptions, temps *tempFiles) (form *multipartForm, err error) {
	form = &multipartForm{}
	var made []string
	defer func() {
		if err != nil {
			temps.remove(made)
			form = nil
		}
	}()
	r := multipart.NewReader(bytes.NewReader(body), boundary)
	files := 0
	for {
		p, perr := r.NextPart()
		if perr == io.EOF {
			return form, nil
		}
		if perr != nil {
			return nil, engine.WithCode("EINVAL", fmt.Errorf("http: req:form: malformed multipart body: %v", perr))
		}
		name := p.FormName()
		if name == "" {
			p.Close()
			continue // not form-data, or nameless: not a field (RFC 7578 §4.2)
		}
		if len(form.entries) >= o.maxFields {
			return nil, engine.WithCode("EMSGSIZE", fmt.Errorf("http: req:form: more than %d fields (options.max_fields)", o.maxFields))
		}
		filename := p.FileName()
		if filename == "" {
			v, rerr := io.ReadAll(p)
			if rerr != nil {
				return nil, engine.WithCode("EINVAL", fmt.Errorf("http: req:form: malformed multipart body: %v", rerr))
			}
			form.entries = append(form.entries, formEntry{name: name, value: string(v)})
			continue
		}
		if files >= o.maxFiles {
			return nil, engine.WithCode("EMSGSIZE", fmt.Errorf("http: req:form: more than %d files (options.max_files)", o.maxFiles))
		}
		files++
		f, cerr := os.CreateTemp(dir, "drlee-upload-*")
		if cerr != nil {
			return nil, fmt.Errorf("http: req:form: %w", cerr)
		}
		made = append(made, f.Name())
		temps.add(f.Name())
		n, cerr := io.Copy(f, io.LimitReader(p, o.maxFileSize+1))
		if n > o.maxFileSize {
			f.Close()
			return nil, engine.WithCode("EMSGSIZE", fmt.Errorf("http: req:form: file %s of field %s is larger than %d bytes (options.max_file_size)", quoteShort(filename), quoteShort(name), o.maxFileSize))
		}
		if err := f.Close(); cerr == nil {
			cerr = err
		}
		if cerr != nil {
			return nil, fmt.Errorf("http: req:form: %w", cerr)
		}
		ct := p.Header.Get("Content-Type")
		if ct == "" {
			ct = "application/octet-stream" // RFC 7578 §4.4
		}
		form.entries = append(form.entries, formEntry{name: name, file: &upload{
			filename: filename, path: f.Name(), contentType: ct, size: n,
		}})
	}
}

// write writes the form as a table of name = value, a list for a repeated name.
func (f *multipartForm) write(out *packed.Writer) {
	first := map[string]int{} // name -> index of its first entry
	var order []string
	counts := map[string]int{}
	for i, e := range f.entries {
		if _, ok := first[e.name]; !ok {
			first[e.name] = i
			order = append(order, e.name)
		}
		counts[e.name]++
	}
	out.Table(0, len(order))
	for _, name := range order {
		out.String(name)
		if counts[name] == 1 {
			f.entries[first[name]].writeValue(out)
			continue
		}
		out.Array(counts[name])
		for _, e := range f.entries[first[name]:] {
			if e.name == name {
				e.writeValue(out)
			}
		}
	}
}

func (e *formEntry) writeValue(out *packed.Writer) {
	if e.file == nil {
		out.String(e.value)
		return
	}
	out.Table(0, 4)
	out.Field("filename", e.file.filename)
	out.Field("path", e.file.path)
	out.String("size")
	out.Int(e.file.size)
	out.Field("content_type", e.file.contentType)
}

// tempFiles are the temporary files of one request's uploads: removed when the request ends
// (request.release), or when the engine closes (tempSet), whichever comes first.
type tempFiles struct {
	mu    sync.Mutex
	paths []string
	set   *tempSet
	e     *engine.Engine
}

// tempSet is an engine's temporary files not removed yet: what is left of them goes when the
// engine closes (a request that never ended: a forced shutdown).
type tempSet struct {
	mu    sync.Mutex
	paths map[string]struct{}
}

var tempSets = engine.NewEngineLocal(func(e *engine.Engine) *tempSet {
	s := &tempSet{paths: map[string]struct{}{}}
	e.OnClose(s.removeAll)
	return s
})

func (s *tempSet) removeAll() {
	s.mu.Lock()
	paths := s.paths
	s.paths = map[string]struct{}{}
	s.mu.Unlock()
	for p := range paths {
		_ = os.Remove(p)
	}
}

// tempFiles returns the request's temporary files, made on first use. Loop only.
func (rs *request) tempFiles(w *engine.Worker) *tempFiles {
	if rs.temps == nil {
		rs.temps = &tempFiles{set: tempSets.Get(w.Engine()), e: w.Engine()}
	}
	return rs.temps
}

// add records a file just made. Any goroutine.
func (t *tempFiles) add(path string) {
	t.mu.Lock()
	t.paths = append(t.paths, path)
	t.mu.Unlock()
	t.set.mu.Lock()
	t.set.paths[path] = struct{}{}
	t.set.mu.Unlock()
}

// remove removes some of the files now. Not on the loop (it blocks).
func (t *tempFiles) remove(paths []string) {
	if len(paths) == 0 {
		return
	}
	t.mu.Lock()
	kept := t.paths[:0]
	for _, p := range t.paths {
		drop := false
		for _, q := range paths {
			if p == q {
				drop = true
				break
			}
		}
		if !drop {
			kept = append(kept, p)
		}
	}
	t.paths = kept
	t.mu.Unlock()
	t.unlink(paths)
}

func (t *tempFiles) unlink(paths []string) {
	for _, p := range paths {
		_ = os.Remove(p)
	}
	t.set.mu.Lock()
	for _, p := range paths {
		delete(t.set.paths, p)
	}
	t.set.mu.Unlock()
}

// end removes every file: on the I/O pool, or here when the pool refuses (the engine has
// closed). The request has ended: nothing adds files any more.
func (t *tempFiles) end() {
	t.mu.Lock()
	paths := t.paths
	t.paths = nil
	t.mu.Unlock()
	if len(paths) == 0 {
		return
	}
	if t.e.Pool(func() { t.unlink(paths) }) != nil {
		t.unlink(paths)
	}
}

// endHelpers releases what the helpers kept for a request that has ended: its temporary
// files go. request.release calls it once the last reference is dropped, on any goroutine.
func (rs *request) endHelpers() {
	if rs.temps != nil || rs.file != nil { // inlined: the common request has neither
		rs.dropHelpers()
	}
}

func (rs *request) dropHelpers() {
	if rs.temps != nil {
		rs.temps.end()
		rs.temps = nil
	}
	rs.file = nil
}
