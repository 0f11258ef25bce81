package core

import "github.com/drlee/drlee/engine"

// The primitives behind the await forms of the Lua helpers (core.lua): a waiter lets Lua
// code suspend the runtime thread it runs in until some callback wakes it, with the
// results passed in Lua (no copy, identity kept); spawn starts a function in a thread of
// its own. Both are private globals that core.lua takes and removes.

var waiterClass = &engine.Class{Name: "waiter"}

func init() {
	waiterClass.Methods = []engine.Function{
		{Name: "wait", Fn: waiterWait},
		{Name: "wake", Fn: waiterWake},
	}
}

type waiter struct {
	op     *engine.Op // the suspended wait, until woken
	woken  bool
	waited bool
}

// __drlee_waiter() -> waiter
func newWaiter(c *engine.Call) int {
	w := engine.WorkerOf(c)
	w.NewObject(c.Out(), waiterClass, &waiter{})
	return c.Return()
}

// waiter:wait(): returns once wake was called, at once if it was already; suspends the
// runtime thread meanwhile. Once per waiter. Raises where nothing can suspend (a coroutine
// of the script's own).
func waiterWait(c *engine.Call) int {
	w := engine.WorkerOf(c)
	wt := w.Object(c, 1, waiterClass).(*waiter)
	if wt.waited {
		c.Raise("waiter: wait called twice")
	}
	wt.waited = true
	if wt.woken {
		return 0
	}
	if !engine.CanAwait(c) {
		c.Raise("cannot wait here: only a callback, a handler, a spawned function or the main chunk can wait, not a coroutine of the script's own (pass a callback instead)")
	}
	wt.op = w.ReserveCall(c, 2)
	return wt.op.Return(c)
}

// waiter:wake(): lets the wait return (on the loop's next turn, as a callback would run).
// Later calls do nothing.
func waiterWake(c *engine.Call) int {
	w := engine.WorkerOf(c)
	wt := w.Object(c, 1, waiterClass).(*waiter)
	if wt.woken {
		return 0
	}
	wt.woken = true
	if op := wt.op; op != nil {
		wt.op = nil
		op.CompleteSoon(nil)
	}
	return 0
}

// __drlee_can_await() -> whether a call without a callback made by the calling Lua
// function would suspend it (it runs in a runtime thread): the helpers pick their style.
func canAwait(c *engine.Call) int { return c.ReturnBool(engine.CanAwait(c)) }

// __drlee_spawn(fn): fn() in a new runtime thread, on the loop's next turn.
func spawn(c *engine.Call) int {
	w := engine.WorkerOf(c)
	w.Spawn(c.CheckFunc(1))
	return 0
}

// __drlee_uncaught(msg): reports msg as an uncaught error (a spawned function raised, and
// its handle was collected without a wait).
func reportUncaught(c *engine.Call) int {
	w := engine.WorkerOf(c)
	w.ReportError(uncaughtError(c.CheckString(1)))
	return 0
}

type uncaughtError string

func (e uncaughtError) Error() string { return string(e) }
