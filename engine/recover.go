package engine

import (
	"errors"
	"runtime/debug"
)

// Go panics on the loop. Everything the loop runs (queued tasks, completions, timers,
// deferred, tick-end and turn-end functions) is Go code that may hold a bug; a panic there must not
// end the process. It never unwinds through LuaJIT (every crossing into Go recovers its
// own: cgo's dispatcher and finalizer export), so the state is intact and the worker goes
// on: the panic is logged with its stack and counts as an uncaught error (`drlee run`
// exits 1).
//
// One deferred recover covers a whole batch of work run back to back (the tasks of one
// drain, the functions deferred to a turn, the due timers), not one per item: a defer and
// recover per task and per tick-end function cost ~120 instructions on a hello-world
// request. After a panic the batch resumes with the item after the one that panicked, and
// that item's tick end still runs (finishTick).

// PanicAware is a Task that must answer someone when its Run panics: an HTTP request
// answers 500, an operation calls its callback with an error. The loop calls Panicked
// after reporting the panic, under protection of its own.
type PanicAware interface {
	Panicked(w *Worker)
}

// ErrInternal is what a callback gets when its operation hit a Go panic (a bug, reported in
// the log): in the completion, or in the work a binding ran on the pool.
var ErrInternal = errors.New("drlee: internal error (reported in the log)")

// internalError reports a Go panic that the loop recovered: a bug in the runtime or a
// binding, never the script's fault.
func (w *Worker) internalError(where string, p any) {
	w.uncaught.Add(1)
	w.engine.InternalError(w.ID, where, p)
}

// InternalError reports a Go panic that a binding recovered off the loop (in work on the
// pool, say): logged with the stack of the calling goroutine, tagged with the worker's id
// (0: none), and counted like an uncaught error, so that `drlee run` exits 1. The binding
// then gives the operation's callback ErrInternal. Safe from any goroutine.
func (e *Engine) InternalError(worker int, where string, p any) {
	e.failed.Store(true)
	e.logf(worker, "ERROR", "internal error in %s: %v\n%s", where, p, debug.Stack())
}

// runTasks runs the tasks of one drain, each followed by its tick end.
func (w *Worker) runTasks(items []Task) {
	for i := 0; i < len(items); {
		i = w.runTasksFrom(items, i)
	}
}

// runTasksFrom runs items[i:] under one deferred recover and returns where to go on: the
// end, or the task after one that panicked.
func (w *Worker) runTasksFrom(items []Task, i int) (next int) {
	defer func() {
		if p := recover(); p != nil {
			t := items[next] // nil when the panic came from the tick end
			items[next] = nil
			next++
			w.internalError("a task", p)
			if pa, ok := t.(PanicAware); ok {
				w.protected("a task's recovery", func() { pa.Panicked(w) })
			}
			w.finishTick()
		}
	}()
	for next = i; next < len(items); next++ {
		items[next].Run(w)
		items[next] = nil
		w.endTick()
	}
	return next
}

// finishTick runs endTick to its end: after a panic in a tick-end function (reported),
// the ones after it still run.
func (w *Worker) finishTick() {
	for !w.tryEndTick() {
	}
}

func (w *Worker) tryEndTick() (ok bool) {
	defer func() {
		if p := recover(); p != nil {
			w.internalError("a tick-end function", p)
		}
	}()
	w.endTick()
	return true
}

// protected runs fn, reporting a panic in it (for work off the hot path).
func (w *Worker) protected(where string, fn func()) {
	defer func() {
		if p := recover(); p != nil {
			w.internalError(where, p)
		}
	}()
	fn()
}
