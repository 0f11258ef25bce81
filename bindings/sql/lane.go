package sql

import (
	"context"
	"fmt"
	"time"

	"github.com/drlee/drlee/engine"
)

// A lane runs jobs on the engine's I/O pool, at most limit at a time, in the order they
// were issued; the others wait in a FIFO on the loop, where waiting costs no goroutine. A
// db has one lane of max_conns (so that queries waiting for a connection never hold I/O pool
// goroutines that files and the HTTP client need), a transaction one of 1 (its connection
// serves one statement at a time). Loop only.
type lane struct {
	limit, running int
	maxQueue       int
	queue          []*job
}

// A job is one operation of a db or a transaction.
type job struct {
	op       *engine.Op
	deadline time.Time // zero: none
	timeout  time.Duration
	timer    *engine.Timer // expires it while it waits
	// run does the work on the pool with a context that ends at the deadline (or when the
	// db is closed by force) and returns the completion.
	run func(ctx context.Context) engine.Completion
	// done runs on the loop when the job ended, before its completion (or instead of it:
	// expired, refused), whatever happened: it gives back what the job held.
	done func(w *engine.Worker)
	base context.Context
	l    *lane
	// keep, set by run when it succeeded, leaves the job's place taken when it ends: a
	// transaction holds its db's place (its connection) until it ends (lane.release).
	keep bool
	// lost, set by run, runs on the pool when its completion never will (the worker ended
	// first): it releases what the result held (a transaction's connection).
	lost func()
}

var (
	errQueueFull = engine.NewError("EBUSY", "sql: too many operations waiting for a connection (max_queue)")
	errClosed    = engine.NewError("ECLOSED", "sql: the database was closed")
)

// timeoutError is what a job that ran out of time gets.
func timeoutError(d time.Duration, waiting bool) error {
	if waiting {
		return engine.NewError("ETIMEDOUT", fmt.Sprintf("sql: statement timed out after %v waiting for a connection", d))
	}
	return engine.NewError("ETIMEDOUT", fmt.Sprintf("sql: statement timed out after %v", d))
}

// submit starts j, or queues it behind the running ones.
func (l *lane) submit(w *engine.Worker, j *job) {
	j.l = l
	if l.running < l.limit {
		l.start(w, j)
		return
	}
	if l.maxQueue > 0 && len(l.queue) >= l.maxQueue {
		l.finish(w, j)
		j.op.CompleteSoon(failed(errQueueFull))
		return
	}
	l.queue = append(l.queue, j)
	if !j.deadline.IsZero() {
		j.timer = w.After(time.Until(j.deadline), func(w *engine.Worker) {
			j.timer = nil
			if l.remove(j) {
				l.finish(w, j)
				j.op.CompleteNow(w, failed(timeoutError(j.timeout, true)))
			}
		})
	}
}

// remove takes j out of the queue; false when it is not there (started already).
func (l *lane) remove(j *job) bool {
	for i, q := range l.queue {
		if q == j {
			copy(l.queue[i:], l.queue[i+1:])
			l.queue[len(l.queue)-1] = nil
			l.queue = l.queue[:len(l.queue)-1]
			return true
		}
	}
	return false
}

func (l *lane) finish(w *engine.Worker, j *job) {
	if j.done != nil {
		j.done(w)
		j.done = nil
	}
}

// start runs j on the pool; its completion frees its place and starts the next job.
func (l *lane) start(w *engine.Worker, j *job) {
	if j.timer != nil {
		j.timer.Stop()
		j.timer = nil
	}
	l.running++
	e, id := w.Engine(), w.ID
	ctx, cancel := context.WithCancel(j.base)
	if !j.deadline.IsZero() {
		ctx, cancel = context.WithDeadline(j.base, j.deadline)
	}
	err := e.Pool(func() {
		var fn engine.Completion
		func() {
			defer func() {
				if p := recover(); p != nil {
					e.InternalError(id, "a sql operation", p)
					fn = failed(engine.ErrInternal)
				}
			}()
			fn = j.run(ctx)
		}()
		cancel()
		delivered := j.op.Complete(func(w *engine.Worker, a *engine.Args) {
			if !j.keep {
				l.running--
			}
			l.finish(w, j)
			l.next(w)
			fn(w, a)
		})
		if !delivered && j.lost != nil {
			j.lost()
		}
	})
	if err != nil { // the I/O pool and its backlog are full: EBUSY
		cancel()
		l.running--
		l.finish(w, j)
		j.op.CompleteSoon(failed(err))
	}
}

// next starts the jobs that wait, while there is room.
func (l *lane) next(w *engine.Worker) {
	for l.running < l.limit && len(l.queue) > 0 && !w.Closing() {
		j := l.queue[0]
		l.queue[0] = nil
		l.queue = l.queue[1:]
		if !j.deadline.IsZero() && !time.Now().Before(j.deadline) {
			if j.timer != nil {
				j.timer.Stop()
				j.timer = nil
			}
			l.finish(w, j)
			j.op.CompleteSoon(failed(timeoutError(j.timeout, true)))
			continue
		}
		l.start(w, j)
	}
}

// fail ends every job that waits with err (the lane's owner is closing). Loop only. At
// the worker's end (Closing) the jobs are only forgotten: nothing can receive them, and
// their ops and timers belong to a state that is closed.
func (l *lane) fail(w *engine.Worker, err error) {
	q := l.queue
	l.queue = nil
	closing := w.Closing()
	for _, j := range q {
		if !closing && j.timer != nil {
			j.timer.Stop()
		}
		j.timer = nil
		l.finish(w, j)
		if !closing {
			j.op.CompleteSoon(failed(err))
		}
	}
}

// release gives back a place a job kept (job.keep), and starts what waits for it.
func (l *lane) release(w *engine.Worker) {
	l.running--
	l.next(w)
}

func (l *lane) idle() bool { return l.running == 0 && len(l.queue) == 0 }
