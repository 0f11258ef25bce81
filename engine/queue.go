package engine

import (
	"errors"
	"sync"
)

// Task is work run on a worker's loop. Implementations that are pooled (the HTTP request
// path) push themselves, so that a push allocates nothing.
type Task interface {
	Run(w *Worker)
}

// TaskFunc adapts a function to Task.
type TaskFunc func(w *Worker)

// Run calls f(w).
func (f TaskFunc) Run(w *Worker) { f(w) }

var (
	// ErrQueueFull is returned to a producer whose task would exceed the worker's queue
	// bound. The HTTP server turns it into 503.
	ErrQueueFull = errors.New("drlee: worker queue full")
	// ErrWorkerStopped is returned for a task pushed to a worker whose loop has ended.
	ErrWorkerStopped = errors.New("drlee: worker stopped")
)

// queue is a worker's completion queue: a mutex-protected slice plus a 1-slot notify
// channel; the loop swaps the slice out and runs all of it (docs/ARCHITECTURE.md, "The
// queue": 147 ns a round trip at depth 256, against 238 ns for a channel). The loop never
// pushes to its own queue in a way that can block: pushes never block at all.
type queue struct {
	mu       sync.Mutex // protects items, admitted, closed
	items    []Task
	admitted int // how many of items were pushed with admit: what the bound counts
	closed   bool

	limit  int           // bound for admitted work (push with admit); completions bypass it
	notify chan struct{} // capacity 1: signalled on empty -> non-empty
}

func newQueue(limit int) *queue {
	return &queue{limit: limit, notify: make(chan struct{}, 1), items: make([]Task, 0, 64)}
}

// push appends t. With admit, the queue's bound applies (new work from outside: requests,
// RPC deliveries); without, t is the completion of work the loop already reserved, which
// must never be lost, and whose number the loop bounds by reserving. The bound counts
// admitted tasks only: completions queued by a handler's own operations (a thousand file
// reads at once) never make the worker refuse new requests.
func (q *queue) push(t Task, admit bool) error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return ErrWorkerStopped
	}
	if admit {
		if q.admitted >= q.limit {
			q.mu.Unlock()
			return ErrQueueFull
		}
		q.admitted++
	}
	wasEmpty := len(q.items) == 0
	q.items = append(q.items, t)
	q.mu.Unlock()
	if wasEmpty {
		select {
		case q.notify <- struct{}{}:
		default:
		}
	}
	return nil
}

// swap hands the queued tasks to the loop and gives the queue the loop's spare slice.
func (q *queue) swap(spare []Task) []Task {
	q.mu.Lock()
	items := q.items
	q.items = spare[:0]
	q.admitted = 0
	q.mu.Unlock()
	return items
}

// closeIfEmpty closes the queue when it holds nothing, atomically with the check, so that
// a task is either run or refused, never dropped.
func (q *queue) closeIfEmpty() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) > 0 {
		return false
	}
	q.closed = true
	return true
}

// close closes the queue and returns what was still in it.
func (q *queue) close() []Task {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	items := q.items
	q.items = nil
	q.admitted = 0
	return items
}

func (q *queue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}
