package cluster

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// The census: every node knows, for every peer, how many handlers it has per
// RPC name. Calls use it to pick a node (and to fail at once with
// ErrNoHandler), broadcasts to know whose answers to wait for.
//
// Protocol, all on the <prefix>.census subject (no queue group):
//   - A node publishes its full state (instance id, name, sequence number,
//     handler count per name) when it starts (with Hello set: every peer then
//     republishes its own state), shortly after each local change, and every
//     Heartbeat. Full state every time, so a lost message heals itself.
//   - A peer that is new to a node, or that says Hello, makes the node
//     republish its own state: a node that joins late learns everyone within
//     one round trip.
//   - A peer not heard from for PeerTimeout (5 heartbeats) is dropped. A call that gets
//     NATS "no responders" from a peer's call subject drops that peer at once
//     (it is gone) and tries another.
//   - Leaving (Shutdown): the node publishes Leaving as a request; each peer
//     removes it and then acknowledges. Callers pick a target and publish
//     while holding census.mu for reading, and a peer applies the removal
//     under census.mu for writing before it acknowledges, so every call that
//     peer sent to the leaving node was published before the ack: NATS keeps
//     one publisher's messages in order, so they all reach the leaving node
//     before the ack does, and it answers them (or sends them back to be
//     retried elsewhere).
type censusMsg struct {
	Inst    string         `json:"i"`
	Node    string         `json:"n"`
	Seq     uint64         `json:"s"`
	Names   map[string]int `json:"h,omitempty"`
	Hello   bool           `json:"q,omitempty"`
	Leaving bool           `json:"l,omitempty"`
}

type peer struct {
	inst, name string
	seq        uint64
	seen       time.Time
	names      map[string]int
	callPrefix string
}

// target is one node serving one name.
type target struct {
	inst    string
	subject string // <prefix>.n.<inst>.c.<name>
	weight  int    // handler count
}

type census struct {
	mu     sync.RWMutex // protects following fields; see the lock order in doc.go
	self   *peer
	left   bool // self left: its handlers are not offered any more
	peers  map[string]*peer
	byName map[string][]target
	prefix string
}

func (c *census) init(prefix string) {
	c.prefix = prefix
	c.peers = make(map[string]*peer)
	c.byName = make(map[string][]target)
}

func (c *census) newPeer(inst, name string) *peer {
	return &peer{inst: inst, name: name, names: map[string]int{}, callPrefix: c.prefix + ".n." + inst + ".c."}
}

func (c *census) setSelf(inst, name string) {
	c.mu.Lock()
	c.self = c.newPeer(inst, name)
	c.peers[inst] = c.self
	c.mu.Unlock()
}

// setLocal records this node's handler count for name.
func (c *census) setLocal(name string, count int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.left {
		return
	}
	if count > 0 {
		c.self.names[name] = count
	} else {
		delete(c.self.names, name)
	}
	c.reindexName(name)
}

// reindexName rebuilds byName[name] from all peers. Lock held.
func (c *census) reindexName(name string) {
	var ts []target
	for _, p := range c.peers {
		if w := p.names[name]; w > 0 {
			ts = append(ts, target{inst: p.inst, subject: p.callPrefix + name, weight: w})
		}
	}
	if len(ts) == 0 {
		delete(c.byName, name)
	} else {
		c.byName[name] = ts
	}
}

// apply records a peer's announced state; it reports whether the peer was new.
func (c *census) apply(m *censusMsg, now time.Time) (isNew bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.peers[m.Inst]
	if p == nil {
		isNew = true
		p = c.newPeer(m.Inst, m.Node)
		c.peers[m.Inst] = p
	} else if m.Seq < p.seq {
		return false // stale
	}
	p.seen = now
	if !isNew && m.Seq == p.seq {
		return false
	}
	p.seq = m.Seq
	old := p.names
	p.names = m.Names
	if p.names == nil {
		p.names = map[string]int{}
	}
	for name, w := range old {
		if p.names[name] != w {
			c.reindexName(name)
		}
	}
	for name := range p.names {
		if _, ok := old[name]; !ok {
			c.reindexName(name)
		}
	}
	return isNew
}

// remove drops a peer (never self).
func (c *census) remove(inst string) {
	c.mu.Lock()
	c.removeLocked(inst)
	c.mu.Unlock()
}

func (c *census) removeLocked(inst string) {
	p := c.peers[inst]
	if p == nil || p == c.self {
		return
	}
	delete(c.peers, inst)
	for name := range p.names {
		c.reindexName(name)
	}
}

// expire drops peers not heard from since before.
func (c *census) expire(before time.Time) {
	c.mu.Lock()
	for inst, p := range c.peers {
		if p != c.self && p.seen.Before(before) {
			c.removeLocked(inst)
		}
	}
	c.mu.Unlock()
}

// leave withdraws this node's handlers and returns the peers it knows.
func (c *census) leave() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.left = true
	old := c.self.names
	c.self.names = map[string]int{}
	for name := range old {
		c.reindexName(name)
	}
	var insts []string
	for inst, p := range c.peers {
		if p != c.self {
			insts = append(insts, inst)
		}
	}
	return insts
}

// pickLocked chooses where to send a call for name: this node if it serves
// the name, else a peer at random weighted by its handler count, skipping
// instances in tried. c.mu must be held (for reading at least) until the
// request is published.
func (c *census) pickLocked(name string, tried []string) (target, bool) {
	ts := c.byName[name]
	total := 0
	for _, t := range ts {
		if contains(tried, t.inst) {
			continue
		}
		if t.inst == c.self.inst {
			return t, true
		}
		total += t.weight
	}
	if total == 0 {
		return target{}, false
	}
	r := rand.IntN(total)
	for _, t := range ts {
		if contains(tried, t.inst) {
			continue
		}
		if r -= t.weight; r < 0 {
			return t, true
		}
	}
	return target{}, false // unreachable
}

// nodesLocked returns the instances serving name. c.mu held.
func (c *census) nodesLocked(name string) []target { return c.byName[name] }

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// onCensus handles a peer's census message (on the census subscription's
// delivery goroutine).
func (n *Node) onCensus(m *nats.Msg) {
	var cm censusMsg
	if json.Unmarshal(m.Data, &cm) != nil || cm.Inst == "" || cm.Inst == n.inst {
		return
	}
	if cm.Leaving {
		n.census.remove(cm.Inst)
		if m.Reply != "" {
			_ = n.nc.Publish(m.Reply, []byte(n.inst))
		}
		return
	}
	if n.census.apply(&cm, time.Now()) || cm.Hello {
		n.kickAnnounce()
	}
}

func (n *Node) kickAnnounce() {
	select {
	case n.announceCh <- struct{}{}:
	default:
	}
}

// announce publishes this node's state. It says nothing once the node left.
func (n *Node) announce(hello bool) {
	n.announceMu.Lock()
	defer n.announceMu.Unlock()
	if n.leaving.Load() {
		return
	}
	seq, names := n.local.counts()
	b, err := json.Marshal(censusMsg{Inst: n.inst, Node: n.name, Seq: seq, Names: names, Hello: hello})
	if err == nil {
		err = n.nc.Publish(n.censusSubj, b)
	}
	if err != nil && !n.closing.Load() {
		n.cfg.Logf("drlee cluster: census announce: %v", err)
	}
}

// censusLoop announces changes (coalesced) and heartbeats, and expires
// silent peers and forgotten requests.
func (n *Node) censusLoop() {
	defer n.wg.Done()
	hb := n.cfg.Heartbeat
	t := time.NewTicker(hb)
	defer t.Stop()
	for {
		select {
		case <-n.quit:
			return
		case <-n.announceCh:
			n.announce(false)
		case now := <-t.C:
			n.announce(false)
			n.census.expire(now.Add(-n.cfg.PeerTimeout))
			n.inflight.sweep(now)
		}
	}
}

// leave tells the peers this node serves nothing any more and waits for
// their acknowledgements (see the protocol above).
func (n *Node) leave(ctx context.Context) {
	n.announceMu.Lock()
	n.leaving.Store(true) // from now on calls that arrive are sent back
	peers := n.census.leave()
	ackSubj := nats.NewInbox()
	acks := make(chan *nats.Msg, len(peers)+64)
	sub, subErr := n.nc.ChanSubscribe(ackSubj, acks)
	b, _ := json.Marshal(censusMsg{Inst: n.inst, Node: n.name, Leaving: true})
	var err error
	if subErr == nil {
		err = n.nc.PublishRequest(n.censusSubj, ackSubj, b)
	} else {
		err = n.nc.Publish(n.censusSubj, b)
	}
	n.announceMu.Unlock()
	if subErr != nil || err != nil {
		n.cfg.Logf("drlee cluster: leave: %v %v", subErr, err)
		return
	}
	defer func() { _ = sub.Unsubscribe() }()
	if len(peers) == 0 {
		return
	}
	want := make(map[string]bool, len(peers))
	for _, p := range peers {
		want[p] = true
	}
	timer := time.NewTimer(n.cfg.LeaveTimeout)
	defer timer.Stop()
	for len(want) > 0 {
		select {
		case m := <-acks:
			delete(want, string(m.Data))
		case <-timer.C:
			n.cfg.Logf("drlee cluster: leave: %d peer(s) did not acknowledge", len(want))
			return
		case <-ctx.Done():
			return
		}
	}
}
