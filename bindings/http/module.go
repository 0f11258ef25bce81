// Package http is the Lua module "http": an HTTP server and client on fasthttp.
//
// Server: http.create_server(addr, handler) returns a server; server:start(cb) listens
// (cb(err) when the address is taken), server:stop() stops accepting. Workers that start a
// server on the same address share one listener; each request goes to the least busy of
// them and stays on it. handler(req, res) gets:
//
//	req.method, req.request_uri, req.path, req.url, req.headers, req.remote_addr,
//	req:read(n, cb), req:close(cb)
//	req.query, req:cookie(name), req:json(cb), req:form(options, cb)
//	res:set_status(code), res:set(name, value), res:get(name), res:write(data, cb),
//	res:flush(cb), res:finish(cb)
//	res:json(value, status), res:redirect(url, status), res:set_cookie(name, value,
//	options), res:send_file(path, cb)
//
// A response finished before the loop turns to other work (in the handler, or in the
// callbacks of its writes: the write's callback runs on the loop's next turn) goes out
// with Content-Length; one left unfinished then, or past 64 KiB, or flushed (res:flush), is
// streamed (chunked) as it is written. A handler
// that raises gives a plain 500; one that never finishes, 504 after --handler-timeout; a
// saturated worker, 503 with Retry-After.
//
// req.request_uri is the target as sent ("/path?query", dot segments and escapes
// included); req.path is it decoded and cleaned, safe to map onto files. Header names and
// values that res:set or the client would send are checked (a token; no CR, LF, NUL or
// other control character), so that a script cannot split a response or inject a header.
// A script may set fields of its own on req (req.user = u; engine.Class.ScriptFields):
// they last as long as the request object, and cannot take a getter's or a method's name.
//
// Routing: http.router() (router.lua, router.go) is a handler that routes by method and
// path: router:get/post/put/delete/patch/head/options/any/add(pattern, handler) with
// patterns of static segments, ":name" parameters and a final "*name" wildcard (static
// beats parameter beats wildcard, segment by segment), router:use(function(req, res,
// next)) middlewares run in order before the handler, req.params holds the captures;
// unmatched paths get 404, paths only other methods have 405 with Allow, HEAD falls back
// to GET. create_server takes the router (any callable table) as its handler.
//
// Helpers (helpers.go): req.query decodes the query string (query.go: a repeated name is
// the list of its values), computed on access only; req:cookie reads the Cookie header
// (cookies.go); req:json and req:form decode the body, which is in memory already
// (within --max-body-size): JSON with json.decode's rules, url-encoded forms on the loop,
// multipart forms on the I/O pool, their files written to temporary files that go when
// the request ends (form.go: request.release). res:json, res:redirect and res:send_file
// answer and finish the response; res:json and res:redirect raise before changing
// anything for what they cannot send (a value JSON cannot hold, a Location with CR or LF);
// res:set_cookie adds one Set-Cookie header a call, its name, value and attributes
// checked. res:send_file and http.static(dir, options) serve a file (sendfile.go): the
// connection goroutine opens it once the loop answered, handles If-None-Match,
// If-Modified-Since, If-Match, If-Unmodified-Since, Range and If-Range, and hands fasthttp
// the file, which goes out with sendfile(2); http.static never leaves dir (the path is
// cleaned, and opened with os.Root: no symlink out, no absolute one). res:set_status takes
// 100 to 599, and http.status_text(code) gives the reason phrase, nil for an unknown code.
//
// Client: http.get/post/put/delete/patch(url, options, cb) and http.request(method, url,
// options, cb); see client.go.
package http

import (
	_ "embed"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"unsafe"

	"github.com/valyala/fasthttp"

	"github.com/drlee/drlee/bindings/http/internal/httpsyntax"
	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/packed"
)

//go:embed http.lua
var prelude string

var (
	serverClass   = &engine.Class{Name: "httpServer"}
	requestClass  = &engine.Class{Name: "httpRequest"}
	responseClass = &engine.Class{Name: "httpResponseWriter"}
)

func init() {
	serverClass.Methods = []engine.Function{
		{Name: "start", Fn: serverStart},
		{Name: "stop", Fn: serverStop},
		{Name: "address", Fn: serverAddress},
	}
	requestClass.Getters = []engine.Function{
		{Name: "method", Fn: reqMethod},
		{Name: "request_uri", Fn: reqURI},
		{Name: "path", Fn: reqPath},
		{Name: "url", Fn: reqURL},
		{Name: "headers", Fn: reqHeaders},
		{Name: "remote_addr", Fn: reqRemoteAddr},
	}
	requestClass.Methods = []engine.Function{
		{Name: "read", Fn: reqRead},
		{Name: "close", Fn: reqClose},
		{Name: "__readall", Fn: reqReadAll}, // readall's (core.lua), not documented
	}
	// Scripts may set fields of their own on a request (req.params, set by the router;
	// req.user by a middleware). Not on the response: its __index is its methods table,
	// which keeps its fast methods fast.
	requestClass.ScriptFields = true
	responseClass.Methods = []engine.Function{
		{Name: "set_status", Fn: resSetStatus},
		{Name: "set", Fn: resSet},
		{Name: "get", Fn: resGet},
		{Name: "write", Fn: resWrite},
		{Name: "flush", Fn: resFlush},
		{Name: "finish", Fn: resFinish},
	}
	addHelpers() // req.query, req:json, res:send_file... (helpers.go)
	responseClass.Fast = &fastResponse
	responseClass.Finalize = finalizeResponse
	responseClass.FinalizeOnDemand = true
	engine.Register(&engine.Module{
		Name: "http",
		Funcs: append([]engine.Function{
			{Name: "create_server", Fn: createServer},
			{Name: "__set_headers_meta", Fn: headersMeta.Setter()},
			{Name: "__target", Fn: reqTarget}, // the router's (router.go)
		}, append(clientFuncs(), helperFuncs()...)...),
		Classes:   append([]*engine.Class{serverClass, requestClass, responseClass}, clientClasses()...),
		Flags:     flags,
		Configure: configure,
		Lua:       prelude + routerPrelude, // router.lua
	})
}

// headersMeta is the metatable of header tables (case-insensitive look-ups), which http.lua
// hands over.
var headersMeta = engine.NewMetatable()

// writeHeaders writes a header table: names lower-cased, repeated names joined with ", "
// (Set-Cookie, which must not be joined, with "\n"), and the case-insensitive metatable.
func writeHeaders(w *engine.Worker, out *packed.Writer, pairs [][2][]byte) {
	if mt, ok := headersMeta.Ref(w); ok {
		out.Meta(mt)
	}
	at := out.TableAt()
	n := 0
	var names []string
	for i, p := range pairs {
		name := strings.ToLower(string(p[0]))
		dup := false
		for _, seen := range names {
			if seen == name {
				dup = true
				break
			}
		}
		if dup {
			continue
		}
		names = append(names, name)
		val := string(p[1])
		sep := ", "
		if name == "set-cookie" {
			sep = "\n"
		}
		for _, q := range pairs[i+1:] {
			if strings.EqualFold(string(q[0]), name) {
				val += sep + string(q[1])
			}
		}
		out.String(name)
		out.String(val)
		n++
	}
	out.SetCounts(at, 0, n)
}

// ---- server ----

type server struct {
	addr    string
	handler int32
	where   string // file:line of the handler, for the log
	shared  *sharedServer
	ep      *workerEP
	stopped bool
}

// http.create_server(addr, handler) -> server
func createServer(c *engine.Call) int {
	w := engine.WorkerOf(c)
	addr := c.CheckString(1)
	if !strings.Contains(addr, ":") {
		c.ArgError(1, "address must be host:port or :port")
	}
	s := &server{addr: addr, handler: c.CheckFunc(2)}
	s.where = w.FuncWhere(s.handler)
	if strings.HasPrefix(s.where, "[drlee ") { // a router (router.lua): named by the script's call
		s.where = c.Where() + " (a router)"
	}
	out := c.Out()
	w.NewObject(out, serverClass, s)
	return c.Return()
}

// server:start(cb): listens, then cb(err). Without cb it returns true, or nil and the
// error (the address is taken), at once; the error is logged too, since a server that
// silently does not listen is worse than a noisy one.
func serverStart(c *engine.Call) int {
	w := engine.WorkerOf(c)
	s := w.Object(c, 1, serverClass).(*server)
	if s.shared != nil {
		c.Raise("server already started")
	}
	op := w.ReserveCall(c, 2)
	s.ep = &workerEP{w: w, handler: s.handler, server: s, resps: respPools.Get(w), obs: obsOf(w.Engine()).forWorker(w)}
	w.Engine().OnClose(s.ep.abandonStreams)
	sh, err := join(s.addr, s.ep)
	if err != nil {
		if !op.HasCallback() {
			w.Logf("WARN", "http: the server for the handler at %s could not start: %v", s.where, err)
		}
		return op.ReturnNow(c, func(w *engine.Worker, a *engine.Args) { a.Error(err) })
	}
	s.shared = sh
	w.Hold()
	w.OnShutdown(func() { s.stop(w) })
	// A worker that ends without stopping it (its main chunk raised after start, a
	// forced shutdown) leaves too: the server is the process's, and may be served on by
	// another generation (a reload), which must not get requests for a worker gone.
	w.AfterClose(func() { s.stop(w) })
	return op.ReturnNow(c, nil)
}

func (s *server) stop(w *engine.Worker) {
	if s.shared == nil || s.stopped {
		return
	}
	s.stopped = true
	s.shared.leave(s.ep)
	w.Unhold()
}

// server:stop(): stop accepting; in-flight requests finish.
func serverStop(c *engine.Call) int {
	w := engine.WorkerOf(c)
	w.Object(c, 1, serverClass).(*server).stop(w)
	return 0
}

// server:address() -> "host:port" actually listened on (useful with port 0), or nil.
func serverAddress(c *engine.Call) int {
	w := engine.WorkerOf(c)
	s := w.Object(c, 1, serverClass).(*server)
	if s.shared == nil {
		return 0
	}
	return c.ReturnString(s.shared.ln.Addr().String())
}

// ---- request ----

// snapshot is what the script may still read of a request once its response streams (ctx
// is then gone). Its strings and slices are views into buf, which the pooled request keeps
// for its next stream: taking one allocates nothing once buf has grown to a request's
// size. Nothing keeps a view beyond the request: every reader copies (into Lua, or a new
// Go string), under rs.mu.
type snapshot struct {
	method, uri, path, url, remote string
	headers                        [][2][]byte
	body                           []byte

	buf  []byte
	offs [][2]int // where each header name and value is in buf, while take fills it
}

// maxKeptSnapshot bounds the snapshot memory a pooled request keeps (a request with huge
// headers or body must not pin its copy).
const maxKeptSnapshot = 64 << 10

// take copies into s what the script may still read of the request in ctx: the body from
// bodyPos on (the rest was read already).
func (s *snapshot) take(ctx *fasthttp.RequestCtx, bodyPos int) {
	b, offs := s.buf[:0], s.offs[:0]
	add := func(v []byte) [2]int {
		start := len(b)
		b = append(b, v...)
		return [2]int{start, len(b)}
	}
	var fields [5][2]int
	fields[0] = add(ctx.Method())
	fields[1] = add(requestURI(ctx))
	fields[2] = add(ctx.Path())
	fields[3] = add(ctx.URI().FullURI())
	start := len(b)
	b = appendAddr(b, ctx.RemoteAddr())
	fields[4] = [2]int{start, len(b)}
	for k, v := range ctx.Request.Header.All() {
		offs = append(offs, add(k), add(v))
	}
	body := ctx.PostBody()
	var bodyAt [2]int
	if bodyPos < len(body) {
		bodyAt = add(body[bodyPos:])
	}
	// Views only now: b no longer moves.
	view := func(o [2]int) string { return unsafe.String(unsafe.SliceData(b[o[0]:]), o[1]-o[0]) }
	s.method, s.uri, s.path, s.url, s.remote = view(fields[0]), view(fields[1]), view(fields[2]), view(fields[3]), view(fields[4])
	s.headers = s.headers[:0]
	for i := 0; i+1 < len(offs); i += 2 {
		k, v := offs[i], offs[i+1]
		s.headers = append(s.headers, [2][]byte{b[k[0]:k[1]:k[1]], b[v[0]:v[1]:v[1]]})
	}
	s.body = nil
	if bodyAt[1] > bodyAt[0] {
		s.body = b[bodyAt[0]:bodyAt[1]:bodyAt[1]]
	}
	s.buf, s.offs = b, offs
}

// reset forgets the request, keeping the memory for the next one unless it grew large.
func (s *snapshot) reset() {
	s.method, s.uri, s.path, s.url, s.remote, s.body = "", "", "", "", "", nil
	clear(s.headers)
	s.headers = s.headers[:0]
	if cap(s.buf) > maxKeptSnapshot {
		*s = snapshot{}
	}
}

// appendAddr appends a's text as net.Addr.String has it, without allocating for the
// TCP address a server's connection has.
func appendAddr(b []byte, a net.Addr) []byte {
	if t, ok := a.(*net.TCPAddr); ok {
		ap := t.AddrPort()
		// Unmapped: net.IP prints an IPv4-mapped address as IPv4.
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()).AppendTo(b)
	}
	return append(b, a.String()...)
}

func reqOf(c *engine.Call) (*engine.Worker, *request) {
	w := engine.WorkerOf(c)
	return w, w.Object(c, 1, requestClass).(*request)
}

// field returns a request field from ctx while the handler holds it, or from the snapshot.
func (rs *request) field(c *engine.Call, pick func(*fasthttp.RequestCtx) []byte, snap func(*snapshot) string) int {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.ctx != nil {
		return c.ReturnBytes(pick(rs.ctx))
	}
	if rs.snap != nil {
		return c.ReturnString(snap(rs.snap))
	}
	return 0
}

func reqMethod(c *engine.Call) int {
	_, rs := reqOf(c)
	return rs.field(c, (*fasthttp.RequestCtx).Method, func(s *snapshot) string { return s.method })
}

func reqURI(c *engine.Call) int {
	_, rs := reqOf(c)
	return rs.field(c, requestURI, func(s *snapshot) string { return s.uri })
}

// requestURI is req.request_uri: the request target as the client sent it, with no
// decoding and no clean-up (routing on it sees "/../" and "%2e%2e" as sent: req.path is
// the cleaned one), but always "/path?query": the absolute form a client may send
// ("GET http://host/path?query", as to a proxy) loses its scheme and host.
func requestURI(ctx *fasthttp.RequestCtx) []byte {
	return httpsyntax.OriginForm(ctx.RequestURI())
}

// req.path: the path percent-decoded, with repeated slashes collapsed and dot segments
// removed (never above "/"), without the query. fasthttp's normalized path: decoding
// comes first, so that an encoded "%2e%2e" or "%2f" cannot smuggle a ".." past the
// clean-up. Safe to join to a directory; not to be used to build a URL again (a decoded
// "?" or "/" is in it as a plain character).
func reqPath(c *engine.Call) int {
	_, rs := reqOf(c)
	return rs.field(c, (*fasthttp.RequestCtx).Path, func(s *snapshot) string { return s.path })
}

func reqURL(c *engine.Call) int {
	_, rs := reqOf(c)
	return rs.field(c, func(ctx *fasthttp.RequestCtx) []byte { return ctx.URI().FullURI() },
		func(s *snapshot) string { return s.url })
}

func reqRemoteAddr(c *engine.Call) int {
	_, rs := reqOf(c)
	return rs.field(c, func(ctx *fasthttp.RequestCtx) []byte { return []byte(ctx.RemoteAddr().String()) },
		func(s *snapshot) string { return s.remote })
}

func reqHeaders(c *engine.Call) int {
	w, rs := reqOf(c)
	rs.mu.Lock()
	var pairs [][2][]byte
	if rs.ctx != nil {
		for k, v := range rs.ctx.Request.Header.All() {
			pairs = append(pairs, [2][]byte{k, v})
		}
	} else if rs.snap != nil {
		pairs = rs.snap.headers
	}
	out := c.Out()
	writeHeaders(w, out, pairs)
	rs.mu.Unlock()
	return c.Return()
}

// req:read(n, cb): the next at most n bytes of the body; "" at the end. The body was read
// by fasthttp before the handler ran (bounded by --max-body-size), so the callback runs on
// the loop's next turn without touching the pool, and without a callback the bytes are
// returned at once.
func reqRead(c *engine.Call) int {
	w, rs := reqOf(c)
	n := sizeArg(c, 2)
	if !engine.HasCallback(c, 3) {
		if c.CanAwait() {
			w.AwaitedNow() // an await, which marks the handler's style (ScopeIdle)
		}
		out := c.Out()
		rs.readBody(n, func(b []byte) { out.Bytes(b) })
		return c.Return()
	}
	// HasCallback checked the callback: no CheckFunc here, which takes a registry ref
	// that nothing would release.
	if c.CanAwait() { // the callback straight after the calling code, in its thread
		out := c.Out()
		out.Nil()
		rs.readBody(n, func(b []byte) { out.Bytes(b) })
		return c.ReturnSoon(3)
	}
	rs.refs.Add(1) // rs must outlive the completion even if the response finishes first
	w.Reserve(c.CheckFunc(3)).CompleteSoon(func(w *engine.Worker, a *engine.Args) {
		a.Nil()
		rs.readBody(n, func(b []byte) { a.Bytes(b) })
		rs.release()
	})
	return 0
}

// readBody consumes up to n bytes of the request body and hands them to use, which must
// copy what it keeps: they are ctx's, and valid only during the call, which holds rs.mu (a
// handler timeout that answers 504 meanwhile waits for it, so that fasthttp cannot reuse
// the buffer under it for the connection's next request). use gets nil at the end. Loop
// only.
func (rs *request) readBody(n int, use func([]byte)) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	use(rs.nextBodyLocked(n))
}

// nextBodyLocked consumes up to n bytes of the request body. rs.mu held.
func (rs *request) nextBodyLocked(n int) []byte {
	var b []byte
	switch {
	case rs.ctx != nil:
		b = rs.ctx.PostBody()
	case rs.snap != nil:
		b = rs.snap.body
	}
	if rs.bodyPos >= len(b) {
		return nil
	}
	end := len(b)
	if n < end-rs.bodyPos { // not bodyPos+n < end: that sum may overflow
		end = rs.bodyPos + n
	}
	chunk := b[rs.bodyPos:end]
	rs.bodyPos = end
	return chunk
}

// req:close(cb): the script is done with the request body. Without cb, true at once.
func reqClose(c *engine.Call) int {
	w, _ := reqOf(c)
	if !engine.HasCallback(c, 2) {
		return c.ReturnBool(true)
	}
	if c.CanAwait() { // HasCallback checked the callback (CheckFunc would take a ref)
		c.Out()
		return c.ReturnSoon(2)
	}
	w.Reserve(c.CheckFunc(2)).CompleteSoon(nil)
	return 0
}

// ---- response ----

func resOf(c *engine.Call) (*engine.Worker, *request) {
	w := engine.WorkerOf(c)
	rs := w.Object(c, 1, responseClass).(*request)
	if rs.hasBuf {
		w.TakeOver(rs.cbuf.ptr()) // what the fast methods recorded comes first
	}
	return w, rs
}

// res:set_status(code)
func resSetStatus(c *engine.Call) int {
	_, rs := resOf(c)
	code := statusArg(c, 2)
	rs.editHead(c, "status set", func(resp *fasthttp.Response) { resp.SetStatusCode(code) })
	return 0
}

// res:set(name, value). The fast method (resp.c) checks the name and value the same way
// and leaves a bad one to this method, which raises.
func resSet(c *engine.Call) int {
	_, rs := resOf(c)
	name := c.CheckBytes(2)
	val := c.CheckBytes(3)
	checkHeader(c, 2, 3, "", name, val)
	rs.editHead(c, "header set", func(resp *fasthttp.Response) { setHeader(&resp.Header, name, val) })
	return 0
}

// editHead runs edit on the response's status and headers while they can still change: it
// raises "http: <what> after finish" once the response is finished, and "... after the
// response started streaming" once they are out; after a 504 (the handler timeout) it
// ignores the change, as writes are ignored. edit runs under rs.mu and must not call Lua.
func (rs *request) editHead(c *engine.Call, what string, edit func(*fasthttp.Response)) {
	if rs.finished {
		c.Raise("http: %s after finish", what)
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.state == stateAbandoned {
		return
	}
	if rs.ctx == nil {
		c.Raise("http: %s after the response started streaming", what)
	}
	edit(&rs.ctx.Response)
}

// checkHeader raises an argument error (argument nameArg for the name, valueArg for the
// value) unless the name is a token and the value holds no control character but HTAB: a
// header copied from untrusted input must not end early and start a header, or a
// response, of its own. (fasthttp would instead turn CR and LF into spaces, a silently
// different value, and pass NUL on.) what prefixes the message ("options.headers: ").
func checkHeader[T string | []byte](c *engine.Call, nameArg, valueArg int, what string, name, val T) {
	if !httpsyntax.ValidToken(name) {
		c.ArgError(nameArg, fmt.Sprintf("%sheader name must be an HTTP token, got %s", what, quoteShort(name)))
	}
	if !httpsyntax.ValidFieldValue(val) {
		c.ArgError(valueArg, fmt.Sprintf("%sheader value must not contain control characters (CR, LF, NUL...), got %s", what, quoteShort(val)))
	}
}

// quoteShort quotes s for an error message, cut after 60 bytes: the value may be a whole
// request body.
func quoteShort[T string | []byte](s T) string {
	if len(s) > 60 {
		return fmt.Sprintf("%q...", s[:60])
	}
	return fmt.Sprintf("%q", s)
}

// setHeader sets a response header; Content-Type, fasthttp's own field, directly, skipping
// the generic header normalization.
func setHeader(h *fasthttp.ResponseHeader, name, val []byte) {
	if isContentType(name) {
		h.SetContentTypeBytes(val)
		return
	}
	h.SetBytesKV(name, val)
}

// isContentType reports whether a header name is Content-Type in any case. ASCII folding
// only: no other byte folds to a letter of it under Unicode's rules either (no k, no s),
// and bytes.EqualFold's general folding cost a hello-world request ~150 instructions.
func isContentType(name []byte) bool {
	const lower = "content-type"
	if len(name) != len(lower) {
		return false
	}
	for i, c := range name {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// res:get(name) -> value or nil
func resGet(c *engine.Call) int {
	if _, ended := endedStream(engine.WorkerOf(c), c); ended {
		return 0 // a stream's headers are gone, as they are while it streams
	}
	_, rs := resOf(c)
	name := c.CheckBytes(2)
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.ctx == nil {
		return 0
	}
	v := rs.ctx.Response.Header.PeekBytes(name)
	if v == nil {
		return 0
	}
	return c.ReturnBytes(v)
}

// streamHighWater is how much of a stream may wait to go out before a res:write without
// a callback, in a runtime thread, waits for its chunk to be written: below it such writes
// return at once (a feed written to many clients from one ticker does not wait on each),
// above it the writer is held back to the client's pace instead of piling up memory.
const streamHighWater = 64 << 10

// res:write(data, cb): buffered until the end of the callback; streamed after that; cb(err)
// once the data is buffered, or written to the client. Without cb it returns true at once
// (nil, err when the stream is gone), but for the backpressure of streamHighWater.
func resWrite(c *engine.Call) int {
	if err, ended := endedStream(engine.WorkerOf(c), c); ended {
		c.CheckBytes(2)
		return failLater(c, 3, err)
	}
	w, rs := resOf(c)
	data := c.CheckBytes(2)
	if rs.finished {
		c.Raise("http: write after finish")
	}
	hasCB := engine.HasCallback(c, 3)
	rs.mu.Lock()
	state, gone := rs.state, rs.gone
	waiting := 0
	switch state {
	case statePending:
		rs.ctx.Response.AppendBody(data)
	case stateStreaming:
		for i := range rs.chunks {
			waiting += len(rs.chunks[i].data)
		}
	}
	rs.mu.Unlock()
	switch state {
	case statePending:
		rs.markWritten(w)
		if !hasCB {
			return c.ReturnBool(true)
		}
		w.Reserve(c.CheckFunc(3)).CompleteSoon(nil)
		return 0
	case stateStreaming:
		if !hasCB && (waiting+len(data) <= streamHighWater || !c.CanAwait()) {
			if !rs.queueWrite(data, nil) {
				return engine.ReturnError(c, errClientGone)
			}
			return c.ReturnBool(true)
		}
		op := w.ReserveCall(c, 3) // the callback, or an await for this chunk to go out
		if !rs.queueWrite(data, op) {
			return op.ReturnNow(c, func(w *engine.Worker, a *engine.Args) { a.Error(errClientGone) })
		}
		return op.Return(c)
	default:
		return failLater(c, 3, gone)
	}
}

// res:flush(cb): sends what was written so far now, instead of when the response is
// finished: a buffered response starts streaming (its headers go out, chunked), and cb(err)
// runs once everything written before the flush is out to the client (what ngx.flush(true)
// does). Without cb, in a runtime thread, it waits for that and returns true (nil, err when
// the client is gone); elsewhere it returns at once.
func resFlush(c *engine.Call) int {
	if err, ended := endedStream(engine.WorkerOf(c), c); ended {
		return failLater(c, 2, err)
	}
	w, rs := resOf(c)
	if rs.finished {
		c.Raise("http: flush after finish")
	}
	rs.startStreaming() // unless it streams already, or was abandoned (504)
	if rs.allOut() {    // nothing to wait for
		if engine.HasCallback(c, 2) && c.CanAwait() && rs.soonFlushes < maxSoonFlushes {
			// The callback right after the calling code, in its thread: no registry ref,
			// no Op, no turn of the loop and no second entry into Lua per chunk.
			rs.soonFlushes++
			c.Out()
			return c.ReturnSoon(2)
		}
		rs.soonFlushes = 0
		return w.ReturnNowCall(c, 2, nil) // on the loop's next turn; nothing allocated
	}
	op := w.ReserveCall(c, 2)
	if !rs.queueChunk(chunk{op: op}) {
		rs.mu.Lock()
		gone := rs.gone
		rs.mu.Unlock()
		if gone == nil {
			gone = errClientGone
		}
		return op.ReturnNow(c, func(w *engine.Worker, a *engine.Args) { a.Error(gone) })
	}
	return op.Return(c)
}

// maxSoonFlushes bounds the flushes in a row whose callbacks run straight after the code
// that flushed (ReturnSoon), before one goes through the loop: a stream that writes and
// flushes in its flush callbacks, to a client that reads as fast, would otherwise never
// let the loop serve anything else (nor end its runtime thread's call).
const maxSoonFlushes = 16

// res:finish(cb): the response is complete; cb(err) once it is out. Without cb it returns
// true at once: what remains is the server's to send.
func resFinish(c *engine.Call) int {
	if err, ended := endedStream(engine.WorkerOf(c), c); ended {
		return failLater(c, 2, err)
	}
	w, rs := resOf(c)
	if !engine.HasCallback(c, 2) {
		rs.finish(w, nil)
		return c.ReturnBool(true)
	}
	rs.finish(w, w.Reserve(c.CheckFunc(2)))
	return 0
}

// failLater hands err to the callback at argument i, if any, on the loop's next turn (a
// write to, or the finish of, a stream that ended by itself); without one, the call
// returns nil, err.
func failLater(c *engine.Call, i int, err error) int {
	if !engine.HasCallback(c, i) {
		return engine.ReturnError(c, err)
	}
	engine.WorkerOf(c).Reserve(c.CheckFunc(i)).CompleteSoon(func(w *engine.Worker, a *engine.Args) { a.Error(err) })
	return 0
}
