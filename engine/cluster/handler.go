package cluster

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// Request is one call or broadcast delivered to one worker's handler.
//
// The handler callback gets it on a NATS delivery goroutine and must not
// block: it should push the Request onto the worker's queue and return. The
// worker later answers with Reply, from any goroutine. If the push fails
// because the queue is full, the callback calls Busy instead.
//
// Exactly one of Reply and Busy takes effect; later calls return false. A
// Request that is never answered costs the caller its timeout, and keeps the
// node's Shutdown waiting until the request's Deadline.
type Request struct {
	// Payload is the caller's message. It belongs to the Request and is
	// shared, read-only, with the other workers' Requests of the same
	// broadcast: do not modify it.
	Payload []byte
	// Name is the RPC name.
	Name string
	// WorkerID is the worker this Request is offered to.
	WorkerID int
	// Broadcast is true for a broadcast, false for a call.
	Broadcast bool
	// Deadline is when the caller stops waiting (its timeout, counted from
	// when the request arrived here).
	Deadline time.Time

	n     *Node
	reply string   // the caller's reply subject, for a request that came over NATS
	local *outCall // the caller's call, for one made on this node (delivered directly)
	of    int      // broadcast: handlers on this node answering it
	state atomic.Int32
}

const (
	stDispatching int32 = iota // inside the handler callback
	stDelivered                // the callback returned; waiting for Reply
	stBusy                     // Busy was called inside the callback
	stReplied                  // answered
)

// Reply sends the handler's answer: result, or the error text errMsg if it is
// not empty. It reports whether this was the first answer to the Request and
// it was handed to NATS; a second Reply, a Reply after Busy, or one after
// the node closed returns false and does nothing. A Reply that comes after
// the caller's timeout is sent and dropped by the caller. result is copied
// before Reply returns.
func (r *Request) Reply(result []byte, errMsg string) bool {
	if errMsg != "" {
		return r.answer(tagErr, nil, errMsg)
	}
	return r.answer(tagOK, result, "")
}

// Busy reports that the worker cannot take the Request (its queue is full).
// Called from inside the handler callback, for a call the node offers the
// request to the next local worker registered for the name; if every one is
// busy, the caller tries other nodes and gets ErrBusy if none can take
// it. For a broadcast, this worker's entry carries ErrBusy. Called later
// (outside the callback), Busy answers ErrBusy at once. It returns false
// if the Request was already answered.
func (r *Request) Busy() bool {
	if r.state.CompareAndSwap(stDispatching, stBusy) {
		return true
	}
	return r.answer(tagQueueFull, nil, "")
}

// answer sends the one answer of r.
func (r *Request) answer(tag byte, data []byte, text string) bool {
	for {
		s := r.state.Load()
		if s != stDispatching && s != stDelivered {
			return false
		}
		if r.state.CompareAndSwap(s, stReplied) {
			break
		}
	}
	n := r.n
	n.inflight.remove(r)
	if r.local != nil {
		return n.answerLocal(r.local, tag, data, text)
	}
	bp := getBuf()
	b := *bp
	if r.Broadcast {
		b = appendBcastHead(b, tag, r.WorkerID, r.of, n.inst, n.name)
	} else {
		b = append(b, tag)
	}
	head := len(b)
	if tag == tagErr {
		b = append(b, text...)
	} else {
		b = append(b, data...)
	}
	ok := true
	if max := n.nc.MaxPayload(); max > 0 && int64(len(b)) > max {
		// Tell the caller instead of letting it time out.
		ok = false
		b = append(b[:head], tooLarge(len(data), max)...)
		b[0] = tagErr // both reply formats start with the tag
	}
	err := n.nc.Publish(r.reply, b)
	*bp = b
	putBuf(bp)
	return ok && err == nil
}

// tooLarge is the error text a caller gets for a result too large to send. It travels as a
// handler's text does, so it carries its code (EMSGSIZE, as the engine's error strings
// start; this package is below the engine).
func tooLarge(n int, max int64) string {
	return fmt.Sprintf("EMSGSIZE: drlee: rpc result of %d bytes exceeds the NATS maximum payload (%d)", n, max)
}

// answerLocal completes a call made on this node the way onReply completes one that came
// back over NATS. The same size limit applies, so that a result does not succeed or fail
// depending on which node answered.
func (n *Node) answerLocal(c *outCall, tag byte, data []byte, text string) bool {
	switch tag {
	case tagOK:
		if max := n.nc.MaxPayload(); max > 0 && int64(len(data)+1) > max {
			n.finishCall(c, nil, tooLarge(len(data), max), nil)
			return false
		}
		n.finishCall(c, append([]byte(nil), data...), "", nil) // Reply's result is not kept
	case tagErr:
		n.finishCall(c, nil, text, nil)
	case tagQueueFull:
		c.queueFull = true
		n.retry(c)
	case tagShutdown:
		n.finishCall(c, nil, "", ErrShuttingDown)
	default:
		n.retry(c)
	}
	return true
}

type registration struct {
	name     string
	workerID int
	h        func(*Request)
}

type localName struct {
	regs  []*registration // replaced on change, never modified in place
	next  atomic.Uint32   // round robin over regs
	bcSub *nats.Subscription
}

// local holds this node's registrations.
type local struct {
	mu    sync.RWMutex // protects following; held for reading while handler callbacks run
	names map[string]*localName
	seq   uint64 // bumped on every change, announced in the census
}

func (l *local) counts() (uint64, map[string]int) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	m := make(map[string]int, len(l.names))
	for name, ln := range l.names {
		m[name] = len(ln.regs)
	}
	return l.seq, m
}

// Register makes worker workerID a handler for name: calls for name from any
// node may be delivered to it (shared with the other handlers of the name,
// this node's first), and it gets every broadcast for name.
//
// h is called while this node's registry is locked for reading: on a NATS
// delivery goroutine (one at a time per node for calls that came over NATS,
// per name for broadcasts) or, for a call made on this node, on the
// goroutine that called Call. It must not block and must not call Register or
// an unregister function. After unregister returns, h is not called again. unregister may
// be called more than once and from any goroutine.
//
// A worker registers a name once (ErrDuplicate otherwise). Other nodes learn
// about the handler within a round trip or so; until then their calls may
// still get ErrNoHandler.
func (n *Node) Register(name string, workerID int, h func(*Request)) (unregister func(), err error) {
	if err := ValidName(name); err != nil {
		return nil, err
	}
	if h == nil {
		return nil, errors.New("drlee: nil rpc handler")
	}
	reg := &registration{name: name, workerID: workerID, h: h}
	l := &n.local
	l.mu.Lock()
	if n.closing.Load() {
		l.mu.Unlock()
		return nil, ErrClosed
	}
	ln := l.names[name]
	if ln == nil {
		sub, err := n.nc.Subscribe(n.bcastPrefix+name, func(m *nats.Msg) { n.onBroadcast(name, m) })
		if err != nil {
			l.mu.Unlock()
			return nil, fmt.Errorf("drlee: subscribe: %w", err)
		}
		_ = sub.SetPendingLimits(1<<20, 256<<20)
		ln = &localName{bcSub: sub}
		l.names[name] = ln
	}
	for _, r := range ln.regs {
		if r.workerID == workerID {
			l.mu.Unlock()
			return nil, fmt.Errorf("%w: '%s' by worker %d", ErrDuplicate, name, workerID)
		}
	}
	ln.regs = append(slices.Clip(ln.regs), reg)
	l.seq++
	n.census.setLocal(name, len(ln.regs))
	l.mu.Unlock()
	n.kickAnnounce()
	var once sync.Once
	return func() { once.Do(func() { n.unregister(reg) }) }, nil
}

func (n *Node) unregister(reg *registration) {
	l := &n.local
	l.mu.Lock()
	ln := l.names[reg.name]
	if ln == nil {
		l.mu.Unlock()
		return
	}
	i := slices.Index(ln.regs, reg)
	if i < 0 {
		l.mu.Unlock()
		return
	}
	ln.regs = slices.Delete(slices.Clone(ln.regs), i, i+1)
	if len(ln.regs) == 0 {
		delete(l.names, reg.name)
		// Drain: broadcasts already received are answered (with "no
		// handler here"), not dropped.
		_ = ln.bcSub.Drain()
	}
	l.seq++
	n.census.setLocal(reg.name, len(ln.regs))
	l.mu.Unlock()
	n.kickAnnounce()
}

// onCall delivers a call that came over NATS to one local worker (on the call
// subscription's delivery goroutine).
func (n *Node) onCall(m *nats.Msg) {
	if m.Reply == "" {
		return
	}
	name := m.Subject[len(n.callPrefix):]
	timeout, payload, err := parseRequest(m.Data)
	if err != nil {
		// The text travels as a handler's does: with its code in front.
		_ = n.nc.Publish(m.Reply, append([]byte{tagErr}, "EPROTO: "+err.Error()...))
		return
	}
	req := &Request{Payload: payload, Name: name, Deadline: time.Now().Add(timeout), n: n, reply: m.Reply}
	if !n.deliverCall(req) {
		_ = n.nc.Publish(m.Reply, []byte{tagNotHere})
	}
}

// deliverCall offers req to the local workers registered for its name, round robin,
// skipping busy ones; when all are busy it answers ErrBusy (the caller tries other
// nodes). It reports false, delivering nothing, when this node has no handler for the name
// or is leaving.
func (n *Node) deliverCall(req *Request) bool {
	l := &n.local
	l.mu.RLock()
	ln := l.names[req.Name]
	if ln == nil || len(ln.regs) == 0 || n.leaving.Load() {
		l.mu.RUnlock()
		return false
	}
	n.inflight.add(req)
	regs := ln.regs
	start := int(ln.next.Add(1))
	for i := range regs {
		reg := regs[(start+i)%len(regs)]
		req.WorkerID = reg.workerID
		reg.h(req)
		if req.state.CompareAndSwap(stDispatching, stDelivered) || req.state.Load() == stReplied {
			l.mu.RUnlock()
			return true
		}
		req.state.Store(stDispatching) // busy: offer it to the next worker
	}
	l.mu.RUnlock()
	req.answer(tagQueueFull, nil, "")
	return true
}

// onBroadcast delivers a broadcast to every local worker of name (on that
// name's broadcast subscription's delivery goroutine).
func (n *Node) onBroadcast(name string, m *nats.Msg) {
	if m.Reply == "" {
		return
	}
	timeout, payload, err := parseRequest(m.Data)
	if err != nil {
		return
	}
	l := &n.local
	l.mu.RLock()
	ln := l.names[name]
	if ln == nil || len(ln.regs) == 0 || n.leaving.Load() {
		l.mu.RUnlock()
		bp := getBuf()
		*bp = appendBcastHead(*bp, tagNone, 0, 0, n.inst, n.name)
		_ = n.nc.Publish(m.Reply, *bp)
		putBuf(bp)
		return
	}
	deadline := time.Now().Add(timeout)
	for _, reg := range ln.regs {
		req := &Request{Payload: payload, Name: name, WorkerID: reg.workerID, Broadcast: true,
			Deadline: deadline, n: n, reply: m.Reply, of: len(ln.regs)}
		n.inflight.add(req)
		reg.h(req)
		if req.state.CompareAndSwap(stBusy, stDispatching) {
			req.answer(tagQueueFull, nil, "")
		} else {
			req.state.CompareAndSwap(stDispatching, stDelivered)
		}
	}
	l.mu.RUnlock()
}

// inflight tracks Requests handed to workers and not answered yet, for
// Shutdown.
type inflight struct {
	mu sync.Mutex // protects m
	m  map[*Request]struct{}
}

func (f *inflight) add(r *Request) {
	f.mu.Lock()
	f.m[r] = struct{}{}
	f.mu.Unlock()
}

func (f *inflight) remove(r *Request) {
	f.mu.Lock()
	delete(f.m, r)
	f.mu.Unlock()
}

// live counts the Requests whose caller is still waiting.
func (f *inflight) live() int {
	now := time.Now()
	k := 0
	f.mu.Lock()
	for r := range f.m {
		if r.Deadline.After(now) {
			k++
		}
	}
	f.mu.Unlock()
	return k
}

// sweep forgets Requests whose caller gave up a while ago (a handler that
// never answers must not grow the map forever). Replying to them later is
// still harmless.
func (f *inflight) sweep(now time.Time) {
	limit := now.Add(-time.Second)
	f.mu.Lock()
	for r := range f.m {
		if r.Deadline.Before(limit) {
			delete(f.m, r)
		}
	}
	f.mu.Unlock()
}

func (f *inflight) takeAll() []*Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	rs := make([]*Request, 0, len(f.m))
	for r := range f.m {
		rs = append(rs, r)
	}
	clear(f.m)
	return rs
}
