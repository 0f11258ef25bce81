package network

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/internal/accepterr"
)

// netState is an engine's network: its open connections and its workers' shares of the
// shared sockets. Its OnClose, once every worker has ended, closes what is left, so that
// every goroutine of the module ends before Run waits for them: dials in progress (ctx),
// lanes (their connections); and the endpoints no worker stopped leave their sockets.
type netState struct {
	e      *engine.Engine
	ss     *sockets
	ctx    context.Context // cancelled at the engine's close: dials and handshakes give up
	cancel context.CancelFunc

	mu     sync.Mutex // protects the fields below
	closed bool
	conns  map[*conn]struct{}
	eps    map[*endpoint]*shared // joined and not left
}

var states = engine.NewEngineLocal(func(e *engine.Engine) *netState {
	ctx, cancel := context.WithCancel(context.Background())
	st := &netState{
		e: e, ss: socketSets.Get(e.Process()), ctx: ctx, cancel: cancel,
		conns: map[*conn]struct{}{}, eps: map[*endpoint]*shared{},
	}
	e.OnClose(st.close)
	return st
})

// sockets are a process's shared sockets, by kind and address. They are the process's
// (engine.Process), not an engine's, so that on a reload the workers of the new generation
// join the sockets the old one's still serve, which the old ones leave as they drain: a
// socket never closes while a generation takes over. Their goroutines (accept and receive
// loops, the UDP send lane) are the process's too; its close closes what is left.
type sockets struct {
	p       *engine.Process
	mu      sync.Mutex // protects the fields below
	closed  bool
	servers map[string]*shared // by kind and address
}

var socketSets = engine.NewProcessLocal(func(p *engine.Process) *sockets {
	ss := &sockets{p: p, servers: map[string]*shared{}}
	p.OnClose(ss.close)
	return ss
})

// close closes the sockets no generation's worker left (a forced shutdown).
func (ss *sockets) close() {
	ss.mu.Lock()
	ss.closed = true
	servers := make([]*shared, 0, len(ss.servers))
	for _, sh := range ss.servers {
		servers = append(servers, sh)
	}
	ss.mu.Unlock()
	for _, sh := range servers {
		sh.close()
	}
}

// track adds a connection; false once the engine has closed (the caller terminates it).
func (st *netState) track(cn *conn) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed {
		return false
	}
	st.conns[cn] = struct{}{}
	return true
}

func (st *netState) forget(cn *conn) {
	st.mu.Lock()
	delete(st.conns, cn)
	st.mu.Unlock()
}

// close ends everything still open: the endpoints no worker stopped leave their sockets
// (the last to leave closes one), and the connections no script closed are terminated
// (those of a task the worker never ran included).
func (st *netState) close() {
	st.cancel()
	st.mu.Lock()
	st.closed = true
	eps := st.eps
	st.eps = nil
	conns := make([]*conn, 0, len(st.conns))
	for cn := range st.conns {
		conns = append(conns, cn)
	}
	st.mu.Unlock()
	for ep, sh := range eps {
		sh.leave(ep)
	}
	for _, cn := range conns {
		cn.terminateFor(errClosed)
	}
}

var errEngineClosed = engine.NewError("ECLOSED", "network: the engine has closed")

// shared is a listening socket shared by every worker of the engine that starts a server of
// the same kind on the same address (as HTTP servers are): one accept loop (tcp, unix) hands
// each connection to the worker with the fewest connections open from it, whose loop then
// owns the connection; one receive loop (udp) hands each datagram to the next worker in turn.
// Its goroutines are the engine's and end when it closes: when the last worker leaves, or at
// the engine's close.
type shared struct {
	ss         *sockets
	keys       []string // in ss.servers: kind and address asked for, and kind and address bound
	kind, addr string
	bound      string // the address listened on (the port chosen for port 0)

	ln net.Listener // tcp, unix
	pc *net.UDPConn // udp

	closed   atomic.Bool
	stopping chan struct{} // closed with it: an accept loop pausing after a failure returns

	mu     sync.Mutex                  // serialises updates of eps, protects staged
	eps    atomic.Pointer[[]*endpoint] // copy on write: read for every connection without a lock
	staged []*endpoint                 // a new generation's, until it has loaded (join)
	rr     atomic.Uint32               // where the scan for a worker starts, so that ties rotate

	// udp: server:send_to. Sends go out at once when the socket takes them (direct, under
	// send.mu, from any worker's loop), else wait in the send lane.
	send                lane
	sys                 syscall.RawConn
	family              int // of pc: syscall.AF_INET or AF_INET6
	sdBuf               []byte
	sdTo                syscall.Sockaddr
	sdErr               error
	sdFn                func(fd uintptr) bool
	directSend          func(job) (job, bool)
	shedCount, shedLast atomic.Int64 // connections or datagrams refused for load, since the last log line
}

// endpoint is one server object's share of a shared socket.
type endpoint struct {
	w       *engine.Worker
	st      *netState // w's engine's: the connections it accepts are tracked there
	sh      *shared
	srv     *server
	handler int32        // registry ref of the Lua handler, in w's state
	open    atomic.Int32 // connections open that it accepted
	stopped bool         // loop only: server:stop() ran, or it never joined
}

// join adds ep to the socket listening for kind on addr in the process, making it when ep
// is the first, and records it as st's (until it leaves: forget). Not on a loop: making it
// may resolve a name (the I/O pool runs it).
func (st *netState) join(kind, addr string, ep *endpoint) (*shared, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed {
		return nil, errEngineClosed
	}
	sh, err := st.ss.join(kind, addr, ep)
	if err == nil {
		st.eps[ep] = sh
	}
	return sh, err
}

// left forgets ep, which has left its socket (or is leaving it). False if st's close took it
// already (and leaves for it).
func (st *netState) left(ep *endpoint) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	if _, ok := st.eps[ep]; !ok {
		return false
	}
	delete(st.eps, ep)
	return true
}

func (ss *sockets) join(kind, addr string, ep *endpoint) (*shared, error) {
	key := kind + " " + addr
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.closed {
		return nil, errEngineClosed
	}
	sh := ss.servers[key]
	if sh == nil {
		var err error
		if sh, err = ss.listen(kind, addr); err != nil {
			return nil, err
		}
		first := []*endpoint{ep}
		sh.eps.Store(&first) // before the loop starts: the first connection finds ep
		ep.sh = sh
		var started bool
		if kind == "udp" {
			started = ss.p.Go("network: receive udp "+sh.bound, sh.receiveLoop)
		} else {
			started = ss.p.Go("network: accept "+kind+" "+sh.bound, sh.acceptLoop)
		}
		if !started {
			sh.close()
			return nil, errEngineClosed
		}
		// Under the address bound as well: a server started on the port that port 0 gave
		// (server.addr) joins this one.
		sh.keys = []string{key}
		if bound := kind + " " + sh.bound; bound != key && ss.servers[bound] == nil {
			sh.keys = append(sh.keys, bound)
		}
		for _, k := range sh.keys {
			ss.servers[k] = sh
		}
		return sh, nil
	}
	ep.sh = sh
	e := ep.w.Engine()
	sh.mu.Lock()
	old := *sh.eps.Load()
	// A new generation's endpoint (a reload) waits until its generation has loaded while
	// another one serves, so that the switch is at once and a script that fails to load
	// on one worker gets nothing; the first generation serves from its first endpoint on.
	stage := false
	select {
	case <-e.Ready():
	default:
		for _, o := range old {
			if o.w.Engine() != e {
				stage = true
				break
			}
		}
	}
	if stage {
		sh.staged = append(sh.staged, ep)
	} else {
		eps := append(append(make([]*endpoint, 0, len(old)+1), old...), ep)
		sh.eps.Store(&eps)
	}
	sh.mu.Unlock()
	if stage {
		e.OnReady(func() { sh.activate(ep) }) // not under sh.mu: it may run at once
	}
	return sh, nil
}

// activate moves ep from the staged endpoints to those that get work, unless it left.
func (sh *shared) activate(ep *endpoint) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	for i, st := range sh.staged {
		if st == ep {
			sh.staged = append(sh.staged[:i], sh.staged[i+1:]...)
			old := *sh.eps.Load()
			eps := append(append(make([]*endpoint, 0, len(old)+1), old...), ep)
			sh.eps.Store(&eps)
			return
		}
	}
}

// listen makes the socket of a new shared server. ss.mu held.
func (ss *sockets) listen(kind, addr string) (*shared, error) {
	sh := &shared{ss: ss, kind: kind, addr: addr, stopping: make(chan struct{})}
	if kind != "udp" {
		ln, err := net.Listen(kind, addr)
		if err != nil {
			return nil, err
		}
		sh.ln, sh.bound = ln, ln.Addr().String()
		return sh, nil
	}
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return nil, err
	}
	sh.pc = pc.(*net.UDPConn)
	sh.bound = pc.LocalAddr().String()
	sh.send = lane{name: "network: send udp " + sh.bound, exec: sh.execSend, goFn: ss.p.Go}
	sys, err := sh.pc.SyscallConn()
	if err == nil {
		_ = sys.Control(func(fd uintptr) {
			if sa, err := syscall.Getsockname(int(fd)); err == nil {
				if _, v6 := sa.(*syscall.SockaddrInet6); v6 {
					sh.family = syscall.AF_INET6
				} else {
					sh.family = syscall.AF_INET
				}
			}
		})
	}
	if err == nil && sh.family != 0 {
		sh.sys, sh.sdFn, sh.directSend = sys, sh.trySend, sh.sendNow
	}
	return sh, nil
}

// leave removes ep; the last endpoint to leave closes the socket (a new server may listen
// on the address at once; on a reload the new generation's endpoints join before the old
// ones leave: it stays open). Loop of ep's worker, or its engine's close.
func (sh *shared) leave(ep *endpoint) {
	sh.ss.mu.Lock()
	sh.mu.Lock()
	old := *sh.eps.Load()
	eps := make([]*endpoint, 0, len(old))
	for _, e := range old {
		if e != ep {
			eps = append(eps, e)
		}
	}
	staged := sh.staged[:0]
	for _, e := range sh.staged {
		if e != ep {
			staged = append(staged, e)
		}
	}
	sh.staged = staged
	if len(eps) == 0 && len(staged) > 0 {
		// The generation that served left before the next one loaded (it ended by
		// itself): the staged endpoints serve now rather than nobody.
		eps, sh.staged = append(eps, staged...), nil
	}
	sh.eps.Store(&eps)
	sh.mu.Unlock()
	last := len(eps) == 0
	if last {
		for _, k := range sh.keys {
			if sh.ss.servers[k] == sh {
				delete(sh.ss.servers, k)
			}
		}
	}
	sh.ss.mu.Unlock()
	if last {
		sh.close()
	}
}

// close closes the socket: the accept or receive loop ends. Connections it accepted stay
// open (their scripts close them). Idempotent; safe from any goroutine.
func (sh *shared) close() {
	if !sh.closed.CompareAndSwap(false, true) {
		return
	}
	close(sh.stopping)
	if sh.ln != nil {
		_ = sh.ln.Close() // a unix socket's file is removed
	} else {
		sh.send.shut()
		_ = sh.pc.Close()
	}
}

// pickLeast is the endpoint with the fewest connections open (nil: none left).
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

// pickNext is the next endpoint in turn (nil: none left).
func (sh *shared) pickNext() *endpoint {
	eps := *sh.eps.Load()
	if len(eps) == 0 {
		return nil
	}
	return eps[int(sh.rr.Add(1))%len(eps)]
}

// Pauses between accepts that failed for want of resources, as in net/http and the HTTP
// server's listener.
const (
	minAcceptPause = 5 * time.Millisecond
	maxAcceptPause = time.Second
)

// acceptLoop accepts connections until the socket closes, on a goroutine of the process.
// An accept that fails for want of file descriptors or buffers is retried after a pause
// (5 ms, doubling up to 1 s), with the start and the end of the burst logged once each; one
// that fails for good ends the engines (Abort), so that a server never stays up deaf.
func (sh *shared) acceptLoop() {
	e := sh.ss.p
	var (
		failures int
		first    error
		since    time.Time
		pause    time.Duration
	)
	for {
		nc, err := sh.ln.Accept()
		if err != nil {
			switch {
			case sh.closed.Load():
				return
			case accepterr.ConnFailed(err):
				continue
			case !accepterr.Exhausted(err):
				e.Abort(fmt.Errorf("network: the %s server on %s can no longer accept connections: %w", sh.kind, sh.bound, err))
				sh.close()
				return
			}
			if failures == 0 {
				first, since = err, time.Now()
				e.Log("WARN", "network: %v; retrying, at most every %s, until it works", err, maxAcceptPause)
			}
			failures++
			pause = min(max(2*pause, minAcceptPause), maxAcceptPause)
			t := time.NewTimer(pause)
			select {
			case <-t.C:
			case <-sh.stopping:
				t.Stop()
				return
			}
			continue
		}
		if failures > 0 {
			e.Log("INFO", "network: accepting again on %s after %d failed accepts in %s (%v)",
				sh.bound, failures, time.Since(since).Round(time.Millisecond), first)
			failures, pause = 0, 0
		}
		sh.dispatch(nc)
	}
}

// dispatch hands an accepted connection to a worker.
func (sh *shared) dispatch(nc net.Conn) {
	for tries := 0; ; tries++ {
		ep := sh.pickLeast()
		if ep == nil {
			_ = nc.Close()
			return
		}
		srv := ep.srv
		cn := newConn(ep.st, sh.kind, nc, nc, false, srv.rt, srv.wt, ep)
		ep.open.Add(1)
		if !ep.st.track(cn) { // its engine has closed: another endpoint may take it
			if nc = cn.handOver(); nc != nil && tries < maxDispatchTries {
				continue
			}
			cn.terminate()
			return
		}
		err := ep.w.Submit(&acceptTask{cn: cn, ep: ep})
		if err == nil {
			return
		}
		// A worker that ended between the pick and the push (its generation retiring on a
		// reload) hands the connection to another endpoint; a saturated one sheds it.
		if errors.Is(err, engine.ErrWorkerStopped) && tries < maxDispatchTries {
			if nc = cn.handOver(); nc != nil {
				continue
			}
		}
		cn.terminate() // the worker is saturated (--queue-size) or gone: the client sees a close
		sh.shed("connections", err)
		return
	}
}

// maxDispatchTries bounds how many endpoints an accepted connection is offered to when the
// ones picked have ended (a worker that died without leaving stays picked until its
// engine closes).
const maxDispatchTries = 4

// shed counts what was refused for load and logs it, at most once a second, at WARN.
func (sh *shared) shed(what string, err error) {
	n := sh.shedCount.Add(1)
	now := time.Now().UnixNano()
	last := sh.shedLast.Load()
	if now-last < int64(time.Second) || !sh.shedLast.CompareAndSwap(last, now) {
		return
	}
	sh.shedCount.Add(-n)
	sh.ss.p.Log("WARN", "network: %s server on %s: %d %s refused since the last report: %v", sh.kind, sh.bound, n, what, err)
}

// acceptTask runs the handler for an accepted connection on its worker's loop.
type acceptTask struct {
	cn *conn
	ep *endpoint
}

func (t *acceptTask) Run(w *engine.Worker) {
	cn, ep := t.cn, t.ep
	if ep.stopped {
		// Accepted just before server:stop() or its worker's shutdown (a reload retiring
		// its generation): the handler is gone. Another endpoint of the socket takes the
		// connection (the new generation's, on a reload); with none left it is closed.
		if nc := cn.handOver(); nc != nil {
			ep.sh.dispatch(nc)
		}
		return
	}
	wc := accepted.Get(w)
	cn.wc = wc
	wc.set[cn] = struct{}{}
	a := w.NewArgs()
	w.NewObject(&a.Writer, connClass, cn)
	// The handler runs in a scope the connection owns: an error raised in it or in any
	// callback of what it started closes the connection (ScopeFailed).
	w.RunScoped(w.NewScope(cn), ep.handler, a.B)
}

// Panicked: a bug in Run (reported by the loop); the client must not wait for nothing.
func (t *acceptTask) Panicked(w *engine.Worker) { t.cn.terminate() }

// ScopeFailed: the handler of an accepted connection, or a callback of something it
// started, raised. The error goes to the log and the connection is closed.
func (cn *conn) ScopeFailed(w *engine.Worker, _ *engine.Scope, err error) {
	where := ""
	if cn.ep != nil && cn.ep.srv != nil {
		where = " on " + cn.ep.srv.where
	}
	w.Logf("ERROR", "network: the handler of the %s server%s raised; its connection from %s is closed: %s", cn.kind, where, cn.remote, err.Error())
	cn.closing = true
	cn.detach()
	cn.terminateFor(errRaised)
}

// ScopeIdle: nothing the handler started is left. The connection stays as it is: a script
// may keep it (in a table of clients) and use it later.
func (cn *conn) ScopeIdle(*engine.Worker, *engine.Scope) {}

// workerConns are a worker's accepted connections: at shutdown, those waiting for their
// peer are closed, and later reads that would wait close theirs (conn.read).
type workerConns struct {
	set      map[*conn]struct{}
	stopping bool
}

var accepted = engine.NewWorkerLocal(func(w *engine.Worker) *workerConns {
	wc := &workerConns{set: map[*conn]struct{}{}}
	w.OnShutdown(wc.shutdown)
	return wc
})

// shutdown closes the accepted connections that wait for their peer (a read in progress,
// no write) with errShutdown, as an HTTP server closes its idle keep-alive connections.
// Loop only.
func (wc *workerConns) shutdown() {
	wc.stopping = true
	for cn := range wc.set {
		if !cn.rd.idle() && cn.wr.idle() {
			cn.closing = true
			cn.detach()
			cn.terminateFor(errShutdown)
		}
	}
}

// ---- udp ----

// maxDatagram is the largest datagram received whole; a larger one is cut (UDP over IPv4
// carries at most 65,507 bytes).
const maxDatagram = 64 << 10

// receiveLoop reads datagrams until the socket closes, on a goroutine of the engine, and
// hands each to the next worker, whose handler gets handler(nil, {data, addr}). A datagram
// that finds the worker's queue full is dropped (counted in the log), as a full socket
// buffer would drop it.
func (sh *shared) receiveLoop() {
	buf := make([]byte, maxDatagram)
	for {
		n, from, err := sh.pc.ReadFromUDPAddrPort(buf)
		if sh.closed.Load() {
			return
		}
		ep := sh.pickNext()
		if ep == nil {
			continue
		}
		t := &packetTask{ep: ep, err: err}
		if err == nil {
			t.data = append([]byte(nil), buf[:n]...)
			t.from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		}
		if err := ep.w.Submit(t); err != nil {
			sh.shed("datagrams", err)
		}
		if err != nil { // no busy loop on an error that stays
			select {
			case <-time.After(10 * time.Millisecond):
			case <-sh.stopping:
				return
			}
		}
	}
}

// packetTask calls a udp server's handler with one datagram (or a receive error).
type packetTask struct {
	ep   *endpoint
	data []byte
	from netip.AddrPort
	err  error
}

func (t *packetTask) Run(w *engine.Worker) {
	if t.ep.stopped {
		return
	}
	a := w.NewArgs()
	if t.err != nil {
		a.Error(t.err)
	} else {
		a.Nil()
		a.Table(0, 2)
		a.String("data")
		a.Bytes(t.data)
		a.String("addr")
		a.String(t.from.String())
	}
	_ = w.CallRef(t.ep.handler, a.B) // an error it raises is reported as uncaught
}

// sendTo sends one datagram for op: at once when the socket takes it, else from the send
// lane. data is Lua's (view) or the caller's own. Safe from any goroutine.
func (sh *shared) sendTo(op *engine.Op, to netip.AddrPort, data []byte, view bool) {
	if sh.send.submit(job{kind: jobSendTo, op: op, data: data, view: view, to: to}, sh.directSend, false) == refused {
		op.Complete(failed(errNotListening))
	}
}

// sendNow is the direct send: sendto(2) once, without waiting. Under send.mu.
func (sh *shared) sendNow(j job) (job, bool) {
	to, err := sockaddr(sh.family, j.to)
	if err != nil {
		j.op.Complete(failed(err))
		return j, true
	}
	sh.sdBuf, sh.sdTo, sh.sdErr = j.data, to, nil
	err = sh.sys.Write(sh.sdFn)
	serr := sh.sdErr
	sh.sdBuf, sh.sdTo, sh.sdErr = nil, nil, nil
	if err != nil || serr == syscall.EAGAIN {
		return j, false // the lane waits until the socket takes it
	}
	if serr != nil {
		serr = &net.OpError{Op: "write", Net: "udp", Source: sh.pc.LocalAddr(), Addr: net.UDPAddrFromAddrPort(j.to), Err: os.NewSyscallError("sendto", serr)}
	}
	j.op.Complete(failed(serr))
	return j, true
}

func (sh *shared) trySend(fd uintptr) bool {
	for {
		err := syscall.Sendto(int(fd), sh.sdBuf, 0, sh.sdTo)
		if err == syscall.EINTR {
			continue
		}
		sh.sdErr = err
		return true
	}
}

// execSend sends a datagram on the send lane's goroutine, waiting for the socket.
func (sh *shared) execSend(j job, closed bool) {
	if closed {
		j.op.Complete(failed(errNotListening))
		return
	}
	_, err := sh.pc.WriteToUDPAddrPort(j.data, j.to)
	j.op.Complete(failed(err))
}

// sockaddr is where a datagram goes, for a socket of family: an IPv4 address goes to an
// IPv6 socket (one listening on ":port") as an IPv4-mapped one.
func sockaddr(family int, to netip.AddrPort) (syscall.Sockaddr, error) {
	a := to.Addr()
	if family == syscall.AF_INET {
		if !a.Unmap().Is4() {
			return nil, engine.WithCode("EINVAL", fmt.Errorf("network: cannot send to %s from an IPv4 socket", to))
		}
		return &syscall.SockaddrInet4{Port: int(to.Port()), Addr: a.Unmap().As4()}, nil
	}
	sa := &syscall.SockaddrInet6{Port: int(to.Port()), Addr: a.As16()}
	if z := a.Zone(); z != "" {
		if n, err := strconv.Atoi(z); err == nil {
			sa.ZoneId = uint32(n)
		} else if ifi, err := net.InterfaceByName(z); err == nil {
			sa.ZoneId = uint32(ifi.Index)
		}
	}
	return sa, nil
}

var errNotListening = engine.NewError("ECLOSED", "network: the server is not listening")

// failed is the completion of an operation with no result: cb(err), err nil on success.
func failed(err error) engine.Completion {
	return func(w *engine.Worker, a *engine.Args) { a.Error(err) }
}
