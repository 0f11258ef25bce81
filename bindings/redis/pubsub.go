package redis

import (
	"context"
	"fmt"
	"sync"

	goredis "github.com/redis/go-redis/v9"

	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/packed"
)

// A subscription reads its connection on a goroutine of the engine's (Engine.Go), not on
// the I/O pool: it waits for messages for as long as it lives, and must not take a slot
// that commands need. Each message goes to the worker's loop as a task, and the handler
// runs there. At most maxUndelivered messages wait for the loop: beyond, the reader stops
// reading (the server buffers, then applies its client-output-buffer-limit), so that a
// flood cannot grow the worker's queue without bound.
//
// A subscription holds its worker (Worker.Hold) until it ends: sub:close(), the client's
// close(), an error of its connection (the handler gets it, once, and nothing after), or
// the engine's shutdown. Dropping the Lua object does not end it: a script that subscribes
// for the life of the process need not keep it.
const maxUndelivered = 1024

type subscription struct {
	// Set at subscribe, read-only after.
	w        *engine.Worker
	reg      *registry
	sh       *shared
	ps       *goredis.PubSub
	channels []string
	pattern  bool
	ctx      context.Context
	cancel   context.CancelFunc
	sem      chan struct{} // messages posted to the loop and not run yet
	done     chan struct{} // closed by stopIO

	mu        sync.Mutex // protects connected, stopped
	connected bool       // the reader subscribed: ps has a connection that Close cuts
	stopped   bool
	stopOnce  sync.Once

	// Loop only.
	cl      *client
	handler int32 // registry ref
	id      uint64
	ready   bool  // every channel is confirmed
	ended   bool  // closed or failed: the handler is not called again
	failure error // why it ended
	waiting []*engine.Op
}

// live are each worker's subscriptions, which its shutdown closes.
var live *engine.WorkerLocal[map[*subscription]struct{}]

func init() {
	live = engine.NewWorkerLocal(func(w *engine.Worker) *map[*subscription]struct{} {
		m := map[*subscription]struct{}{}
		w.OnShutdown(func() {
			for s := range m {
				s.end(w, errSubClosed)
			}
		})
		return &m
	})
}

// client:subscribe(channels, handler) -> subscription; client:psubscribe(patterns, handler)
// likewise, with message.pattern. handler(err, {channel = ..., message = ...}).
func clientSubscribe(c *engine.Call, pattern bool) int {
	w, cl := liveClient(c)
	what := "channels"
	if pattern {
		what = "patterns"
	}
	var channels []string
	switch c.Type(2) {
	case engine.TypeString:
		channels = []string{c.CheckString(2)}
	case engine.TypeTable:
		r := packed.Reader{B: c.Encode(2)}
		k, _, _, narr, nrec, err := r.Next()
		if err != nil || (k != packed.TagTable && k != packed.TagArray) || nrec != 0 || narr == 0 {
			c.ArgError(2, what+" must be a non-empty list of strings")
		}
		for j := 0; j < narr; j++ {
			k, _, str, _, _, err := r.Next()
			if err != nil || k != packed.TagString {
				c.ArgError(2, fmt.Sprintf("%s must be a non-empty list of strings (#%d is not a string)", what, j+1))
			}
			channels = append(channels, string(str))
		}
	default:
		c.TypeError(2, "table or string")
	}
	if c.Type(3) != engine.TypeFunction {
		c.TypeError(3, "function")
	}
	if c.Type(4) != engine.TypeNone {
		c.ArgError(4, "no more arguments expected (the handler is called for each message)")
	}
	sh := cl.reg.acquire(cl.opts)
	if sh == nil {
		c.Raise("redis: the engine is shutting down")
	}
	ctx, cancel := context.WithCancel(cl.reg.ctx)
	s := &subscription{
		w: w, reg: cl.reg, sh: sh, channels: channels, pattern: pattern, ctx: ctx, cancel: cancel,
		sem: make(chan struct{}, maxUndelivered), done: make(chan struct{}), cl: cl,
	}
	// No channel yet: Subscribe with none makes the PubSub without I/O. The reader
	// subscribes, which dials.
	s.ps = sh.rc.Subscribe(ctx)
	s.reg.mu.Lock()
	closed := s.reg.closed
	if !closed {
		s.reg.subs[s] = struct{}{}
	}
	s.reg.mu.Unlock()
	if closed {
		cancel()
		s.ps.Close()
		cl.reg.release(sh)
		c.Raise("redis: the engine is shutting down")
	}
	s.handler = c.RefArg(3)
	w.Hold()
	(*live.Get(w))[s] = struct{}{}
	cl.subs[s] = struct{}{}
	out := c.Out()
	s.id = w.NewObject(out, subClass, s)
	if !w.Engine().Go("redis: subscription", s.read) {
		s.end(w, errSubClosed)
	}
	return c.Return()
}

// read is the subscription's goroutine: it subscribes, then hands every message over.
func (s *subscription) read() {
	// go-redis's PubSub dials again by itself after an error (in Receive): whatever it
	// holds then is closed here, since the subscription ends at its first error.
	defer s.ps.Close()
	var err error
	if s.pattern {
		err = s.ps.PSubscribe(s.ctx, s.channels...)
	} else {
		err = s.ps.Subscribe(s.ctx, s.channels...)
	}
	s.mu.Lock()
	stopped := s.stopped
	s.connected = err == nil
	s.mu.Unlock()
	if stopped {
		return // stopIO came while the subscription was made, and could not cut it
	}
	confirmed := 0
	for err == nil {
		var m any
		m, err = s.ps.Receive(s.ctx)
		if err != nil {
			break
		}
		var t engine.Task
		switch m := m.(type) {
		case *goredis.Subscription:
			if m.Kind != "subscribe" && m.Kind != "psubscribe" {
				continue
			}
			if confirmed++; confirmed != len(s.channels) {
				continue
			}
			t = engine.TaskFunc(s.readied)
		case *goredis.Message:
			t = &delivery{s: s, m: m}
		default: // a pong
			continue
		}
		select {
		case s.sem <- struct{}{}:
		case <-s.done:
			return
		}
		if s.w.Post(t) != nil {
			return // the worker ended
		}
	}
	select {
	case <-s.done:
		return // the error is the close's
	default:
	}
	s.w.Post(&failure{s: s, err: commandError("subscribe", err)})
}

// stopIO ends the reader: safe from any goroutine, idempotent.
func (s *subscription) stopIO() {
	s.stopOnce.Do(func() {
		s.mu.Lock()
		s.stopped = true
		connected := s.connected
		s.mu.Unlock()
		close(s.done)
		// First the context: a dial in flight (go-redis dials again after an error, holding
		// the PubSub's lock) ends at once, so that Close below, which takes that lock,
		// never waits on the network.
		s.cancel()
		if connected {
			s.ps.Close() // cuts the read; it does not wait for the reader
		}
	})
}

// end ends the subscription on the loop: no handler call after it, ready callers get
// why. Idempotent.
func (s *subscription) end(w *engine.Worker, why error) {
	if s.ended {
		return
	}
	s.ended = true
	s.failure = why
	s.stopIO()
	s.reg.mu.Lock()
	delete(s.reg.subs, s)
	s.reg.mu.Unlock()
	s.reg.release(s.sh)
	delete(*live.Get(w), s)
	delete(s.cl.subs, s)
	if s.handler != 0 {
		w.Unref(s.handler)
		s.handler = 0
	}
	w.Unhold()
	waiting := s.waiting
	s.waiting = nil
	for _, op := range waiting {
		op.CompleteNow(w, func(w *engine.Worker, a *engine.Args) { a.Error(why) })
	}
}

// readied runs on the loop when every channel is confirmed.
func (s *subscription) readied(w *engine.Worker) {
	<-s.sem
	if s.ended {
		return
	}
	s.ready = true
	waiting := s.waiting
	s.waiting = nil
	for _, op := range waiting {
		op.CompleteNow(w, nil)
	}
}

// delivery is a message on its way to the handler.
type delivery struct {
	s *subscription
	m *goredis.Message
}

func (d *delivery) Run(w *engine.Worker) {
	s := d.s
	<-s.sem
	if s.ended {
		return
	}
	a := w.NewArgs()
	a.Nil()
	n := 2
	if d.m.Pattern != "" {
		n = 3
	}
	a.Table(0, n)
	a.Field("channel", d.m.Channel)
	a.Field("message", d.m.Payload)
	if n == 3 {
		a.Field("pattern", d.m.Pattern)
	}
	w.CallRef(s.handler, a.B) // an error it raises is reported; the subscription goes on
}

// failure is the error that ended a subscription's connection.
type failure struct {
	s   *subscription
	err error
}

func (f *failure) Run(w *engine.Worker) {
	s := f.s
	if s.ended {
		return
	}
	fn := s.handler
	s.handler = 0 // kept for this last call
	s.end(w, f.err)
	a := w.NewArgs()
	a.Error(f.err)
	w.CallRef(fn, a.B)
	w.Unref(fn)
}

// sub:ready(cb?): cb(nil) once the server confirmed every channel (await: true), or
// cb(err) if the subscription failed or was closed first.
func subReady(c *engine.Call) int {
	w := engine.WorkerOf(c)
	id := w.ObjectID(c, 1, subClass)
	if id == 0 {
		c.TypeError(1, "redisSubscription")
	}
	v, ok := w.Lookup(id)
	if !ok {
		c.ArgError(1, "redisSubscription is gone") // collected: cannot happen while Lua holds it
	}
	s := v.(*subscription)
	op := w.ReserveCall(c, 2)
	switch {
	case s.ended:
		why := s.failure
		return op.ReturnNow(c, func(w *engine.Worker, a *engine.Args) { a.Error(why) })
	case s.ready:
		return op.ReturnNow(c, nil)
	}
	s.waiting = append(s.waiting, op)
	return op.Return(c)
}

// sub:close(): no more messages; the handler is not called again.
func subClose(c *engine.Call) int {
	w := engine.WorkerOf(c)
	id := w.ObjectID(c, 1, subClass)
	if id == 0 {
		c.TypeError(1, "redisSubscription")
	}
	if v, ok := w.Lookup(id); ok {
		v.(*subscription).end(w, errSubClosed)
	}
	return 0
}

func subString(c *engine.Call) int {
	w := engine.WorkerOf(c)
	v, ok := w.Lookup(w.ObjectID(c, 1, subClass))
	if !ok {
		return c.ReturnString("redisSubscription")
	}
	s := v.(*subscription)
	state := "live"
	switch {
	case s.ended:
		state = "ended"
	case s.ready:
		state = "ready"
	}
	return c.ReturnString(fmt.Sprintf("redisSubscription (%d %s, %s)", len(s.channels), map[bool]string{false: "channels", true: "patterns"}[s.pattern], state))
}
