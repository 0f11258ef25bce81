package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

func TestClusterCallReachesRemoteHandler(t *testing.T) {
	t.Parallel()
	ns := startCluster(t, 3)
	a, b, c := ns[0], ns[1], ns[2]
	w := newWorker(t, 7, 8, func(req *Request) ([]byte, string) {
		return []byte("from " + a.Name() + ":" + string(req.Payload)), ""
	})
	register(t, a, "onlyA", w)
	waitCall(t, c, "onlyA")
	for _, from := range []*Node{b, c} {
		for i := 0; i < 20; i++ {
			r := call(t, from, "onlyA", []byte(fmt.Sprint(i)), 0)
			if r.err != nil || string(r.result) != fmt.Sprintf("from n0:%d", i) {
				t.Fatalf("%s: %q %v", from.Name(), r.result, r.err)
			}
		}
	}
	// Remote handler errors travel too.
	w2 := newWorker(t, 1, 8, func(*Request) ([]byte, string) { return nil, "nope" })
	register(t, a, "failA", w2)
	waitCallErrMsg(t, c, "failA", "nope")
	// No handler anywhere: immediate, also across the cluster.
	r := call(t, c, "nowhere", nil, 5*time.Second)
	if !errors.Is(r.err, ErrNoHandler) || r.elapsed > 100*time.Millisecond {
		t.Fatalf("no handler: %v after %v", r.err, r.elapsed)
	}
}

func waitCallErrMsg(t *testing.T, n *Node, name, want string) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for {
		r := call(t, n, name, nil, time.Second)
		if r.err == nil {
			if r.errMsg != want {
				t.Fatalf("errMsg %q, want %q", r.errMsg, want)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", name, r.err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestClusterBroadcast(t *testing.T) {
	t.Parallel()
	ns := startCluster(t, 3)
	// Two workers on each node.
	for i, n := range ns {
		for j := 0; j < 2; j++ {
			w := newWorker(t, i*10+j, 8, func(req *Request) ([]byte, string) {
				return fmt.Appendf(nil, "%d:%s", req.WorkerID, req.Payload), ""
			})
			register(t, n, "everyone", w)
		}
	}
	// Wait until node A's census lists all three nodes.
	deadline := time.Now().Add(testTimeout)
	for {
		ns[0].census.mu.RLock()
		k := len(ns[0].census.nodesLocked("everyone"))
		ns[0].census.mu.RUnlock()
		if k == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("census of n0 lists %d nodes for 'everyone'", k)
		}
		time.Sleep(5 * time.Millisecond)
	}
	rs, took := broadcast(t, ns[0], "everyone", []byte("x"), 5*time.Second)
	if took > time.Second {
		t.Fatalf("broadcast took %v: it should not wait for the timeout", took)
	}
	got := map[string]int{}
	for _, r := range rs {
		if r.Err != "" || string(r.Result) != fmt.Sprintf("%d:x", r.WorkerID) {
			t.Errorf("reply %+v", r)
		}
		got[r.Node]++
	}
	if len(rs) != 6 || got["n0"] != 2 || got["n1"] != 2 || got["n2"] != 2 {
		t.Fatalf("replies per node %v (%d total)", got, len(rs))
	}
}

func TestClusterLateJoin(t *testing.T) {
	t.Parallel()
	ns := startCluster(t, 2)
	late := startNode(t, Config{Node: "late", ClusterAddr: "127.0.0.1:0", Join: []string{ns[1].ClusterAddr()}})
	w := newWorker(t, 1, 8, func(*Request) ([]byte, string) { return []byte("late here"), "" })
	register(t, late, "late.svc", w)
	r := waitCall(t, ns[0], "late.svc")
	if string(r.result) != "late here" {
		t.Fatalf("got %q", r.result)
	}
	// And the late node reaches the others.
	w0 := newWorker(t, 1, 8, echo)
	register(t, ns[0], "first.svc", w0)
	waitCall(t, late, "first.svc")
}

func TestClusterUnregisterPropagates(t *testing.T) {
	t.Parallel()
	ns := startCluster(t, 2)
	w := newWorker(t, 1, 8, echo)
	unreg := register(t, ns[0], "temp", w)
	waitCall(t, ns[1], "temp")
	unreg()
	// The remote caller learns within a heartbeat or so; until then its
	// calls are sent back and end as "no handler" at once, never time out.
	deadline := time.Now().Add(testTimeout)
	for {
		r := call(t, ns[1], "temp", nil, 5*time.Second)
		if !errors.Is(r.err, ErrNoHandler) || r.elapsed > 100*time.Millisecond {
			t.Fatalf("after unregister: %v after %v", r.err, r.elapsed)
		}
		ns[1].census.mu.RLock()
		k := len(ns[1].census.nodesLocked("temp"))
		ns[1].census.mu.RUnlock()
		if k == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("census never dropped 'temp'")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A node with handlers that another node also serves shuts down while a
// steady stream of calls runs: every call ends, none times out, none fails.
func TestClusterShutdownUnderLoad(t *testing.T) {
	t.Parallel()
	ns := startCluster(t, 3)
	a, b, c := ns[0], ns[1], ns[2]
	slow := func(req *Request) ([]byte, string) {
		time.Sleep(200 * time.Microsecond)
		return append([]byte(nil), req.Payload...), ""
	}
	var onA []*worker
	for id := 0; id < 2; id++ {
		w := newWorker(t, id, 64, slow)
		onA = append(onA, w)
		register(t, a, "work", w)
		register(t, b, "work", newWorker(t, id, 64, slow))
	}
	waitNodes(t, c, "work", 2)
	waitNodes(t, a, "work", 2)

	var issued, ok, failed atomic.Int64
	var errsMu sync.Mutex
	errs := map[string]int{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, from := range []*Node{c, c, c, b, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				issued.Add(1)
				payload := fmt.Appendf(nil, "%d", issued.Load())
				ch := make(chan struct{})
				from.Call("work", payload, 3*time.Second, func(res []byte, errMsg string, err error) {
					if err == nil && errMsg == "" && string(res) == string(payload) {
						ok.Add(1)
					} else {
						failed.Add(1)
						errsMu.Lock()
						errs[fmt.Sprint(errMsg, err)]++
						errsMu.Unlock()
					}
					close(ch)
				})
				select {
				case <-ch:
				case <-time.After(testTimeout):
					t.Error("a call never completed")
					return
				}
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	before := ok.Load()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	start := time.Now()
	if err := a.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	cancel()
	took := time.Since(start)
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	t.Logf("issued %d, ok %d (%d before shutdown), failed %d; shutdown took %v", issued.Load(), ok.Load(), before, failed.Load(), took)
	if issued.Load() != ok.Load()+failed.Load() {
		t.Fatalf("lost calls: issued %d, ok %d, failed %d", issued.Load(), ok.Load(), failed.Load())
	}
	if failed.Load() != 0 {
		t.Fatalf("failed calls during shutdown: %v", errs)
	}
	if ok.Load() <= before {
		t.Fatal("no calls completed during/after the shutdown")
	}
	if onA[0].count()+onA[1].count() == 0 {
		t.Fatal("node A served no calls: the test did not exercise its shutdown")
	}
}

func waitNodes(t testing.TB, n *Node, name string, k int) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for {
		n.census.mu.RLock()
		got := len(n.census.nodesLocked(name))
		n.census.mu.RUnlock()
		if got == k {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s sees %d nodes serving %q, want %d", n.Name(), got, name, k)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A node that dies without leaving: callers find out from NATS "no
// responders" on its subject and move on at once, without timeouts.
func TestClusterDeadNodeIsSkipped(t *testing.T) {
	t.Parallel()
	// The census must not drop the dead node by itself in this test. (The
	// others' Shutdown waits LeaveTimeout for its acknowledgement.)
	ns := startCluster(t, 3, Config{PeerTimeout: time.Hour, LeaveTimeout: 200 * time.Millisecond})
	a, b, c := ns[0], ns[1], ns[2]
	register(t, a, "svc", newWorker(t, 1, 8, func(*Request) ([]byte, string) { return []byte("a"), "" }))
	register(t, b, "svc", newWorker(t, 1, 8, func(*Request) ([]byte, string) { return []byte("b"), "" }))
	waitNodes(t, c, "svc", 2)
	// Kill a: connection and server gone, no goodbye.
	a.nc.Close()
	a.srv.Shutdown()
	a.srv.WaitForShutdown()
	// Calls sent while c's server still routes to the dead one are lost
	// (they time out): wait until c's server knows, which in real life
	// takes the time to notice a closed TCP connection.
	deadline := time.Now().Add(testTimeout)
	for {
		_, err := c.nc.Request(a.callPrefix+"svc", nil, time.Second)
		if errors.Is(err, nats.ErrNoResponders) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("c's server still routes to the dead node: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	c.census.mu.RLock()
	k := len(c.census.nodesLocked("svc"))
	c.census.mu.RUnlock()
	if k != 2 {
		t.Fatalf("census already dropped the dead node (%d left)", k)
	}
	for i := 0; i < 20; i++ {
		r := call(t, c, "svc", nil, 5*time.Second)
		if r.err != nil || string(r.result) != "b" || r.elapsed > time.Second {
			t.Fatalf("call %d: %q %v after %v", i, r.result, r.err, r.elapsed)
		}
	}
}

// A node whose workers are all busy sends the call back; the caller tries
// the next node.
func TestClusterBusyNodeIsSkipped(t *testing.T) {
	t.Parallel()
	ns := startCluster(t, 2)
	a, b := ns[0], ns[1]
	if _, err := a.Register("svc", 1, func(req *Request) { req.Busy() }); err != nil {
		t.Fatal(err)
	}
	register(t, b, "svc", newWorker(t, 1, 8, func(*Request) ([]byte, string) { return []byte("b"), "" }))
	waitNodes(t, a, "svc", 2)
	for i := 0; i < 20; i++ { // a prefers itself, is busy, then asks b
		if r := call(t, a, "svc", nil, 5*time.Second); r.err != nil || string(r.result) != "b" {
			t.Fatalf("%q %v", r.result, r.err)
		}
	}
	// Everyone busy: ErrBusy, at once.
	if _, err := b.Register("svc", 2, func(req *Request) { req.Busy() }); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Register("full", 1, func(req *Request) { req.Busy() }); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Register("full", 1, func(req *Request) { req.Busy() }); err != nil {
		t.Fatal(err)
	}
	waitNodes(t, a, "full", 2)
	if r := call(t, a, "full", nil, 5*time.Second); !errors.Is(r.err, ErrBusy) || r.elapsed > time.Second {
		t.Fatalf("all busy: %v after %v", r.err, r.elapsed)
	}
}
