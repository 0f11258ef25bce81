package http_test

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/drlee/drlee/internal/drleetest"
)

// openStream requests path, reads the stream's first chunk and closes the connection: the
// client is gone.
func openStream(t *testing.T, addr, path string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write([]byte("GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the stream: %v", err)
		}
		if strings.HasPrefix(line, "chunk 1") {
			return
		}
	}
}

// waitStats polls /stats until cond holds for what the script counted.
func waitStats(t *testing.T, url, what string, cond func(stats) bool) {
	t.Helper()
	c := newClient()
	defer c.CloseIdleConnections()
	for deadline := time.Now().Add(10 * time.Second); !cond(getStats(t, c, url)); {
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s, still no %s", what)
		}
		time.Sleep(10 * time.Millisecond) // polling a condition the script sets
	}
}

// A stream whose write failed (its client left) ends by itself although the script never
// finishes it: nothing holds the worker, so that a shutdown (SIGTERM) ends at once
// instead of after --shutdown-timeout.
func TestServerAbandonedStreamEndsItself(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverScript(t, "server_routes.lua"), drleetest.Options{ShutdownTimeout: 10 * time.Second})
	openStream(t, s.addr, "/stream-abandon")
	waitStats(t, s.url, "write error", func(st stats) bool { return st.StreamErrors >= 1 })
	start := time.Now()
	res := s.stop(t)
	took := time.Since(start)
	res.MustSucceed(t)
	res.Contains(t, "abandoned stream: ")
	if took > 3*time.Second {
		t.Errorf("shutdown took %v: the abandoned stream held its worker until the shutdown timeout", took)
	}
	t.Logf("shutdown took %v", took)
}

// After its stream ended by itself, a response's later write and finish get the error in
// their callbacks, once each, instead of raising; res:get finds nothing; and the request
// is still readable in the callback that got the first error.
func TestServerLateWritesAfterStreamEnded(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverScript(t, "server_routes.lua"), drleetest.Options{})
	openStream(t, s.addr, "/stream-abandon?late=1")
	waitStats(t, s.url, "late callbacks", func(st stats) bool { return st.LateCBs >= 2 })
	res := s.stop(t)
	res.MustSucceed(t)
	res.Contains(t, "abandoned stream: ", " at /stream-abandon", "late write: ", "late finish: ", "late get: nil")
	for _, l := range []string{"late write: ", "late finish: ", "abandoned stream: "} {
		if n := strings.Count(res.Stdout, l); n != 1 {
			t.Errorf("%q %d times, want once:\n%s", l, n, res.Stdout)
		}
	}
	for _, l := range []string{"late write: nil", "late finish: nil"} {
		if strings.Contains(res.Stdout, l) {
			t.Errorf("%q: a call on an ended stream succeeded:\n%s", l, res.Stdout)
		}
	}
}
