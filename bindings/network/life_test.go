package network_test

import (
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/internal/drleetest"
)

// TestPendingReadKeepsTheWorker: the peer answers 300 ms after the main chunk ended.
func TestPendingReadKeepsTheWorker(t *testing.T) {
	t.Parallel()
	gs := newGoServer(t, listenTCP(t), func(c net.Conn) {
		time.Sleep(300 * time.Millisecond)
		c.Write([]byte("finally"))
		io.Copy(io.Discard, c)
		c.Close()
	})
	res := run(t, "life_pending.lua", drleetest.Options{Args: []string{gs.ln.Addr().String()}})
	res.MustSucceed(t)
	res.Contains(t, "late read\tnil\tfinally\n")
}

// TestHandlerRaiseClosesTheConnection: the client sees the end of the stream, the run
// fails, and the log says why.
func TestHandlerRaiseClosesTheConnection(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	ch := background(t, "life_raise.lua", drleetest.Options{Args: []string{addr}})
	c := dialRetry(t, "tcp", addr)
	defer c.Close()
	c.Write([]byte("x"))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if k, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("read %d, %v; want EOF", k, err)
	}
	res := <-ch
	res.MustFail(t)
	if !strings.Contains(res.Stderr, "network: the handler of the tcp server on ") ||
		!strings.Contains(res.Stderr, "raised; its connection from 127.0.0.1:") ||
		!strings.Contains(res.Stderr, "boom after reading x") {
		t.Errorf("stderr:\n%s", res.Stderr)
	}
}

// TestCollectedConnectionIsClosed: Lua drops a connection; the Go server sees it end.
func TestCollectedConnectionIsClosed(t *testing.T) {
	t.Parallel()
	firstEnded := make(chan struct{})
	gs := newGoServer(t, listenTCP(t), func(c net.Conn) {
		defer c.Close()
		b := make([]byte, 100)
		k, _ := c.Read(b)
		switch string(b[:k]) {
		case "first":
			io.Copy(io.Discard, c) // until Lua's collector closes it
			close(firstEnded)
		case "second":
			select {
			case <-firstEnded:
				c.Write([]byte("first closed"))
			case <-time.After(10 * time.Second):
				c.Write([]byte("first still open"))
			}
			io.Copy(io.Discard, c)
		}
	})
	res := run(t, "life_gc.lua", drleetest.Options{Args: []string{gs.ln.Addr().String()}})
	res.MustSucceed(t)
	res.Contains(t, "collected\n", "told\tfirst closed\n")
}

// TestConnectionClosedWithItsWorker: a connection left open when the script ends is
// closed as the worker ends.
func TestConnectionClosedWithItsWorker(t *testing.T) {
	t.Parallel()
	ended := make(chan error, 1)
	gs := newGoServer(t, listenTCP(t), func(c net.Conn) {
		defer c.Close()
		_, err := io.Copy(io.Discard, c)
		ended <- err
	})
	res := run(t, "life_end.lua", drleetest.Options{Args: []string{gs.ln.Addr().String()}})
	res.MustSucceed(t)
	res.Contains(t, "left open\n")
	select {
	case err := <-ended:
		if err != nil {
			t.Errorf("the peer saw %v, want the end of the stream", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the connection is still open after the engine ended")
	}
}

// TestShutdownClosesIdleConnections: SIGTERM with a client connected and silent: the
// server stops, the connection is closed, and the engine ends well within the shutdown
// timeout.
func TestShutdownClosesIdleConnections(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	var mu sync.Mutex
	var eng *engine.Engine
	ch := background(t, "life_shutdown.lua", drleetest.Options{
		Args: []string{addr}, ShutdownTimeout: 20 * time.Second, Timeout: 40 * time.Second,
		Started: func(e *engine.Engine) { mu.Lock(); eng = e; mu.Unlock() },
	})
	c := dialRetry(t, "tcp", addr)
	defer c.Close()
	b := make([]byte, 2)
	if _, err := io.ReadFull(c, b); err != nil || string(b) != "hi" {
		t.Fatalf("read %q, %v", b, err)
	}
	mu.Lock()
	e := eng
	mu.Unlock()
	start := time.Now()
	e.Shutdown()
	res := <-ch
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the engine took %s to end after Shutdown", d)
	}
	res.MustSucceed(t)
	res.Contains(t, "pending read\tnil\tECLOSED\tECLOSED: network: the connection is closed: the server is shutting down\n")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if k, err := c.Read(b); err != io.EOF {
		t.Errorf("client: read %d, %v; want EOF", k, err)
	}
	if k, err := net.Dial("tcp", addr); err == nil {
		k.Close()
		t.Errorf("the server still accepts after the shutdown")
	}
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
