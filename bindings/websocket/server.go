package websocket

import (
	"context"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	ws "github.com/fasthttp/websocket"
	"github.com/valyala/fasthttp"

	"github.com/drlee/drlee/bindings/http"
	"github.com/drlee/drlee/bindings/internal/luaopts"
	"github.com/drlee/drlee/engine"
)

// handshakeTimeout bounds reading a handshake request on a server of this module.
const handshakeTimeout = 10 * time.Second

// server is a Lua server object: its endpoint on the shared socket, once started.
type server struct {
	addr    string
	handler int32 // registry ref, released at stop
	where   string
	o       connOpts
	ep      *endpoint
	sh      *shared
	started bool
	stopped bool
}

// websocket.create_server(addr, options?, handler) -> server
func createServer(c *engine.Call) int {
	w := engine.WorkerOf(c)
	addr := c.CheckString(1)
	if _, _, err := net.SplitHostPort(addr); err != nil {
		c.ArgError(1, "address must be host:port, [ipv6]:port or :port, got "+luaopts.QuoteShort(addr))
	}
	s := &server{addr: addr, o: defaultConnOpts}
	hArg := 2
	if t := c.Type(2); (t == engine.TypeNil || t == engine.TypeNone) && c.Type(3) == engine.TypeNone {
		c.TypeError(2, "function")
	}
	if c.Type(2) != engine.TypeFunction {
		hArg = 3
		for k, v := range luaopts.Table(c, 2) {
			if !connOption(c, 2, &s.o, k, v) {
				c.ArgError(2, "unknown option "+luaopts.Name(k)+" ("+connOptionNames+")")
			}
		}
	}
	if c.Type(hArg) != engine.TypeFunction {
		c.TypeError(hArg, "function")
	}
	s.handler = c.CheckFunc(hArg)
	s.where = w.FuncWhere(s.handler)
	out := c.Out()
	w.NewObject(out, serverClass, s)
	return c.Return()
}

var errStoppedEarly = engine.NewError("ECANCELED", "websocket: server:stop() was called before the server listened")

// server:start(cb): listens (on the pool: the address may need resolving), then cb(err).
func serverStart(c *engine.Call) int {
	w := engine.WorkerOf(c)
	s := w.Object(c, 1, serverClass).(*server)
	if s.started {
		c.Raise("websocket: server already started")
	}
	if s.stopped {
		c.Raise("websocket: server stopped: a server starts once")
	}
	op := w.ReserveCall(c, 2)
	s.started = true
	ep := &endpoint{w: w, srv: s}
	s.ep = ep
	st := states.Get(w.Engine())
	w.AsyncOp(op, func() engine.Completion {
		sh, err := st.join(s.addr, ep)
		return func(w *engine.Worker, a *engine.Args) {
			switch {
			case err != nil:
				ep.stopped.Store(true)
				s.ep = nil
				if s.stopped {
					w.Unref(s.handler)
				} else {
					s.started = false
				}
				a.Error(err)
			case s.stopped:
				ep.stopped.Store(true)
				sh.leave(ep)
				w.Unref(s.handler)
				a.Error(errStoppedEarly)
			default:
				s.sh = sh
				w.Hold()
				w.OnShutdown(func() { s.stop(w) })
				a.Nil()
			}
		}
	})
	return op.Return(c)
}

// stop leaves the shared socket (the last to leave closes it). Accepted connections stay
// open. Idempotent. Loop only.
func (s *server) stop(w *engine.Worker) {
	if s.stopped {
		return
	}
	s.stopped = true
	if s.sh == nil {
		if !s.started {
			w.Unref(s.handler)
		}
		return
	}
	s.ep.stopped.Store(true)
	s.sh.leave(s.ep)
	w.Unhold()
	w.Unref(s.handler)
}

func serverStop(c *engine.Call) int {
	w := engine.WorkerOf(c)
	w.Object(c, 1, serverClass).(*server).stop(w)
	return 0
}

func (s *server) finalize(w *engine.Worker) {
	if !s.started && !s.stopped && !w.Closing() {
		s.stopped = true
		w.Unref(s.handler)
	}
}

func serverAddr(c *engine.Call) int {
	s := engine.WorkerOf(c).Object(c, 1, serverClass).(*server)
	if s.sh == nil {
		return 0
	}
	return c.ReturnString(s.sh.bound)
}

func serverString(c *engine.Call) int {
	s := engine.WorkerOf(c).Object(c, 1, serverClass).(*server)
	addr, state := s.addr, ""
	if s.sh != nil {
		addr = s.sh.bound
	}
	switch {
	case s.stopped:
		state = ", stopped"
	case s.sh == nil:
		state = ", not listening"
	}
	return c.ReturnString("websocket server (" + addr + state + ")")
}

// ---- the shared socket ----

// shared is a listening socket shared by every worker of the engine that starts a server
// on the same address: one fasthttp server reads the handshakes and hands each websocket
// to the worker with the fewest connections open from it.
type shared struct {
	st    *wsState
	keys  []string
	bound string
	ln    net.Listener
	srv   *fasthttp.Server
	up    ws.FastHTTPUpgrader

	closed atomic.Bool
	mu     sync.Mutex
	eps    atomic.Pointer[[]*endpoint]
	rr     atomic.Uint32
	served chan struct{} // closed when Serve returned
}

type endpoint struct {
	w       *engine.Worker
	srv     *server
	open    atomic.Int32
	stopped atomic.Bool
}

func (st *wsState) join(addr string, ep *endpoint) (*shared, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed {
		return nil, errEngineClosed
	}
	if sh := st.servers[addr]; sh != nil {
		sh.mu.Lock()
		old := *sh.eps.Load()
		eps := append(append(make([]*endpoint, 0, len(old)+1), old...), ep)
		sh.eps.Store(&eps)
		sh.mu.Unlock()
		return sh, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	sh := &shared{st: st, ln: ln, bound: ln.Addr().String(), served: make(chan struct{})}
	sh.up.HandshakeTimeout = handshakeTimeout
	sh.srv = &fasthttp.Server{
		Handler:               sh.handle,
		ReadTimeout:           handshakeTimeout,
		WriteTimeout:          handshakeTimeout,
		IdleTimeout:           handshakeTimeout,
		NoDefaultServerHeader: true,
		CloseOnShutdown:       true,
		Logger:                quietLogger{},
	}
	first := []*endpoint{ep}
	sh.eps.Store(&first)
	if !st.e.Go("websocket: serve "+sh.bound, func() {
		defer close(sh.served)
		_ = sh.srv.Serve(ln)
	}) {
		_ = ln.Close()
		return nil, errEngineClosed
	}
	sh.keys = []string{addr}
	if sh.bound != addr && st.servers[sh.bound] == nil {
		sh.keys = append(sh.keys, sh.bound)
	}
	for _, k := range sh.keys {
		st.servers[k] = sh
	}
	return sh, nil
}

type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}

// leave removes ep; the last to leave closes the socket. Loop of ep's worker.
func (sh *shared) leave(ep *endpoint) {
	sh.st.mu.Lock()
	sh.mu.Lock()
	old := *sh.eps.Load()
	eps := make([]*endpoint, 0, len(old))
	for _, e := range old {
		if e != ep {
			eps = append(eps, e)
		}
	}
	sh.eps.Store(&eps)
	sh.mu.Unlock()
	last := len(eps) == 0
	if last {
		for _, k := range sh.keys {
			if sh.st.servers[k] == sh {
				delete(sh.st.servers, k)
			}
		}
	}
	sh.st.mu.Unlock()
	if last {
		sh.close()
	}
}

// close stops the fasthttp server: the listener closes at once; handshakes in progress get
// handshakeTimeout at most. Upgraded connections are not its (fasthttp does not wait for
// hijacked connections): they close with their workers. Safe from any goroutine.
func (sh *shared) close() {
	if !sh.closed.CompareAndSwap(false, true) {
		return
	}
	shut := func() {
		ctx, cancel := context.WithTimeout(context.Background(), handshakeTimeout)
		defer cancel()
		_ = sh.srv.ShutdownWithContext(ctx)
		<-sh.served
	}
	if !sh.st.e.Go("websocket: shutdown "+sh.bound, shut) {
		shut()
	}
}

func (sh *shared) pickLeast() *endpoint {
	eps := *sh.eps.Load()
	switch len(eps) {
	case 0:
		return nil
	case 1:
		return eps[0]
	}
	start := int(sh.rr.Add(1))
	var best *endpoint
	bestOpen := int32(1 << 30)
	for i := range eps {
		ep := eps[(start+i)%len(eps)]
		if n := ep.open.Load(); n < bestOpen {
			best, bestOpen = ep, n
		}
	}
	return best
}

// handshake is what a handler's req holds, copied from the request before fasthttp
// recycles it.
type handshake struct {
	path    string
	query   [][2]string
	headers [][2]string
	remote  string
}

func readHandshake(ctx *fasthttp.RequestCtx) *handshake {
	h := &handshake{path: string(ctx.Path()), remote: ctx.RemoteAddr().String()}
	for k, v := range ctx.QueryArgs().All() {
		h.query = append(h.query, [2]string{string(k), string(v)})
	}
	for k, v := range ctx.Request.Header.All() {
		h.headers = append(h.headers, [2]string{strings.ToLower(string(k)), string(v)})
	}
	return h
}

// write writes req: {path, query, headers, remote_addr}. A name given twice keeps its first
// value in query, and its values joined with ", " in headers.
func (h *handshake) write(a *engine.Args) {
	a.Table(0, 4)
	a.String("path")
	a.String(h.path)
	a.String("remote_addr")
	a.String(h.remote)
	a.String("query")
	seen := map[string]bool{}
	var q [][2]string
	for _, kv := range h.query {
		if !seen[kv[0]] {
			seen[kv[0]] = true
			q = append(q, kv)
		}
	}
	a.Table(0, len(q))
	for _, kv := range q {
		a.String(kv[0])
		a.String(kv[1])
	}
	a.String("headers")
	joined := map[string]string{}
	var order []string
	for _, kv := range h.headers {
		if v, ok := joined[kv[0]]; ok {
			joined[kv[0]] = v + ", " + kv[1]
		} else {
			joined[kv[0]] = kv[1]
			order = append(order, kv[0])
		}
	}
	a.Table(0, len(order))
	for _, k := range order {
		a.String(k)
		a.String(joined[k])
	}
}

// handle is fasthttp's handler, on its connection goroutine: a websocket handshake is
// answered and the connection hijacked; anything else gets 426.
func (sh *shared) handle(ctx *fasthttp.RequestCtx) {
	if !ws.FastHTTPIsWebSocketUpgrade(ctx) {
		ctx.Response.Header.Set("Upgrade", "websocket")
		ctx.Error("Upgrade Required: this is a websocket server", fasthttp.StatusUpgradeRequired)
		return
	}
	if sh.pickLeast() == nil {
		ctx.Error("Service Unavailable", fasthttp.StatusServiceUnavailable)
		return
	}
	hs := readHandshake(ctx)
	_ = sh.up.Upgrade(ctx, func(c *ws.Conn) { sh.accepted(c, hs) }) // an error has been answered
}

// accepted runs on fasthttp's hijack goroutine with an upgraded connection: it goes to a
// worker, and the goroutine waits until the connection ends (fasthttp closes the socket
// when it returns).
func (sh *shared) accepted(c *ws.Conn, hs *handshake) {
	ep := sh.pickLeast()
	if ep == nil {
		_ = c.WriteControl(ws.CloseMessage, ws.FormatCloseMessage(ws.CloseGoingAway, "server stopped"), time.Now().Add(time.Second))
		return
	}
	cn := newConn(sh.st, c, c.NetConn(), ep.srv.o, ep)
	ep.open.Add(1)
	if !sh.st.track(cn) {
		cn.terminate()
		return
	}
	if err := ep.w.Submit(&acceptTask{cn: cn, ep: ep, hs: hs}); err != nil {
		// The worker is saturated (--queue-size) or gone: 1013, try again later.
		_ = c.WriteControl(ws.CloseMessage, ws.FormatCloseMessage(ws.CloseTryAgainLater, "busy"), time.Now().Add(time.Second))
		cn.terminate()
		return
	}
	cn.wait()
}

// acceptTask runs the handler for an accepted connection on its worker's loop.
type acceptTask struct {
	cn *conn
	ep *endpoint
	hs *handshake
}

func (t *acceptTask) Run(w *engine.Worker) {
	cn, ep := t.cn, t.ep
	if ep.stopped.Load() {
		_ = cn.ws.WriteControl(ws.CloseMessage, ws.FormatCloseMessage(ws.CloseGoingAway, "server stopped"), time.Now().Add(100*time.Millisecond))
		cn.terminate()
		return
	}
	a := w.NewArgs()
	adopt(w, &a.Writer, cn)
	t.hs.write(a)
	// The handler runs in a scope the connection owns: an error raised in it or in any
	// callback of what it started closes the connection (ScopeFailed).
	w.RunScoped(w.NewScope(cn), ep.srv.handler, a.B)
}

func (t *acceptTask) Panicked(w *engine.Worker) { t.cn.terminate() }

// ScopeFailed: the handler of an accepted (or upgraded) connection, or a callback of
// something it started, raised: logged, and the connection closes with 1011.
func (cn *conn) ScopeFailed(w *engine.Worker, _ *engine.Scope, err error) {
	where := ""
	if cn.ep != nil {
		where = " at " + cn.ep.srv.where
	}
	w.Logf("ERROR", "websocket: the handler%s raised; its connection from %s is closed: %s", where, cn.remote, err.Error())
	cn.shutWith(w, ws.CloseInternalServerErr, "internal error", errRaised)
}

// ScopeIdle: nothing the handler started is left; a script may keep the connection.
func (cn *conn) ScopeIdle(*engine.Worker, *engine.Scope) {}

// ---- upgrade ----

// websocket.upgrade(req, res, options?, cb): in a handler of the http module's server,
// answers the request's handshake (101) and gives cb(nil, conn); a request that is not a
// handshake is answered (400, 403, 405) and cb gets EPROTO. Either way the response is
// finished.
func upgrade(c *engine.Call) int {
	w := engine.WorkerOf(c)
	o, cbArg := defaultConnOpts, 4
	if c.Type(3) == engine.TypeFunction {
		cbArg = 3
	} else {
		for k, v := range luaopts.Table(c, 3) {
			if !connOption(c, 3, &o, k, v) {
				c.ArgError(3, "unknown option "+luaopts.Name(k)+" ("+connOptionNames+")")
			}
		}
	}
	if t := c.Type(cbArg); t != engine.TypeFunction && t != engine.TypeNil && t != engine.TypeNone {
		c.TypeError(cbArg, "function")
	}
	st := states.Get(w.Engine())
	u := &upgrading{st: st, o: o}
	var up ws.FastHTTPUpgrader
	up.HandshakeTimeout = handshakeTimeout
	err := http.TakeOver(c, 1, 2, func(ctx *fasthttp.RequestCtx) error {
		if len(ctx.Response.Body()) > 0 {
			return engine.NewError("EINVAL", "websocket: the response has a body already: upgrade before writing")
		}
		u.hs = readHandshake(ctx)
		if err := up.Upgrade(ctx, u.hijacked); err != nil {
			return engine.WithCode("EPROTO", err)
		}
		return nil
	})
	op := w.ReserveCall(c, cbArg)
	if err != nil {
		op.CompleteSoon(failed(err))
		return op.Return(c)
	}
	u.op = op
	// fasthttp runs the hijack once it has sent the 101; if it cannot (the client went
	// away first) it never does, and this timer completes the op instead.
	u.timer = w.After(handshakeTimeout, func(w *engine.Worker) {
		if u.claimed.CompareAndSwap(false, true) {
			op.CompleteNow(w, failed(engine.NewError("ECONNRESET", "websocket: the client went away before the handshake's answer was sent")))
		}
	})
	return op.Return(c)
}

// upgrading is an upgrade whose 101 is on its way: the hijack or the timer completes op.
type upgrading struct {
	st      *wsState
	o       connOpts
	hs      *handshake
	op      *engine.Op
	timer   *engine.Timer
	claimed atomic.Bool
}

// hijacked runs on fasthttp's hijack goroutine once the 101 is sent; it waits until the
// connection ends (fasthttp closes the socket when it returns).
func (u *upgrading) hijacked(c *ws.Conn) {
	if !u.claimed.CompareAndSwap(false, true) {
		return // the timer gave up on it
	}
	cn := newConn(u.st, c, c.NetConn(), u.o, nil)
	op := u.op
	if !u.st.track(cn) {
		cn.terminate()
		op.Complete(failed(errEngineClosed))
		return
	}
	if !op.Complete(func(w *engine.Worker, a *engine.Args) {
		u.timer.Stop()
		if !op.Awaits() && !op.HasCallback() {
			cn.terminate() // nobody gets it
			a.Nil()
			return
		}
		a.Nil()
		adopt(w, &a.Writer, cn)
	}) {
		cn.terminate()
		return
	}
	cn.wait()
}
