package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestCallReply(t *testing.T) {
	t.Parallel()
	n := startNode(t, Config{})
	w := newWorker(t, 1, 8, echo)
	register(t, n, "echo", w)
	r := call(t, n, "echo", []byte("hi"), 0)
	if r.err != nil || r.errMsg != "" || string(r.result) != "echo:hi" {
		t.Fatalf("got %q %q %v", r.result, r.errMsg, r.err)
	}
}

func TestCallHandlerError(t *testing.T) {
	t.Parallel()
	n := startNode(t, Config{})
	w := newWorker(t, 1, 8, func(*Request) ([]byte, string) { return nil, "boom" })
	register(t, n, "fail", w)
	r := call(t, n, "fail", nil, 0)
	if r.err != nil || r.errMsg != "boom" || r.result != nil {
		t.Fatalf("got %q %q %v", r.result, r.errMsg, r.err)
	}
}

func TestCallNoHandlerIsImmediate(t *testing.T) {
	t.Parallel()
	n := startNode(t, Config{})
	r := call(t, n, "nobody", nil, 5*time.Second)
	if !errors.Is(r.err, ErrNoHandler) || r.err.Error() != "no handler for 'nobody'" {
		t.Fatalf("err = %v", r.err)
	}
	if r.elapsed > 100*time.Millisecond {
		t.Fatalf("no-handler error took %v", r.elapsed)
	}
	// Also after the last handler went away.
	w := newWorker(t, 1, 8, echo)
	unreg := register(t, n, "gone", w)
	if r := call(t, n, "gone", nil, 0); r.err != nil {
		t.Fatal(r.err)
	}
	unreg()
	unreg() // idempotent
	r = call(t, n, "gone", nil, 5*time.Second)
	if !errors.Is(r.err, ErrNoHandler) || r.elapsed > 100*time.Millisecond {
		t.Fatalf("after unregister: %v after %v", r.err, r.elapsed)
	}
}

func TestCallTimeout(t *testing.T) {
	t.Parallel()
	n := startNode(t, Config{})
	var held atomic.Pointer[Request]
	w := newWorker(t, 1, 8, func(req *Request) ([]byte, string) { held.Store(req); return nil, "" })
	register(t, n, "silent", w)
	r := call(t, n, "silent", nil, 100*time.Millisecond)
	if !errors.Is(r.err, ErrTimeout) || r.elapsed < 100*time.Millisecond {
		t.Fatalf("err = %v after %v", r.err, r.elapsed)
	}
	if want := "rpc 'silent' timed out after 100ms"; r.err.Error() != want {
		t.Fatalf("text %q, want %q", r.err, want)
	}
	// Replying after the caller gave up is harmless.
	req := held.Load()
	if req == nil {
		t.Fatal("handler never got the request")
	}
	req.Reply([]byte("late"), "")
	if req.Reply([]byte("again"), "") {
		t.Fatal("second Reply returned true")
	}
}

func TestDoubleReplyIsHarmless(t *testing.T) {
	t.Parallel()
	n := startNode(t, Config{})
	var second, busy atomic.Bool
	second.Store(true)
	busy.Store(true)
	w := newWorker(t, 1, 8, func(req *Request) ([]byte, string) {
		if !req.Reply([]byte("first"), "") {
			t.Error("first Reply returned false")
		}
		second.Store(req.Reply([]byte("second"), ""))
		busy.Store(req.Busy())
		return nil, ""
	})
	register(t, n, "twice", w)
	var calls atomic.Int32
	done := make(chan struct{})
	n.Call("twice", nil, time.Second, func(result []byte, _ string, err error) {
		if calls.Add(1) == 1 {
			if string(result) != "first" || err != nil {
				t.Errorf("got %q %v", result, err)
			}
			close(done)
		}
	})
	<-done
	time.Sleep(50 * time.Millisecond)
	if calls.Load() != 1 || second.Load() || busy.Load() {
		t.Fatalf("done calls %d, second Reply %v, Busy %v", calls.Load(), second.Load(), busy.Load())
	}
}

func TestQueueFull(t *testing.T) {
	t.Parallel()
	n := startNode(t, Config{})
	// A worker whose queue is always full, and one that works: calls all
	// land on the second.
	full := func(req *Request) { req.Busy() }
	if _, err := n.Register("q", 1, full); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if r := call(t, n, "q", nil, 0); !errors.Is(r.err, ErrBusy) {
			t.Fatalf("all busy: %v", r.err)
		}
	}
	if r := call(t, n, "q", nil, 0); r.err.Error() != "drlee: every worker serving the name is busy" {
		t.Fatalf("text %q", r.err)
	}
	w := newWorker(t, 2, 8, echo)
	register(t, n, "q", w)
	for i := 0; i < 10; i++ {
		if r := call(t, n, "q", []byte("x"), 0); r.err != nil || string(r.result) != "echo:x" {
			t.Fatalf("one free worker: %q %v", r.result, r.err)
		}
	}
	// Busy outside the callback answers at once.
	var held atomic.Pointer[Request]
	if _, err := n.Register("later", 1, func(req *Request) { held.Store(req) }); err != nil {
		t.Fatal(err)
	}
	ch := make(chan error, 1)
	n.Call("later", nil, time.Second, func(_ []byte, _ string, err error) { ch <- err })
	for held.Load() == nil {
		time.Sleep(time.Millisecond)
	}
	if !held.Load().Busy() {
		t.Fatal("Busy returned false")
	}
	if err := <-ch; !errors.Is(err, ErrBusy) {
		t.Fatalf("late Busy: %v", err)
	}
}

func TestBadNames(t *testing.T) {
	t.Parallel()
	n := startNode(t, Config{})
	for _, name := range []string{"", "a b", "a*", "a.>", ">", "a..b", ".a", "a.", "tab\tx", strings.Repeat("x", 201)} {
		if _, err := n.Register(name, 1, func(*Request) {}); !errors.Is(err, ErrBadName) {
			t.Errorf("Register(%q): %v", name, err)
		}
		if r := call(t, n, name, nil, 0); !errors.Is(r.err, ErrBadName) {
			t.Errorf("Call(%q): %v", name, r.err)
		}
	}
	for _, name := range []string{"a", "user.get", "x-y_z:1", "ünï"} {
		if err := ValidName(name); err != nil {
			t.Errorf("ValidName(%q): %v", name, err)
		}
	}
	if _, err := n.Register("dup", 1, func(*Request) {}); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Register("dup", 1, func(*Request) {}); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("duplicate: %v", err)
	}
}

func TestBroadcastSingleNode(t *testing.T) {
	t.Parallel()
	n := startNode(t, Config{})
	for id := 1; id <= 4; id++ {
		w := newWorker(t, id, 8, func(req *Request) ([]byte, string) {
			if req.WorkerID == 3 {
				return nil, "three fails"
			}
			return []byte(fmt.Sprintf("w%d:%s", req.WorkerID, req.Payload)), ""
		})
		register(t, n, "all", w)
	}
	rs, took := broadcast(t, n, "all", []byte("hey"), 5*time.Second)
	if took > time.Second {
		t.Fatalf("broadcast waited %v: it should stop once all 4 answered", took)
	}
	if len(rs) != 4 {
		t.Fatalf("%d replies: %+v", len(rs), rs)
	}
	seen := map[int]bool{}
	for _, r := range rs {
		seen[r.WorkerID] = true
		if r.Node != n.Name() {
			t.Errorf("node %q", r.Node)
		}
		switch {
		case r.WorkerID == 3 && r.Err != "three fails":
			t.Errorf("worker 3: %+v", r)
		case r.WorkerID != 3 && string(r.Result) != fmt.Sprintf("w%d:hey", r.WorkerID):
			t.Errorf("worker %d: %+v", r.WorkerID, r)
		}
	}
	if len(seen) != 4 {
		t.Fatalf("workers %v", seen)
	}
	// Nobody: empty, at once.
	rs, took = broadcast(t, n, "none", nil, 5*time.Second)
	if len(rs) != 0 || took > 100*time.Millisecond {
		t.Fatalf("no handler: %v after %v", rs, took)
	}
	// One silent handler: the others' answers after the timeout.
	if _, err := n.Register("all", 9, func(*Request) {}); err != nil {
		t.Fatal(err)
	}
	rs, took = broadcast(t, n, "all", nil, 200*time.Millisecond)
	if len(rs) != 4 || took < 200*time.Millisecond {
		t.Fatalf("silent handler: %d replies after %v", len(rs), took)
	}
}

func TestCallsShareWorkers(t *testing.T) {
	t.Parallel()
	n := startNode(t, Config{})
	ws := make([]*worker, 3)
	for i := range ws {
		ws[i] = newWorker(t, i, 64, echo)
		register(t, n, "share", ws[i])
	}
	for i := 0; i < 30; i++ {
		if r := call(t, n, "share", nil, 0); r.err != nil {
			t.Fatal(r.err)
		}
	}
	for _, w := range ws {
		if w.count() != 10 {
			t.Errorf("worker %d got %d of 30 calls", w.id, w.count())
		}
	}
}

func TestRegisterAfterShutdown(t *testing.T) {
	t.Parallel()
	n := startNode(t, Config{})
	ctx, cancel := contextWithTimeout()
	defer cancel()
	if err := n.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Register("x", 1, func(*Request) {}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Register: %v", err)
	}
	if r := call(t, n, "x", nil, 0); !errors.Is(r.err, ErrClosed) {
		t.Fatalf("Call after Shutdown: %v", r.err)
	}
}

// Shutdown whose context ends first answers what is left: the request a
// handler holds gets ErrShuttingDown, and this node's own pending call gets
// ErrClosed.
func TestShutdownAnswersLeftovers(t *testing.T) {
	t.Parallel()
	n := startNode(t, Config{})
	var held atomic.Pointer[Request]
	if _, err := n.Register("hold", 1, func(req *Request) { held.Store(req) }); err != nil {
		t.Fatal(err)
	}
	ch := make(chan error, 2)
	n.Call("hold", nil, time.Minute, func(_ []byte, _ string, err error) { ch <- err })
	for held.Load() == nil {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := n.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("Shutdown took %v", took)
	}
	select {
	case err := <-ch:
		// The reply (ErrShuttingDown) and the close (ErrClosed) race; either
		// is right, as long as there is exactly one.
		if !errors.Is(err, ErrShuttingDown) && !errors.Is(err, ErrClosed) {
			t.Fatalf("call: %v", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("call never completed")
	}
	if held.Load().Reply([]byte("late"), "") {
		t.Fatal("Reply after Shutdown returned true")
	}
	select {
	case err := <-ch:
		t.Fatalf("done called twice: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
}

func TestTooLarge(t *testing.T) {
	t.Parallel()
	n := startNode(t, Config{})
	big := make([]byte, 2<<20) // over NATS's default 1 MB maximum payload
	var replied atomic.Int32   // 1: true, 2: false
	if _, err := n.Register("big", 1, func(req *Request) {
		if req.Reply(big, "") {
			replied.Store(1)
		} else {
			replied.Store(2)
		}
	}); err != nil {
		t.Fatal(err)
	}
	r := call(t, n, "big", nil, 5*time.Second)
	if r.err != nil || !strings.Contains(r.errMsg, "exceeds the NATS maximum payload") || r.elapsed > time.Second {
		t.Fatalf("big result: %q %v after %v", r.errMsg, r.err, r.elapsed)
	}
	if replied.Load() != 2 {
		t.Fatal("Reply of a too large result returned true")
	}
	if r := call(t, n, "big", big, 5*time.Second); r.err == nil || r.elapsed > time.Second {
		t.Fatalf("big payload: %v after %v", r.err, r.elapsed)
	}
}
