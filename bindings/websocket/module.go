// Package websocket is the Lua module "websocket": WebSocket clients (ws:// and wss://),
// servers, and the upgrade of a request of the http module's server.
//
//	local websocket = require "websocket"
//	websocket.dial(url, options?, cb)             -- cb(err, conn)
//	websocket.create_server(addr, options?, handler) -> server; handler(conn, req)
//	server:start(cb)      -- cb(err) once listening; server.addr is the address bound
//	server:stop()
//	websocket.upgrade(req, res, options?, cb)     -- in an http handler: cb(err, conn)
//	conn:read_frame(cb)   -- cb(err, {type = "text"|"binary", data = ...}), or
//	                      -- cb(nil, {type = "close", code = 1000, reason = "..."}) once
//	conn:write_frame(data, type?, cb)             -- type "text" (default) or "binary"
//	conn:close(code?, reason?, cb)                -- the close handshake, then cb(err)
//	conn.remote_addr, conn.local_addr
//
// Options (every one optional): timeout (dial only: seconds for the connection, TLS and
// the handshake; default 30), headers (dial only: a table of name = value sent with the
// handshake), tls (dial only, wss: true or {insecure, server_name, ca}, as the network
// module's: ca is a PEM string or the path of a PEM file), max_message (bytes: the largest
// message read whole, 1 to 1 GiB, default 16 MiB; a larger one closes the connection with
// 1009 and the read fails with EMSGSIZE), read_timeout (seconds a read_frame may wait for a
// message; when it passes the connection is closed and the read fails with ETIMEDOUT),
// write_timeout (seconds a write may wait for the socket), close_timeout (seconds close
// waits for the peer's close frame, default 5). Durations are numbers of seconds,
// fractions allowed; 0 or math.huge is no limit; negative numbers and NaN raise.
//
// The runtime answers pings and joins fragmented messages while a read_frame waits: a
// connection nobody reads from answers no ping (its peer's writes wait in the socket
// buffers, which is the back-pressure). A close frame from the peer is answered with the
// same code, and the read that got it returns {type = "close", code, reason} (code 1005
// when the frame had none); later reads fail with ECLOSED, and conn:close() then just
// succeeds. A peer that vanishes without a close frame fails the read with ECONNRESET
// (1006). A failed read or write (timeout, protocol error, too large a message) closes the
// connection: the library cannot go on after one.
//
// A server's handler(conn, req) runs on the loop of the worker with the fewest connections
// open from that server, once per accepted websocket, in a scope of the connection's own:
// an error raised there, or in a callback of anything it started, is logged and closes the
// connection with 1011. req is {path = "/chat", query = {name = value}, headers = {name =
// value} (names in lower case), remote_addr = "ip:port"}. The workers that start a server
// on one address share one socket. A plain HTTP request to it gets 426 Upgrade Required.
// As with browsers' same-origin rule, a handshake whose Origin header names another host
// than its Host is refused with 403 (the library's check).
//
// No read or write holds a slot of the engine's I/O pool: each connection has a reader and
// a writer goroutine of the engine's (lane.go), and completes through the worker's queue. A
// pending operation keeps the worker alive, as a started server does; an open connection
// with nothing pending does not. At shutdown every connection of the worker is closed
// with 1001 (its reads fail with ECLOSED); one Lua collects unclosed is closed with 1001;
// those still open when their worker ends are closed then.
package websocket

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	ws "github.com/fasthttp/websocket"

	"github.com/drlee/drlee/bindings/internal/luaopts"
	"github.com/drlee/drlee/bindings/internal/tlsopt"
	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/packed"
)

var (
	connClass   = &engine.Class{Name: "websocket"}
	serverClass = &engine.Class{Name: "websocketServer"}
)

func init() {
	connClass.Methods = []engine.Function{
		{Name: "read_frame", Fn: connRead},
		{Name: "write_frame", Fn: connWrite},
		{Name: "close", Fn: connClose},
	}
	connClass.Getters = []engine.Function{
		{Name: "remote_addr", Fn: connRemote},
		{Name: "local_addr", Fn: connLocal},
	}
	connClass.Meta = []engine.Function{{Name: "__tostring", Fn: connString}}
	connClass.ScriptFields = true // conn.room = name
	connClass.Finalize = func(w *engine.Worker, v any) { v.(*conn).finalize(w) }

	serverClass.Methods = []engine.Function{
		{Name: "start", Fn: serverStart},
		{Name: "stop", Fn: serverStop},
	}
	serverClass.Getters = []engine.Function{{Name: "addr", Fn: serverAddr}}
	serverClass.Meta = []engine.Function{{Name: "__tostring", Fn: serverString}}
	serverClass.Finalize = func(w *engine.Worker, v any) { v.(*server).finalize(w) }

	engine.Register(&engine.Module{
		Name: "websocket",
		Funcs: []engine.Function{
			{Name: "dial", Fn: dial},
			{Name: "create_server", Fn: createServer},
			{Name: "upgrade", Fn: upgrade},
		},
		Classes: []*engine.Class{connClass, serverClass},
	})
}

const (
	defaultDialTimeout  = 30 * time.Second
	defaultCloseTimeout = 5 * time.Second
	defaultMaxMessage   = 16 << 20
	maxMaxMessage       = 1 << 30
	maxReason           = 123 // a close frame's payload is at most 125 bytes, 2 of them the code
)

// ---- the engine's state ----

// wsState is an engine's websocket module: its open connections and shared servers. Its
// OnClose, once every worker has ended, closes what is left, so that every goroutine of the
// module ends before Run waits for them.
type wsState struct {
	e      *engine.Engine
	ctx    context.Context // cancelled at the engine's close: dials give up
	cancel context.CancelFunc

	mu      sync.Mutex
	closed  bool
	conns   map[*conn]struct{}
	servers map[string]*shared
}

var states = engine.NewEngineLocal(func(e *engine.Engine) *wsState {
	ctx, cancel := context.WithCancel(context.Background())
	st := &wsState{e: e, ctx: ctx, cancel: cancel, conns: map[*conn]struct{}{}, servers: map[string]*shared{}}
	e.OnClose(st.close)
	return st
})

func (st *wsState) track(cn *conn) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed {
		return false
	}
	st.conns[cn] = struct{}{}
	return true
}

func (st *wsState) forget(cn *conn) {
	st.mu.Lock()
	delete(st.conns, cn)
	st.mu.Unlock()
}

func (st *wsState) close() {
	st.cancel()
	st.mu.Lock()
	st.closed = true
	servers := make([]*shared, 0, len(st.servers))
	for _, sh := range st.servers {
		servers = append(servers, sh)
	}
	conns := make([]*conn, 0, len(st.conns))
	for cn := range st.conns {
		conns = append(conns, cn)
	}
	st.mu.Unlock()
	for _, sh := range servers {
		sh.close()
	}
	for _, cn := range conns {
		// The peer is told (best effort, briefly: the engine is ending) before the socket
		// closes: a connection still open when its worker ended, or whose close frame the
		// worker's end overtook.
		if !cn.terminated.Load() {
			_ = cn.ws.WriteControl(ws.CloseMessage, ws.FormatCloseMessage(ws.CloseGoingAway, "going away"), time.Now().Add(100*time.Millisecond))
		}
		cn.terminateFor(errClosed)
	}
}

var errEngineClosed = engine.NewError("ECLOSED", "websocket: the engine has closed")

// workerConns are a worker's connections, closed with 1001 at its shutdown.
type workerConns struct {
	set map[*conn]struct{}
}

var workers = engine.NewWorkerLocal(func(w *engine.Worker) *workerConns {
	wc := &workerConns{set: map[*conn]struct{}{}}
	w.OnShutdown(func() {
		for cn := range wc.set {
			cn.shutWith(w, ws.CloseGoingAway, "shutting down", errShutdown)
		}
	})
	return wc
})

// adopt makes cn the worker's: its Lua object is written to out. Loop only.
func adopt(w *engine.Worker, out *packed.Writer, cn *conn) {
	wc := workers.Get(w)
	cn.wc = wc
	wc.set[cn] = struct{}{}
	w.NewObject(out, connClass, cn)
}

// connOption reads one of the options every connection has; false if name is not one.
func connOption(c *engine.Call, i int, o *connOpts, k, v any) bool {
	switch k {
	case "read_timeout":
		o.rt = luaopts.Seconds(c, i, "read_timeout", v)
	case "write_timeout":
		o.wt = luaopts.Seconds(c, i, "write_timeout", v)
	case "close_timeout":
		o.closeTimeout = luaopts.Seconds(c, i, "close_timeout", v)
		if o.closeTimeout == 0 {
			o.closeTimeout = luaopts.MaxSeconds * time.Second
		}
	case "max_message":
		f, ok := v.(float64)
		if !ok || f != f || f < 1 || f > maxMaxMessage || f != float64(int64(f)) {
			c.ArgError(i, fmt.Sprintf("options.max_message must be a whole number of bytes, 1 to %d", maxMaxMessage))
		}
		o.maxMessage = int64(f)
	default:
		return false
	}
	return true
}

const connOptionNames = "max_message, read_timeout, write_timeout, close_timeout"

// dialOpts are websocket.dial's options.
type dialOpts struct {
	conn    connOpts
	timeout time.Duration
	headers http.Header
	tls     *tlsopt.Options
}

// reservedHeaders are the handshake's own, which the library sets.
var reservedHeaders = map[string]bool{
	"Upgrade": true, "Connection": true, "Sec-Websocket-Key": true, "Sec-Websocket-Version": true,
	"Sec-Websocket-Extensions": true, "Sec-Websocket-Protocol": true, "Host": true,
}

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if b <= ' ' || b >= 0x7f || strings.IndexByte("\"(),/:;<=>?@[\\]{}", b) >= 0 {
			return false
		}
	}
	return true
}

func parseDialOptions(c *engine.Call, i int, u *url.URL) dialOpts {
	o := dialOpts{conn: defaultConnOpts, timeout: defaultDialTimeout}
	for k, v := range luaopts.Table(c, i) {
		if connOption(c, i, &o.conn, k, v) {
			continue
		}
		switch k {
		case "timeout":
			o.timeout = luaopts.Seconds(c, i, "timeout", v)
		case "headers":
			o.headers = parseHeaders(c, i, v)
		case "tls":
			o.tls = parseTLS(c, i, u, v)
		default:
			c.ArgError(i, "unknown option "+luaopts.Name(k)+" (timeout, headers, tls, "+connOptionNames+")")
		}
	}
	return o
}

func parseHeaders(c *engine.Call, i int, v any) http.Header {
	m, ok := v.(map[any]any)
	if !ok {
		if t, isArr := v.([]any); isArr && len(t) == 0 {
			return nil
		}
		c.ArgError(i, "options.headers must be a table of name = value")
	}
	h := http.Header{}
	for k, v := range m {
		name, ok := k.(string)
		if !ok || !validHeaderName(name) {
			c.ArgError(i, "options.headers: "+luaopts.Name(k)+" is not a header name")
		}
		value, ok := v.(string)
		if !ok || strings.ContainsAny(value, "\r\n\x00") {
			c.ArgError(i, "options.headers."+name+" must be a string without CR, LF or NUL")
		}
		canon := http.CanonicalHeaderKey(name)
		if reservedHeaders[canon] {
			c.ArgError(i, "options.headers."+name+" is set by the handshake itself")
		}
		h.Set(canon, value)
	}
	return h
}

// parseTLS reads options.tls of a dial to u (wss only): the name verified defaults to the
// URL's host.
func parseTLS(c *engine.Call, i int, u *url.URL, v any) *tlsopt.Options {
	t := tlsopt.Parse(c, i, "options.tls", v)
	if t == nil {
		return nil
	}
	if u.Scheme != "wss" {
		c.ArgError(i, "options.tls is for wss:// URLs")
	}
	if t.ServerName == "" {
		t.ServerName = u.Hostname()
	}
	return t
}

func checkURL(c *engine.Call, i int) *url.URL {
	s := c.CheckString(i)
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" || u.User != nil {
		c.ArgError(i, "url must be ws://host[:port]/path or wss://..., got "+luaopts.QuoteShort(s))
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			c.ArgError(i, "url has a bad port: "+luaopts.QuoteShort(s))
		}
	}
	return u
}

// ---- dial ----

// websocket.dial(url, options?, cb): cb(nil, conn).
func dial(c *engine.Call) int {
	w := engine.WorkerOf(c)
	u := checkURL(c, 1)
	o, cbArg := dialOpts{conn: defaultConnOpts, timeout: defaultDialTimeout}, 3
	if c.Type(2) == engine.TypeFunction {
		cbArg = 2
	} else {
		o = parseDialOptions(c, 2, u)
	}
	if u.Scheme == "wss" && o.tls == nil {
		o.tls = &tlsopt.Options{ServerName: u.Hostname()}
	}
	op := w.ReserveCall(c, cbArg) // last: a raise after it would leave the op reserved
	received := op.Awaits() || op.HasCallback()
	st := states.Get(w.Engine())
	if !st.e.Go("websocket: dial", func() { st.dial(op, u, o, received) }) {
		op.CompleteSoon(failed(errEngineClosed))
	}
	return op.Return(c)
}

// dial connects and shakes hands on a goroutine of its own, never the pool's.
func (st *wsState) dial(op *engine.Op, u *url.URL, o dialOpts, received bool) {
	ctx := st.ctx
	if o.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.timeout)
		defer cancel()
	}
	var raw net.Conn
	var nd net.Dialer
	d := ws.Dialer{
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := nd.DialContext(ctx, network, addr)
			raw = c // the socket: closing it never waits for TLS's close_notify
			return c, err
		},
	}
	if o.tls != nil {
		d.TLSClientConfig = o.tls.Config()
	}
	c, resp, err := d.DialContext(ctx, u.String(), o.headers)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		if raw != nil {
			_ = raw.Close()
		}
		op.Complete(failed(st.dialError(ctx, u, resp, err, o.timeout)))
		return
	}
	cn := newConn(st, c, raw, o.conn, nil)
	if !received { // nobody gets the connection, so nobody could close it
		cn.terminate()
		op.Complete(nil)
		return
	}
	if !st.track(cn) {
		cn.terminate()
		op.Complete(failed(errEngineClosed))
		return
	}
	if !op.Complete(func(w *engine.Worker, a *engine.Args) {
		a.Nil()
		adopt(w, &a.Writer, cn)
	}) {
		cn.terminate()
	}
}

func (st *wsState) dialError(ctx context.Context, u *url.URL, resp *http.Response, err error, timeout time.Duration) error {
	switch {
	case st.ctx.Err() != nil:
		return errEngineClosed
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || (timeout > 0 && errors.Is(err, os.ErrDeadlineExceeded)):
		// The library sets the socket's deadline from ctx's, so the deadline may show as
		// the socket's i/o timeout just before ctx reports it.
		return engine.WithCode("ETIMEDOUT", fmt.Errorf("websocket: no connection to %s within the timeout (%s s): %w", u.Redacted(), seconds(timeout), err))
	case resp != nil:
		return engine.WithCode("EPROTO", fmt.Errorf("websocket: %s refused the handshake: HTTP %s", u.Redacted(), resp.Status))
	case errors.Is(err, ws.ErrBadHandshake):
		return engine.WithCode("EPROTO", fmt.Errorf("websocket: bad handshake with %s", u.Redacted()))
	}
	var ce *tls.CertificateVerificationError
	if errors.As(err, &ce) || engine.ErrorCode(err) == "ETLS" {
		return engine.WithCode("ETLS", fmt.Errorf("websocket: TLS with %s: %w", u.Redacted(), err))
	}
	return fmt.Errorf("websocket: dial %s: %w", u.Redacted(), err)
}

// failed is the completion of an operation with no result: cb(err), err nil on success.
func failed(err error) engine.Completion {
	return func(w *engine.Worker, a *engine.Args) { a.Error(err) }
}

// ---- conn methods ----

func connOf(c *engine.Call) *conn {
	return engine.WorkerOf(c).Object(c, 1, connClass).(*conn)
}

// conn:read_frame(cb): cb(nil, {type, data}) with the next message, or {type = "close",
// code, reason} when the peer closed.
func connRead(c *engine.Call) int {
	w := engine.WorkerOf(c)
	cn := w.Object(c, 1, connClass).(*conn)
	op := w.ReserveCall(c, 2)
	cn.read(op)
	return op.Return(c)
}

// conn:write_frame(data, type?, cb): cb(nil) once the message is written.
func connWrite(c *engine.Call) int {
	w := engine.WorkerOf(c)
	cn := w.Object(c, 1, connClass).(*conn)
	data := c.CheckBytes(2)
	binary, cbArg := false, 4
	switch c.Type(3) {
	case engine.TypeFunction:
		cbArg = 3
	case engine.TypeNil, engine.TypeNone:
	case engine.TypeString:
		switch t := c.CheckString(3); t {
		case "text":
		case "binary":
			binary = true
		default:
			c.ArgError(3, `type must be "text" or "binary", got `+luaopts.QuoteShort(t))
		}
	default:
		c.TypeError(3, `"text" or "binary"`)
	}
	if !binary && !utf8.Valid(data) {
		c.ArgError(2, `a text message must be UTF-8 (send other bytes with type "binary")`)
	}
	op := w.ReserveCall(c, cbArg)
	cn.write(op, data, binary)
	return op.Return(c)
}

// validCloseCode reports whether a close frame may carry code (RFC 6455 7.4): 1000-1003,
// 1007-1014, and 3000-4999 for libraries and applications.
func validCloseCode(code int64) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014, code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// conn:close(code?, reason?, cb): code 1000 by default; cb(nil) once closed.
func connClose(c *engine.Call) int {
	w := engine.WorkerOf(c)
	cn := w.Object(c, 1, connClass).(*conn)
	code, reason, cbArg := int64(ws.CloseNormalClosure), "", 4
	switch {
	case c.Type(2) == engine.TypeFunction:
		cbArg = 2
	case c.Type(3) == engine.TypeFunction:
		cbArg = 3
	}
	if cbArg > 2 && c.Type(2) != engine.TypeNil && c.Type(2) != engine.TypeNone {
		if f := c.CheckNumber(2); f != math.Trunc(f) {
			c.ArgError(2, "a close code is a whole number")
		}
		code = c.CheckIntRange(2, 1000, 4999)
		if !validCloseCode(code) {
			c.ArgError(2, fmt.Sprintf("close code %d may not be sent (1000-1003, 1007-1014, 3000-4999)", code))
		}
	}
	if cbArg > 3 && c.Type(3) != engine.TypeNil && c.Type(3) != engine.TypeNone {
		reason = c.CheckString(3)
		if len(reason) > maxReason || !utf8.ValidString(reason) {
			c.ArgError(3, fmt.Sprintf("reason must be UTF-8 text of at most %d bytes", maxReason))
		}
	}
	op := w.ReserveCall(c, cbArg)
	cn.close(op, int(code), reason)
	return op.Return(c)
}

func connRemote(c *engine.Call) int { return c.ReturnString(connOf(c).remote) }
func connLocal(c *engine.Call) int  { return c.ReturnString(connOf(c).local) }

func connString(c *engine.Call) int {
	cn := connOf(c)
	state := ""
	if cn.closing || cn.terminated.Load() {
		state = ", closed"
	}
	return c.ReturnString("websocket (" + cn.local + "->" + cn.remote + state + ")")
}
