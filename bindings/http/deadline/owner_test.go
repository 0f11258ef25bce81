package deadline

import (
	"errors"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// ownedListener returns a listener whose sweeper is started through Go, as the HTTP binding
// starts it through engine.Go: starts counts the sweepers started and ended receives a
// value each time one returns. With refuse, Go refuses, as an engine that has ended does.
// The sweeper runs every resolution.
func ownedListener(t *testing.T, refuse bool, resolution time.Duration) (l *Listener[item], starts *atomic.Int32, ended chan struct{}) {
	t.Helper()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l = NewListener(raw, Timeouts{Read: time.Minute}, resolution, func(it *item) { it.fired.Add(1) })
	t.Cleanup(func() { l.Close() })
	starts, ended = new(atomic.Int32), make(chan struct{}, 16)
	l.Go = func(fn func()) bool {
		if refuse {
			return false
		}
		starts.Add(1)
		go func() {
			fn()
			ended <- struct{}{}
		}()
		return true
	}
	return l, starts, ended
}

// dialAccept connects to l and returns the server side of the connection and the client's.
func dialAccept(t testing.TB, l *Listener[item]) (*Conn[item], net.Conn) {
	t.Helper()
	client, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	nc, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	return nc.(*Conn[item]), client
}

// The sweeper is started through Listener.Go, once for any number of connections, and
// ends when the listener is closed and its last connection with it: at once, not at its
// next sweep (an hour away here).
func TestSweeperStartsThroughGoAndEndsWithTheListener(t *testing.T) {
	t.Parallel()
	l, starts, ended := ownedListener(t, false, time.Hour)
	c1, _ := dialAccept(t, l)
	c2, _ := dialAccept(t, l)
	if n := starts.Load(); n != 1 {
		t.Fatalf("Go started %d sweepers for two connections, want 1", n)
	}
	l.Close()
	c1.Close()
	select {
	case <-ended:
		t.Fatal("the sweeper ended while a connection was open")
	default:
	}
	c2.Close()
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the sweeper still runs 10 s after the closed listener's last connection closed")
	}
}

// Once the owner refuses to start the sweeper, Accept closes the connection and fails as
// on a closed listener: fasthttp's Serve then returns instead of serving it untimed.
func TestAcceptFailsWhenGoRefuses(t *testing.T) {
	t.Parallel()
	l, _, _ := ownedListener(t, true, time.Millisecond)
	client, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept = %v, want net.ErrClosed", err)
	}
	if n, err := client.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("the client read %d bytes, %v; want EOF (the connection closed)", n, err)
	}
	if n := l.Len(); n != 0 {
		t.Fatalf("Len = %d, want 0", n)
	}
}

// ExpireWatches fires the armed watches at once, each once; CloseConns closes every
// connection, and the sweeper ends.
func TestExpireWatchesAndCloseConns(t *testing.T) {
	t.Parallel()
	l, _, ended := ownedListener(t, false, time.Millisecond)
	c1, client1 := dialAccept(t, l)
	_, client2 := dialAccept(t, l)
	var it item
	tok := c1.Arm(time.Hour, &it)
	l.ExpireWatches()
	if n := it.fired.Load(); n != 1 {
		t.Fatalf("expire ran %d times, want 1", n)
	}
	if c1.Disarm(tok) {
		t.Fatal("Disarm after ExpireWatches must report false")
	}
	l.ExpireWatches()
	if n := it.fired.Load(); n != 1 {
		t.Fatalf("a second ExpireWatches fired the watch again (%d)", n)
	}
	l.Close()
	l.CloseConns()
	for _, cl := range []net.Conn{client1, client2} {
		if _, err := cl.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("client read: %v, want EOF", err)
		}
	}
	if n := l.Len(); n != 0 {
		t.Fatalf("Len = %d after CloseConns, want 0", n)
	}
	<-ended
}

// CloseWaiting closes the connections waiting for a request (new, or idle between two) or
// reading one, and leaves those writing a response.
func TestCloseWaiting(t *testing.T) {
	t.Parallel()
	l, _, _ := ownedListener(t, false, time.Millisecond)
	_, fresh := dialAccept(t, l) // no request yet
	idle, idleClient := dialAccept(t, l)
	cycle(t, idle, idleClient) // a request read and answered...
	waited := make(chan struct{})
	go func() {
		defer close(waited)
		_, _ = idle.Read(make([]byte, 1)) // ...and the wait for the next one: idle
	}()
	for idle.phase.Load() != phaseIdle {
		time.Sleep(time.Millisecond)
	}
	writing, writingClient := dialAccept(t, l)
	cycle(t, writing, writingClient) // a response written, the next request not asked for
	l.CloseWaiting()
	<-waited
	for name, cl := range map[string]net.Conn{"new": fresh, "idle": idleClient} {
		cl.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := cl.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("%s connection: read %d bytes, %v; want EOF", name, n, err)
		}
	}
	if n := l.Len(); n != 1 {
		t.Fatalf("Len = %d after CloseWaiting, want 1 (the one writing)", n)
	}
	writing.Close()
}
