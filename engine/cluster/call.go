package cluster

import (
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// Reply is one handler's answer to a broadcast.
type Reply struct {
	Node     string // the answering node's name
	WorkerID int    // the answering worker
	Result   []byte // the result, when Err is empty
	Err      string // the handler's error text, or ErrBusy's / ErrShuttingDown's
	// Cause is ErrBusy or ErrShuttingDown when the node answered instead of the handler
	// (Err is then its text); nil when Err is the handler's.
	Cause error
}

// outCall is a call or broadcast this node made and still waits on.
type outCall struct {
	n       *Node
	id      uint64
	name    string
	reply   string // the reply subject
	body    []byte // the request, kept for retries
	timeout time.Duration
	timer   *time.Timer

	// call
	done      func(result []byte, errMsg string, err error)
	tried     []string // instances tried; the last is the current target
	triedBuf  [2]string
	queueFull bool

	// broadcast
	bc *bcastState
}

type bcastState struct {
	mu       sync.Mutex // protects following
	done     func([]Reply, error)
	replies  []Reply
	nodes    map[string]*bcNode // by instance
	open     int                // nodes not complete
	finished bool
}

type bcNode struct {
	want, got int // want < 0: not known yet
	complete  bool
}

// outbound holds this node's calls and broadcasts waiting for answers,
// keyed by the id that ends their reply subject. Whoever takes an entry out
// (answer, timeout, Shutdown) completes it, so done runs exactly once.
type outbound struct {
	mu     sync.Mutex // protects following
	m      map[uint64]*outCall
	closed bool

	isClosed atomic.Bool // closed, readable without mu
}

// add registers c and starts its timer; false once the node closed.
func (o *outbound) add(c *outCall) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return false
	}
	o.m[c.id] = c
	// Under o.mu, so that the timer and an early answer see c.timer set.
	c.timer = time.AfterFunc(c.timeout, func() { c.n.expire(c.id) })
	return true
}

func (o *outbound) get(id uint64) *outCall {
	o.mu.Lock()
	c := o.m[id]
	o.mu.Unlock()
	return c
}

func (o *outbound) take(id uint64) *outCall {
	o.mu.Lock()
	c := o.m[id]
	if c != nil {
		delete(o.m, id)
		c.timer.Stop()
	}
	o.mu.Unlock()
	return c
}

func (o *outbound) len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.m)
}

// refuseNew makes add fail from now on.
func (o *outbound) refuseNew() {
	o.mu.Lock()
	o.closed = true
	o.isClosed.Store(true)
	o.mu.Unlock()
}

func (o *outbound) closeAll() []*outCall {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.closed = true
	o.isClosed.Store(true)
	cs := make([]*outCall, 0, len(o.m))
	for id, c := range o.m {
		c.timer.Stop()
		cs = append(cs, c)
		delete(o.m, id)
	}
	return cs
}

// fail completes a taken call or broadcast with err.
func (c *outCall) fail(err error) {
	if c.bc != nil {
		c.bc.finish(err)
		return
	}
	c.done(nil, "", err)
}

func (b *bcastState) finish(err error) {
	b.mu.Lock()
	b.finished = true
	rs := b.replies
	b.mu.Unlock()
	b.done(rs, err)
}

func (n *Node) newOut(name string, payload []byte, timeout time.Duration) *outCall {
	if timeout <= 0 {
		timeout = n.cfg.DefaultTimeout
	}
	c := &outCall{n: n, id: n.nextID(), name: name, timeout: timeout}
	c.reply = n.inboxPrefix + strconv.FormatUint(c.id, 36)
	c.body = appendRequest(make([]byte, 0, len(payload)+12), timeout, payload)
	return c
}

// Call sends payload to one handler of name, on this node if it has one,
// else on another node, and calls done exactly once with the outcome:
//   - the handler's result (errMsg "" and err nil);
//   - the handler's error text in errMsg (err nil);
//   - err: ErrNoHandler ("no handler for 'name'") at once when no node serves
//     name, ErrTimeout after timeout (<= 0: Config.DefaultTimeout),
//     ErrBusy, ErrShuttingDown, ErrClosed, ErrBadName, or a NATS error.
//
// A call the chosen node sends back unhandled (its worker queues are full,
// it just unregistered the name, it is shutting down, it is gone) is retried
// on another node, once per node, within the same timeout.
//
// done runs on the node's reply-delivery goroutine, on a timer goroutine, on
// the goroutine that calls Shutdown, on the goroutine that called Reply (a call
// this node's own handler answered), or, for errors found before anything is
// sent (bad name, no handler, closed), on the caller's goroutine before Call
// returns. It must not block: it holds up every other reply to this node.
// result belongs to done. Call does not keep payload after it returns.
func (n *Node) Call(name string, payload []byte, timeout time.Duration, done func(result []byte, errMsg string, err error)) {
	if err := ValidName(name); err != nil {
		done(nil, "", err)
		return
	}
	if n.out.isClosed.Load() {
		done(nil, "", ErrClosed)
		return
	}
	c := n.newOut(name, payload, timeout)
	c.done = done
	n.census.mu.RLock()
	t, ok := n.census.pickLocked(name, nil)
	if !ok {
		n.census.mu.RUnlock()
		done(nil, "", noHandlerError(name))
		return
	}
	c.tried = append(c.triedBuf[:0], t.inst)
	if !n.out.add(c) {
		n.census.mu.RUnlock()
		done(nil, "", ErrClosed)
		return
	}
	if t.inst == n.inst {
		n.census.mu.RUnlock()
		n.callLocal(c)
		return
	}
	err := n.nc.PublishRequest(t.subject, c.reply, c.body)
	n.census.mu.RUnlock()
	if err != nil {
		n.finishCall(c, nil, "", fmt.Errorf("drlee: send call: %w", err))
	}
}

// callLocal hands c straight to one of this node's workers, without going through NATS:
// sequential rpc.call between the two workers of one process went from 70-80 µs to 13-14
// µs a call, timed from Lua (BenchmarkCallLocal: 2.6 µs for the transport alone).
// Everything else is as for a call that went over the wire: the timeout, the retry on other
// nodes when every local worker is busy, Shutdown, and the maximum payload.
func (n *Node) callLocal(c *outCall) {
	if max := n.nc.MaxPayload(); max > 0 && int64(len(c.body)) > max {
		n.finishCall(c, nil, "", fmt.Errorf("drlee: send call: %w", nats.ErrMaxPayload))
		return
	}
	timeout, payload, _ := parseRequest(c.body) // c.body is ours: the Request may keep payload
	req := &Request{Payload: payload, Name: c.name, Deadline: time.Now().Add(timeout), n: n, local: c}
	if !n.deliverCall(req) {
		n.retry(c) // unregistered or leaving since the census said otherwise
	}
}

// retry sends c to another node, or completes it when none is left.
func (n *Node) retry(c *outCall) {
	n.census.mu.RLock()
	t, ok := n.census.pickLocked(c.name, c.tried)
	if ok {
		c.tried = append(c.tried, t.inst)
		err := n.nc.PublishRequest(t.subject, c.reply, c.body)
		n.census.mu.RUnlock()
		if err != nil {
			n.finishCall(c, nil, "", fmt.Errorf("drlee: send call: %w", err))
		}
		return
	}
	n.census.mu.RUnlock()
	if c.queueFull {
		n.finishCall(c, nil, "", ErrBusy)
	} else {
		n.finishCall(c, nil, "", noHandlerError(c.name))
	}
}

func (n *Node) finishCall(c *outCall, result []byte, errMsg string, err error) {
	if n.out.take(c.id) != nil {
		c.done(result, errMsg, err)
	}
}

// expire runs on the timer goroutine of call id.
func (n *Node) expire(id uint64) {
	c := n.out.take(id)
	if c == nil {
		return
	}
	if c.bc != nil {
		c.bc.finish(nil)
		return
	}
	c.done(nil, "", timeoutError(c.name, c.timeout))
}

func isNoResponders(m *nats.Msg) bool {
	return len(m.Data) == 0 && m.Header.Get("Status") == "503"
}

// onReply handles every answer to this node's calls and broadcasts (on the
// inbox subscription's delivery goroutine).
func (n *Node) onReply(m *nats.Msg) {
	id, err := strconv.ParseUint(m.Subject[len(n.inboxPrefix):], 36, 64)
	if err != nil {
		return
	}
	c := n.out.get(id)
	if c == nil {
		return // late: timed out, or a retry's leftover
	}
	if c.bc != nil {
		n.onBcastReply(c, m)
		return
	}
	if len(m.Data) == 0 {
		if isNoResponders(m) {
			// Nobody listens on that node's call subject: it is gone.
			n.census.remove(c.tried[len(c.tried)-1])
			n.retry(c)
		}
		return
	}
	switch m.Data[0] {
	case tagOK:
		n.finishCall(c, m.Data[1:], "", nil)
	case tagErr:
		n.finishCall(c, nil, string(m.Data[1:]), nil)
	case tagNotHere:
		n.retry(c)
	case tagQueueFull:
		c.queueFull = true
		n.retry(c)
	case tagShutdown:
		n.finishCall(c, nil, "", ErrShuttingDown)
	}
}

// Broadcast sends payload to every handler of name on every node and calls
// done once with one Reply per handler that answered before timeout (<= 0:
// Config.DefaultTimeout), in arrival order. done gets a non-nil error only
// when nothing was sent (ErrBadName, ErrClosed, a NATS error).
//
// Broadcast does not always wait for the timeout: each node answers with
// how many of its handlers got the message, and the census says which nodes
// serve name, so done runs as soon as every such node's handlers all
// answered. It waits for the timeout when a node the census lists does not
// answer (it died since its last heartbeat), or a handler does not. With no
// handler anywhere, done(nil, nil) runs at once.
//
// done runs on the same goroutines as Call's and must not block either.
// Results belong to done. Broadcast does not keep payload after it returns.
func (n *Node) Broadcast(name string, payload []byte, timeout time.Duration, done func([]Reply, error)) {
	if err := ValidName(name); err != nil {
		done(nil, err)
		return
	}
	if n.out.isClosed.Load() {
		done(nil, ErrClosed)
		return
	}
	c := n.newOut(name, payload, timeout)
	bc := &bcastState{done: done}
	c.bc = bc
	n.census.mu.RLock()
	ts := n.census.nodesLocked(name)
	if len(ts) == 0 {
		n.census.mu.RUnlock()
		done(nil, nil)
		return
	}
	bc.nodes = make(map[string]*bcNode, len(ts))
	for _, t := range ts {
		bc.nodes[t.inst] = &bcNode{want: -1}
	}
	bc.open = len(ts)
	if !n.out.add(c) {
		n.census.mu.RUnlock()
		done(nil, ErrClosed)
		return
	}
	err := n.nc.PublishRequest(n.bcastPrefix+name, c.reply, c.body)
	n.census.mu.RUnlock()
	if err != nil && n.out.take(c.id) != nil {
		bc.finish(fmt.Errorf("drlee: send broadcast: %w", err))
	}
}

func (n *Node) onBcastReply(c *outCall, m *nats.Msg) {
	bc := c.bc
	if isNoResponders(m) {
		// No node subscribes to the name any more: nobody else will answer.
		if n.out.take(c.id) != nil {
			bc.finish(nil)
		}
		return
	}
	r, err := parseBcastReply(m.Data)
	if err != nil {
		return
	}
	bc.mu.Lock()
	if bc.finished {
		bc.mu.Unlock()
		return
	}
	nd := bc.nodes[r.inst]
	if nd == nil {
		// A node the census did not know yet; wait for it too.
		nd = &bcNode{want: -1}
		bc.nodes[r.inst] = nd
		bc.open++
	}
	if nd.want < 0 {
		nd.want = r.of
	}
	if r.tag != tagNone {
		nd.got++
		rep := Reply{Node: r.node, WorkerID: r.workerID}
		switch r.tag {
		case tagOK:
			rep.Result = r.data
		case tagErr:
			rep.Err = string(r.data)
		case tagQueueFull:
			rep.Err, rep.Cause = ErrBusy.Error(), ErrBusy
		case tagShutdown:
			rep.Err, rep.Cause = ErrShuttingDown.Error(), ErrShuttingDown
		default:
			rep.Err, rep.Cause = errBadWire.Error(), errBadWire
		}
		bc.replies = append(bc.replies, rep)
	}
	if !nd.complete && nd.got >= nd.want {
		nd.complete = true
		bc.open--
	}
	all := bc.open == 0
	bc.mu.Unlock()
	if all && n.out.take(c.id) != nil {
		bc.finish(nil)
	}
}
