package http_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	drhttp "github.com/drlee/drlee/bindings/http"
	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/internal/drleetest"
)

// A script for the tests of a server's goroutines, on arg[1]: "/" answers "ok", "/hang"
// never answers, "/pending" says how many /hang requests wait, "/big" answers 32 MB.
const ownedScript = `
local http = require "http"
local pending = 0
local hung = {} -- kept, so that nothing finishes them
local big = string.rep("x", 32 * 1024 * 1024)
http.create_server(arg[1], function(req, res)
  if req.path == "/hang" then
    pending = pending + 1
    hung[#hung + 1] = res
  elseif req.path == "/pending" then
    res:write(tostring(pending))
    res:finish()
  elseif req.path == "/big" then
    res:write(big)
    res:finish()
  else
    res:write("ok")
    res:finish()
  end
end):start(function(err) assert(not err, err) end)
`

// noneLeftBehind fails the test when Run gave up on goroutines it owns.
func noneLeftBehind(t *testing.T, res drleetest.Result) {
	t.Helper()
	if strings.Contains(res.Stderr, "left behind") {
		t.Fatalf("Run gave up on goroutines:\n%s", res.Stderr)
	}
}

// openRequest opens a connection to addr and sends a GET of path on it, without reading.
func openRequest(t *testing.T, addr, path string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if path != "" {
		if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// A server's accept loop and its sweeper are goroutines of the engine, labelled with the
// address, and all of them have ended when Run returns.
func TestServerGoroutinesAreOwned(t *testing.T) {
	t.Parallel()
	s := startServer(t, ownedScript, drleetest.Options{})
	c := newClient()
	defer c.CloseIdleConnections()
	wantStatus(t, get(t, c, s.url+"/"), 200) // a kept-alive connection: the sweeper runs
	var dump bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&dump, 1); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"drlee":"http: serve ` + s.addr + `"`, `"drlee":"http: sweeper ` + s.addr + `"`} {
		if !strings.Contains(dump.String(), want) {
			t.Errorf("no goroutine labelled %s", want)
		}
	}
	res := s.stop(t)
	res.MustSucceed(t)
	noneLeftBehind(t, res)
}

// A server that no worker stopped, because the script failed after starting it, is closed
// when the engine ends, and its goroutines end with it.
func TestServerOfFailedScriptEndsWithTheEngine(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	res := drleetest.Run(t, ownedScript+`error("the script fails after starting its server")`,
		drleetest.Options{Args: []string{addr}})
	res.MustFail(t)
	noneLeftBehind(t, res)
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatal("the server still accepts connections after Run returned")
	}
}

// A request whose worker was ended with it unanswered (the shutdown timeout) gets its 504
// when the engine ends, not at the handler timeout; an idle connection is closed at once.
func TestServerEndAnswersWhatNoWorkerWill(t *testing.T) {
	t.Parallel()
	s := startServer(t, ownedScript, drleetest.Options{
		ShutdownTimeout: 200 * time.Millisecond,
		Configure:       func(c *engine.Config) { drhttp.Settings.Ptr(c).HandlerTimeout = time.Minute },
	})
	c := newClient()
	defer c.CloseIdleConnections()
	hung := goGet(t, newClient(), s.url+"/hang")
	// The worker serves one request at a time, in order: once /pending says so, /hang is
	// in its handler.
	for deadline := time.Now().Add(10 * time.Second); string(get(t, c, s.url+"/pending").body) != "1"; {
		if time.Now().After(deadline) {
			t.Fatal("/hang never reached its handler")
		}
	}
	idle := openRequest(t, s.addr, "")
	start := time.Now()
	res := s.stop(t)
	noneLeftBehind(t, res)
	select {
	case r := <-hung:
		if r.status != http.StatusGatewayTimeout {
			t.Fatalf("the unanswered request got %d, want 504", r.status)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the unanswered request still waits 10 s after the engine ended")
	}
	idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := idle.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("idle connection: read %d bytes, %v; want EOF", n, err)
	}
	t.Logf("Run returned %v after the context was cancelled", time.Since(start))
}

// A client that does not read its response keeps its connection open only for a while
// once the engine ends: the connection is cut, and Run does not give up on the server's
// goroutines.
func TestServerEndCutsASlowReader(t *testing.T) {
	t.Parallel()
	s := startServer(t, ownedScript, drleetest.Options{})
	slow := openRequest(t, s.addr, "/big")
	// The response has started: it is being written, and the client reads no further.
	br := bufio.NewReader(slow)
	if _, err := br.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	res := s.stop(t)
	res.MustSucceed(t)
	noneLeftBehind(t, res)
	// What the kernel's buffers held is still there to read, then the connection ends.
	slow.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := io.Copy(io.Discard, br)
	if err != nil && !isReset(err) {
		t.Fatalf("reading the rest of the response: %v after %d bytes; want the connection cut", err, n)
	}
	if n >= 32<<20 {
		t.Fatalf("the whole response (%d bytes) went out: the slow reader was not cut", n)
	}
	t.Logf("%d bytes of the 32 MB body arrived", n)
}

func isReset(err error) bool {
	return strings.Contains(err.Error(), "connection reset")
}

// A response whose body is still being read when the worker is ended (the shutdown
// timeout) is closed with the worker's state: its reader goroutine, the engine's, ends, and
// so does its connection.
func TestClientBodyReaderEndsWithTheWorker(t *testing.T) {
	t.Parallel()
	reading := make(chan struct{}) // the script's read is pending
	gone := make(chan struct{})    // the client closed the slow body's connection
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/reading" {
			close(reading)
			return
		}
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		select { // the body never comes
		case <-r.Context().Done():
			close(gone)
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-reading:
			cancel()
		case <-ctx.Done():
		}
	}()
	res := drleetest.Run(t, `
local http = require "http"
http.get(arg[1] .. "/slow", function(err, res)
  assert(not err, err)
  res:read(10, function(err, data) print("read", err, data) end)
  http.get(arg[1] .. "/reading", function() end)
end)
`, drleetest.Options{Args: []string{srv.URL}, Ctx: ctx, ShutdownTimeout: 200 * time.Millisecond})
	noneLeftBehind(t, res)
	select {
	case <-gone:
	case <-time.After(10 * time.Second):
		t.Fatal("the slow body's connection is still open 10 s after Run returned")
	}
}
