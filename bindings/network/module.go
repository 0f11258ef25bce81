// Package network is the Lua module "network": TCP, UDP and Unix-socket clients and
// servers, TLS for clients.
//
//	local network = require "network"
//	network.dial(kind, addr, options?, cb)       -- cb(err, conn); kind "tcp", "udp", "unix"
//	network.create_server(kind, addr, options?, handler) -> server
//	server:start(cb)      -- cb(err) once listening; server.addr is the address bound
//	server:stop()
//	server:send_to(addr, data, cb)               -- udp servers: one datagram to addr
//	conn:read(n, cb)      -- cb(err, data): at most n bytes (1..16 MiB), "" at the end
//	conn:write(data, cb)  -- cb(err) once the socket took all of data
//	conn:close(cb)        -- cb(err) once closed, after the writes issued before it
//	conn.remote_addr, conn.local_addr, conn.kind
//
// dial's options: timeout (seconds to connect, TLS handshake included; default 30),
// read_timeout and write_timeout (seconds each read may wait for data, each write for the
// socket to take it; default none), tls (true, or {insecure, server_name, ca}: ca is a PEM
// string, or the path of a PEM file, of the certificates to trust instead of the system's).
// Durations are numbers of seconds, fractions allowed; 0 or math.huge is no limit;
// negative numbers and NaN raise. create_server's options are read_timeout and
// write_timeout, for the connections it accepts.
//
// A tcp or unix server's handler(conn) runs on the loop of the worker it was started on,
// once per accepted connection, in a scope of the connection's own: an error raised there,
// or in a callback of anything it started, is logged and closes the connection. A udp
// server's handler(err, packet) runs once per datagram, packet = {data = ..., addr =
// "ip:port"}; server:send_to(packet.addr, reply, cb) answers it. The workers that start a
// server of one kind on one address share one socket (as HTTP servers do): each connection
// goes to the worker with the fewest connections open from it, each datagram to the next
// worker in turn.
//
// I/O never holds a slot of the engine's I/O pool. A read or write is first tried at once on
// the loop, without waiting (what has arrived; what the send buffer takes); what has to wait
// waits in one of the connection's two lanes (lane.go), each a goroutine of the engine's
// started at its first wait and kept until the connection closes, and completes through the
// worker's queue. A dial runs on a goroutine of its own. A pending operation keeps the
// worker alive, as a started server does; an open connection with nothing pending does not.
// Connections still open when their worker ends are closed then (and any left when the
// engine closes); a connection Lua collects without close is closed once its operations are
// done. At shutdown the servers stop accepting, and the connections they accepted are
// closed as soon as they wait for their peer (ECLOSED).
package network

import (
	"context"
	"crypto/tls"
	_ "embed"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"time"

	"github.com/drlee/drlee/bindings/internal/luaopts"
	"github.com/drlee/drlee/bindings/internal/tlsopt"
	"github.com/drlee/drlee/engine"
)

var (
	connClass   = &engine.Class{Name: "conn"}
	serverClass = &engine.Class{Name: "netServer"}
)

func init() {
	connClass.Methods = []engine.Function{
		{Name: "read", Fn: connRead},
		{Name: "write", Fn: connWrite},
		{Name: "close", Fn: connClose},
	}
	connClass.Getters = []engine.Function{
		{Name: "remote_addr", Fn: connRemote},
		{Name: "local_addr", Fn: connLocal},
		{Name: "kind", Fn: connKind},
	}
	connClass.Meta = []engine.Function{{Name: "__tostring", Fn: connString}}
	// Scripts may keep fields of their own on a connection (conn.user = name); it has
	// getters already, so they cost nothing more.
	connClass.ScriptFields = true
	connClass.Finalize = func(w *engine.Worker, v any) { v.(*conn).finalize(w) }

	serverClass.Methods = []engine.Function{
		{Name: "start", Fn: serverStart},
		{Name: "stop", Fn: serverStop},
		{Name: "send_to", Fn: serverSendTo},
		{Name: "address", Fn: serverAddr},
	}
	serverClass.Getters = []engine.Function{
		{Name: "addr", Fn: serverAddr},
		{Name: "kind", Fn: serverKind},
	}
	serverClass.Meta = []engine.Function{{Name: "__tostring", Fn: serverString}}
	serverClass.Finalize = func(w *engine.Worker, v any) { v.(*server).finalize(w) }

	engine.Register(&engine.Module{
		Name: "network",
		Funcs: []engine.Function{
			{Name: "dial", Fn: dial},
			{Name: "create_server", Fn: createServer},
		},
		Classes: []*engine.Class{connClass, serverClass},
	})
}

// defaultDialTimeout bounds a dial (and its TLS handshake) when options.timeout is not given.
const defaultDialTimeout = 30 * time.Second

// ---- arguments ----

func checkKind(c *engine.Call, i int) string {
	k := c.CheckString(i)
	switch k {
	case "tcp", "udp", "unix":
		return k
	}
	c.ArgError(i, `kind must be "tcp", "udp" or "unix", got `+luaopts.QuoteShort(k))
	return ""
}

func checkAddr(c *engine.Call, i int, kind string) string {
	a := c.CheckString(i)
	if kind == "unix" {
		if a == "" || strings.IndexByte(a, 0) >= 0 {
			c.ArgError(i, "address must be the path of a socket, got "+luaopts.QuoteShort(a))
		}
		return a
	}
	if _, _, err := net.SplitHostPort(a); err != nil {
		c.ArgError(i, "address must be host:port, [ipv6]:port or :port, got "+luaopts.QuoteShort(a))
	}
	return a
}

// dialOpts are network.dial's options.
type dialOpts struct {
	timeout, rt, wt time.Duration
	tls             *tlsopt.Options
}

func parseDialOptions(c *engine.Call, i int, kind, addr string) dialOpts {
	o := dialOpts{timeout: defaultDialTimeout}
	for k, v := range luaopts.Table(c, i) {
		switch k {
		case "timeout":
			o.timeout = luaopts.Seconds(c, i, "timeout", v)
		case "read_timeout":
			o.rt = luaopts.Seconds(c, i, "read_timeout", v)
		case "write_timeout":
			o.wt = luaopts.Seconds(c, i, "write_timeout", v)
		case "tls":
			o.tls = parseTLS(c, i, kind, addr, v)
		default:
			c.ArgError(i, "unknown option "+luaopts.Name(k)+" (timeout, read_timeout, write_timeout, tls)")
		}
	}
	return o
}

// parseTLS reads options.tls of a dial to addr: the server name verified defaults to
// addr's host (localhost for none); over a unix socket it must be given.
func parseTLS(c *engine.Call, i int, kind, addr string, v any) *tlsopt.Options {
	t := tlsopt.Parse(c, i, "options.tls", v)
	if t == nil {
		return nil
	}
	if kind == "udp" {
		c.ArgError(i, "options.tls: TLS is for tcp and unix connections")
	}
	if t.ServerName == "" && !t.Insecure {
		if kind == "unix" {
			c.ArgError(i, "options.tls.server_name is needed to verify a TLS server over a unix socket (or tls.insecure = true)")
		}
		host, _, _ := net.SplitHostPort(addr)
		if host == "" {
			host = "localhost"
		}
		t.ServerName = host
	}
	return t
}

// ---- dial ----

// network.dial(kind, addr, options?, cb): cb(nil, conn).
func dial(c *engine.Call) int {
	w := engine.WorkerOf(c)
	kind := checkKind(c, 1)
	addr := checkAddr(c, 2, kind)
	o, cbArg := dialOpts{timeout: defaultDialTimeout}, 4
	if c.Type(3) == engine.TypeFunction {
		cbArg = 3
	} else {
		o = parseDialOptions(c, 3, kind, addr)
	}
	op := w.ReserveCall(c, cbArg) // last: a raise after it would leave the op reserved
	received := op.Awaits() || op.HasCallback()
	st := states.Get(w.Engine())
	if !st.e.Go("network: dial", func() { st.dial(op, kind, addr, o, received) }) {
		op.CompleteSoon(failed(errEngineClosed))
	}
	return op.Return(c)
}

// dial connects (and shakes hands), on a goroutine of its own, never the pool's: a dial that
// waits for a slow peer holds nothing else.
func (st *netState) dial(op *engine.Op, kind, addr string, o dialOpts, received bool) {
	ctx := st.ctx
	if o.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.timeout)
		defer cancel()
	}
	var d net.Dialer
	raw, err := d.DialContext(ctx, kind, addr)
	nc := raw
	if err == nil && o.tls != nil {
		tc := tls.Client(raw, o.tls.Config())
		if err = tc.HandshakeContext(ctx); err == nil {
			nc = tc
		} else {
			err = fmt.Errorf("network: TLS handshake with %s: %w", addr, err)
		}
		if err != nil {
			_ = raw.Close()
		}
	}
	if err != nil {
		op.Complete(failed(st.dialError(ctx, err, o.timeout)))
		return
	}
	cn := newConn(st, kind, nc, raw, o.tls != nil, o.rt, o.wt, nil)
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
		w.NewObject(&a.Writer, connClass, cn)
	}) {
		cn.terminate() // the worker has ended
	}
}

// dialError names why a dial failed: its timeout, the engine's close, or what the system
// said (ECONNREFUSED, ENOTFOUND, ETLS...).
func (st *netState) dialError(ctx context.Context, err error, timeout time.Duration) error {
	switch {
	case st.ctx.Err() != nil:
		return errEngineClosed
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return engine.WithCode("ETIMEDOUT", fmt.Errorf("network: no connection within the timeout (%s s): %w", seconds(timeout), err))
	}
	return err
}

// ---- conn ----

func connOf(c *engine.Call) *conn {
	return engine.WorkerOf(c).Object(c, 1, connClass).(*conn)
}

// conn:read(n, cb): cb(nil, data) with at most n bytes (1 to 16 MiB), "" at the end of the
// stream; a udp connection reads one datagram (cut at n bytes).
func connRead(c *engine.Call) int {
	w := engine.WorkerOf(c)
	cn := w.Object(c, 1, connClass).(*conn)
	n := int(c.CheckIntRange(2, 1, maxRead))
	op := w.ReserveCall(c, 3)
	cn.read(op, n)
	return op.Return(c)
}

// conn:write(data, cb): cb(nil) once the socket took all of data; a udp connection sends
// one datagram.
func connWrite(c *engine.Call) int {
	w := engine.WorkerOf(c)
	cn := w.Object(c, 1, connClass).(*conn)
	data := c.CheckBytes(2) // Lua's, during this call: written at once, or copied
	op := w.ReserveCall(c, 3)
	cn.write(op, data)
	return op.Return(c)
}

// conn:close(cb): cb(nil) once the connection is closed, after the writes issued before it.
func connClose(c *engine.Call) int {
	w := engine.WorkerOf(c)
	cn := w.Object(c, 1, connClass).(*conn)
	op := w.ReserveCall(c, 2)
	cn.close(op)
	return op.Return(c)
}

func connRemote(c *engine.Call) int { return c.ReturnString(connOf(c).remote) }
func connLocal(c *engine.Call) int  { return c.ReturnString(connOf(c).local) }
func connKind(c *engine.Call) int   { return c.ReturnString(connOf(c).kind) }

// tostring(conn): "conn (tcp 127.0.0.1:50000->127.0.0.1:8080)", "(closed)" once closed.
func connString(c *engine.Call) int {
	cn := connOf(c)
	if cn.closing || cn.terminated.Load() {
		return c.ReturnString("conn (" + cn.describe() + ", closed)")
	}
	return c.ReturnString("conn (" + cn.describe() + ")")
}

// ---- server ----

// server is a Lua server object: its endpoint on the shared socket, once started.
type server struct {
	kind, addr string
	handler    int32 // registry ref, released at stop
	where      string
	rt, wt     time.Duration // of the connections it accepts
	ep         *endpoint
	sh         *shared // set once listening
	started    bool    // start was called (and did not fail)
	stopped    bool
}

// network.create_server(kind, addr, options?, handler) -> server
func createServer(c *engine.Call) int {
	w := engine.WorkerOf(c)
	kind := checkKind(c, 1)
	addr := checkAddr(c, 2, kind)
	s := &server{kind: kind, addr: addr}
	hArg := 3
	if t := c.Type(3); (t == engine.TypeNil || t == engine.TypeNone) && c.Type(4) == engine.TypeNone {
		c.TypeError(3, "function") // the handler is missing, not the options
	}
	if c.Type(3) != engine.TypeFunction {
		hArg = 4
		for k, v := range luaopts.Table(c, 3) {
			switch k {
			case "read_timeout":
				s.rt = luaopts.Seconds(c, 3, "read_timeout", v)
			case "write_timeout":
				s.wt = luaopts.Seconds(c, 3, "write_timeout", v)
			default:
				c.ArgError(3, "unknown option "+luaopts.Name(k)+" (read_timeout, write_timeout)")
			}
		}
		if kind == "udp" && (s.rt > 0 || s.wt > 0) {
			c.ArgError(3, "a udp server has no connections: read_timeout and write_timeout are for tcp and unix servers")
		}
	}
	if c.Type(hArg) != engine.TypeFunction {
		c.TypeError(hArg, "function")
	}
	s.handler = c.CheckFunc(hArg) // last: the ref is the server's from here
	s.where = w.FuncWhere(s.handler)
	out := c.Out()
	w.NewObject(out, serverClass, s)
	return c.Return()
}

var errStoppedEarly = engine.NewError("ECANCELED", "network: server:stop() was called before the server listened")

// server:start(cb): listens (on the pool: the address may need resolving), then cb(err).
// Without cb, in a coroutine of the runtime, it waits and returns true or nil, err.
func serverStart(c *engine.Call) int {
	w := engine.WorkerOf(c)
	s := w.Object(c, 1, serverClass).(*server)
	if s.started {
		c.Raise("network: server already started")
	}
	if s.stopped {
		c.Raise("network: server stopped: a server starts once")
	}
	op := w.ReserveCall(c, 2)
	s.started = true
	st := states.Get(w.Engine())
	ep := &endpoint{w: w, st: st, srv: s, handler: s.handler}
	s.ep = ep
	// A reload waits for the server to listen before it retires the old generation, whose
	// workers may be the only ones on the socket yet.
	ready := w.DelayReady()
	w.AsyncOp(op, func() engine.Completion {
		sh, err := st.join(s.kind, s.addr, ep)
		return func(w *engine.Worker, a *engine.Args) {
			defer ready()
			switch {
			case err != nil:
				ep.stopped = true
				s.ep = nil
				if s.stopped {
					w.Unref(s.handler)
				} else {
					s.started = false // it may be started again
				}
				a.Error(err)
			case s.stopped: // server:stop() came first
				ep.stopped = true
				if st.left(ep) {
					sh.leave(ep)
				}
				a.Error(errStoppedEarly)
			default:
				s.sh = sh
				w.Hold() // a listening server keeps its worker alive
				w.OnShutdown(func() { s.stop(w) })
				a.Nil()
			}
		}
	})
	return op.Return(c)
}

// stop leaves the shared socket (the last to leave closes it). Connections accepted stay
// open. Idempotent. Loop only.
func (s *server) stop(w *engine.Worker) {
	if s.stopped {
		return
	}
	s.stopped = true
	if s.sh == nil { // not started, or its start still in progress (which then leaves)
		if !s.started {
			w.Unref(s.handler)
		}
		return
	}
	s.ep.stopped = true
	if s.ep.st.left(s.ep) {
		s.sh.leave(s.ep)
	}
	w.Unhold()
	w.Unref(s.handler) // tasks already queued check ep.stopped before they use it
}

// server:stop(): stops accepting (or receiving); the server no longer keeps the worker
// alive. The connections it accepted stay open.
func serverStop(c *engine.Call) int {
	w := engine.WorkerOf(c)
	w.Object(c, 1, serverClass).(*server).stop(w)
	return 0
}

// finalize: Lua collected the server object. A listening server goes on (a script need not
// keep it: create_server(...):start()); its endpoint holds the handler.
func (s *server) finalize(w *engine.Worker) {
	if !s.started && !s.stopped && !w.Closing() {
		s.stopped = true
		w.Unref(s.handler)
	}
}

// server.addr, server:address(): the address listened on ("127.0.0.1:41234" for port 0),
// nil before it listens.
func serverAddr(c *engine.Call) int {
	s := engine.WorkerOf(c).Object(c, 1, serverClass).(*server)
	if s.sh == nil {
		return 0
	}
	return c.ReturnString(s.sh.bound)
}

func serverKind(c *engine.Call) int {
	return c.ReturnString(engine.WorkerOf(c).Object(c, 1, serverClass).(*server).kind)
}

func serverString(c *engine.Call) int {
	s := engine.WorkerOf(c).Object(c, 1, serverClass).(*server)
	addr := s.addr
	if s.sh != nil {
		addr = s.sh.bound
	}
	state := ""
	switch {
	case s.stopped:
		state = ", stopped"
	case s.sh == nil:
		state = ", not listening"
	}
	return c.ReturnString("network server (" + s.kind + " " + addr + state + ")")
}

// server:send_to(addr, data, cb): one datagram from a udp server's socket to addr ("ip:port",
// as packet.addr has it, or "host:port", resolved first on the pool); cb(err).
func serverSendTo(c *engine.Call) int {
	w := engine.WorkerOf(c)
	s := w.Object(c, 1, serverClass).(*server)
	if s.kind != "udp" {
		c.Raise("network: server:send_to is for udp servers (this one is %s)", s.kind)
	}
	addr := c.CheckString(2)
	to, perr := netip.ParseAddrPort(addr)
	var host, port string
	if perr != nil {
		var err error
		if host, port, err = net.SplitHostPort(addr); err != nil {
			c.ArgError(2, "address must be ip:port or host:port, got "+luaopts.QuoteShort(addr))
		}
	}
	data := c.CheckBytes(3)
	op := w.ReserveCall(c, 4)
	sh := s.sh
	switch {
	case sh == nil || s.stopped:
		op.Complete(failed(errNotListening))
	case perr == nil:
		sh.sendTo(op, to, data, true)
	default:
		data = append([]byte(nil), data...)
		st := states.Get(w.Engine())
		if err := w.Engine().Pool(func() {
			to, err := resolveUDP(st.ctx, host, port, sh.family == syscall.AF_INET)
			if err != nil {
				op.Complete(failed(err))
				return
			}
			sh.sendTo(op, to, data, false)
		}); err != nil {
			op.Complete(failed(err))
		}
	}
	return op.Return(c)
}

// resolveUDP resolves host:port for send_to, within 10 s: the first address, or the first
// IPv4 one for an IPv4 socket.
func resolveUDP(ctx context.Context, host, port string, v4 bool) (netip.AddrPort, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	p, err := net.DefaultResolver.LookupPort(ctx, "udp", port)
	if err != nil {
		return netip.AddrPort{}, err
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return netip.AddrPort{}, err
	}
	if p < 0 || p > math.MaxUint16 {
		return netip.AddrPort{}, &net.AddrError{Err: "invalid port", Addr: port}
	}
	for _, ip := range ips {
		if ip = ip.Unmap(); !v4 || ip.Is4() {
			return netip.AddrPortFrom(ip, uint16(p)), nil
		}
	}
	return netip.AddrPort{}, &net.DNSError{Err: "no usable address", Name: host, IsNotFound: true}
}
