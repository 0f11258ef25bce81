package kv

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/drlee/drlee/engine"
)

// A watcher reads its JetStream watch on a goroutine of the engine's (Engine.Go), not on
// the I/O pool: it waits for changes for as long as it lives. Each change goes to the
// worker's loop as a task, in the order JetStream delivered them, and the handler runs
// there. At most maxUndelivered changes wait for the loop: beyond, the reader stops taking
// them, nats.go's channel fills, and JetStream's flow control holds the rest, so that a
// burst of writes cannot grow the worker's queue without bound.
//
// The watch starts with the current value of every key under the prefix (deleted keys
// left out), oldest first, then every change after it, in revision order. A change is
// sent from the bucket's stream, which keeps the last `history` revisions of each key: a
// revision that `history` later writes of the same key replaced before the watch read it
// is gone, and the watch skips it (measured with three nodes and history = 1: a watch
// through a node that does not lead the stream missed about one change in ten of two
// writers updating a key each as fast as they could; none with history = 64). The last
// revision of a key always comes; w:ready() waits for the current values to have
// been handed over. It holds its worker (Worker.Hold) until it ends: w:stop(), an error
// (the handler gets it, once, and nothing after), or the worker's shutdown. Dropping the
// Lua object does not end it, as with an HTTP server or an rpc handler.
const maxUndelivered = 1024

type watcher struct {
	// Set at watch, read-only after.
	w      *engine.Worker
	b      *bucket
	prefix string // keys must start with it
	filter string // the subject filter JetStream applies: prefix up to its last '.', then '>'
	ctx    context.Context
	cancel context.CancelFunc // ends the subscription (nats.go unsubscribes on it)
	sem    chan struct{}      // changes posted to the loop and not run yet
	done   chan struct{}      // closed by stopIO

	stopOnce sync.Once
	stopping atomic.Bool

	// Loop only.
	handler int32 // registry ref
	ready   bool  // the current values were handed over
	ended   bool  // stopped or failed: the handler is not called again
	failure error
	waiting []*engine.Op
}

var errWatchStopped = engine.NewError("ECANCELED", "kv.watch: the watcher was stopped")

// live are each worker's watchers, which its shutdown stops.
var live *engine.WorkerLocal[map[*watcher]struct{}]

func init() { live = engine.NewWorkerLocal(newLive) }

func newLive(w *engine.Worker) *map[*watcher]struct{} {
	m := map[*watcher]struct{}{}
	w.OnShutdown(func() {
		for x := range m {
			x.end(w, errWatchStopped)
		}
	})
	// A worker killed at the shutdown timeout may end without its OnShutdown functions
	// having run to the end: the readers must still go.
	w.AfterClose(func() {
		for x := range m {
			x.stopIO()
		}
	})
	return &m
}

// watchFilter is the subject filter for prefix: JetStream filters by whole tokens, so the
// prefix's last partial token is left to the reader's check.
func watchFilter(prefix string) string {
	if i := strings.LastIndexByte(prefix, '.'); i >= 0 {
		return prefix[:i+1] + ">"
	}
	return ">"
}

// b:watch(prefix, handler) -> watcher; handler(err, {key, value, revision, op}).
func bucketWatch(c *engine.Call) int {
	w, b := bucketOf(c)
	prefix := ""
	switch c.Type(2) {
	case engine.TypeNil:
	case engine.TypeString:
		prefix = c.CheckString(2)
		if err := validPrefix(prefix); err != nil {
			c.ArgError(2, err.Error())
		}
	default:
		c.TypeError(2, "string")
	}
	if c.Type(3) != engine.TypeFunction {
		c.TypeError(3, "function")
	}
	if c.Type(4) != engine.TypeNone {
		c.ArgError(4, "no more arguments expected (the handler is called for each change)")
	}
	ctx, cancel := context.WithCancel(context.Background())
	x := &watcher{
		w: w, b: b, prefix: prefix, filter: watchFilter(prefix), ctx: ctx, cancel: cancel,
		sem: make(chan struct{}, maxUndelivered), done: make(chan struct{}),
	}
	x.handler = c.RefArg(3)
	w.Hold()
	(*live.Get(w))[x] = struct{}{}
	out := c.Out()
	w.NewObject(out, watcherClass, x)
	if !w.Engine().Go("kv: watch", x.read) {
		x.end(w, errWatchStopped)
	}
	return c.Return()
}

// read is the watcher's goroutine: it starts the watch, then hands every change over.
func (x *watcher) read() {
	// The watch's context lives as long as the watcher (nats.go ends the subscription when
	// it is cancelled), so its start is bounded by a timer of its own.
	var timedOut atomic.Bool
	t := time.AfterFunc(x.b.timeout, func() {
		timedOut.Store(true)
		x.cancel()
	})
	kw, err := x.b.kv.Watch(x.ctx, x.filter)
	t.Stop()
	if err != nil {
		if x.stopping.Load() {
			return
		}
		if timedOut.Load() {
			err = context.DeadlineExceeded
		}
		x.post(&watchFailure{x: x, err: opError("kv.watch", x.b.name+"/"+x.prefix, err)})
		return
	}
	initial := map[string]jetstream.KeyValueEntry{} // nil once the current values are out
	for e := range kw.Updates() {
		// Drain to the end even once stopped: nats.go's delivery blocks on this channel,
		// and only closes it (ending its goroutine) after that delivery returned.
		if x.stopping.Load() {
			continue
		}
		switch {
		case e == nil: // the current values are all in: hand them over, oldest first
			cur := make([]jetstream.KeyValueEntry, 0, len(initial))
			for _, e := range initial {
				if e.Operation() == jetstream.KeyValuePut { // a key deleted before the watch is not one
					cur = append(cur, e)
				}
			}
			slices.SortFunc(cur, func(a, b jetstream.KeyValueEntry) int { return cmp.Compare(a.Revision(), b.Revision()) })
			initial = nil
			for _, e := range cur {
				x.post(&change{x: x, e: e})
			}
			x.post(engine.TaskFunc(x.readied))
		case !strings.HasPrefix(e.Key(), x.prefix):
		case initial != nil:
			initial[e.Key()] = e // the last of each key (JetStream sends one; a later one would win)
		default:
			x.post(&change{x: x, e: e})
		}
	}
	if x.stopping.Load() {
		return
	}
	// The subscription ended by itself: the node left the cluster (its connection closed).
	x.post(&watchFailure{x: x, err: engine.WithCode("ECLOSED", fmt.Errorf("kv.watch %s/%s: the watch ended: the node's NATS connection closed", x.b.name, x.prefix))})
}

// post hands t to the loop, waiting while maxUndelivered changes are there already. It
// reports false when the watcher was stopped or the worker has ended.
func (x *watcher) post(t engine.Task) bool {
	select {
	case x.sem <- struct{}{}:
	case <-x.done:
		return false
	}
	if x.w.Post(t) != nil {
		x.stopIO() // the worker ended
		return false
	}
	return true
}

// stopIO ends the watch: safe from any goroutine, idempotent. It does not wait for the
// reader, which drains what nats.go still delivers and ends.
func (x *watcher) stopIO() {
	x.stopOnce.Do(func() {
		x.stopping.Store(true)
		close(x.done)
		x.cancel()
	})
}

// end ends the watcher on the loop: no handler call after it; ready callers get why.
// Idempotent.
func (x *watcher) end(w *engine.Worker, why error) {
	if x.ended {
		return
	}
	x.ended = true
	x.failure = why
	x.stopIO()
	delete(*live.Get(w), x)
	if x.handler != 0 {
		w.Unref(x.handler)
		x.handler = 0
	}
	w.Unhold()
	waiting := x.waiting
	x.waiting = nil
	for _, op := range waiting {
		op.CompleteNow(w, func(w *engine.Worker, a *engine.Args) { a.Error(why) })
	}
}

// readied runs on the loop once the current values were handed over.
func (x *watcher) readied(w *engine.Worker) {
	<-x.sem
	if x.ended {
		return
	}
	x.ready = true
	waiting := x.waiting
	x.waiting = nil
	for _, op := range waiting {
		op.CompleteNow(w, nil)
	}
}

// change is one change on its way to the handler.
type change struct {
	x *watcher
	e jetstream.KeyValueEntry
}

func (d *change) Run(w *engine.Worker) {
	x := d.x
	<-x.sem
	if x.ended {
		return
	}
	a := w.NewArgs()
	a.Nil()
	writeEntry(a, d.e, true)
	w.CallRef(x.handler, a.B) // an error it raises is reported; the watch goes on
}

// watchFailure is the error that ended a watch.
type watchFailure struct {
	x   *watcher
	err error
}

func (f *watchFailure) Run(w *engine.Worker) {
	x := f.x
	<-x.sem
	if x.ended {
		return
	}
	fn := x.handler
	x.handler = 0 // kept for this last call
	x.end(w, f.err)
	a := w.NewArgs()
	a.Error(f.err)
	w.CallRef(fn, a.B)
	w.Unref(fn)
}

// watcherOf returns the kvWatcher at argument 1 (self).
func watcherOf(c *engine.Call) (*engine.Worker, *watcher) {
	w := engine.WorkerOf(c)
	return w, w.Object(c, 1, watcherClass).(*watcher)
}

// w:ready(cb?): cb(nil) once the current values were handed to the handler (await: true),
// or cb(err) if the watch failed or was stopped first.
func watcherReady(c *engine.Call) int {
	w, x := watcherOf(c)
	op := w.ReserveCall(c, 2)
	switch {
	case x.ended:
		why := x.failure
		return op.ReturnNow(c, func(w *engine.Worker, a *engine.Args) { a.Error(why) })
	case x.ready:
		return op.ReturnNow(c, nil)
	}
	x.waiting = append(x.waiting, op)
	return op.Return(c)
}

// w:stop(): no more changes; the handler is not called again. Stopping twice is harmless.
func watcherStop(c *engine.Call) int {
	w, x := watcherOf(c)
	x.end(w, errWatchStopped)
	return 0
}
