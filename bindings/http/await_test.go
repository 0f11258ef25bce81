package http_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	drhttp "github.com/drlee/drlee/bindings/http"
	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/internal/drleetest"
)

// startAwait runs testdata/server_await.lua with the handler timeout far away, so that an
// answer that comes at once cannot be the timeout's.
func startAwait(t *testing.T, o drleetest.Options) *running {
	t.Helper()
	configure := o.Configure
	o.Configure = func(c *engine.Config) {
		drhttp.Settings.Ptr(c).HandlerTimeout = 20 * time.Second
		if configure != nil {
			configure(c)
		}
	}
	return startServer(t, serverScript(t, "server_await.lua"), o)
}

// timedGet is get, with how long it took.
func timedGet(t *testing.T, c *http.Client, url string) (response, time.Duration) {
	t.Helper()
	start := time.Now()
	r := get(t, c, url)
	return r, time.Since(start)
}

// An await-style handler that returns is finished then, as it set and wrote the response;
// 200 with an empty body when it set nothing.
func TestAwaitHandlerEndFinishes(t *testing.T) {
	t.Parallel()
	s := startAwait(t, drleetest.Options{})
	c := newClient()
	defer c.CloseIdleConnections()

	r := get(t, c, s.url+"/file")
	wantStatus(t, r, 200)
	if string(r.body) != "contents of the file" || r.header.Get("X-Style") != "await" {
		t.Errorf("/file: body %q, X-Style %q", r.body, r.header.Get("X-Style"))
	}
	if r.resp.ContentLength != int64(len("contents of the file")) {
		t.Errorf("/file: Content-Length %d: a response finished in one go has one", r.resp.ContentLength)
	}

	r = get(t, c, s.url+"/nothing")
	wantStatus(t, r, 200)
	if len(r.body) != 0 {
		t.Errorf("/nothing: body %q, want none", r.body)
	}

	r = get(t, c, s.url+"/status")
	wantStatus(t, r, 201)
	if string(r.body) != "created" || r.header.Get("X-A") != "b" {
		t.Errorf("/status: body %q, X-A %q", r.body, r.header.Get("X-A"))
	}

	r = do(t, c, "POST", s.url+"/echo", []byte("abcdefgh"), nil)
	wantStatus(t, r, 200)
	if string(r.body) != "abc|defgh" {
		t.Errorf("/echo: %q, want abc|defgh", r.body)
	}

	// Streamed (its writes span awaits), and ended properly when the handler returns.
	r = get(t, c, s.url+"/stream")
	wantStatus(t, r, 200)
	if string(r.body) != "chunk 1;chunk 2;chunk 3;" || len(r.resp.TransferEncoding) == 0 {
		t.Errorf("/stream: %q, Transfer-Encoding %v", r.body, r.resp.TransferEncoding)
	}

	r = get(t, c, s.url+"/yield-in-sort")
	if !strings.HasPrefix(string(r.body), "false;") || !strings.Contains(string(r.body), "attempt to yield across C-call boundary") {
		t.Errorf("an await inside table.sort: %q, want a clear error", r.body)
	}
	res := s.stop(t)
	res.MustSucceed(t)
}

// A raise, after an await or in a callback the handler started long after it returned,
// answers 500 at once, not the handler timeout's 504, and the log says which request.
func TestAwaitRaiseAnswers500AtOnce(t *testing.T) {
	t.Parallel()
	s := startAwait(t, drleetest.Options{})
	c := newClient()
	defer c.CloseIdleConnections()
	for _, path := range []string{"/raise-after-await", "/raise-in-callback"} {
		r, took := timedGet(t, c, s.url+path)
		wantStatus(t, r, 500)
		// At once: long before the handler timeout (a minute); the bound leaves room for a
		// loaded machine.
		if took > 2*time.Second {
			t.Errorf("%s: 500 after %v, want it at once", path, took)
		}
		if r.header.Get("X-Must-Not") != "" || strings.Contains(string(r.body), "raised") {
			t.Errorf("%s: the 500 (%q, %v) leaks the handler's headers or error", path, r.body, r.header)
		}
	}
	// An error in a spawned function that the handler waits for is the handler's.
	r := get(t, c, s.url+"/raise-in-spawn-waited")
	wantStatus(t, r, 200)
	if string(r.body) != "handled: spawned failure" {
		t.Errorf("/raise-in-spawn-waited: %q", r.body)
	}
	wantStatus(t, get(t, c, s.url+"/file"), 200) // the worker goes on
	res := s.stop(t)
	res.MustFail(t) // the raises are errors of the script
	res.StderrContains(t,
		"GET /raise-after-await: ", "raised after an await", "stack traceback:",
		"GET /raise-in-callback: ", "raised in a nested callback")
}

// A raise once the response streams cuts the stream: the client sees a failed response,
// never one that looks complete.
func TestAwaitRaiseMidStreamFails(t *testing.T) {
	t.Parallel()
	s := startAwait(t, drleetest.Options{})
	conn, err := net.DialTimeout("tcp", s.addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(conn, "GET /raise-mid-stream HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	if err == nil {
		t.Fatalf("the stream ended cleanly after a raise (body %q): the client takes it for complete", body)
	}
	if !strings.HasPrefix(string(body), "first part;") {
		t.Errorf("before the raise: %q", body)
	}
	if err == io.ErrUnexpectedEOF || strings.Contains(err.Error(), "unexpected EOF") || strings.Contains(err.Error(), "reset") {
		// the connection was closed without the last chunk
	} else {
		t.Errorf("reading the cut stream: %v", err)
	}
	res := s.stop(t)
	res.StderrContains(t, "GET /raise-mid-stream: ", "raised mid-stream")
}

// A callback-style response that is written but never finished, that no Lua code can
// reach any more, is finished (well before the handler timeout) with a warning that
// names the handler.
func TestUnreachableUnfinishedResponseIsFinished(t *testing.T) {
	t.Parallel()
	script := serverScript(t, "server_await.lua")
	line := 0
	for i, l := range strings.Split(script, "\n") {
		if strings.HasPrefix(l, "local server = http.create_server(") {
			line = i + 1
		}
	}
	s := startAwait(t, drleetest.Options{})
	c := newClient()
	defer c.CloseIdleConnections()
	for path, want := range map[string]string{
		"/forgot-finish":    "written, never finished",
		"/forgot-finish-io": "written, never finished, then io",
	} {
		r, took := timedGet(t, c, s.url+path)
		wantStatus(t, r, 200)
		if string(r.body) != want {
			t.Errorf("%s: body %q", path, r.body)
		}
		if took > 3*time.Second {
			t.Errorf("%s: finished after %v: it waited for something else than the collector", path, took)
		}
	}
	res := s.stop(t)
	res.StderrContains(t, "WARN", fmt.Sprintf("main.lua:%d was never finished", line),
		"GET /forgot-finish: the response of the handler at ", "GET /forgot-finish-io: the response of the handler at ")
}

// Server-sent events: responses kept in a table and written from one shared ticker keep
// streaming (nothing finishes them early), and end when the ticker finishes them.
func TestAwaitSSEFromSharedTicker(t *testing.T) {
	t.Parallel()
	s := startAwait(t, drleetest.Options{})
	c := newClient()
	defer c.CloseIdleConnections()
	results := make(chan response, 3)
	for range 3 {
		go func() {
			r, err := tryDo(c, "GET", s.url+"/sse", nil, nil)
			if err != nil {
				t.Error(err)
			}
			results <- r
		}()
	}
	for range 3 {
		r := <-results
		if r.status != 200 || !strings.HasPrefix(string(r.body), ": hello\n\n") || strings.Count(string(r.body), "data: ") != 3 {
			t.Errorf("an event stream: status %d, %q", r.status, r.body)
		}
	}
	res := s.stop(t)
	res.MustSucceed(t)
	if strings.Contains(res.Stderr, "never finished") {
		t.Errorf("a response a table kept was finished by the collector:\n%s", res.Stderr)
	}
}

// Two upstream calls in parallel with spawn; an rpc call awaited in a handler, and one
// whose handler raised after an await, answered at once with the error.
func TestAwaitAggregatorAndRPC(t *testing.T) {
	t.Parallel()
	s := startAwait(t, drleetest.Options{})
	c := newClient()
	defer c.CloseIdleConnections()
	r := get(t, c, s.url+"/aggregate")
	wantStatus(t, r, 200)
	if string(r.body) != "slow 60+slow 60;parallel" {
		t.Errorf("/aggregate: %q", r.body)
	}
	r, took := timedGet(t, c, s.url+"/rpc")
	wantStatus(t, r, 200)
	if !strings.HasPrefix(string(r.body), "5;nil;nil;EHANDLER: rpc: handler for 'await.fail' failed: ") || !strings.Contains(string(r.body), "rpc handler failed after an await") {
		t.Errorf("/rpc: %q", r.body)
	}
	if took > time.Second {
		t.Errorf("/rpc took %v: the failed handler was answered by the timeout", took)
	}
	res := s.stop(t)
	res.StderrContains(t, "rpc: handler for 'await.fail': ", "stack traceback:")
}

// --callback-timeout interrupts the running part of a handler, not its waits.
func TestAwaitCallbackTimeout(t *testing.T) {
	t.Parallel()
	s := startAwait(t, drleetest.Options{CallbackTimeout: 100 * time.Millisecond})
	c := newClient()
	defer c.CloseIdleConnections()
	r := get(t, c, s.url+"/long-wait")
	wantStatus(t, r, 200)
	if string(r.body) != "waited" {
		t.Errorf("/long-wait: %q", r.body)
	}
	r, took := timedGet(t, c, s.url+"/busy-after-await")
	wantStatus(t, r, 500)
	if took > 2*time.Second {
		t.Errorf("the busy handler was interrupted after %v", took)
	}
	wantStatus(t, get(t, c, s.url+"/file"), 200)
	res := s.stop(t)
	res.StderrContains(t, "GET /busy-after-await: ")
}
