package engine

import (
	lua "github.com/drlee/drlee/cgo"
	"github.com/drlee/drlee/packed"
)

// Awaits. Every callback, handler, timer callback, rpc handler and the main chunk runs in a
// runtime thread (lua.Thread, a coroutine the runtime owns), so that an API call made there
// without its callback can suspend the thread until the operation completes, and return the
// callback's results as its own: results... (true when there are none) on success, nil and
// the error on failure. Elsewhere (in a coroutine the script made, or a prelude) a call
// without a callback keeps its old meaning: fire and forget.
//
// A binding supports both styles with two calls: ReserveCall(c, i) instead of
// Reserve(c.OptFunc(i)) gives an Op whose target is the callback at argument i, the thread
// that made the call (no callback, in a runtime thread), or nobody; and the Go function
// returns op.Return(c), which suspends the thread in the await case. Completing the Op then
// calls the callback or resumes the thread, as the case may be.

// maxFreeThreads bounds the threads a worker keeps for reuse: the threads of a burst of
// suspended calls are collected once it is over.
const maxFreeThreads = 64

// thread returns a free runtime thread, or a new one.
func (w *Worker) thread() (*lua.Thread, error) {
	if n := len(w.freeThreads); n > 0 {
		t := w.freeThreads[n-1]
		w.freeThreads[n-1] = nil
		w.freeThreads = w.freeThreads[:n-1]
		return t, nil
	}
	w.threads++
	return w.st.NewThread()
}

// releaseThread keeps t for reuse, or lets Lua collect it.
func (w *Worker) releaseThread(t *lua.Thread, dead bool) {
	if !dead && len(w.freeThreads) < maxFreeThreads {
		w.freeThreads = append(w.freeThreads, t)
		return
	}
	w.threads--
	w.st.FreeThread(t)
}

// run calls the function at registry ref fn with args in a runtime thread, in scope sc
// (nil: none), releasing the ref first when unref is set. It returns the error the call
// raised, after reporting it (to the scope's owner, or as uncaught); nil when the call
// returned or is suspended in an await. Loop only.
func (w *Worker) run(sc *Scope, fn int32, unref bool, args []byte) error {
	return w.runThread(sc, fn, unref, args, true, false)
}

// runUnguarded is run without the callback timeout.
func (w *Worker) runUnguarded(sc *Scope, fn int32, unref bool, args []byte) error {
	return w.runThread(sc, fn, unref, args, false, false)
}

// runThread is run; with keep, a call that returns leaves its thread to sc until sc ends
// (RunScoped).
func (w *Worker) runThread(sc *Scope, fn int32, unref bool, args []byte, guarded, keep bool) error {
	sc.hold()
	th, err := w.thread()
	if err != nil {
		if unref {
			w.st.Unref(fn)
		}
		err = w.raised(sc, err)
		sc.release(w)
		return err
	}
	// A call nested in a Go function (a callback ticker:stop() calls) must not take the
	// await the outer function may have reserved already.
	prevScope, outer := w.scope, w.suspending
	w.scope, w.suspending = sc, nil
	r, err := w.st.RunIn(th, fn, unref, args, guarded)
	w.scope = prevScope
	err = w.settle(sc, th, r, err, keep)
	w.suspending = outer
	return err
}

// settle deals with a thread once it stopped running: back to the free list when its call
// ended (or kept by sc, with keep: see RunScoped), bound to the Op it awaits when it
// suspended.
func (w *Worker) settle(sc *Scope, th *lua.Thread, r lua.ThreadResult, err error, keep bool) error {
	op := w.suspending
	w.suspending = nil
	if r == lua.ThreadAwait {
		if op == nil { // a Go function returned Await without ReserveCall: a bug
			w.internalError("an await", "a thread suspended with no operation to resume it")
			w.releaseThread(th, true)
			sc.release(w)
			return nil
		}
		op.th, op.thScope = th, sc
		sc.awaited()
		return nil // the thread, suspended, keeps its scope alive
	}
	if op != nil {
		op.orphan() // the thread could not yield for it (a C function was on the way)
	}
	if keep && sc != nil && r == lua.ThreadDone {
		if sc.kept != nil {
			w.releaseThread(sc.kept, false)
		}
		sc.kept = th // its runner's locals hold the call's arguments: see RunScoped
	} else {
		w.releaseThread(th, r == lua.ThreadDead)
	}
	if err != nil {
		err = w.raised(sc, err)
	}
	sc.release(w)
	return err
}

// resume hands the results of the operation a thread awaited over to it.
func (w *Worker) resume(op *Op, args *Args) {
	th, sc := op.th, op.thScope
	op.th, op.thScope = nil, nil
	prevScope, outer := w.scope, w.suspending
	w.scope, w.suspending = sc, nil
	r, lost, err := w.st.Resume(th, awaitResults(args, &w.scratchAwait))
	w.scope = prevScope
	if lost {
		w.Logf("WARN", "the results of an awaited call could not be handed over (more than %d values, or out of memory): it returned none", lua.MaxResume)
	}
	w.settle(sc, th, r, err, false)
	w.suspending = outer
}

// awaitResults turns a callback's arguments (err, results...) into what the awaited call
// returns: results... (true when there are none) on success; nil, err on failure.
func awaitResults(args *Args, buf *[]byte) []byte {
	b := args.B
	if len(b) == 0 || b[0] == packed.TagNil {
		if len(b) <= 1 {
			*buf = append((*buf)[:0], packed.TagTrue) // kept: no allocation per await
			return *buf
		}
		return b[1:]
	}
	r := packed.Reader{B: b}
	if r.Skip() != nil {
		return nil
	}
	*buf = append(append((*buf)[:0], packed.TagNil), b[:r.Pos]...)
	return *buf
}

// raised reports an error a call raised: to its scope's owner, which answers for it (an
// HTTP request answers 500), or as uncaught. It returns err.
func (w *Worker) raised(sc *Scope, err error) error {
	if sc != nil && sc.owner != nil {
		w.uncaught.Add(1)
		w.engine.failed.Store(true)
		sc.owner.ScopeFailed(w, sc, err)
		return err
	}
	w.ReportError(err)
	return err
}

// ReserveCall reserves the operation of a Go function whose callback is argument i: the Op
// calls that callback when there is one; without one, in a runtime thread, it resumes the
// thread that made the call (return op.Return(c) from the function to suspend it); without
// one elsewhere, its result goes to nobody (an error is reported as uncaught, with the
// file:line of the call). Raises when argument i is neither nil nor a function. Call it
// after the arguments are checked (a raise after it would leave the Op reserved). Loop only.
func (w *Worker) ReserveCall(c *Call, i int) *Op {
	op := new(Op)
	w.ReserveCallIn(op, c, i)
	return op
}

// ReserveCallIn is ReserveCall into an Op that is part of the caller's own record of the
// operation (a timer's), so that both are one allocation: an Op and a Go allocation per
// timer cost a timed request more in Go's collector than the allocations themselves.
// op must be zero: new, or a record whose operation ended, zeroed for reuse (the time
// module's spare timers); the caller keeps the record alive until the operation ends, as
// any Op. Loop only.
func (w *Worker) ReserveCallIn(op *Op, c *Call, i int) {
	if t := c.Type(i); t != TypeNil && t != TypeNone {
		w.reserveIn(op, c.CheckFunc(i))
		return
	}
	w.reserveIn(op, 0)
	if c.CanAwait() {
		op.await = true
		w.scope.awaited()
		if w.suspending != nil {
			w.suspending.orphan() // an earlier await of this thread that could not yield
		}
		w.suspending = op
	} else {
		op.where = c.Where()
	}
}

// ReturnNowCall is ReserveCall(c, i) and then ReturnNow(c, fn), for an outcome known when
// the call is made (a flush with nothing left to send, on every chunk of a stream). With a
// callback, the Op is one of the worker's spare ones, back with them once the callback
// ran: nothing but the engine ever sees it, so nothing can reach it once it is reused,
// and the call allocates nothing. Loop only, from a Go function.
func (w *Worker) ReturnNowCall(c *Call, i int, fn Completion) int {
	if t := c.Type(i); t == TypeNil || t == TypeNone {
		return w.ReserveCall(c, i).ReturnNow(c, fn)
	}
	cb := c.CheckFunc(i)
	var op *Op
	if n := len(w.spareOps); n > 0 {
		op = w.spareOps[n-1]
		w.spareOps[n-1] = nil
		w.spareOps = w.spareOps[:n-1]
	} else {
		op = new(Op)
	}
	w.reserveIn(op, cb)
	op.spare = true
	op.CompleteSoon(fn)
	return 0
}

// maxSpareOps bounds the Ops a worker keeps for ReturnNowCall: as many as one turn of a
// busy loop reuses.
const maxSpareOps = 256

// putSpareOp takes back a spare Op whose callback ran (Op.Run). Loop only.
func (w *Worker) putSpareOp(op *Op) {
	*op = Op{}
	if len(w.spareOps) < maxSpareOps {
		w.spareOps = append(w.spareOps, op)
	}
}

// AwaitedNow is, for a Go function called without a callback in a runtime thread
// (c.CanAwait), ReserveCall and ReturnNow at once, for a result known when the call is
// made (a body in memory): the call counts as an await for its scope's style (ScopeIdle),
// and the function returns its results itself, the value, or nil and the error
// (ReturnError), as an awaiting call returns them. No operation is reserved, so nothing is
// allocated. Loop only.
func (w *Worker) AwaitedNow() {
	w.scope.awaited()
	if w.suspending != nil {
		w.suspending.orphan() // an earlier await of this thread that could not yield
		w.suspending = nil
	}
}

// Awaits reports whether completing op resumes the thread that reserved it (ReserveCall
// without a callback, in a runtime thread).
func (op *Op) Awaits() bool { return op.await }

// HasCallback reports whether completing op calls a Lua callback.
func (op *Op) HasCallback() bool { return op.cb != 0 }

// Return is what the Go function that reserved op returns once the operation is started:
// it suspends the caller when op awaits, and returns nothing to Lua otherwise.
func (op *Op) Return(c *Call) int {
	if op.await && !op.orphaned {
		return c.Await()
	}
	return 0
}

// AsyncCall is Async for the callback at argument i (ReserveCall), returning what the Go
// function returns (op.Return). Loop only.
func (w *Worker) AsyncCall(c *Call, i int, work func() Completion) int {
	op := w.ReserveCall(c, i)
	w.AsyncOp(op, work)
	return op.Return(c)
}

// AsyncOp runs work on the pool and completes op with what it returned (Async for an Op
// from ReserveCall). Loop only.
func (w *Worker) AsyncOp(op *Op, work func() Completion) { w.async(op, work) }

// ReturnNow settles op at once with what fn writes (nil: no result), for an outcome known
// when the call is made (a read of a body already in memory): an awaiting call returns the
// results directly, without suspending; a callback is called on the loop's next turn, as
// always. Return what it returns from the Go function. Loop only, from a Go function.
func (op *Op) ReturnNow(c *Call, fn Completion) int {
	if !op.await || op.orphaned {
		op.CompleteSoon(fn)
		return 0
	}
	w := op.w
	args := &Args{}
	if fn != nil {
		fn(w, args)
	}
	if w.suspending == op {
		w.suspending = nil
	}
	op.Drop()
	if args.Err != nil {
		c.Raise("%v", args.Err)
	}
	out := c.Out()
	out.Raw(awaitResults(args, &w.scratchAwait))
	return c.Return()
}

// CompleteNow delivers op's result at once, on the loop, instead of on its next turn: for
// results that arrive on the loop itself (a timer that fired). Loop only; from inside a Go
// function too (the callback then runs nested in that call, as ticker:stop() has it).
func (op *Op) CompleteNow(w *Worker, fn Completion) {
	if !op.done.CompareAndSwap(false, true) {
		panic("engine: Op completed twice")
	}
	w.pending--
	args := &w.args
	if w.st.InCall() {
		args = &Args{} // the shared one may be what the running call was given
	}
	args.Reset()
	args.err = ""
	if fn != nil {
		fn(w, args)
	}
	op.deliver(w, args)
}

// Drop ends op without a result: its callback is released uncalled, an awaiting thread is
// not resumed (nothing may still wait on it: use it for an await that returned at once, or
// a callback a cancelled timer will never call). Loop only.
func (op *Op) Drop() {
	if !op.done.CompareAndSwap(false, true) {
		panic("engine: Op completed twice")
	}
	w := op.w
	w.pending--
	op.called = true
	if op.cb != 0 {
		w.st.Unref(op.cb)
		op.cb = 0
	}
	if op.th != nil { // a suspended thread nobody will resume: let Lua collect it
		w.releaseThread(op.th, true)
		op.thScope.release(w)
		op.th, op.thScope = nil, nil
	}
	op.scope.release(w)
}

// orphan marks an awaiting Op whose thread never suspended on it: its result goes to
// nobody.
func (op *Op) orphan() {
	if op.await {
		op.orphaned = true
	}
}

// Spawn calls the function at registry ref fn (released after) in a new runtime thread of
// the current scope, on the loop's next turn: what the global spawn does. Not at once, in
// the caller's call: a chain of spawns must not nest threads on the C stack. An error it
// raises is reported as any (to the scope's owner, or as uncaught). Loop only.
func (w *Worker) Spawn(fn int32) {
	sc := w.scope.child()
	sc.hold()
	w.Defer(func(w *Worker) {
		w.run(sc, fn, true, nil)
		sc.release(w)
	})
}

// HasCallback reports whether argument i is a callback (a function), false when it is nil
// or absent; anything else raises. For a Go function whose outcome without a callback is
// known at once, so that it needs no Op then. Loop only.
func HasCallback(c *Call, i int) bool {
	switch c.Type(i) {
	case TypeNil, TypeNone:
		return false
	case TypeFunction:
		return true
	}
	c.TypeError(i, "function")
	return false
}

// ReturnError returns nil, err from a Go function, err with its code as Args.Error writes
// it: what a call without its callback returns when it failed and the failure is known at
// once (a write to a stream that is gone), or a synchronous function's nil, err
// (json.decode). Loop only.
func ReturnError(c *Call, err error) int {
	out := c.Out()
	out.Nil()
	out.String(ErrorString(err))
	return c.Return()
}

// FuncWhere is "file:line" where the Lua function at registry ref fn was defined ("" when
// unknown): for messages about a handler. Loop only.
func (w *Worker) FuncWhere(fn int32) string { return w.st.FuncWhere(fn) }

// CanAwait reports whether a call without a callback made now would suspend its caller:
// the function runs directly in a runtime thread. For preludes written in Lua that pick
// a style (readall).
func CanAwait(c *Call) bool { return c.CanAwait() }

// A Scope is the Lua activity one thing started: an HTTP request's handler, the operations
// it started, their callbacks, the threads it spawned, its timers, and so on down. Its
// owner hears of every error raised in it (ScopeFailed), and when the last of it has ended
// (ScopeIdle). Operations, timers and deferred functions take the scope that is current
// when they are made (Worker.CurrentScope), and their callbacks run in it.
type Scope struct {
	owner   ScopeOwner
	pending int  // running or suspended calls, reserved ops, timers, deferred functions
	await   bool // code of the scope made an await-style call (Awaited)
	idle    bool // ScopeIdle was called
	own     bool // the scope of one thread only: what its code starts belongs to none

	kept *lua.Thread // the thread of a RunScoped call that returned, until the end
}

// child is the scope of what code running in sc starts (ops, timers): sc, or none for a
// scope of one thread only (the main chunk's).
func (sc *Scope) child() *Scope {
	if sc == nil || sc.own {
		return nil
	}
	return sc
}

// ScopeOwner is told what happens in its scope. Both run on the loop and must not call
// into Lua.
type ScopeOwner interface {
	// ScopeFailed: a call in the scope raised err (with its traceback); the owner reports
	// it (the log) and answers for it.
	ScopeFailed(w *Worker, sc *Scope, err error)
	// ScopeIdle: nothing of the scope is running or to come any more. Once it returns, the
	// engine does not touch sc again: the owner may recycle the memory it lives in (a pooled
	// request), even from another goroutine.
	ScopeIdle(w *Worker, sc *Scope)
}

// NewScope makes a scope for owner. Loop only.
func (w *Worker) NewScope(owner ScopeOwner) *Scope { return &Scope{owner: owner} }

// InitScope makes *sc a new scope for owner, for a binding that keeps its scope in a struct
// of its own (a pooled request: no allocation per request). sc must be new or have ended
// (Idle): nothing refers to a scope that ended. Loop only.
func (w *Worker) InitScope(sc *Scope, owner ScopeOwner) *Scope {
	*sc = Scope{owner: owner}
	return sc
}

// CurrentScope is the scope of the Lua code running now (nil: none). Loop only.
func (w *Worker) CurrentScope() *Scope { return w.scope }

// Awaited reports whether code of the scope called the API in the await style (a call
// without its callback, in a runtime thread), whether or not the call suspended.
func (sc *Scope) Awaited() bool { return sc != nil && sc.await }

// Idle reports whether the scope has ended (ScopeIdle was called).
func (sc *Scope) Idle() bool { return sc != nil && sc.idle }

func (sc *Scope) hold() {
	if sc != nil {
		sc.pending++
	}
}

func (sc *Scope) awaited() {
	if sc != nil {
		sc.await = true
	}
}

func (sc *Scope) release(w *Worker) {
	if sc == nil {
		return
	}
	if sc.pending--; sc.pending == 0 && !sc.idle {
		sc.idle = true
		// Everything read from sc is read before its owner hears of the end: the owner may
		// recycle it then (ScopeIdle).
		t, owner := sc.kept, sc.owner
		sc.kept = nil
		w.idleReleaseArgs = false
		if owner != nil {
			w.protected("a scope's end", func() { owner.ScopeIdle(w, sc) })
		}
		if t != nil {
			w.releaseThread(t, w.idleReleaseArgs)
		}
		w.idleReleaseArgs = false
	}
}

// ReleaseArgs, from ScopeIdle, lets the arguments of the ending scope's RunScoped call go
// at once: the thread that kept them is not reused (which would keep them until its next
// call), so that the collector may find them unreachable (an HTTP response nobody
// finished). Loop only.
func (w *Worker) ReleaseArgs() { w.idleReleaseArgs = true }

// RunScoped calls the function at registry ref fn (kept) with args in a runtime thread of
// scope sc: how a binding calls a handler (an HTTP request's, an rpc delivery's). It
// returns the error the call raised, which sc's owner has been told about; nil when the call
// returned or awaits.
//
// The call's arguments stay alive in Lua until sc ends, whatever the script does with them
// (the thread that ran the call is kept aside with them until then), so that the owner may
// ask the collector about them only once nothing of the scope can still run: an HTTP
// response a handler dropped while its callbacks ran on. Loop only.
func (w *Worker) RunScoped(sc *Scope, fn int32, args []byte) error {
	return w.runThread(sc, fn, false, args, true, true)
}

// mainScope owns the main chunk's thread: an error raised there, before or after an await,
// ends the worker, as a failing main chunk always has.
type mainScope struct{}

func (mainScope) ScopeFailed(w *Worker, sc *Scope, err error) {
	w.engine.fatal(w.ID, err)
	w.terminate()
}

// ScopeIdle: the main chunk has run to its end (a failure terminated the worker first).
func (mainScope) ScopeIdle(w *Worker, _ *Scope) {
	if !w.terminated {
		w.mainDone = true
		w.checkLoaded()
	}
}

// runMain runs the script's main chunk in a runtime thread; false when it failed (then
// reported, and the worker ends).
func (w *Worker) runMain(code []byte, chunkname string) bool {
	ref, err := w.st.LoadChunk(code, chunkname)
	if err != nil {
		w.engine.fatal(w.ID, err)
		w.terminate()
		return false
	}
	// Its own scope: its failure ends the worker, but the operations it starts do not
	// belong to it (an error in their callbacks is reported, as any other). Not guarded:
	// the main chunk may take its time (it is the program's start); what runs after one
	// of its awaits is, like a callback.
	sc := &Scope{owner: mainScope{}, own: true}
	return w.runUnguarded(sc, ref, true, nil) == nil
}
