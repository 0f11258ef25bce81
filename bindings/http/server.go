package http

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/drlee/drlee/bindings/http/deadline"
	"github.com/drlee/drlee/engine"
)

// A listener is shared by every worker of the process that starts a server on the same
// address: fasthttp accepts and parses, and each request is handed to one worker, the least
// busy one, whose loop then owns the request's whole life (handler, body reads, writes).
//
// A server is the process's, not an engine's (engine.Process): on a reload the workers of
// the new generation join the server that the old one's workers still serve, and the old
// ones leave it as they drain, so that the listener never closes and no connection is
// dropped: a connection is no worker's, each of its requests goes to a worker picked then,
// so the requests that follow on a keep-alive connection of the old generation go to the
// new one. The workers of a generation that joins a server others serve are staged: they
// get requests only once their whole generation has loaded (engine.OnReady), so that a
// reload switches over at once and a script that fails to load on one worker answers
// nothing. The server closes when its last worker leaves and no other joined.
//
// Its goroutines are the process's (Process.Go): the accept loop (serve), the listener's
// sweeper (package deadline), and, once the last worker left, the graceful shutdown. All
// of them end at the process's close at the latest (end: the close of the engine, for an
// engine alone in its process). fasthttp's connection goroutines are fasthttp's; they end
// with their connections, which the shutdown closes.
type sharedServer struct {
	addr string
	ln   *deadline.Listener[request]
	srv  *fasthttp.Server
	opts Options
	set  *listenerSet // the process's servers, which this one leaves when it closes

	mu       sync.Mutex                  // protects handlers updates, staged
	handlers atomic.Pointer[[]*workerEP] // copy on write: read on every request without a lock
	staged   []*workerEP                 // joined, waiting for their engine to be ready
	rr       atomic.Uint32               // where the least-busy scan starts, so ties rotate
	closed   atomic.Bool                 // the listener was closed on purpose (closeLocked)
	shed     *shedStats                  // 503s, counted and logged (overload.go)
	p        *engine.Process             // of the engines whose workers serve it
	name     string                      // the address listened on, for goroutine names and the log
	obs      *httpObs                    // the engine's access log and metrics (accesslog.go)

	serveDone    chan struct{} // closed once serve has returned
	shutdownDone chan struct{} // closed once the graceful shutdown has returned
}

// workerEP is one worker's side of a shared server.
type workerEP struct {
	w        *engine.Worker
	handler  int32        // registry ref of the Lua handler, in w's state
	inflight atomic.Int32 // requests handed to w and not answered yet
	server   *server
	resps    *respPool  // w's response buffers (loop only)
	obs      *workerObs // w's access log and counters; nil when both are off (accesslog.go)

	streamsMu sync.Mutex
	streams   map[*request]struct{} // responses being streamed
}

// abandonStreams ends the stream writers still waiting for chunks once the worker is gone.
func (ep *workerEP) abandonStreams() {
	ep.streamsMu.Lock()
	defer ep.streamsMu.Unlock()
	for rs := range ep.streams {
		rs.mu.Lock()
		rs.state = stateAbandoned
		rs.gone = errStreamAbandoned
		rs.mu.Unlock()
		rs.cond.Broadcast()
	}
}

// listenerSet is a process's HTTP servers, by address: the workers that start a server on
// the same address share it, those of the generations of one process (a reload) included;
// two processes (engines made with no Process given: tests) never do.
type listenerSet struct {
	mu     sync.Mutex // protects byAddr
	byAddr map[string]*sharedServer
}

var listeners = engine.NewProcessLocal(func(*engine.Process) *listenerSet {
	return &listenerSet{byAddr: map[string]*sharedServer{}}
})

// join adds ep to the server listening on addr, creating and starting it when this is the
// first worker there. The returned server is what ep must leave.
func join(addr string, ep *workerEP) (*sharedServer, error) {
	e := ep.w.Engine()
	p := e.Process()
	set := listeners.Get(p)
	set.mu.Lock()
	defer set.mu.Unlock()
	s := set.byAddr[addr]
	if s == nil {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, err
		}
		opts := Settings.Get(e)
		// The connection timeouts and the handler timeout are kept by the listener's
		// sweeper, not by fasthttp's per-request deadlines (see package deadline): they fire
		// up to an eighth late, never early.
		shortest := min(opts.ReadTimeout, opts.WriteTimeout, opts.IdleTimeout, opts.HandlerTimeout)
		dl := deadline.NewListener(ln, deadline.Timeouts{
			Read: opts.ReadTimeout, Write: opts.WriteTimeout, Idle: opts.IdleTimeout,
		}, deadline.Resolution(shortest), (*request).expire)
		dl.Logf = p.Log // accept errors it rides out (out of file descriptors)
		name := ln.Addr().String()
		dl.Go = func(fn func()) bool { return p.Go("http: sweeper "+name, fn) }
		s = &sharedServer{
			addr: addr, ln: dl, opts: opts, shed: newShedStats(p, e.Config().QueueSize, addr), p: p, set: set,
			name: name, serveDone: make(chan struct{}), shutdownDone: make(chan struct{}),
			obs: obsOf(e),
		}
		p.OnClose(s.shed.close) // the 503s of the last second are logged before Run returns
		p.OnClose(s.end)
		s.srv = &fasthttp.Server{
			Handler: s.handle,
			Name:    "drlee",
			// No ReadTimeout, WriteTimeout or IdleTimeout: the listener keeps them.
			LazyRequestTime:    true, // nothing reads ctx.Time(): spare a clock read per request
			MaxRequestBodySize: s.opts.MaxBodySize,
			CloseOnShutdown:    true,
			ErrorHandler:       requestError,
			Logger:             quietLogger{p},
		}
		// A multipart body is kept as it came, as any body: req:read reads it, req:form
		// parses it (form.go). fasthttp would otherwise parse it while reading (a malformed
		// one answered 400 before any handler) and hand req:read a copy marshalled again at
		// every read.
		s.srv.DisablePreParseMultipartForm = true
		// The first worker joins before the accept loop starts, so that the first request
		// finds it (connections made meanwhile wait in the listen backlog).
		first := []*workerEP{ep}
		s.handlers.Store(&first)
		if !p.Go("http: serve "+name, s.serve) {
			_ = dl.Close() // the process has ended: nothing may serve any more
			return nil, errEngineClosed
		}
		set.byAddr[addr] = s
		return s, nil
	}
	s.mu.Lock()
	old := *s.handlers.Load()
	// A new generation's worker (a reload) waits until its generation has loaded, while
	// another generation serves; the first generation serves from its first worker on.
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
		s.staged = append(s.staged, ep)
	} else {
		eps := append(append(make([]*workerEP, 0, len(old)+1), old...), ep)
		s.handlers.Store(&eps)
	}
	s.mu.Unlock()
	if stage {
		e.OnReady(func() { s.activate(ep) }) // not under s.mu: it may run at once
	}
	return s, nil
}

// activate moves ep from the staged workers to those that get requests, unless it left.
func (s *sharedServer) activate(ep *workerEP) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, st := range s.staged {
		if st == ep {
			s.staged = append(s.staged[:i], s.staged[i+1:]...)
			old := *s.handlers.Load()
			eps := append(append(make([]*workerEP, 0, len(old)+1), old...), ep)
			s.handlers.Store(&eps)
			return
		}
	}
}

// serve runs fasthttp's accept loop, on a goroutine of the process. It returns nil once
// the listener is closed (the last worker left, or the process ended: end); an error means
// the listener failed for good (the temporary failures are retried by the deadline
// listener), and a server that can no longer accept must not stay up deaf: the engines are
// aborted, so that `drlee run` exits non-zero and a supervisor restarts it.
func (s *sharedServer) serve() {
	defer close(s.serveDone)
	err := s.srv.Serve(s.ln)
	if err != nil && !s.closed.Load() {
		s.p.Abort(fmt.Errorf("http: the server on %s can no longer accept connections: %w", s.addr, err))
	}
}

// leave removes ep; the last worker to leave closes the listener (on a reload the new
// generation's workers join before the old ones leave: it stays open). In-flight requests
// finish: their conn goroutines wait for their workers as before.
func (s *sharedServer) leave(ep *workerEP) {
	s.set.mu.Lock()
	defer s.set.mu.Unlock()
	s.mu.Lock()
	old := *s.handlers.Load()
	eps := make([]*workerEP, 0, len(old))
	for _, e := range old {
		if e != ep {
			eps = append(eps, e)
		}
	}
	staged := s.staged[:0]
	for _, e := range s.staged {
		if e != ep {
			staged = append(staged, e)
		}
	}
	s.staged = staged
	if len(eps) == 0 && len(staged) > 0 {
		// The generation that served has left before the next one loaded (it ended by
		// itself): the staged workers serve now rather than nobody.
		eps, s.staged = append(eps, staged...), nil
	}
	s.handlers.Store(&eps)
	s.mu.Unlock()
	if len(eps) == 0 {
		s.closeLocked()
	}
}

var errEngineClosed = errors.New("http: the engine has closed")

// closeLocked stops accepting for good: the listener closes now, so that a new server may
// listen on addr at once, and fasthttp's graceful shutdown runs on a goroutine of the
// process until the connections still open are done. Idempotent; s.set.mu held.
func (s *sharedServer) closeLocked() {
	if s.closed.Load() {
		return
	}
	if s.set.byAddr[s.addr] == s {
		delete(s.set.byAddr, s.addr)
	}
	s.closed.Store(true) // before Close: serve must not take its error for a failure
	_ = s.ln.Close()
	if !s.p.Go("http: shutdown "+s.name, s.shutdown) {
		// The process has ended (it cannot have: leave runs on a loop, end before the
		// process's wait); without a goroutine to wait for them, the connections are cut.
		s.ln.CloseConns()
		close(s.shutdownDone)
	}
}

// shutdown is fasthttp's graceful shutdown, on a goroutine of the engine: it returns once
// every connection has closed, idle ones at once and the others after their response
// (their workers have handlerTimeout to answer, the clients writeTimeout to read). At that
// deadline the connections still open are cut, so that fasthttp's connection goroutines
// and the sweeper end too.
func (s *sharedServer) shutdown() {
	defer close(s.shutdownDone)
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.HandlerTimeout+s.opts.WriteTimeout)
	defer cancel()
	// The accept loop counts as an open connection until it has returned (the listener is
	// closed: at once): waited for here, a server with no connection left shuts down at
	// fasthttp's first look instead of its next one, 100 ms later.
	<-s.serveDone
	_ = s.srv.ShutdownWithContext(ctx) // its error is the closed listener's, or ctx's
	if ctx.Err() != nil {
		s.ln.CloseConns()
	}
}

// flushGrace is how long end lets the responses of the last requests go out to their
// clients before it cuts the connections: well within the engine's grace period for its
// goroutines, so that the shutdown and the sweeper end before Run gives up on them.
const flushGrace = engine.GoroutineGrace / 2

// end runs when the process closes (Process.OnClose), once every worker of its engines has
// ended. A server that no
// worker stopped (the workers ended without stopping it: a script that failed, a forced
// shutdown) is closed now. No request can be served any more: those waiting for a worker
// that has gone get their 504 at once, not at the handler timeout, and connections waiting
// for a request (or reading one) are closed, where fasthttp's shutdown would keep a new one
// for 5 s. Connections still writing a response get flushGrace to finish (a client slow to
// read), then a goroutine of the engine cuts them, so that the shutdown, fasthttp's
// connection goroutines and the sweeper end within Run's wait.
func (s *sharedServer) end() {
	s.set.mu.Lock()
	s.closeLocked()
	s.set.mu.Unlock()
	s.ln.ExpireWatches()
	s.ln.CloseWaiting()
	select {
	case <-s.shutdownDone:
		return
	default:
	}
	s.p.Go("http: cut "+s.name, func() {
		t := time.NewTimer(flushGrace)
		defer t.Stop()
		select {
		case <-s.shutdownDone:
		case <-t.C:
			s.ln.CloseConns()
		}
	})
}

// pick chooses the worker with the fewest requests in flight, so that a busy worker does
// not get new requests while another is idle.
func (s *sharedServer) pick() *workerEP {
	eps := *s.handlers.Load()
	switch len(eps) {
	case 0:
		return nil
	case 1:
		return eps[0]
	}
	start := int(s.rr.Add(1))
	var best *workerEP
	bestLoad := int32(1 << 30)
	for i := range eps {
		ep := eps[(start+i)%len(eps)]
		if l := ep.inflight.Load(); l < bestLoad {
			best, bestLoad = ep, l
			if l == 0 {
				break
			}
		}
	}
	return best
}

// handle runs in fasthttp's connection goroutine. It hands the request to a worker and waits
// until the worker has answered, started streaming, or the handler timeout passed; only then
// does it return, so the worker may use ctx while this goroutine waits (fasthttp forbids
// touching ctx after the handler returned).
func (s *sharedServer) handle(ctx *fasthttp.RequestCtx) {
	// fasthttp does not recover a handler's panic: a bug here would end the process. What
	// can panic runs before the request is handed over or after the worker let go of ctx
	// (waiting for it cannot), so answering 500 here is safe.
	defer func() {
		if p := recover(); p != nil {
			s.p.Log("ERROR", "internal error in the HTTP server on %s: %v\n%s", s.addr, p, debug.Stack())
			ctx.Error("Internal Server Error", fasthttp.StatusInternalServerError)
			ctx.SetConnectionClose()
		}
	}()
	// A worker picked may stop before it takes the request (a reload's old generation
	// draining, a worker that ended): the request then goes to another, a few times, rather
	// than answer 503 while workers that serve exist.
	for tries := 1; ; tries++ {
		if s.offer(ctx, tries < maxPicks) {
			return
		}
	}
}

// maxPicks is how many workers a request is offered to when the ones picked have stopped.
const maxPicks = 4

// offer hands ctx to a worker picked and answers once it is done, as handle says. When
// retry is set and that worker has stopped before it took the request, it returns false
// with ctx untouched, for handle to pick again; else true.
func (s *sharedServer) offer(ctx *fasthttp.RequestCtx, retry bool) bool {
	ep := s.pick()
	if ep == nil {
		s.shed.shed(ctx, shedNoWorker)
		if s.obs.on() {
			s.obs.none.shedEnd(ctx, shedNoWorker)
		}
		return true
	}
	var start time.Time
	if ep.obs != nil {
		start = ep.obs.begin()
	}
	rs := acquireRequest()
	rs.ctx = ctx
	rs.ep = ep
	rs.start = start
	// The handler timeout is enforced here, not on the loop, so that it holds even while
	// the worker is blocked (a busy handler). It is a watch on the connection, checked by
	// the listener's sweeper: arming it is three atomic stores, where a runtime timer
	// (AfterFunc, or a select on a timer channel) cost a locked timer-heap update or two.
	// Both happen before the worker can see the request: a response that starts streaming
	// at once must find the connection past its read phase (RequestRead would undo
	// Streaming).
	c, watched := ctx.Conn().(*deadline.Conn[request]) // always, on our TCP listeners
	var tok uint64
	if watched {
		c.RequestRead()
		tok = c.Arm(s.opts.HandlerTimeout, rs)
	}
	ep.inflight.Add(1)
	if err := ep.w.Submit(rs); err != nil {
		ep.inflight.Add(-1)
		disarmed := !watched || c.Disarm(tok)
		if !disarmed {
			rs.expired.Store(true) // expire may be running: rs must not be recycled
			retry = false          // and the handler timeout has passed: answer now
		}
		rs.mu.Lock()
		rs.ctx = nil
		rs.mu.Unlock()
		rs.release() // the loop never saw it
		rs.release()
		if retry && reasonOf(err) == shedWorkerStopped {
			if ep.obs != nil && ep.obs.stats != nil {
				ep.obs.stats.inflight.Add(-1) // begin's, for a request this worker never had
			}
			return false
		}
		s.shed.shed(ctx, reasonOf(err))
		if ep.obs != nil {
			ep.obs.shedCount(reasonOf(err))
			ep.obs.end(ctx, start)
		}
		return true
	}
	<-rs.done
	if watched && !c.Disarm(tok) {
		rs.expired.Store(true) // expire may still be running: rs must not be recycled
	}
	rs.mu.Lock()
	timedOut, streams := rs.timedOut, rs.streams
	rs.mu.Unlock()
	ep.inflight.Add(-1)
	if timedOut {
		ctx.Error("Gateway Timeout", fasthttp.StatusGatewayTimeout)
		if ep.obs != nil {
			ep.obs.end(ctx, start)
		}
		// The loop releases the request's objects when it next looks at it; the task
		// carries this goroutine's reference, so rs is not recycled before it runs.
		if ep.w.Post(engine.TaskFunc(rs.abandon)) != nil {
			rs.release() // the worker has ended: nothing will run the task
		}
		return true
	}
	rs.serveFile(ctx) // res:send_file, http.static: opened and set up here (sendfile.go)
	if ep.obs != nil && !streams {
		ep.obs.end(ctx, start) // a stream's line comes at its end (responseStream.end)
	}
	rs.release()
	return true
}

// expire runs on the sweeper's goroutine when the handler timeout passes: the connection
// goroutine is woken to answer 504, unless the worker answered first.
func (rs *request) expire() {
	rs.mu.Lock()
	if rs.state != statePending {
		rs.mu.Unlock()
		return
	}
	rs.state = stateAbandoned
	rs.gone = errAbandoned
	rs.timedOut = true
	rs.rememberLocked()
	rs.ctx = nil
	rs.mu.Unlock()
	rs.done <- struct{}{}
}

// requestError answers a request fasthttp could not read: 413 for a body over the limit.
func requestError(ctx *fasthttp.RequestCtx, err error) {
	var small *fasthttp.ErrSmallBuffer
	var ne net.Error
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		ctx.Error("Request Entity Too Large", fasthttp.StatusRequestEntityTooLarge)
	case errors.As(err, &small):
		ctx.Error("Request Header Fields Too Large", fasthttp.StatusRequestHeaderFieldsTooLarge)
	case errors.As(err, &ne) && ne.Timeout():
		ctx.Error("Request Timeout", fasthttp.StatusRequestTimeout)
	default:
		ctx.Error("Bad Request", fasthttp.StatusBadRequest)
	}
}

// request is one request in flight, pooled. It is shared by the connection goroutine and
// the worker's loop: the loop touches ctx only under mu and only while state is pending (the
// connection goroutine is then parked in handle), and each side drops one of the two
// references when it is done with it.
type request struct {
	mu    sync.Mutex // protects ctx, state, chunks, snapshot
	ctx   *fasthttp.RequestCtx
	state int
	refs  atomic.Int32

	ep       *workerEP
	done     chan struct{} // capacity 1: the worker answered, started streaming, or expire ran
	timedOut bool          // set by expire, under mu
	streams  bool          // set by startStreaming, under mu: the stream's end logs it

	// The access log and metrics (accesslog.go), when on: when handle got the request,
	// a stream's line, and the body bytes a stream sent (the loop's direct writes and the
	// connection goroutine's).
	start    time.Time
	sobs     streamObs
	streamed atomic.Int64
	gone     error       // why the response can no longer be written (stateAbandoned), under mu
	expired  atomic.Bool // the watch fired: expire may still hold rs, so it is not pooled

	// Owned by the loop.
	cbuf         respBuffer // the worker's buffer for res's fast methods, while the loop holds rs
	hasBuf       bool
	w            *engine.Worker
	finishOp     *engine.Op    // res:finish's callback, completed once the response is out
	sc           *engine.Scope // what the handler started; rs is its owner (life.go)
	scope        engine.Scope  // sc's memory: a scope ends before rs is pooled again
	what         []byte        // "METHOD /path", for the log once ctx is gone
	failed       bool          // a raise ended the response: a stream is cut, not ended
	suspect      bool          // unfinished once its scope ended: a WantFinalize (life.go)
	reqID, resID uint64
	bodyPos      int
	soonFlushes  int  // flushes in a row whose callbacks ran as ReturnSoon (resFlush)
	written      bool // a write happened since the last tick end while not streaming
	tickPending  bool
	turnPending  bool // an AtTurnEnd is registered: endOfTurn (holds a reference on rs)
	finished     bool
	checkTick    func() // rs.endOfTick, bound once per pooled request
	checkTurn    func() // rs.endOfTurn, likewise

	// Streaming (state == stateStreaming): chunks go from the loop to the connection
	// goroutine, which writes them as the response body (stream.go).
	cond        sync.Cond
	chunks      []chunk  // queued, not taken yet
	spareChunks []chunk  // the slice of the last batch taken, given back for reuse
	freeBufs    [][]byte // buffers of written chunks, kept for reuse (stream.go)
	// joined is where WriteTo joins a batch of chunks into one Write: the connection
	// goroutine's alone, kept across the streams of this pooled request (up to
	// maxKeptBuf), since a batch happens in most streams (the last chunk and the final
	// one) and a new buffer each time was most of what a stream allocated.
	joined   []byte
	snap     *snapshot // &snapData once the response streams, else nil
	snapData snapshot
	// Direct writes (stream.go): the connection, when the loop may write chunks to it
	// itself; parked, under mu, while the connection goroutine waits for chunks with
	// nothing of the response left in its buffer; the chunk size line of a direct write.
	conn      *deadline.Conn[request]
	parked    bool
	chunkHead [18]byte

	// Helpers (sendfile.go, form.go): a file the connection goroutine serves once the loop
	// answered (set by the loop before it lets go of ctx); the temporary files of uploads,
	// removed when the last reference is dropped.
	file  *fileJob
	temps *tempFiles
}

const (
	statePending   = iota // the handler has the request; the connection goroutine waits
	stateAnswered         // the whole response is in ctx; the connection goroutine returned
	stateStreaming        // ctx is gone; the response is being streamed from chunks
	stateAbandoned        // no more writes: the handler timed out (504 sent) or the stream ended early; gone says which
)

// requestPool recycles requests; New is set in init (it refers back to the pool through
// the request's methods).
var requestPool sync.Pool

func init() {
	requestPool.New = func() any {
		rs := &request{done: make(chan struct{}, 1)}
		rs.cond.L = &rs.mu
		rs.checkTick = rs.endOfTick
		rs.checkTurn = rs.endOfTurn
		return rs
	}
}

func acquireRequest() *request {
	rs := requestPool.Get().(*request)
	rs.state = statePending
	rs.timedOut, rs.gone, rs.streams = false, nil, false
	rs.refs.Store(2) // the connection goroutine and the loop
	rs.bodyPos, rs.soonFlushes = 0, 0
	rs.written, rs.tickPending, rs.turnPending, rs.finished = false, false, false, false
	rs.reqID, rs.resID = 0, 0
	rs.snap, rs.w, rs.finishOp, rs.sc = nil, nil, nil, nil
	rs.hasBuf, rs.failed, rs.suspect = false, false, false
	rs.what = rs.what[:0]
	return rs
}

func (rs *request) release() {
	if rs.refs.Add(-1) == 0 {
		rs.endHelpers() // the request has ended: its uploads go (form.go)
		if !rs.expired.Load() {
			rs.ctx, rs.ep, rs.snap, rs.chunks, rs.conn = nil, nil, nil, nil, nil
			rs.snapData.reset()
			rs.parked = false
			requestPool.Put(rs)
		}
	}
}

// Run is the request's turn on the loop: call the Lua handler with req and res.
func (rs *request) Run(w *engine.Worker) {
	rs.mu.Lock()
	abandoned := rs.state == stateAbandoned
	rs.mu.Unlock()
	if abandoned {
		// Timed out while queued: the connection goroutine answered 504, and its abandon
		// task, queued behind this one, drops its reference.
		rs.finished = true
		rs.release()
		return
	}
	w.Hold() // the request keeps the worker alive until it is answered
	rs.w = w
	args := w.NewArgs()
	rs.reqID = w.NewObject(&args.Writer, requestClass, rs)
	rs.cbuf, rs.hasBuf = rs.ep.resps.acquire(), true
	// From now until the response is finished or streams, res:set_status/set/write/finish
	// record into rs.cbuf in C, with no crossing into Go (fastResponse); what they recorded
	// is taken over when the callback that called them returns (the loop's tick end), and
	// here at once for the handler, whose error handling needs to know.
	rs.resID = w.NewFastObject(&args.Writer, responseClass, rs, rs.cbuf.ptr())
	// The handler runs in the request's scope, which rs owns (life.go): a raise anywhere in
	// it answers 500 at once; its end may finish the response. The scope holds a reference
	// on rs until it ends: its callbacks may outlive the response.
	rs.refs.Add(1)
	rs.sc = w.InitScope(&rs.scope, rs)
	w.RunScoped(rs.sc, rs.ep.handler, args.B)
	if rs.hasBuf {
		w.TakeOver(rs.cbuf.ptr())
	}
}

// Panicked answers 500 after a Go panic in Run (a bug; the loop reports it): the client
// must not wait for the handler timeout.
func (rs *request) Panicked(w *engine.Worker) {
	if rs.w != nil {
		rs.fail(w)
	}
}

// fail ends a response that a raise (or a bug) interrupted, unless it is finished already:
// a plain 500 when nothing was sent; a stream is cut, so that the client sees a failed
// response, not a complete one. What the fast methods recorded must be taken over first,
// or it would be applied to the 500. Loop only.
func (rs *request) fail(w *engine.Worker) {
	if rs.hasBuf {
		w.TakeOver(rs.cbuf.ptr())
	}
	if rs.finished {
		return
	}
	rs.failed = true
	if o := rs.ep.obs; o != nil && o.stats != nil {
		o.stats.raised.Add(1)
	}
	rs.mu.Lock()
	if rs.state == statePending {
		rs.ctx.Response.Reset()
		rs.ctx.Error("Internal Server Error", fasthttp.StatusInternalServerError)
	}
	rs.mu.Unlock()
	rs.finish(w, nil)
}

// takeOver applies what the fast methods recorded in rs.cbuf to the response, in the order
// Lua issued it relative to the Go methods (each of which takes over first). Loop only.
func (rs *request) takeOver(w *engine.Worker) {
	b := rs.cbuf
	if !rs.hasBuf || b.Empty() {
		return
	}
	finished, written := b.Finished(), b.Written()
	if b.Streaming() {
		// The writes of a stream: one chunk (queueWrite copies it or writes it out
		// itself). A stream that ended meanwhile drops it, as it drops a chunk still
		// queued when the client leaves.
		if body := b.Body(); len(body) > 0 {
			rs.queueWrite(body, nil)
		}
		b.Clear()
		if finished {
			rs.finish(w, nil)
		}
		return
	}
	rs.mu.Lock()
	if rs.state == statePending { // else the response was abandoned (504): dropped
		resp := &rs.ctx.Response
		if st := b.Status(); st != 0 {
			resp.SetStatusCode(st)
		}
		b.Headers(func(name, value []byte) { setHeader(&resp.Header, name, value) })
		if body := b.Body(); len(body) > 0 {
			resp.AppendBody(body)
		}
	}
	rs.mu.Unlock()
	b.Clear()
	if written {
		rs.markWritten(w)
	}
	if finished {
		rs.finish(w, nil)
	}
}

// endOfTick runs after a callback in which the response was written or finished returns:
// a finished response goes out now (with Content-Length unless it was streaming). One
// written but not finished stays buffered while the loop runs the work at hand, the
// callbacks of its writes included (the seed's res:write(body, function() res:finish()
// end)): endOfTurn decides. Unless it holds flushAt bytes already: then it streams now.
func (rs *request) endOfTick() {
	rs.tickPending = false
	switch {
	case rs.finished:
		rs.complete()
	case rs.written:
		rs.mu.Lock()
		pending := rs.state == statePending
		full := pending && len(rs.ctx.Response.Body()) >= flushAt
		rs.mu.Unlock()
		if full {
			rs.startStreaming()
		} else if pending && !rs.turnPending {
			rs.turnPending = true
			rs.refs.Add(1) // endOfTurn's: rs must not be recycled before it ran
			rs.w.AtTurnEnd(rs.checkTurn)
		}
	}
}

// endOfTurn runs once the loop has done the work at hand after a write left the response
// unfinished: nothing finished it, so it must be flushed (the rest may take a while: a
// timer, a file, an upstream), and it streams. Loop only.
func (rs *request) endOfTurn() {
	rs.turnPending = false
	if !rs.finished {
		rs.startStreaming() // unless no longer pending (timed out: 504)
	}
	rs.release()
}

// atTickEnd makes sure endOfTick runs once the current callback returns.
func (rs *request) atTickEnd(w *engine.Worker) {
	if !rs.tickPending {
		rs.tickPending = true
		w.AtTickEnd(rs.checkTick)
	}
}

// markWritten notes a buffered write, so that the end of this tick decides between
// Content-Length and streaming.
func (rs *request) markWritten(w *engine.Worker) {
	rs.written = true
	rs.atTickEnd(w)
}

// startStreaming turns the buffered response into a chunked stream: what was written so far
// becomes the first chunk, the request data the script may still read is copied out of ctx,
// and the connection goroutine is released to send the headers and run the stream writer.
func (rs *request) startStreaming() {
	rs.mu.Lock()
	if rs.state != statePending {
		rs.mu.Unlock()
		return
	}
	ctx := rs.ctx
	if rs.hasBuf {
		// From now on a fast write is a chunk, queued when Go takes the record over
		// (takeOver), which it did before this call: nothing recorded is left behind.
		rs.cbuf.StartStreaming()
	}
	rs.snapData.take(ctx, rs.bodyPos)
	rs.snap = &rs.snapData
	rs.bodyPos = 0      // the snapshot keeps only the unread rest of the body
	headersOut := false // before WriteTo runs: the loop may then write chunks itself
	if body := ctx.Response.Body(); len(body) > 0 {
		rs.chunks = append(rs.chunks, chunk{data: append(rs.bufLocked(len(body)), body...)})
	} else {
		headersOut = true
		// Nothing to write yet (res:flush before any write: server-sent events): the
		// headers go out now, not with the first chunk.
		ctx.Response.ImmediateHeaderFlush = true
	}
	ctx.Response.ResetBody()
	// A stream (server-sent events, a long download) may outlive the write timeout; each of
	// its writes may not.
	if c, ok := ctx.Conn().(*deadline.Conn[request]); ok {
		c.Streaming()
		if ctx.Request.Header.IsHTTP11() {
			rs.conn = c // chunked: the loop may frame and write chunks itself
		}
	}
	rs.refs.Add(1) // the body stream's, dropped when fasthttp is done with it
	ep := rs.ep
	ep.streamsMu.Lock()
	if ep.streams == nil {
		ep.streams = map[*request]struct{}{}
	}
	ep.streams[rs] = struct{}{}
	ep.streamsMu.Unlock()
	// Its own object, not a field of rs: fasthttp may still call Close on it after end
	// released rs to the pool for another request.
	ctx.Response.SetBodyStream(&responseStream{rs: rs, out: headersOut}, -1)
	rs.streamStarts(ctx)
	rs.streams = true
	rs.state = stateStreaming
	rs.ctx = nil
	rs.mu.Unlock()
	rs.done <- struct{}{}
}

// finish ends the response once the current callback returns (so that req and res stay
// usable until then): buffered, the connection goroutine sends it with Content-Length;
// streaming, a final chunk ends the stream. op (nil for none) completes once the response is
// out.
func (rs *request) finish(w *engine.Worker, op *engine.Op) {
	if rs.finished {
		if op != nil {
			op.CompleteSoon(nil)
		}
		return
	}
	rs.finished = true
	rs.finishOp = op
	if rs.hasBuf {
		rs.cbuf.fast().End() // later calls go to Go, which knows the response is finished
	}
	rs.atTickEnd(w)
}

// complete hands the finished response over and releases the loop's side of the request.
func (rs *request) complete() {
	w, op := rs.w, rs.finishOp
	rs.finishOp = nil
	w.Release(rs.reqID)
	w.Release(rs.resID)
	rs.releaseBuffer(w)
	rs.unsuspect(w)
	rs.mu.Lock()
	state, gone := rs.state, rs.gone
	if state == statePending {
		if !rs.sc.Idle() {
			rs.rememberLocked() // what the handler started may still raise: the log names it
		}
		rs.state = stateAnswered
		rs.ctx = nil
	}
	rs.mu.Unlock()
	switch state {
	case statePending:
		rs.done <- struct{}{}
		if op != nil {
			op.CompleteSoon(nil)
		}
	case stateStreaming:
		if !rs.queueChunk(chunk{op: op, final: true, cut: rs.failed}) && op != nil {
			op.CompleteSoon(func(w *engine.Worker, a *engine.Args) { a.Error(errClientGone) })
		}
	case stateAbandoned:
		if op != nil {
			op.CompleteSoon(func(w *engine.Worker, a *engine.Args) { a.Error(gone) })
		}
		rs.failFile(gone) // a res:send_file the 504 overtook
	}
	w.Unhold()
	rs.release()
}

var errAbandoned = errors.New("http: response abandoned (handler timeout)")

// abandon runs on the loop after the connection goroutine answered 504: the script's
// objects for this request are released and the worker no longer waits for it. It holds
// the connection goroutine's reference and drops it last.
func (rs *request) abandon(w *engine.Worker) {
	if !rs.finished {
		rs.finished = true
		w.Release(rs.reqID)
		w.Release(rs.resID)
		rs.releaseBuffer(w)
		rs.unsuspect(w)
		w.Unhold()
		rs.release() // the loop's reference
	}
	rs.release()
}

// releaseBuffer gives the fast-method buffer back to the worker. Loop only.
func (rs *request) releaseBuffer(w *engine.Worker) {
	if rs.hasBuf {
		rs.hasBuf = false
		rs.ep.resps.release(rs.cbuf)
	}
}
