package httpclient

import (
	"io"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// Response is the status and headers of an HTTP response, with its body
// still to be read through ReadAsync. Read it to the end or Close it.
type Response struct {
	// StatusCode is the numeric status, e.g. 200.
	StatusCode int
	// Status is the code and reason phrase, e.g. "200 OK".
	Status string
	// Headers holds every response header line with canonical names
	// ("Content-Type"). Values of one name keep their received order; fasthttp
	// lists Content-Length, Content-Type, Content-Encoding, Server and
	// Set-Cookie before the other headers.
	Headers [][2]string
	// ContentLength is the announced body length, -1 if unknown (chunked or
	// until close).
	ContentLength int64
	// URL is the URL that produced this response (after redirects).
	URL string

	b *body
}

// Header returns the first value of the named header (case-insensitive),
// or "".
func (r *Response) Header(name string) string {
	for _, h := range r.Headers {
		if strings.EqualFold(h[0], name) {
			return h[1]
		}
	}
	return ""
}

// ReadAsync reads up to n bytes of the body (n <= 0 or n above
// Options.MaxReadSize means Options.MaxReadSize) and calls done exactly once
// with the bytes read, which may be fewer than n. At the end of the body done
// gets an empty non-nil slice and a nil error, on every further call too.
// After an error every further read gets the same error; after Close reads
// get ErrClosed.
//
// ReadAsync never blocks. done runs either synchronously, before ReadAsync
// returns, when no network read is needed, or on the response's own body
// goroutine (never a shared pool worker). Reads issued while earlier ones
// are pending are queued and completed in order. data belongs to the callee.
func (r *Response) ReadAsync(n int, done func(data []byte, err error)) {
	r.b.read(n, done)
}

// Close releases the response. It never blocks: pending reads get ErrClosed,
// and the connection is drained (see Options.DrainLimit) or closed and
// returned to the pool in the background. It is idempotent and always
// returns nil.
func (r *Response) Close() error {
	r.b.close(nil)
	return nil
}

// Closed reports whether Close (or CloseAsync) was called: what `drlee test` asks of a
// response a test kept (engine.ClosedReporter).
func (r *Response) Closed() bool {
	r.b.mu.Lock()
	defer r.b.mu.Unlock()
	return r.b.closed
}

// CloseAsync is Close with a callback, called once the connection has been
// returned to the pool or closed: synchronously if there is nothing left to
// do, otherwise from the body goroutine. Every call's done is called.
func (r *Response) CloseAsync(done func()) {
	r.b.close(done)
}

// directReadSize is the largest read served straight into a right-sized
// buffer; larger reads go through a pooled scratch buffer and are copied out
// at their actual length.
const directReadSize = 8 << 10

var scratchPool = sync.Pool{New: func() any { b := make([]byte, DefaultMaxReadSize); return &b }}

var emptyData = []byte{}

type readOp struct {
	n    int
	done func([]byte, error)
}

// body is the state of a response body. It never points back at its
// Response, so the Response can be garbage collected (and its cleanup close
// the body) while reads are pending.
type body struct {
	method, url  string
	timeout      time.Duration
	maxRead      int
	drainLimit   int
	drainTimeout time.Duration
	// intr interrupts a blocked stream read from another goroutine. It is set
	// once at construction; CloseWithError is a no-op after the first call.
	intr fasthttp.ReadCloserWithError
	goFn func(name string, fn func()) bool // Options.Go, or a go statement

	mu       sync.Mutex
	queue    []readOp
	waiters  []func()
	running  bool // a goroutine owns fr/stream and serves the queue
	reading  bool // that goroutine is inside a stream read
	closed   bool
	released bool // the fasthttp response is released (or there never was one)
	eof      bool
	err      error
	buf      []byte // buffered body bytes not yet returned

	// Owned by the goroutine that set running (or by newResponse).
	fr        *fasthttp.Response
	stream    io.Reader
	remaining int64 // unread bytes of a known-length body, else -1
	scratch   *[]byte
}

func (b *body) read(n int, done func([]byte, error)) {
	if n <= 0 || n > b.maxRead {
		n = b.maxRead
	}
	b.mu.Lock()
	if !b.running {
		if data, err, ok := b.immediateLocked(n); ok {
			b.mu.Unlock()
			done(data, err)
			return
		}
	}
	b.queue = append(b.queue, readOp{n: n, done: done})
	if b.running {
		b.mu.Unlock()
		return
	}
	b.running = true
	b.mu.Unlock()
	b.start()
}

// start runs the body goroutine, which owns fr and stream while running is
// set; the caller has just set running. The goroutine ends once no read is
// queued, or once it has released the connection after Close. When the
// client's owner refuses the goroutine (Options.Go: it has ended), nothing
// can read any more: the body is closed here and now, without the drain,
// which could block the caller.
func (b *body) start() {
	if b.goFn("httpclient: response body", b.run) {
		return
	}
	b.mu.Lock()
	b.closed = true
	b.drainLimit = -1 // owned by whoever set running: this goroutine, now
	b.finish()
}

// interrupt makes the body goroutine's blocked stream read return now.
// CloseWithError waits for that read to give up its lock, so it runs on a
// goroutine of its own; once the client's owner has ended (Go refused), on
// the caller's, which then waits for the interrupted read to return.
func (b *body) interrupt() {
	stop := func() { _ = b.intr.CloseWithError(ErrClosed) }
	if !b.goFn("httpclient: interrupt a body read", stop) {
		stop()
	}
}

// immediateLocked returns the result of a read that needs no network I/O.
func (b *body) immediateLocked(n int) (data []byte, err error, ok bool) {
	switch {
	case b.closed:
		return nil, ErrClosed, true
	case b.err != nil:
		return nil, b.err, true
	case len(b.buf) > 0:
		k := min(n, len(b.buf))
		data = b.buf[:k:k]
		b.buf = b.buf[k:]
		if len(b.buf) == 0 {
			b.buf = nil
			b.eof = true
		}
		return data, nil, true
	case b.eof:
		return emptyData, nil, true
	}
	return nil, nil, false
}

func (b *body) close(done func()) {
	b.mu.Lock()
	if b.released && !b.running {
		b.closed = true
		b.buf = nil
		b.mu.Unlock()
		if done != nil {
			done()
		}
		return
	}
	if done != nil {
		b.waiters = append(b.waiters, done)
	}
	if b.closed {
		b.mu.Unlock()
		return
	}
	b.closed = true
	if b.running {
		// The body goroutine fails the queue and releases once its current
		// read returns; make a blocked read return now.
		blocked := b.reading && b.intr != nil
		b.mu.Unlock()
		if blocked {
			b.interrupt()
		}
		return
	}
	b.running = true
	b.mu.Unlock()
	b.start()
}

// run is the body goroutine: it serves queued reads, then exits; on close it
// fails what is queued and releases the connection (draining it first, within
// Options.DrainTimeout), then exits.
func (b *body) run() {
	for {
		b.mu.Lock()
		if b.closed {
			b.finish()
			return
		}
		if len(b.queue) == 0 {
			b.running = false
			b.mu.Unlock()
			return
		}
		op := b.queue[0]
		b.queue[0] = readOp{}
		b.queue = b.queue[1:]
		if data, err, ok := b.immediateLocked(op.n); ok {
			b.mu.Unlock()
			op.done(data, err)
			continue
		}
		b.reading = true
		b.mu.Unlock()

		data, eof, err := b.readStream(op.n)

		b.mu.Lock()
		b.reading = false
		if eof {
			b.eof = true
			b.released = true
		}
		if err != nil {
			b.err = err
			b.released = true
		}
		closed := b.closed
		b.mu.Unlock()
		switch {
		case closed:
			op.done(nil, ErrClosed)
		case len(data) > 0:
			op.done(data, nil)
		case err != nil:
			op.done(nil, err)
		default:
			op.done(emptyData, nil)
		}
	}
}

// finish is called with mu held and closed set; it unlocks.
func (b *body) finish() {
	pending := b.queue
	b.queue = nil
	b.mu.Unlock()
	for _, op := range pending {
		op.done(nil, ErrClosed)
	}

	if b.fr != nil {
		if b.drainLimit < 0 || (b.remaining >= 0 && b.remaining > int64(b.drainLimit)) {
			b.releaseStream(errAbandoned)
		} else {
			drain(b.fr, b.intr, int64(b.drainLimit), b.drainTimeout)
			b.releaseStream(nil)
		}
	}

	b.mu.Lock()
	b.released = true
	b.running = false
	b.buf = nil
	pending = b.queue // queued after the first sweep, before running was cleared
	b.queue = nil
	waiters := b.waiters
	b.waiters = nil
	b.mu.Unlock()
	for _, op := range pending {
		op.done(nil, ErrClosed)
	}
	for _, w := range waiters {
		w()
	}
}

// readStream does one network read of at most n bytes. It releases the
// stream at the end of the body (returning the connection to the pool) or on
// error. err is the sticky error to report from now on; data read before it
// is still returned.
func (b *body) readStream(n int) (data []byte, eof bool, err error) {
	size := n
	if b.remaining > 0 && int64(size) > b.remaining {
		size = int(b.remaining)
	}
	var buf []byte
	direct := size <= directReadSize
	if direct {
		buf = make([]byte, size)
	} else {
		if b.scratch == nil {
			b.scratch = scratchPool.Get().(*[]byte) //nolint:forcetypeassert
		}
		if cap(*b.scratch) < size {
			*b.scratch = make([]byte, size)
		}
		buf = (*b.scratch)[:size]
	}
	var k int
	var rerr error
	for k == 0 && rerr == nil {
		k, rerr = b.stream.Read(buf)
	}
	if b.remaining >= 0 {
		b.remaining -= int64(k)
	}
	if k > 0 {
		if direct {
			data = buf[:k:k]
		} else {
			data = append([]byte(nil), buf[:k]...)
		}
	}
	switch {
	case rerr == nil:
		return data, false, nil
	case rerr == io.EOF:
		b.releaseStream(nil)
		return data, true, nil
	default:
		err = wrapErr(b.method, b.url, "reading body", rerr, b.timeout)
		b.releaseStream(err)
		return data, false, err
	}
}

// releaseStream closes the body stream (with err: the connection is closed;
// without: it is pooled if the body was read to the end) and releases the
// fasthttp response. Owner goroutine only.
func (b *body) releaseStream(err error) {
	if b.fr == nil {
		return
	}
	if err != nil && b.intr != nil {
		_ = b.intr.CloseWithError(err)
	}
	_ = b.fr.CloseBodyStream()
	fasthttp.ReleaseResponse(b.fr)
	b.fr = nil
	b.stream = nil
	if b.scratch != nil {
		if cap(*b.scratch) == DefaultMaxReadSize {
			scratchPool.Put(b.scratch)
		}
		b.scratch = nil
	}
}
