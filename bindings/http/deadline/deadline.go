// Package deadline enforces the read, write and idle timeouts of many server connections,
// and one watch per connection (the HTTP handler timeout), with a single sweeper goroutine
// and no clock read or runtime timer per request.
//
// fasthttp implements its timeouts by setting a connection deadline three times per
// keep-alive request (idle, read, write): each is a clock read plus a runtime timer update
// under a lock, and together with the handler timeout's timer they were 14% of the
// server's user-space instructions on the hello-world path, more than the Lua handler. Here
// fasthttp runs without timeouts and the Conn observes the request cycle instead:
//
//   - a Read that returns the first bytes of a request starts the read timeout (on a new
//     connection it runs from the accept, as in fasthttp);
//   - RequestRead (the handler is called) ends it;
//   - the first Write of a response starts the write timeout;
//   - the next Read ends it and starts the idle timeout.
//
// A streamed response (Streaming) is not bound as a whole: each of its writes is, so a
// stream may last as long as it likes but a client that stops reading is cut off.
//
// Each transition is one atomic store of a mark: which timeout runs, and the number of the
// listener's last sweep. No clock is read: the sweeper, which runs once per resolution,
// keeps the times of its recent sweeps, and a mark made after sweep s was made before sweep
// s+1 ran, so its timeout has surely passed once the time of sweep s+1 plus the timeout
// has. A connection whose timeout passed gets a real, already passed socket deadline, which
// fails its blocked read or write the way fasthttp's own deadlines do. Timeouts therefore
// fire up to two resolutions late, and never early, however late the sweeper itself runs
// (a coarse clock that the sweeper advances would make them early whenever it is late, as
// it is on a loaded machine).
//
// The Listener's Accept also rides out a lack of file descriptors (EMFILE, ENFILE) or
// buffers, pausing and retrying as net/http does, where fasthttp gives the listener up for
// good.
package deadline

import (
	"errors"
	"io"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/drlee/drlee/internal/accepterr"
)

// Timeouts are the connection timeouts a Listener enforces, with fasthttp's meaning; zero
// disables one.
type Timeouts struct {
	Read  time.Duration // to read a whole request, from its first byte (a new connection: from the accept)
	Write time.Duration // to write a whole response, from its first write
	Idle  time.Duration // between requests on a keep-alive connection
}

// Resolution returns a sweep interval for timeouts whose shortest is d: a sixteenth of it,
// between 1 ms and 250 ms.
func Resolution(d time.Duration) time.Duration {
	r := d / 16
	switch {
	case r < time.Millisecond:
		return time.Millisecond
	case r > 250*time.Millisecond:
		return 250 * time.Millisecond
	}
	return r
}

// Listener wraps a TCP listener so that every accepted connection is a *Conn timed by the
// listener's sweeper. The sweeper is a goroutine that runs while the listener has
// connections: it starts with the first and ends at the first sweep that finds none, so
// once the listener is closed it ends with its last connection (CloseConns closes them
// all). T is what a connection's watch holds (the request in flight); expire is called with
// it when the watch is due.
type Listener[T any] struct {
	net.Listener
	timeouts   Timeouts
	resolution time.Duration
	expire     func(*T)
	seq        atomic.Uint32 // sweeps so far: the tick marks record

	// yieldBeforeRead: with one processor, a connection yields once after writing a
	// response, before it reads the next request (Conn.Read), so that the other runnable
	// goroutines go first and the client has the time to send it: the read then finds it
	// instead of failing with EAGAIN and parking the goroutine in the network poller (at 64
	// connections, one core: 2.9 -> 2.2 system calls a hello request). With more
	// processors, a yield puts the goroutine on the global run queue, which another
	// processor may be woken to take: not worth it there.
	yieldBeforeRead bool

	mu      sync.Mutex
	conns   []*Conn[T] // conns[i].slot == i; swap-removed on Close
	running bool       // a sweeper goroutine is running
	manual  bool       // tests: no sweeper goroutine, they call sweepOnce

	// Logf, when set before the first Accept, gets the log lines of Accept (engine.Log's
	// signature). Safe to call from Accept's goroutine.
	Logf func(level, format string, args ...any)
	// Go, when set before the first Accept, starts the sweeper goroutine, so that its
	// owner counts and names it (engine.Go); nil: a plain go statement. When it refuses
	// (its owner has ended), Accept closes the connection and fails with net.ErrClosed.
	Go func(fn func()) bool

	closed    chan struct{} // closed by Close
	closeOnce sync.Once
	drained   chan struct{} // capacity 1: the listener is closed and has no connection left

	// Tests: pauses[0] and [1] replace minAcceptPause and maxAcceptPause when set, and
	// acceptRetryHook is called with the failures so far before each pause.
	pauses          [2]time.Duration
	acceptRetryHook func(failures int)

	// Sweeper only: when sweep s ran (UnixNano) is ring[s%ringSize].
	ring [ringSize]int64
	due  []*Conn[T]
}

// ringSize is how many sweep times the sweeper keeps. A mark older than that is timed from
// the oldest one kept, which only makes its timeout fire later.
const ringSize = 1024

// NewListener wraps ln. Deadlines and watches are checked every resolution, and expire is
// called on the sweeper's goroutine for each watch that is due.
func NewListener[T any](ln net.Listener, timeouts Timeouts, resolution time.Duration, expire func(*T)) *Listener[T] {
	l := &Listener[T]{
		Listener: ln, timeouts: timeouts, resolution: resolution, expire: expire,
		closed: make(chan struct{}), drained: make(chan struct{}, 1),
		yieldBeforeRead: runtime.GOMAXPROCS(0) == 1,
	}
	l.ring[0] = time.Now().UnixNano()
	return l
}

// Accept waits for a connection and returns it as a *Conn.
//
// An accept that fails for want of resources (the process or the system out of file
// descriptors, the kernel out of buffers) is retried after a pause, as net/http's Serve
// does: 5 ms, doubling up to 1 s, until an accept succeeds or the listener is closed.
// Closing connections relieves it, and fasthttp would instead give up on the listener at
// the first such error, leaving the socket open and deaf. The first failure of a burst
// and its end are logged (Logf), once each. A connection that failed before it was
// accepted (Linux reports the new socket's pending error from accept and says to retry)
// is skipped. Other errors are returned: the listener is closed or broken.
func (l *Listener[T]) Accept() (net.Conn, error) {
	var (
		failures int
		first    error
		since    time.Time
		pause    time.Duration
	)
	for {
		nc, err := l.Listener.Accept()
		switch {
		case err == nil:
			if failures > 0 {
				l.logf("INFO", "http: accepting again on %s after %d failed accepts in %s (%v)",
					l.Addr(), failures, time.Since(since).Round(time.Millisecond), first)
			}
			c, err := l.track(nc)
			if errors.Is(err, errNoRawConn) {
				continue // that connection is unusable; the listener is not
			}
			return c, err
		case accepterr.ConnFailed(err):
			continue // that connection is gone; the next one may be fine
		case l.isClosed():
			return nil, l.closedError()
		case !accepterr.Exhausted(err):
			return nil, err
		}
		if failures == 0 {
			first, since = err, time.Now()
			l.logf("WARN", "http: %v; retrying, at most every %s, until it works", err, l.maxPause())
		}
		failures++
		pause = min(max(2*pause, l.minPause()), l.maxPause())
		if l.acceptRetryHook != nil {
			l.acceptRetryHook(failures)
		}
		if !l.wait(pause) {
			return nil, l.closedError()
		}
	}
}

// closedError is Accept's error once Close began. Not the inner listener's: Close marks
// the listener closed before it closes the socket, and an accept in between would still
// fail with the error that made it pause.
func (l *Listener[T]) closedError() error {
	return &net.OpError{Op: "accept", Net: l.Addr().Network(), Addr: l.Addr(), Err: net.ErrClosed}
}

// Pauses between accepts that failed with a temporary error, as in net/http.
const (
	minAcceptPause = 5 * time.Millisecond
	maxAcceptPause = time.Second
)

func (l *Listener[T]) minPause() time.Duration {
	if l.pauses[0] > 0 {
		return l.pauses[0]
	}
	return minAcceptPause
}

func (l *Listener[T]) maxPause() time.Duration {
	if l.pauses[1] > 0 {
		return l.pauses[1]
	}
	return maxAcceptPause
}

// wait pauses for d; it reports false, at once, when the listener is closed meanwhile.
func (l *Listener[T]) wait(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-l.closed:
		return false
	}
}

func (l *Listener[T]) logf(level, format string, args ...any) {
	if l.Logf != nil {
		l.Logf(level, format, args...)
	}
}

// Close closes the listener; an Accept pausing after a failure returns at once, and the
// sweeper ends as soon as the last connection has closed.
func (l *Listener[T]) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	err := l.Listener.Close()
	l.mu.Lock()
	l.checkDrainedLocked()
	l.mu.Unlock()
	return err
}

// checkDrainedLocked wakes the sweeper, so that it ends now rather than at its next sweep,
// once the listener is closed and its last connection gone. Under l.mu.
func (l *Listener[T]) checkDrainedLocked() {
	if len(l.conns) == 0 && l.running && l.isClosed() {
		select {
		case l.drained <- struct{}{}:
		default:
		}
	}
}

func (l *Listener[T]) isClosed() bool {
	select {
	case <-l.closed:
		return true
	default:
		return false
	}
}

// errNoRawConn: an accepted connection gave no raw access to its socket (rawio.go);
// Accept skips it rather than fail, which would end fasthttp's serving.
var errNoRawConn = errors.New("deadline: no raw access to the connection's socket")

// track wraps an accepted connection so that the sweeper times it, starting the sweeper
// if it is not running. A sweeper that cannot start (Go refused) means the listener's owner
// has ended: the connection is closed and Accept fails as on a closed listener.
func (l *Listener[T]) track(nc net.Conn) (net.Conn, error) {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return nc, nil // not ours to time
	}
	c := &Conn[T]{TCPConn: tc, l: l}
	raw, err := tc.SyscallConn()
	if err != nil {
		_ = nc.Close()
		return nil, errNoRawConn
	}
	c.raw = raw
	c.tryFn, c.readFn, c.writeFn = c.tryWrite, c.readOnce, c.writeSome
	c.phase.Store(phaseReading) // the first request's read timeout runs from now
	c.readMark.Store(l.mark(markRead))
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.running && !l.manual {
		if !l.startSweeper() {
			_ = nc.Close()
			return nil, net.ErrClosed
		}
		l.running = true
	}
	c.slot = len(l.conns)
	l.conns = append(l.conns, c)
	return c, nil
}

// startSweeper starts the sweeper goroutine, through Go when it is set. Under l.mu.
func (l *Listener[T]) startSweeper() bool {
	if l.Go != nil {
		return l.Go(l.sweep)
	}
	go l.sweep()
	return true
}

// CloseConns closes every connection open now, failing the reads and writes blocked on
// them. For the end of a server whose last connections must not keep it (and the sweeper)
// waiting: close the listener first, and the sweeper ends with the last connection. Safe
// from any goroutine.
func (l *Listener[T]) CloseConns() { l.closeConns(false) }

// CloseWaiting closes the connections that wait for a request or are reading one: for the
// end of a server that can no longer serve requests (its workers are gone), whose
// connections writing a response should still finish. Safe from any goroutine.
func (l *Listener[T]) CloseWaiting() { l.closeConns(true) }

func (l *Listener[T]) closeConns(waitingOnly bool) {
	l.mu.Lock()
	conns := append([]*Conn[T](nil), l.conns...)
	l.mu.Unlock()
	for _, c := range conns {
		if p := c.phase.Load(); !waitingOnly || p == phaseReading || p == phaseIdle {
			_ = c.Close()
		}
	}
}

// ExpireWatches fires every armed watch now, on the calling goroutine, as if it were due:
// for the end of a server whose requests can no longer be answered (their workers are
// gone), so that whoever waits for them is released at once. Each watch fires once, this
// or the sweeper's way. Safe from any goroutine.
func (l *Listener[T]) ExpireWatches() {
	l.mu.Lock()
	conns := append([]*Conn[T](nil), l.conns...)
	l.mu.Unlock()
	for _, c := range conns {
		if tok := c.token.Load(); tok != 0 {
			v := c.v.Load()
			if c.token.CompareAndSwap(tok, 0) {
				l.expire(v)
			}
		}
	}
}

// Len returns the number of open connections.
func (l *Listener[T]) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

// Mark kinds: which timeout a mark starts.
const (
	markRead uint64 = 1 + iota
	markWrite
	markIdle
	markWatch
)

// mark returns the mark that starts a timeout of kind now: the last sweep's number and the
// kind; 0 (none) when that connection timeout is disabled.
func (l *Listener[T]) mark(kind uint64) uint64 {
	if kind != markWatch && l.duration(kind, 0) <= 0 {
		return 0
	}
	return uint64(l.seq.Load())<<8 | kind
}

// duration is the timeout a mark of kind starts; watch is the watch's own.
func (l *Listener[T]) duration(kind uint64, watch time.Duration) time.Duration {
	switch kind {
	case markRead:
		return l.timeouts.Read
	case markWrite:
		return l.timeouts.Write
	case markIdle:
		return l.timeouts.Idle
	case markWatch:
		return watch
	}
	return 0
}

// passed reports whether the timeout started by mark m has surely passed at sweep cur
// (time now). Sweeper only.
func (l *Listener[T]) passed(m uint64, watch time.Duration, cur uint32, now int64) bool {
	if m == 0 {
		return false
	}
	d := l.duration(m&0xff, watch)
	next := uint32(m>>8) + 1 // the mark was made before this sweep ran
	if d <= 0 || int32(cur-next) < 0 {
		return false
	}
	if cur-next >= ringSize {
		next = cur - ringSize + 1 // timed from the oldest sweep kept: later, never early
	}
	return now >= l.ring[next%ringSize]+int64(d)
}

func (l *Listener[T]) remove(c *Conn[T]) {
	l.mu.Lock()
	last := len(l.conns) - 1
	moved := l.conns[last]
	l.conns[c.slot] = moved
	moved.slot = c.slot
	l.conns[last] = nil
	l.conns = l.conns[:last]
	l.checkDrainedLocked()
	l.mu.Unlock()
}

// sweep is the sweeper goroutine: it runs sweepOnce every resolution until the listener has
// no connection left, or at once when the closed listener's last connection closes.
func (l *Listener[T]) sweep() {
	t := time.NewTicker(l.resolution)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-l.drained:
		}
		if !l.sweepOnce(unixNano) {
			return
		}
	}
}

func unixNano() int64 { return time.Now().UnixNano() }

// sweepOnce is one sweep: it records the sweep and its time, enforces the timeouts that
// have passed and fires the watches that are due. It reports false, and the sweeper ends,
// when the listener has no connection left. Sweeper only.
func (l *Listener[T]) sweepOnce(clock func() int64) bool {
	cur := l.seq.Load() + 1
	l.seq.Store(cur) // marks that still read cur-1 were made before this point...
	now := clock()   // ...so before now, the time the sweep records
	l.ring[cur%ringSize] = now
	l.mu.Lock()
	if len(l.conns) == 0 {
		l.running = false
		l.mu.Unlock()
		return false
	}
	for _, c := range l.conns {
		if c.due(cur, now) {
			l.due = append(l.due, c)
		}
	}
	l.mu.Unlock()
	// Outside l.mu: a watch's expire may take other locks.
	for i, c := range l.due {
		c.enforce(cur, now)
		l.due[i] = nil
	}
	l.due = l.due[:0]
	return true
}

// Connection phases, as the Conn observes them.
const (
	phaseReading   int32 = iota // reading a request (or waiting for a new connection's first)
	phaseHandling               // the request was read and the handler has it
	phaseWriting                // writing the response
	phaseStreaming              // writing a streamed response: no write timeout
	phaseIdle                   // waiting for the next request on a keep-alive connection
)

// Conn is an accepted TCP connection timed by its listener; see the package comment. It has
// every method of *net.TCPConn.
type Conn[T any] struct {
	*net.TCPConn
	l    *Listener[T]
	slot int // index in l.conns, under l.mu

	phase                 atomic.Int32  // changed by the connection's goroutine (the worker, for a stream while it waits)
	readMark, writeMark   atomic.Uint64 // the running read (or idle) and write timeouts; 0: none
	readFired, writeFired atomic.Bool   // that timeout fired: the socket has a passed deadline
	manual                atomic.Bool   // someone set a deadline: the socket's own deadlines rule
	closed                atomic.Bool

	// The watch: token is non-zero while armed. Arm writes v, watchDur and watchMark before
	// publishing the token, and a token is never reused, so a sweeper that wins
	// CompareAndSwap(token, 0) has read the values of that very arming.
	token     atomic.Uint64
	lastToken uint64 // Arm's counter; Arm and Disarm are called by one goroutine at a time
	v         atomic.Pointer[T]
	watchDur  atomic.Int64
	watchMark atomic.Uint64

	// The socket's raw access (rawio.go), and each operation's attempt in progress, its
	// function bound once so that an attempt allocates nothing. Read's are the connection
	// goroutine's; Write's and TryWrite's belong to whoever writes the response, one
	// goroutine at a time.
	raw     syscall.RawConn
	readFn  func(fd uintptr) bool
	readBuf []byte
	readN   int
	readErr error

	writeFn  func(fd uintptr) bool
	writeBuf []byte
	writeN   int
	writeErr error

	tryFn  func(fd uintptr) bool
	tryBuf [3][]byte
	tryIov [3]syscall.Iovec
	tryN   int
	tryErr error
}

// Read reads from the connection, moving it from writing to idle before, and from idle to
// reading once bytes arrive.
func (c *Conn[T]) Read(b []byte) (int, error) {
	switch c.phase.Load() {
	case phaseWriting, phaseStreaming, phaseHandling:
		c.writeMark.Store(0)
		c.readMark.Store(c.l.mark(markIdle))
		c.phase.Store(phaseIdle)
		if c.l.yieldBeforeRead {
			runtime.Gosched()
		}
	}
	n, err := c.rawRead(b)
	if n > 0 && c.phase.Load() == phaseIdle {
		c.readMark.Store(c.l.mark(markRead))
		c.phase.Store(phaseReading)
	}
	return n, err
}

// Write writes to the connection; the first write of a response starts its write timeout.
// In a stream, the timeout bounds each write instead.
func (c *Conn[T]) Write(b []byte) (int, error) {
	if c.phase.Load() == phaseStreaming {
		c.writeMark.Store(c.l.mark(markWrite))
		n, err := c.rawWrite(b)
		c.writeMark.Store(0)
		return n, err
	}
	c.startWrite()
	return c.rawWrite(b)
}

// TryWrite writes what the socket takes of a, b and c (written as one; any may be empty)
// now, without waiting for it to take more: n is less than their total length, with a nil
// error, when its send buffer is full. It never blocks, so that a worker's loop may write a
// streamed response's chunk itself while the connection's goroutine waits for the next one
// (the per-chunk hand-off between the two is most of what a small chunk costs otherwise).
// A connection whose write timeout fired, or that is closed, fails it as it fails Write.
func (c *Conn[T]) TryWrite(a, b, d []byte) (int, error) {
	c.tryBuf, c.tryN, c.tryErr = [3][]byte{a, b, d}, 0, nil
	err := c.raw.Write(c.tryFn)
	n, werr := c.tryN, c.tryErr
	// Keep no pointer into the caller's memory after the call.
	c.tryBuf, c.tryIov, c.tryErr = [3][]byte{}, [3]syscall.Iovec{}, nil
	if err == nil {
		err = werr
	}
	return n, err
}

// tryWrite is TryWrite's attempt on the socket's descriptor: writev for as long as the
// socket takes everything. It returns true (done) even when the socket takes nothing, so
// that RawConn.Write never waits.
func (c *Conn[T]) tryWrite(fd uintptr) bool {
	total := 0
	for _, b := range c.tryBuf {
		total += len(b)
	}
	for c.tryN < total {
		// The iovecs of what is left: the buffers written skipped, the first cut.
		iov, skip := 0, c.tryN
		for _, b := range c.tryBuf {
			if skip >= len(b) {
				skip -= len(b)
				continue
			}
			c.tryIov[iov].Base = &b[skip]
			c.tryIov[iov].SetLen(len(b) - skip)
			iov++
			skip = 0
		}
		// Raw: the socket is non-blocking, so the call never waits, and telling the
		// scheduler about it (entersyscall, exitsyscall) cost a streamed chunk ~250
		// instructions of its ~8,000 (callgrind, stream64k).
		n, _, errno := syscall.RawSyscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&c.tryIov[0])), uintptr(iov))
		switch {
		case errno == syscall.EINTR:
			continue
		case errno == syscall.EAGAIN:
			return true
		case errno != 0:
			c.tryErr = errno
			return true
		case int(n) <= 0:
			return true
		}
		c.tryN += int(n)
	}
	return true
}

// ReadFrom is Write for io.Copy's sendfile path: in a stream (a large file is sent as one,
// a slice a call), each call has the write timeout.
func (c *Conn[T]) ReadFrom(r io.Reader) (int64, error) {
	if c.phase.Load() == phaseStreaming {
		c.writeMark.Store(c.l.mark(markWrite))
		n, err := c.TCPConn.ReadFrom(r)
		c.writeMark.Store(0)
		return n, err
	}
	c.startWrite()
	return c.TCPConn.ReadFrom(r)
}

func (c *Conn[T]) startWrite() {
	switch c.phase.Load() {
	case phaseWriting, phaseStreaming:
		return
	}
	c.readMark.Store(0)
	c.writeMark.Store(c.l.mark(markWrite))
	c.phase.Store(phaseWriting)
}

// RequestRead tells the connection that a whole request was read: its read timeout ends
// and, until the response is written, no timeout of the connection runs (the handler's is
// a watch).
func (c *Conn[T]) RequestRead() {
	c.readMark.Store(0)
	c.phase.Store(phaseHandling)
}

// Streaming exempts the response being written from the write timeout as a whole: a stream
// (server-sent events, a long download) may take as long as it likes, as long as each of its
// writes completes within the write timeout. The usual timeouts resume with the next
// request.
func (c *Conn[T]) Streaming() {
	c.writeMark.Store(0)
	c.phase.Store(phaseStreaming)
}

// SetReadDeadline, SetWriteDeadline and SetDeadline set the socket's deadline and hand the
// connection's timing over to the caller for the rest of its life.
func (c *Conn[T]) SetReadDeadline(t time.Time) error {
	c.manual.Store(true)
	return c.TCPConn.SetReadDeadline(t)
}

// SetWriteDeadline: see SetReadDeadline.
func (c *Conn[T]) SetWriteDeadline(t time.Time) error {
	c.manual.Store(true)
	return c.TCPConn.SetWriteDeadline(t)
}

// SetDeadline: see SetReadDeadline.
func (c *Conn[T]) SetDeadline(t time.Time) error {
	c.manual.Store(true)
	return c.TCPConn.SetDeadline(t)
}

// Close closes the connection and stops timing it.
func (c *Conn[T]) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.l.remove(c)
	}
	return c.TCPConn.Close()
}

// Arm sets the connection's watch: the listener's expire(v) runs on the sweeper once d has
// passed, unless Disarm is called with the returned token first. One watch at a time per
// connection.
func (c *Conn[T]) Arm(d time.Duration, v *T) uint64 {
	c.lastToken++
	tok := c.lastToken
	c.v.Store(v)
	c.watchDur.Store(int64(d))
	c.watchMark.Store(c.l.mark(markWatch))
	c.token.Store(tok)
	return tok
}

// Disarm cancels the watch armed with tok. It reports false when the sweeper has taken the
// watch: expire has run or is about to run.
func (c *Conn[T]) Disarm(tok uint64) bool {
	return c.token.CompareAndSwap(tok, 0)
}

// due reports whether c has a timeout or a watch that has passed. Sweeper only.
func (c *Conn[T]) due(cur uint32, now int64) bool {
	l := c.l
	if c.token.Load() != 0 && l.passed(c.watchMark.Load(), time.Duration(c.watchDur.Load()), cur, now) {
		return true
	}
	if c.manual.Load() {
		return false
	}
	return (!c.readFired.Load() && l.passed(c.readMark.Load(), 0, cur, now)) ||
		(!c.writeFired.Load() && l.passed(c.writeMark.Load(), 0, cur, now))
}

// enforce fires a due watch and fails the connection's blocked read or write when its
// timeout passed. A connection whose read (or write) timed out fails every later read (or
// write) too; fasthttp closes it. Sweeper only.
func (c *Conn[T]) enforce(cur uint32, now int64) {
	l := c.l
	if tok := c.token.Load(); tok != 0 {
		v, m, d := c.v.Load(), c.watchMark.Load(), time.Duration(c.watchDur.Load())
		if l.passed(m, d, cur, now) && c.token.CompareAndSwap(tok, 0) {
			l.expire(v)
		}
	}
	if c.manual.Load() {
		return
	}
	past := time.Unix(0, now)
	if !c.readFired.Load() && l.passed(c.readMark.Load(), 0, cur, now) {
		c.readFired.Store(true)
		_ = c.TCPConn.SetReadDeadline(past)
	}
	if !c.writeFired.Load() && l.passed(c.writeMark.Load(), 0, cur, now) {
		c.writeFired.Store(true)
		_ = c.TCPConn.SetWriteDeadline(past)
	}
}
