package cluster

import (
	"context"
	"sync"
	"testing"
	"time"
)

// testTimeout bounds every wait in these tests.
const testTimeout = 10 * time.Second

func startNode(t testing.TB, cfg Config) *Node {
	t.Helper()
	if cfg.Logf == nil {
		// Log into the test until it ends (t.Logf panics after that; the
		// nats.go callbacks may still run late).
		var mu sync.Mutex
		ended := false
		cfg.Logf = func(f string, a ...any) {
			mu.Lock()
			defer mu.Unlock()
			if !ended {
				t.Logf(f, a...)
			}
		}
		t.Cleanup(func() { mu.Lock(); ended = true; mu.Unlock() })
	}
	n, err := Start(cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		select {
		case <-n.shutdownDone:
			return // the test shut it down itself
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		if err := n.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown %s: %v", n.Name(), err)
		}
	})
	return n
}

// startCluster starts k routed nodes on 127.0.0.1, each joining the first.
// cfg, if given, is the template for every node.
func startCluster(t testing.TB, k int, cfg ...Config) []*Node {
	t.Helper()
	var tmpl Config
	if len(cfg) > 0 {
		tmpl = cfg[0]
	}
	nodes := make([]*Node, 0, k)
	for i := 0; i < k; i++ {
		c := tmpl
		c.Node = "n" + string(rune('0'+i))
		c.ClusterAddr = "127.0.0.1:0"
		if i > 0 {
			c.Join = []string{nodes[0].ClusterAddr()}
		}
		nodes = append(nodes, startNode(t, c))
	}
	return nodes
}

// worker stands in for a Lua worker: a bounded queue drained by one
// goroutine that answers with fn. Once stopped, pushes fail (Busy), as a
// binding's would.
type worker struct {
	id    int
	queue chan *Request
	fn    func(*Request) ([]byte, string)
	stop  chan struct{}
	wg    sync.WaitGroup

	mu      sync.Mutex // protects following
	seen    int
	stopped bool
}

func newWorker(t testing.TB, id, depth int, fn func(*Request) ([]byte, string)) *worker {
	w := &worker{id: id, queue: make(chan *Request, depth), fn: fn, stop: make(chan struct{})}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		for {
			select {
			case req := <-w.queue:
				w.serve(req)
			case <-w.stop:
				for {
					select {
					case req := <-w.queue:
						w.serve(req)
					default:
						return
					}
				}
			}
		}
	}()
	t.Cleanup(func() {
		w.mu.Lock()
		w.stopped = true
		w.mu.Unlock()
		close(w.stop)
		w.wg.Wait()
	})
	return w
}

func (w *worker) serve(req *Request) {
	w.mu.Lock()
	w.seen++
	w.mu.Unlock()
	res, errMsg := w.fn(req)
	if res != nil || errMsg != "" {
		req.Reply(res, errMsg)
	}
}

// handler is the non-blocking push a binding would do.
func (w *worker) handler(req *Request) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		req.Busy()
		return
	}
	select {
	case w.queue <- req:
	default:
		req.Busy()
	}
}

func (w *worker) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.seen
}

func register(t testing.TB, n *Node, name string, w *worker) func() {
	t.Helper()
	unreg, err := n.Register(name, w.id, w.handler)
	if err != nil {
		t.Fatalf("Register(%q, %d): %v", name, w.id, err)
	}
	return unreg
}

type callResult struct {
	result  []byte
	errMsg  string
	err     error
	elapsed time.Duration
}

// call makes a Call and waits for done (bounded).
func call(t testing.TB, n *Node, name string, payload []byte, timeout time.Duration) callResult {
	t.Helper()
	ch := make(chan callResult, 2)
	start := time.Now()
	n.Call(name, payload, timeout, func(result []byte, errMsg string, err error) {
		ch <- callResult{result, errMsg, err, time.Since(start)}
	})
	select {
	case r := <-ch:
		select {
		case <-ch:
			t.Fatalf("done called twice for %q", name)
		case <-time.After(10 * time.Millisecond):
		}
		return r
	case <-time.After(testTimeout):
		t.Fatalf("call %q: done never called", name)
		return callResult{}
	}
}

func broadcast(t testing.TB, n *Node, name string, payload []byte, timeout time.Duration) ([]Reply, time.Duration) {
	t.Helper()
	ch := make(chan []Reply, 2)
	start := time.Now()
	n.Broadcast(name, payload, timeout, func(rs []Reply, err error) {
		if err != nil {
			t.Errorf("broadcast %q: %v", name, err)
		}
		ch <- rs
	})
	select {
	case rs := <-ch:
		return rs, time.Since(start)
	case <-time.After(testTimeout):
		t.Fatalf("broadcast %q: done never called", name)
		return nil, 0
	}
}

// waitCall polls until a call of name from n succeeds (bounded).
func waitCall(t testing.TB, n *Node, name string) callResult {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for {
		r := call(t, n, name, []byte("ping"), time.Second)
		if r.err == nil {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("call %q from %s never succeeded: %v", name, n.Name(), r.err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func echo(req *Request) ([]byte, string) {
	return append([]byte("echo:"), req.Payload...), ""
}

func contextWithTimeout() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), testTimeout)
}
