package network

import (
	"bytes"
	"net/netip"
	"sync"

	"github.com/drlee/drlee/engine"
)

// A lane is one direction of a socket (its reads, or its writes): a FIFO of jobs served by
// one goroutine of the engine's (Engine.Go), started at the first job that has to wait and
// kept until the socket closes. Jobs run one at a time, in the order they were issued, so
// that reads and writes keep their order; the two lanes of a connection run at once (a read
// waiting on its peer never holds back a write).
//
// While a lane is idle (no job queued or running), the one who submits may try the job at
// once (direct), without a goroutine hand-off: a non-blocking system call on the loop that
// does what the socket allows now (the bytes already received; what the send buffer takes).
// Only what cannot be done at once waits in the lane. The attempt runs under the lane's
// lock, so that it never races the lane's goroutine on the socket (Go's poller would make
// one of them wait for the other, and that one could be a loop).
//
// No job ever runs on the engine's I/O pool: a read that waits for a slow peer holds a
// goroutine of its own connection, never one of the pool's slots.
type lane struct {
	mu      sync.Mutex // protects the fields below
	jobs    []job
	busy    bool          // a job is queued or running: nobody else may touch this side of the socket
	closed  bool          // the socket is closed: no more jobs
	started bool          // the goroutine runs (until closed)
	wake    chan struct{} // capacity 1: a job was queued while the lane was idle
	done    chan struct{} // closed by shut

	name string                    // the goroutine's name ("network: reader")
	exec func(j job, closed bool)  // runs a job on the lane's goroutine
	goFn func(string, func()) bool // Engine.Go
}

// jobKind says what a job does.
type jobKind uint8

const (
	jobRead jobKind = iota
	jobWrite
	jobClose
	jobSendTo
)

// job is one operation waiting in a lane.
type job struct {
	kind jobKind
	op   *engine.Op
	n    int            // read: at most this many bytes
	data []byte         // write, send_to: the bytes (Lua's own while view is set)
	view bool           // data is Lua's string, valid only during the call: copied if queued
	to   netip.AddrPort // send_to: where
}

// What submit did with a job.
const (
	queued     = iota // waits in the lane (or is running there)
	doneDirect        // done at once by direct, which completed its op
	refused           // the lane is closed: the caller completes the op with an error
	wouldBlock        // directOnly, and direct could not do it at once: nothing was queued
)

// submit runs j at once through direct when the lane is idle and direct can do it (direct
// reports true once it has completed j's op, or else gives back what is left of j; nil:
// never), else queues it; with directOnly an idle lane queues nothing (wouldBlock). Jobs go
// by value, never by pointer through the function values: that would move each to the heap.
// Safe from any goroutine.
func (l *lane) submit(j job, direct func(job) (job, bool), directOnly bool) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return refused
	}
	if !l.busy && direct != nil {
		var done bool
		if j, done = direct(j); done {
			return doneDirect
		}
		if directOnly {
			return wouldBlock
		}
	}
	if j.view {
		j.data = bytes.Clone(j.data) // Lua owns the original only during the call
		j.view = false
	}
	l.jobs = append(l.jobs, j)
	if !l.busy {
		l.busy = true
		if !l.started {
			l.wake, l.done = make(chan struct{}, 1), make(chan struct{})
			if !l.goFn(l.name, l.serve) {
				// The engine has ended: nothing can run the job.
				l.jobs[len(l.jobs)-1] = job{}
				l.jobs = l.jobs[:len(l.jobs)-1]
				l.busy, l.closed = false, true
				return refused
			}
			l.started = true
		}
		l.wake <- struct{}{} // empty: the goroutine took the last wake before it went idle
	}
	return queued
}

// idle reports whether no job is queued or running.
func (l *lane) idle() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return !l.busy
}

// shut closes the lane: later jobs are refused, and the goroutine ends once it ran those
// queued (which fail at once: the socket is closed). Idempotent; safe from any goroutine,
// the lane's own included.
func (l *lane) shut() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	l.closed = true
	if l.started {
		close(l.done)
	}
}

// serve is the lane's goroutine: it runs the jobs queued, then waits for more, until the
// lane is shut and nothing is left.
func (l *lane) serve() {
	for {
		select {
		case <-l.wake:
		case <-l.done:
		}
		for {
			l.mu.Lock()
			if len(l.jobs) == 0 {
				l.busy = false
				closed := l.closed
				l.mu.Unlock()
				if closed {
					return
				}
				break
			}
			// Popped by copying down, not by slicing: the queue's array is reused, so a lane
			// that serves one job at a time (the usual case) allocates nothing per job.
			j := l.jobs[0]
			copy(l.jobs, l.jobs[1:])
			l.jobs[len(l.jobs)-1] = job{}
			l.jobs = l.jobs[:len(l.jobs)-1]
			closed := l.closed
			l.mu.Unlock()
			l.exec(j, closed)
		}
	}
}
