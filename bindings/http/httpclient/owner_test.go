package httpclient

import (
	"errors"
	"sync"
	"testing"
	"time"
)

// owner is an Options.Go that counts the goroutines it started, by name, as engine.Go
// does; idle is closed when every one it started has ended.
type owner struct {
	mu      sync.Mutex
	refuse  bool
	started map[string]int
	running int
	idle    chan struct{}
}

func newOwner(refuse bool) *owner {
	return &owner{refuse: refuse, started: map[string]int{}, idle: make(chan struct{})}
}

func (o *owner) Go(name string, fn func()) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.refuse {
		return false
	}
	o.started[name]++
	o.running++
	go func() {
		fn()
		o.mu.Lock()
		defer o.mu.Unlock()
		if o.running--; o.running == 0 {
			close(o.idle)
			o.idle = make(chan struct{})
		}
	}()
	return true
}

// waitIdle waits until every goroutine the owner started has ended.
func (o *owner) waitIdle(t *testing.T) {
	t.Helper()
	o.mu.Lock()
	idle, running := o.idle, o.running
	o.mu.Unlock()
	if running == 0 {
		return
	}
	select {
	case <-idle:
	case <-time.After(5 * time.Second):
		t.Fatalf("%d goroutines of the client still running", running)
	}
}

func (o *owner) count(name string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.started[name]
}

// The body reader and the goroutine that interrupts its blocked read are started through
// Options.Go, and both have ended once Close has called back.
func TestBodyGoroutinesAreOwnedAndEndWithClose(t *testing.T) {
	t.Parallel()
	srv, _ := newHTTPBin(t)
	o := newOwner(false)
	c := New(Options{Go: o.Go})
	defer c.Close()
	resp := do(t, c, &Request{URL: srv.URL + "/drip?numbytes=3&duration=6&delay=0"})
	reads := make(chan error, 8)
	var read func(data []byte, err error)
	read = func(data []byte, err error) {
		if err == nil && len(data) > 0 {
			resp.ReadAsync(10, read) // the first byte comes at once; the next one blocks
			return
		}
		reads <- err
	}
	resp.ReadAsync(10, read)
	// Close once the reader is blocked in the network read, so that it must be
	// interrupted: the second byte is two seconds away.
	deadline := time.Now().Add(5 * time.Second)
	for !blockedInRead(resp) {
		if time.Now().After(deadline) {
			t.Fatal("the body reader never blocked in a read")
		}
		time.Sleep(time.Millisecond)
	}
	closed := make(chan struct{})
	resp.CloseAsync(func() { close(closed) })
	if err := <-reads; !errors.Is(err, ErrClosed) {
		t.Fatalf("pending read: %v, want ErrClosed", err)
	}
	<-closed
	o.waitIdle(t)
	if n := o.count("httpclient: response body"); n < 1 {
		t.Fatalf("no body reader was started through Options.Go (%v)", o.started)
	}
	if n := o.count("httpclient: interrupt a body read"); n != 1 {
		t.Fatalf("the blocked read was interrupted by %d goroutines through Options.Go, want 1 (%v)", n, o.started)
	}
}

func blockedInRead(r *Response) bool {
	r.b.mu.Lock()
	defer r.b.mu.Unlock()
	return r.b.reading
}

// Once Options.Go refuses (the owner has ended), a body that needs its reader is closed at
// once: the read fails with ErrClosed before ReadAsync returns, Close calls back at once,
// and the connection is closed rather than kept.
func TestBodyClosedWhenGoRefuses(t *testing.T) {
	t.Parallel()
	srv, cl := newHTTPBin(t)
	c := New(Options{Go: newOwner(true).Go})
	defer c.Close()
	resp := do(t, c, &Request{URL: srv.URL + "/bytes/100000"})
	var got error
	called := false
	resp.ReadAsync(10, func(_ []byte, err error) { called, got = true, err })
	if !called || !errors.Is(got, ErrClosed) {
		t.Fatalf("read: called %v, err %v; want ErrClosed before ReadAsync returned", called, got)
	}
	closed := false
	resp.CloseAsync(func() { closed = true })
	if !closed {
		t.Fatal("CloseAsync did not call back at once")
	}
	before := cl.n.Load()
	closeWait(t, do(t, c, &Request{URL: srv.URL + "/status/204"}))
	if n := cl.n.Load() - before; n != 1 {
		t.Fatalf("the next request opened %d connections, want 1 (the first was not drained into the pool)", n)
	}
}
