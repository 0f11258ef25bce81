package http

import (
	"errors"
	"io"
	"sync/atomic"

	"github.com/drlee/drlee/engine"
)

// A streamed response: once a response's writes span callbacks (startStreaming), the loop
// queues each res:write as a chunk and the connection goroutine writes it to the client as
// soon as it can, framed (chunked encoding) and flushed; the write's callback runs once the
// chunk is out.
//
// The body is handed to fasthttp as a stream (SetBodyStream) that writes itself
// (fasthttp.BodyWriterTo): fasthttp frames and flushes every Write of WriteTo. Its
// SetBodyStreamWriter would instead run the writer on a goroutine of its own behind an
// in-memory pipe, two more goroutine hand-offs and two more copies per chunk. Chunk data is
// copied out of Lua into buffers the request keeps and reuses once they are written, and
// the queue's slices are swapped, not reallocated: a stream allocates nothing per chunk,
// which also spares the collector (it ran every ~12 responses of 16 chunks before).
//
// A stream ends when the script finishes it, or by itself when it can no longer be
// written (a write failed: the client left, the write timeout): then the loop's side ends
// too (streamEnded), so that an abandoned stream never holds its worker.

type chunk struct {
	data  []byte     // a copy of what Lua wrote; nil for none
	op    *engine.Op // completes when the chunk is flushed (nil: no callback)
	final bool
	cut   bool // final, because a raise ended the response: the stream fails instead
	raw   bool // data is the framed rest of a direct write: written to the connection as it is
	// payload: of a raw chunk, the bytes of what Lua wrote in it (the rest is framing), for
	// the access log's byte count
	payload int
}

const (
	maxKeptBuf  = 64 << 10 // larger chunk buffers are not kept for reuse
	maxKeptBufs = 4        // buffers a request keeps for reuse
)

// queueWrite copies data into a chunk and hands it to the connection goroutine, or writes
// it to the connection itself when it can (writeDirectLocked). It reports false when the
// stream is gone.
func (rs *request) queueWrite(data []byte, op *engine.Op) bool {
	rs.mu.Lock()
	if rs.state != stateStreaming {
		rs.mu.Unlock()
		return false
	}
	if rs.parked && len(rs.chunks) == 0 {
		if len(data) == 0 { // nothing to send (a zero-length chunk would end the body)
			rs.mu.Unlock()
			if op != nil {
				op.CompleteSoon(nil)
			}
			return true
		}
		rest, left := rs.writeDirectLocked(data)
		if rest == nil {
			rs.mu.Unlock()
			if op != nil {
				op.CompleteSoon(nil) // out: on the loop's next turn, no hand-off
			}
			return true
		}
		// The socket took part of it, or failed: the connection goroutine writes the rest,
		// waiting for the client as a blocking write does, or fails as a chunk fails.
		rs.chunks = append(rs.chunks, chunk{data: rest, op: op, raw: true, payload: left})
		rs.mu.Unlock()
		rs.cond.Signal()
		return true
	}
	rs.chunks = append(rs.chunks, chunk{data: append(rs.bufLocked(len(data)), data...), op: op})
	rs.mu.Unlock()
	rs.cond.Signal()
	return true
}

// writeDirectLocked writes data to the client from the loop, framed as fasthttp frames a
// chunk, while the connection goroutine is parked with nothing of the response in its
// buffer (rs.parked) and nothing is queued before it. It does not wait: what the socket
// does not take now comes back as rest (a copy) for the connection goroutine to write as it
// is (a raw chunk); nil when all of it went out. left is how much of data is in rest (the
// access log counts data, not framing). Skipping the hand-off to the connection
// goroutine and back, twice per chunk, is most of what a streamed chunk costs otherwise.
//
// A write that fails (the client left) also comes back whole: the connection goroutine's
// write of it fails the same way, and the stream then ends as any failed chunk ends it,
// the write's callback queued before the stream's end (streamEnded), so that the callback
// still finds the request readable. rs.mu held.
func (rs *request) writeDirectLocked(data []byte) (rest []byte, left int) {
	h := appendHex(rs.chunkHead[:0], len(data)) // the size in hex, CRLF
	h = append(h, '\r', '\n')
	n, err := rs.conn.TryWrite(h, data, crlf)
	if err != nil {
		n = 0
	}
	total := len(h) + len(data) + len(crlf)
	sent := min(max(n-len(h), 0), len(data))
	if rs.ep.obs != nil {
		rs.streamed.Add(int64(sent))
	}
	if n == total {
		return nil, 0
	}
	partialDirectWrites.Add(1)
	rest = rs.bufLocked(total - n)
	for _, b := range [3][]byte{h, data, crlf} {
		if n >= len(b) {
			n -= len(b)
			continue
		}
		rest = append(rest, b[n:]...)
		n = 0
	}
	return rest, len(data) - sent
}

var crlf = []byte("\r\n")

// partialDirectWrites counts the direct writes the socket took only part of, or failed
// (the tests make sure that path runs).
var partialDirectWrites atomic.Int64

// appendHex appends n (not negative) in lower-case hexadecimal, as fasthttp frames chunk
// sizes.
func appendHex(b []byte, n int) []byte {
	const digits = "0123456789abcdef"
	var tmp [16]byte
	i := len(tmp)
	for {
		i--
		tmp[i] = digits[n&15]
		n >>= 4
		if n == 0 {
			break
		}
	}
	return append(b, tmp[i:]...)
}

// queueChunk hands a chunk without data (a flush, or the final one) to the connection
// goroutine. (A flush with everything out does not come here: resFlush completes it at
// once, allOut.) It reports false when the stream is gone.
func (rs *request) queueChunk(c chunk) bool {
	rs.mu.Lock()
	if rs.state != stateStreaming {
		rs.mu.Unlock()
		return false
	}
	rs.chunks = append(rs.chunks, c)
	rs.mu.Unlock()
	rs.cond.Signal()
	return true
}

// allOut reports whether everything written to the stream is out: the connection
// goroutine is parked with nothing queued, so that a flush completes at once (and only
// the loop queues chunks, so it stays so until the loop writes again). False when a
// chunk must carry the flush (the connection goroutine then completes it once the chunks
// before it are out), or the stream is gone (queueChunk says which). Loop only.
func (rs *request) allOut() bool {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.state == stateStreaming && rs.parked && len(rs.chunks) == 0
}

// bufLocked returns an empty buffer for n bytes, a kept one when one is big enough. rs.mu
// held.
func (rs *request) bufLocked(n int) []byte {
	if k := len(rs.freeBufs); k > 0 && cap(rs.freeBufs[k-1]) >= n {
		b := rs.freeBufs[k-1]
		rs.freeBufs[k-1] = nil
		rs.freeBufs = rs.freeBufs[:k-1]
		return b[:0]
	}
	return make([]byte, 0, max(n, 4096))
}

// responseStream is the body of a streamed response, as fasthttp sees it. Only the
// connection goroutine calls its methods.
type responseStream struct {
	rs    *request // nil once end ran
	final bool     // the final chunk was written: the loop's side ended first
	// out: the headers and every chunk taken so far are out of fasthttp's buffer (it
	// flushes each chunk; the headers go with the first, or at once when the stream began
	// with nothing written), so that the loop may write to the connection itself while
	// WriteTo waits.
	out bool
}

var (
	errStreamAbandoned = errors.New("http: response stream abandoned: the worker ended")
	errStreamCut       = errors.New("http: response stream cut: the handler raised an error")
	errStreamRead      = errors.New("http: a streamed response body is written with WriteTo, not read")
	errStreamClosed    = errors.New("http: response stream closed before its body was written (a HEAD request, or the client left)")
)

// SupportsBodyWriteTo tells fasthttp that WriteTo may replace Read.
func (s *responseStream) SupportsBodyWriteTo() bool { return true }

// WriteTo writes chunks as the loop queues them until the final one, each chunk (or each
// batch queued together) as one Write, which fasthttp frames and flushes. It runs on the
// connection goroutine once the response headers are out.
func (s *responseStream) WriteTo(w io.Writer) (int64, error) {
	rs := s.rs
	var done []chunk
	defer func() {
		rs.mu.Lock()
		rs.recycleLocked(done) // the last batch's buffers serve the next stream of rs
		rs.mu.Unlock()
		s.end(errClientGone)
	}()
	var total int64
	for {
		chunks, ok := rs.takeChunks(done, s.out && rs.conn != nil)
		done = chunks
		if !ok {
			// Abandoned (the worker is gone, or a direct write failed): an error, so that
			// fasthttp closes the connection and the client sees a cut body, not a
			// complete one.
			return total, errStreamAbandoned
		}
		var err error
		if chunks[0].raw { // the rest of a direct write: framed already
			var n int
			n, err = rs.conn.Write(chunks[0].data)
			total += int64(n)
			if err == nil && rs.ep.obs != nil {
				rs.streamed.Add(int64(chunks[0].payload))
			}
			if err == nil && len(chunks) > 1 {
				rs.completeChunks(chunks[:1], nil)
				chunks = chunks[1:]
			}
		}
		final, cut := false, false
		for _, c := range chunks {
			final = final || c.final
			cut = cut || c.cut
		}
		if err == nil && !chunks[0].raw {
			data := chunks[0].data
			if len(chunks) > 1 { // one framed, flushed Write for a batch: one system call
				joined := rs.joined[:0]
				for _, c := range chunks {
					joined = append(joined, c.data...)
				}
				data = joined
				if cap(joined) <= maxKeptBuf {
					rs.joined = joined
				}
			}
			if len(data) > 0 {
				var n int
				n, err = w.Write(data)
				total += int64(n)
				if rs.ep.obs != nil {
					rs.streamed.Add(int64(n))
				}
				s.out = s.out || err == nil
			}
		}
		rs.completeChunks(chunks, err)
		if final {
			s.final = true
			if cut {
				// An error, so that fasthttp closes the connection without the last
				// chunk: the client sees a failed response, not a complete one.
				return total, errStreamCut
			}
			return total, nil
		}
		if err != nil {
			rs.abandonStream(err)
			return total, err
		}
	}
}

// Read is there because fasthttp takes a body stream as an io.Reader; it writes a chunked
// one with WriteTo (SupportsBodyWriteTo), and nothing here reads it any other way (no
// compression, no Response.Body of a stream). Reading fails rather than guessing when a
// chunk counts as sent.
func (s *responseStream) Read(p []byte) (int, error) { return 0, errStreamRead }

// Close is called by fasthttp when it is done with the body, written or not (a HEAD
// request, a write error): whatever is still queued fails.
func (s *responseStream) Close() error {
	s.end(errStreamClosed)
	return nil
}

// end finishes the stream once: later writes fail with err, the worker stops tracking it,
// and the body stream's reference on the request is dropped. A stream that ended before
// the script finished it (a write failed: the client left, or a write timed out) is ended
// on the loop too (streamEnded), so that it no longer holds its worker: a script that
// gives up on it without calling finish must not keep the worker alive until the shutdown
// timeout.
func (s *responseStream) end(err error) {
	rs := s.rs
	if rs == nil {
		return
	}
	s.rs = nil
	rs.abandonStream(err)
	rs.streamEnds() // its access log line and count (accesslog.go)
	ep := rs.ep
	ep.streamsMu.Lock()
	delete(ep.streams, rs)
	ep.streamsMu.Unlock()
	if !s.final {
		rs.refs.Add(1) // the task's: rs must not be recycled before it ran
		if ep.w.Post(engine.TaskFunc(rs.streamEnded)) != nil {
			rs.release() // the worker has ended: nothing is left to end there
		}
	}
	rs.release()
}

// streamEnded runs on the loop once a stream ended before the script finished it: the
// loop's side of the request ends as complete would end it (objects released, the worker
// no longer held), and the response is remembered as ended (endedStreams), so that the
// script's later writes and finish get the stream's error in their callbacks. The write
// callbacks that got the error ran before (they were queued first), with req still
// readable. Unless the script finished the response meanwhile: then complete did all that.
func (rs *request) streamEnded(w *engine.Worker) {
	if !rs.finished {
		rs.finished = true
		rs.mu.Lock()
		gone := rs.gone
		rs.mu.Unlock()
		endedOf.Get(w).add(rs.resID, gone)
		w.Release(rs.reqID)
		w.Release(rs.resID)
		rs.releaseBuffer(w)
		rs.unsuspect(w)
		w.Unhold()
		rs.release() // the loop's reference
	}
	rs.release() // the task's
}

// endedStreams remembers, per worker, the responses whose streams ended by themselves:
// their objects are released, and a later res:write or res:finish finds the stream's
// error here to hand to its callback. The most recent maxEndedStreams are kept, so that
// responses a script never finishes cost bounded memory; a call on an older one raises
// "httpResponseWriter is closed", as on any response that is over. Loop only.
type endedStreams struct {
	errs map[uint64]error
	ring []uint64 // ids in the order they ended; ring[next] is the oldest once full
	next int
}

const maxEndedStreams = 4096

var endedOf = engine.NewWorkerLocal(func(*engine.Worker) *endedStreams {
	return &endedStreams{errs: map[uint64]error{}}
})

func (e *endedStreams) add(id uint64, err error) {
	if len(e.ring) < maxEndedStreams {
		e.ring = append(e.ring, id)
	} else {
		delete(e.errs, e.ring[e.next])
		e.ring[e.next] = id
		e.next = (e.next + 1) % maxEndedStreams
	}
	e.errs[id] = err
}

// endedStream reports the error of the response at argument 1 when its stream ended by
// itself (its object is released). Loop only.
func endedStream(w *engine.Worker, c *engine.Call) (error, bool) {
	id := w.ObjectID(c, 1, responseClass)
	if id == 0 {
		return nil, false
	}
	if _, live := w.Lookup(id); live {
		return nil, false
	}
	e := endedOf.Peek(w)
	if e == nil {
		return nil, false
	}
	err, ok := e.errs[id]
	return err, ok
}

// takeChunks gives back the batch taken before (written, its callbacks run), waits for
// queued chunks and takes them all; false when the stream was abandoned with nothing
// queued.
func (rs *request) takeChunks(done []chunk, canPark bool) ([]chunk, bool) {
	rs.mu.Lock()
	rs.recycleLocked(done)
	for len(rs.chunks) == 0 && rs.state == stateStreaming {
		rs.parked = canPark // the loop may write to the connection meanwhile
		rs.cond.Wait()
	}
	rs.parked = false
	chunks := rs.chunks
	rs.chunks, rs.spareChunks = rs.spareChunks, nil
	rs.mu.Unlock()
	return chunks, len(chunks) > 0
}

// recycleLocked keeps the buffers of written chunks and the batch's slice for reuse. rs.mu
// held.
func (rs *request) recycleLocked(done []chunk) {
	if done == nil {
		return
	}
	for i := range done {
		if b := done[i].data; b != nil && cap(b) <= maxKeptBuf && len(rs.freeBufs) < maxKeptBufs {
			rs.freeBufs = append(rs.freeBufs, b[:0])
		}
		done[i] = chunk{}
	}
	if rs.spareChunks == nil {
		rs.spareChunks = done[:0]
	}
}

// completeChunks runs the callbacks of written chunks, with the write's error.
func (rs *request) completeChunks(chunks []chunk, err error) {
	for i := range chunks {
		c := &chunks[i]
		if c.op == nil {
			continue
		}
		if err == nil {
			c.op.Complete(nil)
		} else {
			c.op.Complete(func(w *engine.Worker, a *engine.Args) { a.Error(err) })
		}
	}
}

// abandonStream marks a stream that can no longer be written: chunks queued meanwhile, and
// later writes, fail with err.
func (rs *request) abandonStream(err error) {
	rs.mu.Lock()
	if rs.state == stateStreaming {
		rs.state = stateAbandoned
		rs.gone = err
	}
	rest := rs.chunks
	rs.chunks = nil
	rs.mu.Unlock()
	rs.completeChunks(rest, err)
}

var errClientGone = errors.New("http: client connection closed")
