package fs

import (
	"io"
	"os"
	"sync"

	"github.com/drlee/drlee/engine"
)

// maxRead bounds one file:read: a larger count reads at most this much (a read may return
// fewer bytes than asked for, so this is within the API), and a script cannot make the
// runtime allocate an arbitrary buffer by asking for it.
const maxRead = 16 << 20

// readBufSize is the size of the pooled read buffers: reads up to it (readall asks for
// 64 KiB at a time) reuse a buffer instead of allocating one.
const readBufSize = 64 << 10

var readBufs = sync.Pool{New: func() any { b := make([]byte, readBufSize); return &b }}

// getReadBuf returns a buffer of n bytes (n <= maxRead).
func getReadBuf(n int) []byte {
	if n <= readBufSize {
		return (*readBufs.Get().(*[]byte))[:n]
	}
	return make([]byte, n)
}

// putReadBuf gives back a buffer from getReadBuf once its bytes have been copied out.
func putReadBuf(b []byte) {
	if cap(b) == readBufSize {
		b = b[:readBufSize]
		readBufs.Put(&b)
	}
}

// errInternal is the error of a job that panicked, the one every binding gives its callback
// then (the panic itself goes to onPanic: the log).
var errInternal = engine.ErrInternal

type jobKind uint8

const (
	jobRead jobKind = iota
	jobWrite
	jobClose
)

// result is the outcome of one operation on a file.
type result struct {
	data []byte // read: the bytes read (from getReadBuf: hand it back with putReadBuf)
	n    int    // write: bytes written
	err  error
}

type job struct {
	kind jobKind
	n    int    // read: at most this many bytes
	data []byte // write: owned by the job
	done func(result)
}

// file is an *os.File whose operations run on a pool of goroutines one at a time, in the
// order they were issued: a FIFO of jobs served by at most one pool task at a time (the
// runner), which runs them back to back. Issuing never blocks. Each job's done is called
// exactly once, in issue order, from the runner (or from the issuing goroutine when the pool
// refuses to start a runner).
//
// file knows nothing of Lua: the binding issues jobs from the loop and turns done into an
// engine completion.
type file struct {
	f       *os.File
	submit  func(func()) error // starts a task on the pool; an error means saturated
	onPanic func(p any)        // told about a job that panicked (a bug); nil: nobody

	mu        sync.Mutex // protects the fields below
	queue     []job
	running   bool // a runner owns the queue's head
	closed    bool // f is closed (or a close is queued: nothing may follow it)
	collected bool // dropped by its owner with jobs pending: close when they are done
}

func newFile(f *os.File, submit func(func()) error) *file {
	return &file{f: f, submit: submit}
}

// read reads at most n bytes (n <= maxRead). At the end of the file it gives an empty,
// non-nil slice and no error.
func (fl *file) read(n int, done func(result)) { fl.issue(job{kind: jobRead, n: n, done: done}) }

// write writes data, which the file owns from now on.
func (fl *file) write(data []byte, done func(result)) {
	fl.issue(job{kind: jobWrite, data: data, done: done})
}

// close closes the file once the jobs issued before it are done. Jobs issued after it fail
// with os.ErrClosed.
func (fl *file) close(done func(result)) { fl.issue(job{kind: jobClose, done: done}) }

// collect is for a file that its owner dropped without closing it: it is closed now, or
// after its pending jobs when there are any. No job may be issued afterwards.
func (fl *file) collect() {
	fl.mu.Lock()
	if fl.running || len(fl.queue) > 0 {
		fl.collected = true
		fl.mu.Unlock()
		return
	}
	if fl.closed {
		fl.mu.Unlock()
		return
	}
	fl.closed = true
	fl.mu.Unlock()
	fl.f.Close()
}

func (fl *file) issue(j job) {
	fl.mu.Lock()
	if fl.closed {
		fl.mu.Unlock()
		j.done(result{err: os.ErrClosed})
		return
	}
	if j.kind == jobClose {
		fl.closed = true
	}
	fl.queue = append(fl.queue, j)
	if fl.running {
		fl.mu.Unlock()
		return
	}
	fl.running = true
	fl.mu.Unlock()
	if err := fl.submit(fl.run); err != nil {
		fl.refuse(err)
	}
}

// refuse fails every queued job with err because no runner could be started; a queued
// close still closes the file (a quick system call), so that nothing leaks.
func (fl *file) refuse(err error) {
	fl.mu.Lock()
	jobs := fl.queue
	fl.queue = nil
	fl.running = false
	fl.mu.Unlock()
	for _, j := range jobs {
		if j.kind == jobClose {
			j.done(result{err: fl.f.Close()})
			continue
		}
		j.done(result{err: err})
	}
}

// run is the runner: it serves the queue until it is empty.
func (fl *file) run() {
	for {
		fl.mu.Lock()
		if len(fl.queue) == 0 {
			fl.running = false
			fl.mu.Unlock()
			return
		}
		j := fl.queue[0]
		fl.queue[0] = job{}
		fl.queue = fl.queue[1:]
		fl.mu.Unlock()

		r := fl.do(j)

		// A file dropped with jobs pending is closed after the last of them, before that
		// job is reported done: once everything its owner waits for is done, nothing of
		// the file is left open.
		fl.mu.Lock()
		last := fl.collected && len(fl.queue) == 0 && !fl.closed
		if last {
			fl.closed = true
		}
		fl.mu.Unlock()
		if last {
			fl.f.Close()
		}
		j.done(r)
	}
}

// do runs one job on the runner. A panic becomes the job's error (errInternal), reported
// to onPanic, rather than a job that never completes.
func (fl *file) do(j job) (r result) {
	defer func() {
		if p := recover(); p != nil {
			if fl.onPanic != nil {
				fl.onPanic(p)
			}
			r = result{err: errInternal}
		}
	}()
	switch j.kind {
	case jobRead:
		buf := getReadBuf(j.n)
		k, err := fl.f.Read(buf)
		if k > 0 || err == io.EOF || err == nil {
			// Bytes read before an error are delivered; the error, if it persists, comes
			// with the next read. io.EOF is no error: the end is an empty read.
			return result{data: buf[:k]}
		}
		putReadBuf(buf)
		return result{err: err}
	case jobWrite:
		k, err := fl.f.Write(j.data)
		return result{n: k, err: err}
	default:
		return result{err: fl.f.Close()}
	}
}
