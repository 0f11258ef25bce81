package cluster

import (
	"sync/atomic"
	"testing"
	"time"
)

// A call to a name this node serves goes straight to the local handler, not through NATS:
// a handler that answers at once completes the call before Call returns.
func TestLocalCallSkipsNATS(t *testing.T) {
	t.Parallel()
	n := startNode(t, Config{})
	if _, err := n.Register("now", 1, func(req *Request) { req.Reply(req.Payload, "") }); err != nil {
		t.Fatal(err)
	}
	var got atomic.Pointer[[]byte]
	n.Call("now", []byte("x"), time.Second, func(result []byte, errMsg string, err error) {
		if err != nil || errMsg != "" {
			t.Errorf("local call: %q %v", errMsg, err)
		}
		got.Store(&result)
	})
	if r := got.Load(); r == nil || string(*r) != "x" {
		t.Fatal("a call to this node's own handler was not answered before Call returned: it went through NATS")
	}
}

// When every local worker is busy, a local call moves on to another node, as a call that
// came over NATS does.
func TestLocalCallBusyGoesRemote(t *testing.T) {
	t.Parallel()
	nodes := startCluster(t, 2)
	a, b := nodes[0], nodes[1]
	if _, err := a.Register("work", 1, func(req *Request) { req.Busy() }); err != nil {
		t.Fatal(err)
	}
	remote := newWorker(t, 1, 16, echo)
	register(t, b, "work", remote)
	waitNodes(t, a, "work", 2)
	r := call(t, a, "work", []byte("p"), 5*time.Second)
	if r.err != nil || string(r.result) != "echo:p" {
		t.Fatalf("busy local handler: %q %q %v", r.result, r.errMsg, r.err)
	}
	if remote.count() != 1 {
		t.Fatalf("the remote worker served %d calls, want 1", remote.count())
	}
}

// The result of a local call belongs to the caller: the handler may reuse its buffer.
func TestLocalCallResultIsCopied(t *testing.T) {
	t.Parallel()
	n := startNode(t, Config{})
	buf := []byte("first")
	if _, err := n.Register("buf", 1, func(req *Request) {
		req.Reply(buf, "")
		copy(buf, "XXXXX")
	}); err != nil {
		t.Fatal(err)
	}
	if r := call(t, n, "buf", nil, time.Second); string(r.result) != "first" {
		t.Fatalf("result %q: the caller got the handler's buffer", r.result)
	}
}

// BenchmarkCallLocal is one sequential call between two workers of one node.
func BenchmarkCallLocal(b *testing.B) {
	n := startNode(b, Config{})
	w := newWorker(b, 1, 64, echo)
	register(b, n, "echo", w)
	done := make(chan struct{}, 1)
	payload := []byte("payload")
	b.ReportAllocs()
	for b.Loop() {
		n.Call("echo", payload, time.Second, func([]byte, string, error) { done <- struct{}{} })
		<-done
	}
}

// BenchmarkCallRemote is the same call to a handler on another node of a cluster on
// 127.0.0.1, through NATS.
func BenchmarkCallRemote(b *testing.B) {
	nodes := startCluster(b, 2)
	w := newWorker(b, 1, 64, echo)
	register(b, nodes[1], "echo", w)
	waitNodes(b, nodes[0], "echo", 1)
	done := make(chan struct{}, 1)
	payload := []byte("payload")
	b.ReportAllocs()
	for b.Loop() {
		nodes[0].Call("echo", payload, time.Second, func([]byte, string, error) { done <- struct{}{} })
		<-done
	}
}
