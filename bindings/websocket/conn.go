package websocket

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	ws "github.com/fasthttp/websocket"

	"github.com/drlee/drlee/engine"
)

// connOpts are a connection's limits, from dial's, create_server's or upgrade's options.
type connOpts struct {
	rt, wt       time.Duration // each read may wait this long for a message, each write for the socket; 0: none
	closeTimeout time.Duration // how long close waits for the peer's close frame
	maxMessage   int64         // the largest message read whole
}

var defaultConnOpts = connOpts{closeTimeout: defaultCloseTimeout, maxMessage: defaultMaxMessage}

var (
	errClosed    = engine.NewError("ECLOSED", "websocket: the connection is closed")
	errShutdown  = engine.NewError("ECLOSED", "websocket: the connection is closed: the engine is shutting down")
	errRaised    = engine.NewError("ECLOSED", "websocket: the connection is closed: its handler raised an error")
	errCollected = engine.NewError("ECLOSED", "websocket: the connection is closed: Lua collected it")
	errGone      = engine.NewError("ECONNRESET", "websocket: the peer closed the connection without a close frame (1006)")
	errBadText   = engine.NewError("EPROTO", "websocket: the peer sent a text message that is not UTF-8: closed with 1007")
)

// conn is a websocket connection: dialed, accepted by a server, or upgraded from an HTTP
// request. Its Go side is shared by the worker's loop (the Lua methods) and its two lanes'
// goroutines (the library's Conn allows one reader and one writer at a time, and its
// WriteControl, used for pongs and close frames, beside them); the Lua object is the loop's.
type conn struct {
	st            *wsState
	ws            *ws.Conn
	raw           net.Conn // the socket (under TLS): closing it never blocks
	local, remote string
	o             connOpts
	ep            *endpoint // the server endpoint that accepted it (nil: dialed or upgraded)

	rd, wr lane
	done   chan struct{}  // closed by terminate
	lanes  sync.WaitGroup // the lanes' goroutines, while they run

	why        atomic.Pointer[error] // why it was closed, for later operations
	terminated atomic.Bool
	termOnce   sync.Once

	// The read deadline is set by the reader lane (read_timeout) and by close (the wait for
	// the peer's close frame); dl orders them, so that a read never clears close's.
	dl        sync.Mutex
	closeSent bool // under dl: our close frame went (or is going) out

	// Loop only.
	closing   bool // conn:close was called, or the runtime closed it: no new operations
	pending   int  // operations issued and not completed
	collected bool // Lua collected the object
	wc        *workerConns
}

// Closed reports a connection closed with nothing of it in flight, which Open (drlee
// test's leak check) then does not count (engine.ClosedReporter). Loop only.
func (c *conn) Closed() bool { return c.closing && c.pending == 0 }

func newConn(st *wsState, c *ws.Conn, raw net.Conn, o connOpts, ep *endpoint) *conn {
	cn := &conn{st: st, ws: c, raw: raw, o: o, ep: ep, done: make(chan struct{})}
	cn.local = addrString(raw.LocalAddr())
	cn.remote = addrString(raw.RemoteAddr())
	cn.rd = lane{name: "websocket: reader", exec: cn.execRead, goFn: st.e.Go, wg: &cn.lanes}
	cn.wr = lane{name: "websocket: writer", exec: cn.execWrite, goFn: st.e.Go, wg: &cn.lanes}
	c.SetReadLimit(o.maxMessage)
	return cn
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// wait waits until the connection is closed and its lanes no longer touch it: a hijacked
// connection's handler returns then, and fasthttp recycles what the library's Conn reads
// through.
func (cn *conn) wait() {
	<-cn.done
	cn.lanes.Wait()
}

func (cn *conn) closeErr() error {
	if p := cn.why.Load(); p != nil {
		return *p
	}
	return errClosed
}

// terminate closes the socket now (no close frame): jobs waiting in the lanes fail, their
// goroutines end, the engine forgets the connection. Idempotent; safe from any goroutine.
func (cn *conn) terminate() {
	cn.termOnce.Do(func() {
		cn.terminated.Store(true)
		cn.rd.shut()
		cn.wr.shut()
		_ = cn.raw.Close()
		close(cn.done)
		cn.st.forget(cn)
		if cn.ep != nil {
			cn.ep.open.Add(-1)
		}
	})
}

// terminateFor is terminate with the reason later operations are told.
func (cn *conn) terminateFor(why error) {
	if !cn.terminated.Load() {
		cn.why.CompareAndSwap(nil, &why)
	}
	cn.terminate()
}

// shutWith closes the connection the runtime's way (shutdown, a raise, Lua collecting
// it): a close frame with code, a short wait for the peer's (shutWait), then the socket.
// An operation of its own, with no callback, keeps the worker alive meanwhile, so that the
// close frame goes out before the worker's end cuts the socket; not while the worker's
// state closes (nothing can be reserved then: the engine's close cuts it). Loop only.
func (cn *conn) shutWith(w *engine.Worker, code int, reason string, why error) {
	if cn.closing {
		return
	}
	cn.closing = true
	cn.detach()
	cn.why.CompareAndSwap(nil, &why)
	if cn.terminated.Load() {
		cn.terminate()
		return
	}
	var op *engine.Op
	if !w.Closing() {
		op = w.Reserve(0)
		cn.pending++
	}
	if !cn.wr.submit(job{kind: jobClose, op: op, code: code, reason: reason, quick: true}) {
		cn.terminate()
		cn.completeClose(op)
	}
}

// shutWait bounds the wait for the peer's close frame when the runtime closes a connection.
const shutWait = time.Second

func (cn *conn) opDone(w *engine.Worker) {
	cn.pending--
	if cn.collected && cn.pending == 0 && !cn.closing {
		cn.shutWith(w, ws.CloseGoingAway, "", errCollected)
	}
}

func (cn *conn) detach() {
	if cn.wc != nil {
		delete(cn.wc.set, cn)
		cn.wc = nil
	}
}

// finalize: Lua collected the object, or the worker's state is closing. Loop only.
func (cn *conn) finalize(w *engine.Worker) {
	cn.detach()
	cn.collected = true
	if cn.pending == 0 || w.Closing() {
		cn.shutWith(w, ws.CloseGoingAway, "", errCollected)
	}
}

func (cn *conn) fail(op *engine.Op, err error) {
	if op == nil {
		return
	}
	op.Complete(func(w *engine.Worker, a *engine.Args) {
		cn.opDone(w)
		a.Error(err)
	})
}

// ---- reads ----

// read queues a read of the next message for op. Loop only.
func (cn *conn) read(op *engine.Op) {
	cn.pending++
	if cn.closing || !cn.rd.submit(job{kind: jobRead, op: op}) {
		cn.fail(op, cn.closeErr())
	}
}

// execRead reads on the reader lane's goroutine: the next message, whole (the library
// joins fragments and answers pings while it reads), or the peer's close frame. A read
// that fails leaves the library's Conn unusable, so any failure closes the connection.
func (cn *conn) execRead(j job, closed bool) {
	if j.kind == jobClose {
		cn.drain(j, closed)
		return
	}
	if closed {
		cn.fail(j.op, cn.closeErr())
		return
	}
	cn.setReadDeadline(cn.o.rt)
	mt, data, err := cn.ws.ReadMessage()
	cn.setReadDeadline(0)
	if err == nil {
		if mt == ws.TextMessage && !utf8.Valid(data) {
			_ = cn.ws.WriteControl(ws.CloseMessage, ws.FormatCloseMessage(ws.CloseInvalidFramePayloadData, "text is not UTF-8"), time.Now().Add(time.Second))
			cn.terminateFor(errBadText)
			cn.fail(j.op, errBadText)
			return
		}
		kind := "text"
		if mt == ws.BinaryMessage {
			kind = "binary"
		}
		j.op.Complete(func(w *engine.Worker, a *engine.Args) {
			cn.opDone(w)
			a.Nil()
			a.Table(0, 2)
			a.String("type")
			a.String(kind)
			a.String("data")
			a.Bytes(data)
		})
		return
	}
	var ce *ws.CloseError
	cn.dl.Lock()
	ours := cn.closeSent
	cn.dl.Unlock()
	switch {
	case errors.As(err, &ce) && ce.Code != ws.CloseAbnormalClosure:
		if ours { // the peer's answer to our close: the handshake is over
			cn.terminate()
			cn.fail(j.op, cn.closeErr())
			return
		}
		// The peer closes: the library has answered with the same code already.
		code, reason := ce.Code, ce.Text
		why := engine.NewError("ECLOSED", "websocket: the connection is closed: the peer closed it ("+closeText(code, reason)+")")
		cn.terminateFor(why)
		j.op.Complete(func(w *engine.Worker, a *engine.Args) {
			cn.opDone(w)
			a.Nil()
			a.Table(0, 3)
			a.String("type")
			a.String("close")
			a.String("code")
			a.Int(int64(code))
			a.String("reason")
			a.String(reason)
		})
		return
	case cn.terminated.Load() || ours:
		cn.terminate()
		err = cn.closeErr()
	case errors.Is(err, ws.ErrReadLimit):
		err = engine.WithCode("EMSGSIZE", fmt.Errorf("websocket: a message from %s is over max_message (%d bytes): closed with 1009", cn.remote, cn.o.maxMessage))
		cn.terminateFor(err)
	case errors.Is(err, os.ErrDeadlineExceeded):
		err = engine.WithCode("ETIMEDOUT", fmt.Errorf("websocket: no message within read_timeout (%s s) from %s: the connection is closed", seconds(cn.o.rt), cn.remote))
		_ = cn.ws.WriteControl(ws.CloseMessage, ws.FormatCloseMessage(ws.CloseGoingAway, "read timeout"), time.Now().Add(time.Second))
		cn.terminateFor(err)
	case errors.As(err, &ce): // 1006: the socket ended with no close frame
		err = errGone
		cn.terminateFor(err)
	default:
		if engine.ErrorCode(err) == engine.CodeUnknown { // the library's protocol errors; it sent 1002
			err = engine.WithCode("EPROTO", err)
		}
		cn.terminateFor(err)
	}
	cn.fail(j.op, err)
}

// setReadDeadline sets the read deadline d from now (0: none), unless close has set its own.
func (cn *conn) setReadDeadline(d time.Duration) {
	if cn.o.rt == 0 {
		return
	}
	cn.dl.Lock()
	defer cn.dl.Unlock()
	if cn.closeSent {
		return
	}
	var t time.Time
	if d > 0 {
		t = time.Now().Add(d)
	}
	_ = cn.ws.SetReadDeadline(t)
}

// drain runs on the reader lane after our close frame went out: it reads (and drops) until
// the peer's close frame, an error, or the deadline close set, then closes the socket.
func (cn *conn) drain(j job, closed bool) {
	if !closed {
		for {
			if _, _, err := cn.ws.ReadMessage(); err != nil {
				break
			}
		}
	}
	cn.terminate()
	cn.completeClose(j.op)
}

func (cn *conn) completeClose(op *engine.Op) {
	if op == nil {
		return
	}
	op.Complete(func(w *engine.Worker, a *engine.Args) {
		cn.opDone(w)
		a.Nil()
	})
}

// ---- writes ----

// write queues a message (data copied: Lua's bytes are valid only during the call). Loop only.
func (cn *conn) write(op *engine.Op, data []byte, binary bool) {
	cn.pending++
	if cn.closing || !cn.wr.submit(job{kind: jobWrite, op: op, data: append([]byte(nil), data...), binary: binary}) {
		cn.fail(op, cn.closeErr())
	}
}

// execWrite writes a message, or the close frame, on the writer lane's goroutine.
func (cn *conn) execWrite(j job, closed bool) {
	if j.kind == jobClose {
		cn.sendClose(j, closed)
		return
	}
	if closed {
		cn.fail(j.op, cn.closeErr())
		return
	}
	if cn.o.wt > 0 {
		_ = cn.ws.SetWriteDeadline(time.Now().Add(cn.o.wt))
	}
	mt := ws.TextMessage
	if j.binary {
		mt = ws.BinaryMessage
	}
	err := cn.ws.WriteMessage(mt, j.data)
	if cn.o.wt > 0 {
		_ = cn.ws.SetWriteDeadline(time.Time{})
	}
	if err != nil {
		switch {
		case cn.terminated.Load() || errors.Is(err, ws.ErrCloseSent):
			err = cn.closeErr()
		case errors.Is(err, os.ErrDeadlineExceeded):
			err = engine.WithCode("ETIMEDOUT", fmt.Errorf("websocket: write timed out (write_timeout %s s) to %s: the connection is closed", seconds(cn.o.wt), cn.remote))
		}
		cn.terminateFor(err) // a failed write leaves a frame cut: the connection cannot go on
	}
	cn.fail(j.op, err) // nil: success
}

// sendClose sends the close frame after the writes queued before it, then has the reader
// lane wait for the peer's, within close_timeout (shutWait when the runtime closes).
func (cn *conn) sendClose(j job, closed bool) {
	if closed {
		cn.completeClose(j.op)
		return
	}
	wait := cn.o.closeTimeout
	if j.quick {
		wait = min(wait, shutWait)
	}
	deadline := time.Now().Add(wait)
	cn.dl.Lock()
	cn.closeSent = true
	_ = cn.ws.SetReadDeadline(deadline) // a read waiting in the reader lane ends by then too
	cn.dl.Unlock()
	if err := cn.ws.WriteControl(ws.CloseMessage, ws.FormatCloseMessage(j.code, j.reason), deadline); err != nil {
		cn.terminate()
		cn.completeClose(j.op)
		return
	}
	if !cn.rd.submit(job{kind: jobClose, op: j.op, quick: j.quick}) {
		cn.terminate() // the reader saw the peer's close, or the end, meanwhile
		cn.completeClose(j.op)
	}
}

// close starts the close handshake for op: after the writes issued before it, a close frame
// with code and reason, then the peer's, then the socket. Loop only.
func (cn *conn) close(op *engine.Op, code int, reason string) {
	cn.pending++
	if cn.closing {
		cn.fail(op, cn.closeErr())
		return
	}
	cn.closing = true
	cn.detach()
	if cn.terminated.Load() || !cn.wr.submit(job{kind: jobClose, op: op, code: code, reason: reason}) {
		// The peer closed it, or it went away: closed already, which is what was asked.
		cn.terminate()
		cn.completeClose(op)
	}
}

// closeText is "1000 bye" or "1000" for messages.
func closeText(code int, reason string) string {
	if reason == "" {
		return strconv.Itoa(code)
	}
	return strconv.Itoa(code) + " " + reason
}

func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'g', -1, 64)
}
