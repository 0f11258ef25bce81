package network

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/drlee/drlee/engine"
)

// maxRead is the largest n conn:read takes. One read returns what has arrived, at most n
// bytes and at most maxChunk.
const maxRead = 16 << 20

// Read buffers: reads up to smallBuf bytes (readall asks for 64 KiB) use a pooled buffer
// of that size, larger ones a pooled buffer of maxChunk; the bytes are copied into Lua.
const (
	smallBuf = 64 << 10
	maxChunk = 1 << 20
)

// The pools hold array pointers, which go into an interface without an allocation (a
// *[]byte made at each Put would be one).
var (
	smallBufs = sync.Pool{New: func() any { return new([smallBuf]byte) }}
	largeBufs = sync.Pool{New: func() any { return new([maxChunk]byte) }}
)

// getBuf returns a buffer for a read of at most n bytes (n <= maxRead).
func getBuf(n int) []byte {
	if n <= smallBuf {
		return smallBufs.Get().(*[smallBuf]byte)[:n]
	}
	return largeBufs.Get().(*[maxChunk]byte)[:min(n, maxChunk)]
}

// putBuf gives back a buffer from getBuf once its bytes are copied out.
func putBuf(b []byte) {
	switch cap(b) {
	case smallBuf:
		smallBufs.Put((*[smallBuf]byte)(b[:smallBuf]))
	case maxChunk:
		largeBufs.Put((*[maxChunk]byte)(b[:maxChunk]))
	}
}

var (
	errClosed   = engine.NewError("ECLOSED", "network: the connection is closed")
	errShutdown = engine.NewError("ECLOSED", "network: the connection is closed: the server is shutting down")
	errRaised   = engine.NewError("ECLOSED", "network: the connection is closed: its handler raised an error")
)

// conn is a connection: a dialed one or one a server accepted. Its Go side is shared by the
// worker's loop (the Lua methods, direct I/O) and its two lanes' goroutines; the Lua object
// is the loop's.
type conn struct {
	st     *netState
	nc     net.Conn        // what reads and writes go through (a *tls.Conn over raw for TLS)
	raw    net.Conn        // the socket itself: terminate closes it, which never blocks
	sys    syscall.RawConn // direct I/O on the socket; nil for TLS, which has no direct path
	kind   string          // "tcp", "udp", "unix"
	tls    bool
	local  string
	remote string
	rt, wt time.Duration // read and write timeouts; 0: none
	ep     *endpoint     // the server endpoint that accepted it (nil: dialed)

	rd, wr lane

	why        atomic.Pointer[error] // why it was closed, when not by conn:close
	terminated atomic.Bool
	termOnce   sync.Once

	// Loop only.
	closing   bool         // conn:close was called, or the runtime closed it: no new operations
	pending   int          // operations issued and not completed
	collected bool         // Lua collected the object: closed once pending drops to 0
	wc        *workerConns // the worker's accepted connections, while listed there (shutdown)

	// Direct I/O's attempt in progress, under rd.mu and wr.mu respectively; the functions
	// are bound once, so that an attempt allocates nothing.
	rdBuf       []byte
	rdN         int
	rdErr       error
	wrBuf       []byte
	wrN         int
	wrErr       error
	rdFn, wrFn  func(fd uintptr) bool
	directRead  func(job) (job, bool)
	directWrite func(job) (job, bool)
}

// newConn wraps a connected socket. nc is what I/O goes through, raw the socket under it
// (the same for a plain connection).
// Closed reports a connection closed with nothing of it in flight, which Open (drlee
// test's leak check) then does not count (engine.ClosedReporter). Loop only.
func (c *conn) Closed() bool { return c.closing && c.pending == 0 }

func newConn(st *netState, kind string, nc, raw net.Conn, isTLS bool, rt, wt time.Duration, ep *endpoint) *conn {
	cn := &conn{st: st, nc: nc, raw: raw, kind: kind, tls: isTLS, rt: rt, wt: wt, ep: ep}
	cn.local = addrString(raw.LocalAddr())
	cn.remote = addrString(raw.RemoteAddr())
	cn.rd = lane{name: "network: reader", exec: cn.execRead, goFn: st.e.Go}
	cn.wr = lane{name: "network: writer", exec: cn.execWrite, goFn: st.e.Go}
	if !isTLS {
		if sc, ok := raw.(syscall.Conn); ok {
			if sys, err := sc.SyscallConn(); err == nil {
				cn.sys = sys
				cn.rdFn, cn.wrFn = cn.tryRead, cn.tryWrite
				cn.directRead, cn.directWrite = cn.readNow, cn.writeNow
			}
		}
	}
	return cn
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// closeErr is the error of an operation on the closed connection.
func (cn *conn) closeErr() error {
	if p := cn.why.Load(); p != nil {
		return *p
	}
	return errClosed
}

// terminate closes the connection now: the socket is closed (never waiting: a TLS
// connection's close_notify is not sent), operations waiting in its lanes fail, their
// goroutines end, and the engine forgets it. Idempotent; safe from any goroutine.
func (cn *conn) terminate() {
	cn.termOnce.Do(func() {
		cn.terminated.Store(true)
		cn.rd.shut()
		cn.wr.shut()
		_ = cn.raw.Close()
		cn.st.forget(cn)
		if cn.ep != nil {
			cn.ep.open.Add(-1)
		}
	})
}

// handOver ends cn without closing its socket, which it returns for another endpoint to
// take (nil if cn had ended already). For an accepted connection no handler has seen yet:
// its lanes have started nothing.
func (cn *conn) handOver() (nc net.Conn) {
	cn.termOnce.Do(func() {
		cn.terminated.Store(true)
		cn.rd.shut()
		cn.wr.shut()
		cn.st.forget(cn)
		if cn.ep != nil {
			cn.ep.open.Add(-1)
		}
		nc = cn.raw
	})
	return nc
}

// terminateFor is terminate with the reason later operations are told.
func (cn *conn) terminateFor(why error) {
	if !cn.terminated.Load() {
		cn.why.CompareAndSwap(nil, &why)
	}
	cn.terminate()
}

// opDone counts a completed operation out, on the loop; a connection Lua collected while
// operations were pending is closed after the last of them.
func (cn *conn) opDone() {
	cn.pending--
	if cn.collected && cn.pending == 0 {
		cn.terminate()
	}
}

// detach removes the connection from its worker's list of accepted ones. Loop only.
func (cn *conn) detach() {
	if cn.wc != nil {
		delete(cn.wc.set, cn)
		cn.wc = nil
	}
}

// finalize: Lua collected the object (or the worker's state is closing). Loop only.
func (cn *conn) finalize(w *engine.Worker) {
	cn.detach()
	cn.collected = true
	if cn.pending == 0 || w.Closing() {
		cn.terminate()
	}
}

// fail completes op with err, on the loop's queue.
func (cn *conn) fail(op *engine.Op, err error) {
	op.Complete(func(w *engine.Worker, a *engine.Args) {
		cn.opDone()
		a.Error(err)
	})
}

// ---- reads ----

// read starts a read of at most n bytes for op. Loop only.
func (cn *conn) read(op *engine.Op, n int) {
	cn.pending++
	if cn.closing {
		cn.fail(op, cn.closeErr())
		return
	}
	j := job{kind: jobRead, op: op, n: n}
	// A connection a server accepted is closed at shutdown once it waits for its peer: a
	// read that finds nothing received closes it.
	stopping := cn.wc != nil && cn.wc.stopping && cn.sys != nil
	switch cn.rd.submit(j, cn.directRead, stopping) {
	case refused:
		cn.fail(op, cn.closeErr())
	case wouldBlock:
		cn.closing = true
		cn.detach()
		cn.terminateFor(errShutdown)
		cn.fail(op, errShutdown)
	}
}

// readNow is the direct read: what the socket holds now, without waiting. It reports false
// when nothing has arrived yet (or the socket refused the attempt: a read deadline that
// passed, which the lane resets), and the read waits in the lane. Under rd.mu.
func (cn *conn) readNow(j job) (job, bool) {
	buf := getBuf(j.n)
	cn.rdBuf, cn.rdN, cn.rdErr = buf, 0, nil
	err := cn.sys.Read(cn.rdFn)
	k, rerr := cn.rdN, cn.rdErr
	cn.rdBuf, cn.rdErr = nil, nil
	if err != nil || rerr == syscall.EAGAIN {
		putBuf(buf)
		return j, false
	}
	switch {
	case rerr != nil:
		rerr = cn.opError("read", os.NewSyscallError("read", rerr))
	case k == 0 && cn.kind != "udp":
		rerr = io.EOF // a datagram may be empty; a stream's empty read is its end
	}
	cn.completeRead(j.op, buf, k, rerr)
	return j, true
}

// tryRead is readNow's system call: read(2) once on the non-blocking socket. It returns
// true, done, whatever happened, so that RawConn.Read never waits.
func (cn *conn) tryRead(fd uintptr) bool {
	for {
		n, err := syscall.Read(int(fd), cn.rdBuf)
		if err == syscall.EINTR {
			continue
		}
		if n < 0 {
			n = 0
		}
		cn.rdN, cn.rdErr = n, err
		return true
	}
}

// execRead runs a read on the reader lane's goroutine: it waits for the peer, within the
// read timeout.
func (cn *conn) execRead(j job, closed bool) {
	if closed {
		cn.fail(j.op, cn.closeErr())
		return
	}
	buf := getBuf(j.n)
	if cn.rt > 0 {
		_ = cn.nc.SetReadDeadline(time.Now().Add(cn.rt))
	}
	k, err := cn.nc.Read(buf)
	for k == 0 && err == nil && cn.kind != "udp" { // a TLS record with no data
		k, err = cn.nc.Read(buf)
	}
	if cn.rt > 0 {
		// Cleared, so that the next direct read is not refused for a deadline gone by.
		_ = cn.nc.SetReadDeadline(time.Time{})
	}
	cn.completeRead(j.op, buf, k, err)
}

// completeRead completes a read: the bytes (even if an error came with them: it comes
// again with the next read), "" at the end of the stream, or the error.
func (cn *conn) completeRead(op *engine.Op, buf []byte, k int, err error) {
	switch {
	case k > 0:
		err = nil
	case err == io.EOF:
		err = nil
	case err != nil && cn.terminated.Load():
		err = cn.closeErr()
	case errors.Is(err, os.ErrDeadlineExceeded):
		err = engine.WithCode("ETIMEDOUT", fmt.Errorf("network: read timed out (read_timeout %s s) on %s", seconds(cn.rt), cn.describe()))
	}
	if !op.Complete(func(w *engine.Worker, a *engine.Args) {
		cn.opDone()
		a.Error(err)
		if err == nil {
			a.Bytes(buf[:k])
		}
		putBuf(buf)
	}) {
		putBuf(buf) // the worker has ended
	}
}

// ---- writes ----

// write starts writing data (Lua's bytes, valid during the call) for op. Loop only.
func (cn *conn) write(op *engine.Op, data []byte) {
	cn.pending++
	if cn.closing {
		cn.fail(op, cn.closeErr())
		return
	}
	if cn.wr.submit(job{kind: jobWrite, op: op, data: data, view: true}, cn.directWrite, false) == refused {
		cn.fail(op, cn.closeErr())
	}
}

// writeNow is the direct write: what the socket's send buffer takes now. It completes the
// op when everything went (or the write failed); else j keeps a copy of the rest, and it
// reports false: the rest waits in the lane. Under wr.mu.
func (cn *conn) writeNow(j job) (job, bool) {
	cn.wrBuf, cn.wrN, cn.wrErr = j.data, 0, nil
	err := cn.sys.Write(cn.wrFn)
	k, werr := cn.wrN, cn.wrErr
	cn.wrBuf, cn.wrErr = nil, nil
	if err != nil { // a write deadline gone by, say: the lane deals with it
		return j, false
	}
	switch {
	case werr != nil:
		cn.completeWrite(j.op, cn.opError("write", os.NewSyscallError("write", werr)))
		return j, true
	case k == len(j.data):
		cn.completeWrite(j.op, nil)
		return j, true
	}
	j.data = j.data[k:] // submit copies it
	return j, false
}

// tryWrite is writeNow's system call: write(2) for as long as the socket takes everything
// (at least once: a datagram may be empty). It returns true, done, even when the socket took
// nothing (EAGAIN), so that RawConn.Write never waits.
func (cn *conn) tryWrite(fd uintptr) bool {
	for {
		n, err := syscall.Write(int(fd), cn.wrBuf[cn.wrN:])
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			return true
		case err != nil:
			cn.wrErr = err
			return true
		}
		cn.wrN += n
		if cn.wrN >= len(cn.wrBuf) || n <= 0 {
			return true
		}
	}
}

// execWrite runs a write (or a close) on the writer lane's goroutine: it waits for the
// socket to take everything, within the write timeout.
func (cn *conn) execWrite(j job, closed bool) {
	if j.kind == jobClose {
		if !closed {
			_ = cn.nc.Close() // TLS: close_notify (bounded by Go at 5 s), then the socket
		}
		cn.terminate()
		j.op.Complete(func(w *engine.Worker, a *engine.Args) {
			cn.opDone()
			a.Nil()
		})
		return
	}
	if closed {
		cn.fail(j.op, cn.closeErr())
		return
	}
	if cn.wt > 0 {
		_ = cn.nc.SetWriteDeadline(time.Now().Add(cn.wt))
	}
	_, err := cn.nc.Write(j.data)
	if cn.wt > 0 {
		_ = cn.nc.SetWriteDeadline(time.Time{})
	}
	switch {
	case err == nil:
	case cn.terminated.Load():
		err = cn.closeErr()
	case errors.Is(err, os.ErrDeadlineExceeded):
		err = engine.WithCode("ETIMEDOUT", fmt.Errorf("network: write timed out (write_timeout %s s) on %s", seconds(cn.wt), cn.describe()))
	}
	cn.completeWrite(j.op, err)
}

func (cn *conn) completeWrite(op *engine.Op, err error) {
	op.Complete(func(w *engine.Worker, a *engine.Args) {
		cn.opDone()
		a.Error(err)
	})
}

// ---- close ----

// close closes the connection for op once the writes issued before it are done. Loop only.
func (cn *conn) close(op *engine.Op) {
	cn.pending++
	if cn.closing {
		cn.fail(op, cn.closeErr())
		return
	}
	cn.closing = true
	cn.detach()
	if !cn.tls && cn.wr.idle() {
		// Nothing to wait for, and closing a plain socket never blocks: at once.
		cn.terminate()
		op.Complete(func(w *engine.Worker, a *engine.Args) {
			cn.opDone()
			a.Nil()
		})
		return
	}
	if cn.wr.submit(job{kind: jobClose, op: op}, nil, false) == refused {
		cn.terminate()
		cn.fail(op, cn.closeErr())
	}
}

// ---- errors and names ----

// opError is a failed system call of a direct read or write, as Go's net package words it
// ("read tcp 127.0.0.1:1->127.0.0.1:2: read: connection reset by peer").
func (cn *conn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: cn.kind, Source: cn.raw.LocalAddr(), Addr: cn.raw.RemoteAddr(), Err: err}
}

// describe names the connection in messages.
func (cn *conn) describe() string {
	return cn.kind + " " + cn.local + "->" + cn.remote
}

// seconds formats a duration as a number of seconds, as scripts give them.
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'g', -1, 64)
}
