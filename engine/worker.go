package engine

import (
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	lua "github.com/drlee/drlee/cgo"
	"github.com/drlee/drlee/packed"
)

// Worker owns one LuaJIT state and runs its event loop. Exactly one goroutine, the loop,
// ever touches the state; every other goroutine reaches the worker only through Submit and
// through completing an Op. Methods are loop-only unless their doc says otherwise.
type Worker struct {
	ID     int // 1..N
	engine *Engine
	st     *lua.State
	q      *queue
	epoch  time.Time

	timers    timerHeap
	objs      objects
	classMeta []int32 // class id -> metatable registry ref

	pending int // reserved operations not yet completed (Ops)
	holds   int // things that keep the loop alive by themselves (open servers, tickers)

	local    []Task   // the loop's next turn: deferred functions (Defer), ops (CompleteSoon)
	tickEnd  []func() // run after the current callback returns (AtTickEnd)
	turnEnd  []func() // run once the work at hand is done (AtTurnEnd)
	shutdown []func() // run when the engine shuts down (OnShutdown)

	// The tick-end batch endTick is running, and what is left of it to run.
	tickEndBatch, tickEndRun []func()

	// Spare slices swapped with local and tickEnd on each drain, so that a busy loop does
	// not allocate a new slice per turn.
	localSpare   []Task
	tickEndSpare []func()
	turnEndSpare []func()

	fastDirty  lua.FastList // fast objects recorded into during this callback (FastMethods)
	afterClose []func()     // run once the state is closed (AfterClose)

	args       Args   // callback arguments, reused
	scratch    []byte // see Scratch
	terminated bool
	uncaught   atomic.Int64              // Lua errors reported by this worker
	counters   workerCounters            // the rest of Stats (stats.go)
	guard      atomic.Pointer[lua.Guard] // set once the state exists; read by the watchdog

	// letProducersIn's back-off: yields that found no new task in a row, and wake-ups
	// left to skip before it tries again.
	yieldMisses, yieldSkips int

	wake   alarm // pokes the loop when its next timer is due (armWake, wake.go)
	wakeAt int64 // when wake is armed to fire (w.now() clock); 0: not armed

	locals []any // the worker's WorkerLocal values, by index

	// Runtime threads (await.go).
	freeThreads     []*lua.Thread // free for the next call
	threads         int           // made and not freed (tests: no leak)
	suspending      *Op           // the Op a Go function just asked the running thread to await
	spareOps        []*Op         // Ops whose callbacks ran, for ReturnNowCall (await.go)
	scope           *Scope        // the scope of the Lua code running now
	idleReleaseArgs bool          // set by ReleaseArgs during a ScopeIdle (Scope.release)
	scratchAwait    []byte        // awaitResults' buffer

	closing bool // the state is being closed (Closing)

	// Readiness (Engine.Ready): the main chunk has ended; what it started that must be
	// done before the worker counts as loaded (DelayReady); the worker was counted.
	mainDone    bool
	readyDelays int
	loaded      bool

	finalizeWanted map[uint32]int // WantFinalize counts, by class id

	// CollectSoon (collect.go), in w.now() time.
	gcWanted      bool
	gcDue, lastGC int64
}

// DelayReady keeps the worker from counting as loaded (Engine.Ready, which a reload waits
// for before it retires the old generation) until done is called: for what the main chunk
// starts and a new generation must have before it serves, such as a server that listens
// once the I/O pool has joined it to a socket. Called after the worker counted as loaded,
// it delays nothing. done runs on the loop, once. Loop only.
func (w *Worker) DelayReady() (done func()) {
	if w.loaded {
		return func() {}
	}
	w.readyDelays++
	called := false
	return func() {
		if !called {
			called = true
			w.readyDelays--
			w.checkLoaded()
		}
	}
}

// checkLoaded counts the worker as loaded once its main chunk ended and nothing delays it.
func (w *Worker) checkLoaded() {
	if w.mainDone && w.readyDelays == 0 && !w.loaded && !w.terminated {
		w.loaded = true
		w.engine.workerLoaded()
	}
}

// Closing reports whether the worker's state is being closed: the finalizers of the
// objects left run then (Class.Finalize), and nothing they would start could complete.
func (w *Worker) Closing() bool { return w.closing }

// Engine returns the engine the worker belongs to.
func (w *Worker) Engine() *Engine { return w.engine }

// WorkerOf returns the worker running a call.
func WorkerOf(c *Call) *Worker { return c.State().Owner.(*Worker) }

// Hold keeps the worker alive (an open server, a ticker) until Unhold.
func (w *Worker) Hold() { w.holds++ }

// Unhold releases a Hold.
func (w *Worker) Unhold() { w.holds-- }

// Defer runs fn on the loop's next turn, after the current callback (like process.nextTick
// with a turn in between), before the loop takes new tasks or runs timers. It keeps the
// worker alive until it ran.
func (w *Worker) Defer(fn func(w *Worker)) { w.local = append(w.local, TaskFunc(fn)) }

// AtTickEnd runs fn once the callback that is running now returns to the loop.
func (w *Worker) AtTickEnd(fn func()) { w.tickEnd = append(w.tickEnd, fn) }

// AtTurnEnd runs fn once the loop has done the work at hand: the functions deferred to its
// next turn and the callbacks of operations completed on the loop (CompleteSoon), those
// that they defer included, have run, and the loop is about to take new tasks, run timers
// or wait. For decisions that later callbacks of the same burst of work may change: an
// HTTP response written but not finished by a callback streams only if nothing at hand
// finishes it. fn must not call into Lua. Loop only.
func (w *Worker) AtTurnEnd(fn func()) { w.turnEnd = append(w.turnEnd, fn) }

// OnShutdown registers fn to run on the loop when the engine shuts down (SIGTERM): servers
// stop accepting there. It runs at most once.
func (w *Worker) OnShutdown(fn func()) { w.shutdown = append(w.shutdown, fn) }

// Submit pushes a task from any goroutine, within the queue's bound: ErrQueueFull when the
// worker is saturated, ErrWorkerStopped after it ended. It never blocks. Safe from any
// goroutine.
func (w *Worker) Submit(t Task) error { return w.q.push(t, true) }

// QueueLen is the number of queued tasks. Safe from any goroutine.
func (w *Worker) QueueLen() int { return w.q.len() }

// Completion runs on the loop when an Op completes. It writes the callback's arguments to
// args (for the usual callback, args.Error(err) first, then the result).
type Completion func(w *Worker, args *Args)

// Args are the arguments of a Lua callback, built on the loop.
type Args struct {
	packed.Writer
	err string // set by Error with a non-nil error: reported if no callback receives it
}

// Error writes the conventional first argument: nil, or the error as Lua gets it, its
// code first ("ENOENT: open /x: no such file or directory": ErrorString).
func (a *Args) Error(err error) {
	if err == nil {
		a.Nil()
		return
	}
	a.err = ErrorString(err)
	a.String(a.err)
}

// Op is a reserved operation: reserved on the loop before the work starts, completed
// exactly once from any goroutine. While it is outstanding the worker stays alive.
type Op struct {
	w    *Worker
	cb   int32
	fn   Completion
	done atomic.Bool

	// Loop only.
	called   bool        // the callback was called, or the thread resumed
	scope    *Scope      // current when the op was reserved: its callback runs in it
	await    bool        // resumes the thread that reserved it (ReserveCall, no callback)
	orphaned bool        // awaits, but its thread never suspended on it: nobody gets the result
	th       *lua.Thread // the thread suspended on it
	thScope  *Scope      // th's scope
	where    string      // file:line of a call with no callback (for its uncaught error)
	spare    bool        // one of the worker's spare Ops (ReturnNowCall): back once it ran
}

// Reserve reserves an operation whose callback is the registry ref cb (0: none; the Op then
// reports an error result as uncaught). The Op owns cb. It belongs to the current scope:
// the scope waits for it, and its callback runs in it. Loop only.
func (w *Worker) Reserve(cb int32) *Op {
	op := new(Op)
	w.reserveIn(op, cb)
	return op
}

// reserveIn is Reserve into a new (zero) Op.
func (w *Worker) reserveIn(op *Op, cb int32) {
	if op.w != nil {
		panic("engine: Op reserved twice")
	}
	w.pending++
	sc := w.scope.child()
	sc.hold()
	op.w, op.cb, op.scope = w, cb, sc
}

// Complete delivers the operation's result: fn runs on the loop and writes the callback's
// arguments. Safe from any goroutine; a second call panics, because a completion that runs
// twice is a bug that would call a Lua callback twice. It reports false when the worker has
// ended (a forced shutdown) and fn will never run: the caller then releases what the result
// held (an open file, say).
func (op *Op) Complete(fn Completion) bool {
	if !op.done.CompareAndSwap(false, true) {
		panic("engine: Op completed twice")
	}
	op.fn = fn
	return op.w.q.push(op, false) == nil
}

// CompleteSoon completes op with a result known now, on the loop: its callback runs on the
// loop's next turn (as Defer), ahead of new tasks and without a trip through the queue.
// Loop only; use Complete from other goroutines.
func (op *Op) CompleteSoon(fn Completion) {
	if !op.done.CompareAndSwap(false, true) {
		panic("engine: Op completed twice")
	}
	op.fn = fn
	op.w.local = append(op.w.local, op)
}

// Run is the Op as a Task: runs the completion and calls the callback. A completion that
// panics (a bug in a binding) is reported with its stack, and the callback still runs,
// once, with an error (Panicked): the script learns that the operation failed instead of
// waiting for ever.
func (op *Op) Run(w *Worker) {
	w.pending--
	w.args.Reset()
	w.args.err = ""
	if op.fn != nil {
		op.fn(w, &w.args)
	}
	op.deliver(w, &w.args)
	if op.spare {
		w.putSpareOp(op)
	}
}

// deliver calls the op's callback with args, or resumes the thread that awaits it, then
// lets its scope go.
func (op *Op) deliver(w *Worker, args *Args) {
	op.called = true
	prev := w.scope
	w.scope = op.scope
	switch {
	case op.th != nil:
		w.resume(op, args)
	case op.await: // orphaned: the thread could not suspend for it (a C function was on the way)
		w.releaseArgs(args)
	default:
		w.callback(op.cb, args, op.where)
	}
	w.scope = prev
	op.scope.release(w)
}

// Panicked calls the callback (or resumes the thread) with ErrInternal when the completion
// panicked (not when the panic came after: it runs once).
func (op *Op) Panicked(w *Worker) {
	if op.called {
		return
	}
	w.args.Reset()
	w.args.err = ""
	w.args.Error(ErrInternal)
	op.deliver(w, &w.args)
}

// releaseArgs drops callback arguments nobody receives. Registry refs and objects in them
// are released by Lua's collector with the values that would have held them.
func (w *Worker) releaseArgs(args *Args) { args.Reset() }

// Callback calls the function at registry ref cb with args and releases the ref. With no
// callback, an error in args is reported as uncaught. Arguments the format could not carry
// (args.Err: a result over 2 GiB) give the callback that error instead. Loop only.
func (w *Worker) Callback(cb int32, args *Args) { w.callback(cb, args, "") }

// callback is Callback with where, the file:line of the call that had no callback.
func (w *Worker) callback(cb int32, args *Args, where string) {
	if args.Err != nil {
		err := args.Err
		args.Reset()
		args.err = ""
		args.Error(err)
	}
	if cb == 0 {
		if args.err != "" {
			if where != "" {
				where = " at " + where
			}
			w.ReportError(fmt.Errorf("uncaught error (no callback)%s: %s", where, args.err))
		}
		return
	}
	w.run(w.scope, cb, true, args.B)
}

// CallRef calls the function at registry ref fn with packed arguments, keeping the ref, in
// a runtime thread of the current scope. It returns the Lua error (with traceback) after
// reporting it; nil when the call returned or awaits. Loop only.
func (w *Worker) CallRef(fn int32, args []byte) error { return w.run(w.scope, fn, false, args) }

// Unref releases a registry ref. Loop only.
func (w *Worker) Unref(ref int32) { w.st.Unref(ref) }

// NewArgs returns the worker's callback argument buffer, emptied. Valid until the next
// callback runs. Called from inside a Lua call (a Go function calling a callback at once, as
// ticker:stop() does), it returns a fresh buffer: the shared one may be the arguments C is
// still decoding for the call in progress (a finalizer runs Lua mid-decode).
func (w *Worker) NewArgs() *Args {
	if w.st.InCall() {
		return &Args{}
	}
	w.args.Reset()
	w.args.err = ""
	return &w.args
}

// Async runs work on the engine's I/O pool and then its completion on the loop, calling the
// Lua callback cb. When the pool is saturated the callback gets an error. Loop only.
func (w *Worker) Async(cb int32, work func() Completion) { w.async(w.Reserve(cb), work) }

// async runs work on the pool, then completes op with what it returned.
func (w *Worker) async(op *Op, work func() Completion) {
	e := w.engine
	id := w.ID
	err := e.pool.Submit(func() {
		var fn Completion
		func() {
			defer func() {
				if p := recover(); p != nil {
					e.InternalError(id, "an I/O task", p)
					fn = func(w *Worker, a *Args) { a.Error(ErrInternal) }
				}
			}()
			fn = work()
		}()
		op.Complete(fn)
	})
	if err != nil {
		op.CompleteSoon(func(w *Worker, a *Args) { a.Error(err) })
	}
}

// ReportError reports a Lua error that nobody caught: on stderr, with the worker's id, and
// the process will exit 1. The worker goes on. Safe from any goroutine.
func (w *Worker) ReportError(err error) {
	w.uncaught.Add(1)
	w.engine.failed.Store(true)
	var le *lua.Error
	msg := err.Error()
	if errors.As(err, &le) {
		msg = le.Msg
	}
	w.engine.logf(w.ID, "ERROR", "%s", msg)
}

// Logf writes a log line tagged with the worker's id. Safe from any goroutine.
func (w *Worker) Logf(level, format string, args ...any) { w.engine.logf(w.ID, level, format, args...) }

// MemoryKB is the Lua heap of the worker's state.
func (w *Worker) MemoryKB() int { return w.st.MemoryKB() }

// endTick runs what waits for the callback that just returned: the fast objects it
// recorded into are taken over, then the AtTickEnd functions, those they add included. The
// batch being run stays in tickEndRun, so that after a panic in one of them (recovered by
// the caller: see recover.go) the next endTick runs the rest.
func (w *Worker) endTick() {
	if w.fastDirty.Pending() {
		w.fastDirty.Drain(w.takeOver)
	}
	for {
		for len(w.tickEndRun) > 0 {
			fn := w.tickEndRun[0]
			w.tickEndRun[0] = nil
			w.tickEndRun = w.tickEndRun[1:]
			fn()
		}
		if w.tickEndBatch != nil {
			w.tickEndSpare = keepSpare(w.tickEndBatch)
			w.tickEndBatch = nil
		}
		if len(w.tickEnd) == 0 {
			return
		}
		w.tickEndBatch, w.tickEndRun = w.tickEnd, w.tickEnd
		w.tickEnd = w.tickEndSpare[:0]
		w.tickEndSpare = nil
	}
}

// maxKeptSpare bounds the slices the loop keeps for reuse: one burst (100,000 tasks queued
// at once) must not pin its memory for the worker's life.
const maxKeptSpare = 1024

// keepSpare returns s emptied for reuse, or nil when it grew beyond maxKeptSpare (the next
// turn allocates a small one again). Its elements must already be cleared.
func keepSpare[T any](s []T) []T {
	if cap(s) > maxKeptSpare {
		return nil
	}
	return s[:0]
}

// alive reports whether anything keeps the loop running.
func (w *Worker) alive() bool {
	return w.pending > 0 || w.holds > 0 || len(w.timers) > 0 || len(w.local) > 0 || len(w.turnEnd) > 0
}

// start is the worker's goroutine (owned by the engine: Go): it creates the state, runs the
// script, then the loop, and ends once the loop has nothing left or the engine kills it.
func (w *Worker) start(script []byte, chunkname string) {
	defer w.engine.workerEnded()
	if w.engine.cfg.LockThreads {
		// Pinned owners: for C libraries with thread affinity. Costs throughput on Go's
		// scheduler (docs/ARCHITECTURE.md, "Owner goroutines"), hence not the default.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
	}
	st, err := lua.New()
	if err != nil {
		w.engine.fatal(w.ID, err)
		return
	}
	w.st = st
	w.guard.Store(st.EnableGuard())
	st.Owner = w
	st.Finalize = w.finalize
	st.PanicHandler = func(fn string, p any, stack []byte) {
		w.Logf("ERROR", "internal error in %s: %v\n%s", fn, p, stack)
	}
	defer w.close()
	if err := w.install(); err != nil {
		w.engine.fatal(w.ID, err)
		return
	}
	if !w.runMain(script, chunkname) {
		return
	}
	w.finishTick()
	w.loop()
}

func (w *Worker) loop() {
	var spare []Task
	w.wake = newAlarm(w)
	defer w.wake.stop()
	e := w.engine
	shutdownDone := false
	for !w.terminated {
		// Shutdown and kill arrive as flags plus a poke on the notify channel, so that an
		// idle loop waits on that one channel (a multi-channel select costs more than a
		// hello-world handler).
		if !shutdownDone && e.stopFlag.Load() {
			shutdownDone = true
			w.runShutdown()
		}
		if e.killFlag.Load() {
			w.terminate()
			return
		}
		ran := w.runTurn()
		next := w.runTimers()
		items := w.q.swap(spare)
		w.runTasks(items)
		spare = keepSpare(items)
		// What the timers and tasks deferred (their ops completed on the loop, their turn
		// ends) is work at hand: the loop must not wait before it ran.
		if len(items) > 0 || ran || len(w.local) > 0 || len(w.turnEnd) > 0 {
			continue
		}
		if !w.alive() && w.q.closeIfEmpty() {
			return
		}
		next, collected := w.collectIfDue(next)
		if collected {
			continue // what its finalizers ended may have queued work
		}
		if next >= 0 {
			w.armWake(next)
		}
		<-w.q.notify
		w.letProducersIn()
	}
}

// runTurn runs the work at hand: the deferred functions and ops of the loop's turn, until
// none is left, then the turn-end functions (AtTurnEnd), and again while those defer more.
// It reports whether anything ran. A turn runs at most maxTurnGenerations batches of
// deferred work (each the work the batch before deferred): a chain of operations that
// each complete at once (a stream's flushes to a client that keeps up, time.timeout(0)
// in a loop) would otherwise keep the timers and the queue waiting for ever. What is left
// runs after them, still in this turn: its turn-end functions wait for it.
func (w *Worker) runTurn() bool {
	ran := false
	gens := 0
	for {
		for len(w.local) > 0 {
			if gens == maxTurnGenerations {
				return true
			}
			gens++
			items := w.local
			w.local = w.localSpare[:0]
			w.runTasks(items)
			w.localSpare = keepSpare(items)
			ran = true
		}
		if len(w.turnEnd) == 0 {
			return ran
		}
		fns := w.turnEnd
		w.turnEnd = w.turnEndSpare[:0]
		w.turnEndSpare = nil
		for i, fn := range fns {
			fns[i] = nil
			w.protected("a turn-end function", fn)
			w.finishTick()
		}
		w.turnEndSpare = keepSpare(fns)
		ran = true
	}
}

// maxTurnGenerations bounds the batches of deferred work a turn runs before the timers and
// the queue get theirs (runTurn). A request's handler and the callbacks it chains through
// writes take a few; a chain that never ends takes them all.
const maxTurnGenerations = 8

// armWake makes sure the loop is poked within d, when its next timer is due. The poke comes
// from an AfterFunc on the same notify channel that work arrives on, so that the loop waits
// on one channel (a select on two and a timer channel reset per wait cost more than a
// hello-world handler). A wake-up already armed for no later than that is kept, so that a
// loop whose earliest timer did not change (new timers queue behind it) does not touch
// the runtime's timer at all. An early poke only costs a turn of the loop.
func (w *Worker) armWake(d time.Duration) {
	now := w.now()
	at := now + int64(d)
	if w.wakeAt > now && w.wakeAt <= at { // armed, not fired yet, and early enough
		return
	}
	w.wakeAt = at
	w.wake.set(d)
}

// letProducersIn runs each time the loop wakes up: it yields once, so that the goroutines
// already runnable on this P (the connection goroutines the same network poll readied) queue
// their requests before the loop drains. Without it, the first push wakes the loop into the
// P's runnext slot and the loop runs at once with that one request, then parks again: one
// park and wake-up of the loop per request instead of one per batch (hello world at 64
// connections: 1.24x the requests/s with the yield, in one interleaved run).
//
// A yield that finds nothing new (one connection; a wake-up for a timer) is a wasted trip
// through the scheduler (about 5% of the requests/s at one connection), so after
// yieldMissLimit of them in a row the loop stops
// yielding for yieldBackoff wake-ups, then tries again. A pinned loop (--lock-threads) never
// yields: rescheduling a locked goroutine hands its thread off, which costs more than the
// batching gains.
func (w *Worker) letProducersIn() {
	if w.engine.cfg.LockThreads {
		return
	}
	if w.yieldSkips > 0 {
		w.yieldSkips--
		return
	}
	before := w.q.len()
	runtime.Gosched()
	if w.q.len() > before {
		w.yieldMisses = 0
		return
	}
	if w.yieldMisses++; w.yieldMisses >= yieldMissLimit {
		w.yieldMisses, w.yieldSkips = 0, yieldBackoff
	}
}

const (
	yieldMissLimit = 4
	yieldBackoff   = 64
)

// poke wakes the loop if it is waiting. Safe from any goroutine.
func (w *Worker) poke() {
	select {
	case w.q.notify <- struct{}{}:
	default:
	}
}

func (w *Worker) runShutdown() {
	fns := w.shutdown
	w.shutdown = nil
	for _, fn := range fns {
		w.protected("a shutdown function", fn)
		w.finishTick()
	}
}

// terminate ends the loop now: queued tasks are dropped and timers cancelled.
func (w *Worker) terminate() {
	w.terminated = true
	w.q.close()
	for len(w.timers) > 0 {
		w.timers[0].Stop()
	}
}

func (w *Worker) close() {
	w.q.close()
	w.closing = true
	w.st.Close()
	for _, fn := range w.afterClose { // no Lua can run any more: nothing reaches their memory
		fn()
	}
	w.afterClose = nil
	if w.fastDirty != (lua.FastList{}) {
		w.fastDirty.Free()
		w.fastDirty = lua.FastList{}
	}
}

// Post pushes a task that must not be refused for load: the completion of something the
// loop already admitted (its bound was applied then). ErrWorkerStopped after the worker
// ended. Safe from any goroutine.
func (w *Worker) Post(t Task) error { return w.q.push(t, false) }
