package http

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/drlee/drlee/bindings/http/deadline"
	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/packed"
)

// Files: res:send_file(path, cb) and http.static(dir, options).
//
// A file is served by the request's connection goroutine, not by the loop or the pool: the
// script records the file and the response is finished as usual (request.finish); once the
// loop has let go of ctx, the connection goroutine (handle, which fasthttp lets block) opens
// the file, looks at the request's conditional and Range headers, sets the status and
// headers, and hands fasthttp the open file as the body stream. fasthttp writes it with
// sendfile(2) (its fixed-size body writer hands a file to bufio.Writer.ReadFrom, which
// hands it to the connection's ReadFrom: deadline.Conn passes it on to *net.TCPConn), so
// the file is never read into memory. Its callback runs once the response is out.
//
//   - Content-Type from the extension (mime.TypeByExtension, the system's mime.types
//     included), application/octet-stream when unknown; a Content-Type the script set
//     first is kept.
//   - Last-Modified (the mtime, in seconds) and a strong ETag made of the mtime in
//     nanoseconds and the size ("17f0a1c3e2b4d5a6-1f4"), no hashing.
//   - GET and HEAD: If-Match / If-Unmodified-Since give 412 when they fail, If-None-Match
//     (weak comparison, "*" included) or, without it, If-Modified-Since give 304.
//   - Range: one range (bytes=0-99, bytes=100-, bytes=-100) gives 206 with Content-Range,
//     If-Range respected (an ETag must match strongly, a date exactly); an unsatisfiable
//     one (starting past the end, bytes=-0, any range of an empty file) 416 with
//     Content-Range: bytes */size; several ranges, or a malformed header, are ignored
//     (RFC 9110 allows it): the whole file, 200.
//   - HEAD: the same headers, Content-Length included, no body.
//   - A status the script set before (res:set_status(404) then send_file of a 404 page)
//     is kept, and then no 304, 206 or 412 is made: the whole file goes with that status.
//   - A file that cannot be served is answered by the server, not the script: 404 for a
//     file that does not exist, a directory or anything but a regular file (a FIFO is
//     opened without blocking and refused), 403 for a permission error, 500 for others
//     (out of file descriptors, I/O errors), each with a plain-text body; headers the
//     script set are dropped then. The callback gets the error and the status: cb(err,
//     404). On success cb(nil, status), status the one sent (200, 206, 304, 412, 416).
//   - A large file is exempt from the write timeout as a whole (as a stream is); each
//     fileSlice of it must go out within the write timeout instead, so that a slow
//     download is not cut while a client that stopped reading is.

// fileSlice is how much of a file one write (one sendfile) sends: each must complete
// within the write timeout (at 30 s, about 8.7 KB/s).
const fileSlice = 256 << 10

// fileJob is a file for the connection goroutine to serve (request.file).
type fileJob struct {
	op   *engine.Op // cb(err, status); nil for none (http.static)
	path string     // the file (send_file), or the cleaned path below root (static)

	// http.static
	root         string // the directory; "" for send_file
	index        string // served for a directory ("": none)
	wantDir      bool   // the request named a directory (a trailing "/")
	dirURL       string // where a directory asked for without its "/" is redirected
	cacheControl string // sent with what was found (max_age)

	done atomic.Bool
}

// finish completes the job's operation once: cb(err, status). Any goroutine.
func (j *fileJob) finish(err error, status int) {
	if !j.done.CompareAndSwap(false, true) || j.op == nil {
		return
	}
	j.op.Complete(func(w *engine.Worker, a *engine.Args) {
		a.Error(err)
		a.Int(int64(status))
	})
}

// failFile ends the file job of a response that was abandoned (504) before the connection
// goroutine could serve it. Loop only (complete).
func (rs *request) failFile(err error) {
	if j := rs.file; j != nil {
		rs.file = nil
		if j.done.CompareAndSwap(false, true) && j.op != nil {
			j.op.CompleteSoon(func(w *engine.Worker, a *engine.Args) {
				a.Error(err)
				a.Int(fasthttp.StatusGatewayTimeout)
			})
		}
	}
}

// serveFile serves the request's file job, if any, on the connection goroutine (handle),
// once the loop has answered: ctx is this goroutine's again.
func (rs *request) serveFile(ctx *fasthttp.RequestCtx) {
	if rs.file != nil { // inlined: the common request has none
		rs.serveFileJob(ctx)
	}
}

func (rs *request) serveFileJob(ctx *fasthttp.RequestCtx) {
	j := rs.file
	rs.file = nil
	defer func() {
		if p := recover(); p != nil {
			j.finish(engine.ErrInternal, fasthttp.StatusInternalServerError)
			panic(p) // handle's recover logs it and answers 500
		}
	}()
	j.serve(ctx)
}

var (
	errNotRegular = errors.New("not a regular file")
	errIsDir      = errors.New("is a directory")
)

// open opens the job's file: below root for http.static (os.Root: no "..", no symlink out
// of it, no absolute symlink), as it is for send_file. It returns the name the type is
// guessed from. A directory is errIsDir, unless static serves its index; redirect is set
// when the directory must be asked for with its "/".
func (j *fileJob) open() (f *os.File, st os.FileInfo, name string, redirect bool, err error) {
	const flags = os.O_RDONLY | syscall.O_NONBLOCK // a FIFO must not block the open
	if j.root == "" {
		f, err = os.OpenFile(j.path, flags, 0)
		name = j.path
	} else {
		var root *os.Root
		root, err = os.OpenRoot(j.root)
		if err != nil {
			return nil, nil, "", false, err
		}
		defer root.Close() // what it opened stays open
		name = j.path
		f, err = root.OpenFile(name, flags, 0)
		if err == nil {
			if st, err = f.Stat(); err == nil && st.IsDir() {
				f.Close()
				f = nil
				switch {
				case j.index == "":
					err = errIsDir
				case !j.wantDir:
					return nil, nil, "", true, nil
				default:
					name = path.Join(name, j.index)
					f, err = root.OpenFile(name, flags, 0)
				}
			}
		}
	}
	if err != nil {
		return nil, nil, "", false, err
	}
	if st, err = f.Stat(); err != nil {
		f.Close()
		return nil, nil, "", false, err
	}
	switch {
	case st.IsDir():
		err = errIsDir
	case !st.Mode().IsRegular():
		err = errNotRegular
	}
	if err != nil {
		f.Close()
		return nil, nil, "", false, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return f, st, name, false, nil
}

// openStatus is the status answered for a file that could not be opened.
func openStatus(err error) int {
	switch {
	case errors.Is(err, fs.ErrPermission):
		return fasthttp.StatusForbidden
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE), errors.Is(err, syscall.EIO),
		errors.Is(err, syscall.ENOMEM), errors.Is(err, engine.ErrInternal):
		return fasthttp.StatusInternalServerError
	}
	// Does not exist, not a directory on the way, a directory, not a regular file, a loop
	// of symlinks, a name too long, or (static) a path leading out of the directory.
	return fasthttp.StatusNotFound
}

var (
	headerETag          = []byte("ETag")
	headerLastModified  = []byte("Last-Modified")
	headerAcceptRanges  = []byte("Accept-Ranges")
	headerContentRange  = []byte("Content-Range")
	headerCacheControl  = []byte("Cache-Control")
	headerIfMatch       = []byte("If-Match")
	headerIfNoneMatch   = []byte("If-None-Match")
	headerIfModSince    = []byte("If-Modified-Since")
	headerIfUnmodSince  = []byte("If-Unmodified-Since")
	headerRange         = []byte("Range")
	headerIfRange       = []byte("If-Range")
	bytesUnit           = []byte("bytes")
	defaultContentType  = []byte("text/plain; charset=utf-8") // fasthttp's, when none was set
	octetStream         = []byte("application/octet-stream")
	statusTextNotFound  = []byte("Not Found")
	statusTextForbidden = []byte("Forbidden")
	statusTextInternal  = []byte("Internal Server Error")
)

// serve answers ctx with the job's file (see the top of this file). Connection goroutine.
func (j *fileJob) serve(ctx *fasthttp.RequestCtx) {
	resp := &ctx.Response
	f, st, name, redirect, err := j.open()
	if redirect {
		resp.Reset()
		resp.SetStatusCode(fasthttp.StatusMovedPermanently)
		resp.Header.SetBytesKV(locationHeader, []byte(j.dirURL))
		resp.SetBodyStream(&fileBody{job: j, status: fasthttp.StatusMovedPermanently}, 0)
		return
	}
	if err != nil {
		status := openStatus(err)
		var text []byte
		switch status {
		case fasthttp.StatusNotFound:
			text = statusTextNotFound
		case fasthttp.StatusForbidden:
			text = statusTextForbidden
		default:
			text = statusTextInternal
		}
		resp.Reset()
		resp.SetStatusCode(status)
		resp.Header.SetContentTypeBytes(defaultContentType)
		resp.SetBodyStream(&fileBody{job: j, data: text, n: int64(len(text)), status: status, err: err}, len(text))
		return
	}
	size := st.Size()
	h := &resp.Header
	scriptStatus := resp.StatusCode()
	status := scriptStatus
	start, length := int64(0), size
	if status == fasthttp.StatusOK {
		etag := makeETag(st)
		mod := st.ModTime().UTC().Truncate(time.Second)
		h.SetBytesKV(headerETag, etag)
		h.SetBytesKV(headerLastModified, mod.AppendFormat(nil, httpTimeFormat))
		h.SetBytesKV(headerAcceptRanges, bytesUnit)
		if j.cacheControl != "" {
			h.SetBytesK(headerCacheControl, j.cacheControl)
		}
		rh := &ctx.Request.Header
		if rh.IsGet() || rh.IsHead() {
			status = preconditions(rh, etag, mod)
		}
		if status == fasthttp.StatusOK && (rh.IsGet() || rh.IsHead()) {
			if r := rh.PeekBytes(headerRange); len(r) > 0 && ifRange(rh.PeekBytes(headerIfRange), etag, mod) {
				var kind int
				start, length, kind = parseRange(r, size)
				switch kind {
				case rangeOne:
					status = fasthttp.StatusPartialContent
					cr := append([]byte("bytes "), strconv.FormatInt(start, 10)...)
					cr = append(append(cr, '-'), strconv.FormatInt(start+length-1, 10)...)
					cr = append(append(cr, '/'), strconv.FormatInt(size, 10)...)
					h.SetBytesKV(headerContentRange, cr)
				case rangeUnsatisfiable:
					status = fasthttp.StatusRequestedRangeNotSatisfiable
					h.SetBytesKV(headerContentRange, append([]byte("bytes */"), strconv.FormatInt(size, 10)...))
				default:
					start, length = 0, size
				}
			}
		}
	}
	if status != scriptStatus && status != fasthttp.StatusPartialContent {
		// 304, 412, 416: no body of the file.
		f.Close()
		resp.SetStatusCode(status)
		resp.SetBodyStream(&fileBody{job: j, status: status}, 0)
		return
	}
	resp.SetStatusCode(status)
	if ct := h.ContentType(); len(ct) == 0 || bytes.Equal(ct, defaultContentType) { // not the script's
		if t := mime.TypeByExtension(filepath.Ext(name)); t != "" {
			h.SetContentType(t)
		} else {
			h.SetContentTypeBytes(octetStream)
		}
	}
	if start > 0 {
		if _, err := f.Seek(start, io.SeekStart); err != nil {
			f.Close()
			resp.Reset()
			resp.SetStatusCode(fasthttp.StatusInternalServerError)
			resp.SetBodyStream(&fileBody{job: j, data: statusTextInternal, n: int64(len(statusTextInternal)),
				status: fasthttp.StatusInternalServerError, err: err}, len(statusTextInternal))
			return
		}
	}
	if length > fileSlice && !ctx.IsHead() {
		if c, ok := ctx.Conn().(*deadline.Conn[request]); ok {
			c.Streaming() // each slice has the write timeout, not the whole file
		}
	}
	if length > math.MaxInt {
		length = math.MaxInt
	}
	resp.SetBodyStream(&fileBody{job: j, f: f, n: length, status: status, head: ctx.IsHead()}, int(length))
}

// makeETag is the file's strong validator: its mtime in nanoseconds and its size, in hex.
func makeETag(st os.FileInfo) []byte {
	b := append([]byte{'"'}, strconv.FormatInt(st.ModTime().UnixNano(), 16)...)
	b = append(append(b, '-'), strconv.FormatInt(st.Size(), 16)...)
	return append(b, '"')
}

// preconditions evaluates the conditional headers of a GET or HEAD (RFC 9110 §13.2.2):
// 412, 304 or 200.
func preconditions(h *fasthttp.RequestHeader, etag []byte, mod time.Time) int {
	if im := h.PeekBytes(headerIfMatch); len(im) > 0 {
		if !matchETag(im, etag, false) {
			return fasthttp.StatusPreconditionFailed
		}
	} else if ius := h.PeekBytes(headerIfUnmodSince); len(ius) > 0 {
		if t, err := http.ParseTime(string(ius)); err == nil && mod.After(t) {
			return fasthttp.StatusPreconditionFailed
		}
	}
	if inm := h.PeekBytes(headerIfNoneMatch); len(inm) > 0 {
		if matchETag(inm, etag, true) {
			return fasthttp.StatusNotModified
		}
	} else if ims := h.PeekBytes(headerIfModSince); len(ims) > 0 {
		if t, err := http.ParseTime(string(ims)); err == nil && !mod.After(t) {
			return fasthttp.StatusNotModified
		}
	}
	return fasthttp.StatusOK
}

// matchETag reports whether the list of entity tags in a header (If-Match, If-None-Match)
// holds etag, or is "*": with the weak comparison (W/ ignored on both sides) or the
// strong one (a weak tag never matches).
func matchETag(list, etag []byte, weak bool) bool {
	if string(trimOWS(list)) == "*" {
		return true
	}
	for len(list) > 0 {
		var t []byte
		t, list = cutByte(list, ',')
		t = trimOWS(t)
		if bytes.HasPrefix(t, []byte("W/")) {
			if !weak {
				continue
			}
			t = t[2:]
		}
		if bytes.Equal(t, etag) {
			return true
		}
	}
	return false
}

// ifRange reports whether a Range is to be honoured given If-Range (absent: yes): an ETag
// must match strongly, a date must be the Last-Modified exactly.
func ifRange(v, etag []byte, mod time.Time) bool {
	v = trimOWS(v)
	if len(v) == 0 {
		return true
	}
	if v[0] == '"' || bytes.HasPrefix(v, []byte("W/")) {
		return bytes.Equal(v, etag)
	}
	t, err := http.ParseTime(string(v))
	return err == nil && t.Equal(mod)
}

const (
	rangeIgnore        = iota // no usable Range: send the whole file
	rangeOne                  // send start, length
	rangeUnsatisfiable        // 416
)

// parseRange reads a Range header for a representation of size bytes: one byte range
// (rangeOne, start, length, within the file), an unsatisfiable one (rangeUnsatisfiable),
// or anything else, malformed or several ranges (rangeIgnore). RFC 9110 §14.1.2.
func parseRange(h []byte, size int64) (start, length int64, kind int) {
	h = trimOWS(h)
	unit, set, ok := cutByteFound(h, '=')
	if !ok || !bytes.EqualFold(trimOWS(unit), bytesUnit) {
		return 0, 0, rangeIgnore
	}
	var spec []byte
	n := 0
	for len(set) > 0 {
		var s []byte
		s, set = cutByte(set, ',')
		if s = trimOWS(s); len(s) > 0 { // empty list elements are allowed
			spec = s
			n++
		}
	}
	if n != 1 {
		return 0, 0, rangeIgnore
	}
	first, last, ok := cutByteFound(spec, '-')
	if !ok {
		return 0, 0, rangeIgnore
	}
	if len(first) == 0 { // suffix: the last n bytes
		suffix, ok := parseDigits(last)
		if !ok {
			return 0, 0, rangeIgnore
		}
		if suffix == 0 || size == 0 {
			return 0, 0, rangeUnsatisfiable
		}
		suffix = min(suffix, size)
		return size - suffix, suffix, rangeOne
	}
	from, ok := parseDigits(first)
	if !ok {
		return 0, 0, rangeIgnore
	}
	to := int64(math.MaxInt64)
	if len(last) > 0 {
		if to, ok = parseDigits(last); !ok || to < from {
			return 0, 0, rangeIgnore
		}
	}
	if from >= size {
		return 0, 0, rangeUnsatisfiable
	}
	to = min(to, size-1)
	return from, to - from + 1, rangeOne
}

// parseDigits reads a non-empty run of decimal digits; beyond int64 it saturates (a range
// past any file).
func parseDigits(s []byte) (int64, bool) {
	if len(s) == 0 {
		return 0, false
	}
	var v int64
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		if v > (math.MaxInt64-9)/10 {
			v = math.MaxInt64
			continue
		}
		v = v*10 + int64(c-'0')
	}
	return v, true
}

// fileBody is the body stream of a file response: n bytes of f from its offset (or data, a
// short text), written by WriteTo (fasthttp.BodyWriterTo). fasthttp closes it once the
// response is out, or failed, or was never written: the job's callback runs then.
type fileBody struct {
	job    *fileJob
	f      *os.File
	data   []byte
	n      int64 // bytes to send
	sent   int64
	status int
	err    error // for the callback: why the file was not served
	head   bool  // HEAD: no body is sent
	closed bool
}

// SupportsBodyWriteTo tells fasthttp to call WriteTo instead of Read.
func (b *fileBody) SupportsBodyWriteTo() bool { return true }

// WriteTo writes the body to w, fasthttp's writer of a body of known size, whose ReadFrom
// sends a file with sendfile: fileSlice at a time, so that each is one write under the
// write timeout.
func (b *fileBody) WriteTo(w io.Writer) (int64, error) {
	if b.f == nil {
		n, err := w.Write(b.data[b.sent:])
		b.sent += int64(n)
		return int64(n), err
	}
	rf, isRF := w.(io.ReaderFrom)
	var total int64
	for b.sent < b.n {
		step := min(b.n-b.sent, fileSlice)
		var n int64
		var err error
		if isRF {
			n, err = rf.ReadFrom(&io.LimitedReader{R: b.f, N: step})
		} else {
			n, err = io.CopyN(w, b.f, step)
		}
		b.sent += n
		total += n
		if err == nil && n < step {
			err = io.ErrUnexpectedEOF // the file shrank since it was measured
		}
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// Read is there because fasthttp takes a body stream as an io.Reader; it writes this one
// with WriteTo.
func (b *fileBody) Read(p []byte) (int, error) {
	if b.sent >= b.n {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), b.n-b.sent)]
	var n int
	var err error
	if b.f == nil {
		n = copy(p, b.data[b.sent:])
	} else {
		n, err = b.f.Read(p)
	}
	b.sent += int64(n)
	return n, err
}

// CloseWithError is called by fasthttp once it is done with the body (fasthttp's
// ReadCloserWithError), with the error of the write if it failed: the file is closed and
// the callback runs.
func (b *fileBody) CloseWithError(werr error) error {
	if b.closed {
		return nil
	}
	b.closed = true
	if b.f != nil {
		b.f.Close()
	}
	err := b.err
	switch {
	case werr != nil && err == nil:
		err = fmt.Errorf("http: res:send_file: %w", werr)
	case err == nil && !b.head && b.sent < b.n:
		err = errClientGone // never written: the connection went first
	}
	b.job.finish(err, b.status)
	return nil
}

// ---- res:send_file ----

// res:send_file(path, cb): answers with the file at path (see the top of this file) and
// finishes the response; cb(err, status) once the response is out. path is the script's
// own (relative to the working directory): a path built from the request must be checked
// first, or served with http.static. Without cb, in a runtime thread, it waits and returns
// the status, or nil and the error.
func resSendFile(c *engine.Call) int {
	w, rs := resOf(c)
	p := c.CheckString(2)
	if p == "" || strings.IndexByte(p, 0) >= 0 {
		c.ArgError(2, "path must be a file name without NUL, got "+quoteShort(p))
	}
	engine.HasCallback(c, 3) // raises for a callback that is not a function
	if !rs.lockUnwritten(c, "res:send_file") {
		// Abandoned (504 sent): the callback gets the error, as a write's does.
		rs.mu.Lock()
		gone := rs.gone
		rs.mu.Unlock()
		return failLater(c, 3, gone)
	}
	rs.mu.Unlock()
	op := w.ReserveCall(c, 3) // last: nothing raises after it
	rs.file = &fileJob{op: op, path: p}
	rs.finish(w, nil)
	return op.Return(c)
}

// lockUnwritten raises unless the response can still take a body of its own: not
// finished, not streaming, nothing written. It returns true with rs.mu held, or false
// (rs.mu not held) when the response was abandoned (504 sent: the call is ignored, as
// writes are). what names the call.
func (rs *request) lockUnwritten(c *engine.Call, what string) bool {
	if rs.finished {
		c.Raise("http: %s after finish", what)
	}
	rs.mu.Lock()
	var why string
	switch {
	case rs.state == stateAbandoned:
		rs.mu.Unlock()
		return false
	case rs.ctx == nil:
		why = "after the response started streaming"
	case len(rs.ctx.Response.Body()) > 0:
		why = "after res:write (the response has a body already)"
	}
	if why != "" {
		rs.mu.Unlock()
		c.Raise("http: %s %s", what, why)
	}
	return true
}

// ---- http.static ----

// http.static(dir, options) -> root, index, prefix, cache_control, param: the options of
// http.static checked once, for the handler that http.lua's http.static (which replaces
// this function, keeping it for itself) makes; errors name http.static.
func staticOptions(c *engine.Call) int {
	dir := c.CheckString(1)
	if dir == "" || strings.IndexByte(dir, 0) >= 0 {
		c.ArgError(1, "dir must be a directory name without NUL, got "+quoteShort(dir))
	}
	root, err := filepath.Abs(dir)
	if err != nil {
		c.ArgError(1, err.Error())
	}
	index, prefix, cache, param := "index.html", "", "", ""
	switch c.Type(2) {
	case engine.TypeNil, engine.TypeNone:
	case engine.TypeTable:
		v, err := decodeOptions(c, 2)
		if err != nil {
			c.ArgError(2, err.Error())
		}
		for k, val := range v {
			switch k {
			case "index":
				switch s := val.(type) {
				case bool:
					if s {
						c.ArgError(2, "options.index must be a file name or false")
					}
					index = ""
				case string:
					if s == "" || strings.ContainsAny(s, "/\x00") || s == "." || s == ".." {
						c.ArgError(2, "options.index must be a file name (no '/') or false, got "+quoteShort(s))
					}
					index = s
				default:
					c.ArgError(2, "options.index must be a file name or false, got "+optionValue(val))
				}
			case "prefix":
				s, ok := val.(string)
				if !ok || !strings.HasPrefix(s, "/") || strings.IndexByte(s, 0) >= 0 {
					c.ArgError(2, "options.prefix must be a path starting with '/', got "+optionValue(val))
				}
				prefix = strings.TrimRight(s, "/")
			case "max_age":
				f, ok := val.(float64)
				if !ok || !(f >= 0 && f <= math.MaxInt32) || f != math.Trunc(f) {
					c.ArgError(2, "options.max_age must be a whole number of seconds from 0 to 2147483647, got "+optionValue(val))
				}
				cache = "public, max-age=" + strconv.FormatInt(int64(f), 10)
			case "param":
				s, ok := val.(string)
				if !ok || s == "" {
					c.ArgError(2, "options.param must be the name of the router's wildcard, got "+optionValue(val))
				}
				param = s
			default:
				c.ArgError(2, fmt.Sprintf("unknown option %s (index, prefix, max_age, param)", optionName(k)))
			}
		}
	default:
		c.TypeError(2, "table")
	}
	out := c.Out()
	out.String(root)
	out.String(index)
	out.String(prefix)
	out.String(cache)
	if param == "" {
		out.Nil()
	} else {
		out.String(param)
	}
	return c.Return()
}

// decodeOptions reads an options table as name = value (an empty table is none).
func decodeOptions(c *engine.Call, i int) (map[any]any, error) {
	v, err := packed.Decode(c.Encode(i))
	if err != nil {
		return nil, err
	}
	switch v := v.(type) {
	case map[any]any:
		return v, nil
	case []any:
		if len(v) == 0 {
			return nil, nil
		}
	}
	return nil, errors.New("options must be a table of name = value")
}

var allowGetHead = []byte("GET, HEAD")

// http.__static_serve(res, rel, root, index, prefix, cache_control): http.static's
// handler. rel is the path below root the router captured (req.params), or nil: then it is
// req.path without prefix. Only GET and HEAD (405 otherwise); the path is cleaned (no ".."
// can climb out of root, and os.Root refuses symlinks that lead out of it); a directory is
// its index file, asked for with a trailing "/" (301 to it without), 404 without an index.
func staticServe(c *engine.Call) int {
	w, rs := resOf(c)
	rel, hasRel := "", false
	switch c.Type(2) {
	case engine.TypeString:
		rel, hasRel = c.CheckString(2), true
	case engine.TypeNil, engine.TypeNone:
	default:
		c.TypeError(2, "string")
	}
	root, index, prefix, cache := c.CheckString(3), c.CheckString(4), c.CheckString(5), c.CheckString(6)
	if !rs.lockUnwritten(c, "http.static") {
		return 0
	}
	ctx := rs.ctx
	h := &ctx.Request.Header
	if !h.IsGet() && !h.IsHead() {
		ctx.Response.SetStatusCode(fasthttp.StatusMethodNotAllowed)
		ctx.Response.Header.SetBytesV("Allow", allowGetHead)
		ctx.Response.SetBodyString("Method Not Allowed")
		rs.mu.Unlock()
		rs.finish(w, nil)
		return 0
	}
	reqPath := string(ctx.Path())
	found := true
	if !hasRel {
		rel, found = stripPrefix(reqPath, prefix)
	}
	name, wantDir, ok := cleanRel(rel)
	if !found || !ok {
		ctx.Response.SetStatusCode(fasthttp.StatusNotFound)
		ctx.Response.SetBodyString("Not Found")
		rs.mu.Unlock()
		rs.finish(w, nil)
		return 0
	}
	wantDir = wantDir || strings.HasSuffix(reqPath, "/")
	j := &fileJob{path: name, root: root, index: index, wantDir: wantDir, cacheControl: cache}
	if index != "" && !wantDir {
		j.dirURL = (&url.URL{Path: reqPath + "/"}).EscapedPath()
		if q := ctx.URI().QueryString(); len(q) > 0 {
			j.dirURL += "?" + string(q)
		}
	}
	rs.mu.Unlock()
	rs.file = j
	rs.finish(w, nil)
	return 0
}

// stripPrefix returns p below prefix ("" for none), and false when p is not below it.
func stripPrefix(p, prefix string) (string, bool) {
	if prefix == "" {
		return p, true
	}
	rest, ok := strings.CutPrefix(p, prefix)
	if !ok || (rest != "" && rest[0] != '/') {
		return "", false
	}
	return rest, true
}

// cleanRel turns a requested path into a name below the root: cleaned of ".", ".." and
// repeated slashes (never above the root), "." for the root itself. wantDir is a trailing
// "/" (or nothing). ok is false for a path with NUL.
func cleanRel(rel string) (name string, wantDir, ok bool) {
	if strings.IndexByte(rel, 0) >= 0 {
		return "", false, false
	}
	wantDir = rel == "" || strings.HasSuffix(rel, "/")
	name = strings.TrimPrefix(path.Clean("/"+rel), "/")
	if name == "" {
		name = "."
	}
	return name, wantDir, true
}
