package websocket

import (
	"sync"

	"github.com/drlee/drlee/engine"
)

// A lane is one direction of a connection (its reads, or its writes): a FIFO of jobs served
// by one goroutine of the engine's (Engine.Go), started at the first job and kept until the
// connection closes. Jobs run one at a time, in the order they were issued; the two lanes of
// a connection run at once, so a read waiting for its peer never holds back a write. No job
// runs on the engine's I/O pool: a read that waits for a quiet peer holds a goroutine of its
// own connection, never one of the pool's slots. (The network module's lanes, without
// their direct path: a websocket frame is read and written through the library's buffers.)
type lane struct {
	mu      sync.Mutex // protects the fields below
	jobs    []job
	busy    bool // a job is queued or running
	closed  bool // the connection is closed: no more jobs
	started bool
	wake    chan struct{} // capacity 1: a job was queued while the lane was idle
	done    chan struct{} // closed by shut

	name string                    // the goroutine's name
	exec func(j job, closed bool)  // runs a job on the lane's goroutine
	goFn func(string, func()) bool // Engine.Go
	wg   *sync.WaitGroup           // counts the goroutine while it runs: the connection's user waits for it
}

type jobKind uint8

const (
	jobRead  jobKind = iota
	jobWrite         // a text or binary message
	jobClose         // the close frame, then the wait for the peer's
)

type job struct {
	kind   jobKind
	op     *engine.Op
	data   []byte // write: a copy of Lua's bytes
	binary bool   // write: a binary message
	code   int    // close
	reason string // close
	quick  bool   // close: the runtime's, which waits at most shutWait for the peer
}

// submit queues j; false when the lane is closed (the caller fails j's op). Safe from any
// goroutine.
func (l *lane) submit(j job) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.jobs = append(l.jobs, j)
	if !l.busy {
		l.busy = true
		if !l.started {
			l.wake, l.done = make(chan struct{}, 1), make(chan struct{})
			l.wg.Add(1)
			if !l.goFn(l.name, l.serve) {
				l.wg.Done()
				l.jobs = l.jobs[:len(l.jobs)-1]
				l.busy, l.closed = false, true
				return false
			}
			l.started = true
		}
		l.wake <- struct{}{}
	}
	return true
}

// idle reports whether no job is queued or running.
func (l *lane) idle() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return !l.busy
}

// shut closes the lane: later jobs are refused, and the goroutine ends once it ran those
// queued (told closed). Idempotent; safe from any goroutine, the lane's own included.
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

func (l *lane) serve() {
	defer l.wg.Done()
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
