package http_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	drhttp "github.com/drlee/drlee/bindings/http"
	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/internal/drleetest"
)

// The Lua scripts of the tests, by file name.
//
//go:embed testdata/*.lua
var serverScripts embed.FS

func serverScript(t testing.TB, name string) string {
	t.Helper()
	b, err := serverScripts.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// freeAddr returns 127.0.0.1:port with a port that was free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// running is a script serving HTTP in the background.
type running struct {
	addr, url string
	cancel    context.CancelFunc
	done      chan drleetest.Result
	engine    chan *engine.Engine

	once sync.Once
	res  drleetest.Result

	engOnce sync.Once
	e       *engine.Engine
}

// startServer runs script with arg[1] = a free 127.0.0.1 address and waits until the
// address accepts connections. The script is shut down at the end of the test.
func startServer(t testing.TB, script string, o drleetest.Options) *running {
	t.Helper()
	addr := freeAddr(t)
	o.Args = append([]string{addr}, o.Args...)
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	o.Ctx = ctx
	r := &running{
		addr: addr, url: "http://" + addr, cancel: cancel,
		done: make(chan drleetest.Result, 1), engine: make(chan *engine.Engine, 1),
	}
	o.Started = func(e *engine.Engine) { r.engine <- e }
	go func() { r.done <- drleetest.Run(t, script, o) }()
	t.Cleanup(func() { r.stop(t) })
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return r
		}
		select {
		case res := <-r.done:
			r.once.Do(func() { r.res = res })
			t.Fatalf("script ended before listening on %s\nstdout:\n%s\nstderr:\n%s", addr, res.Stdout, res.Stderr)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not listen on %s within 10 s", addr)
		}
	}
}

// eng is the engine running the script.
func (r *running) eng(t testing.TB) *engine.Engine {
	t.Helper()
	r.engOnce.Do(func() {
		select {
		case r.e = <-r.engine:
		case <-time.After(5 * time.Second):
			t.Fatal("no engine")
		}
	})
	return r.e
}

// stop shuts the engine down (ctx cancelled) and returns what the script did.
func (r *running) stop(t testing.TB) drleetest.Result {
	r.cancel()
	return r.wait(t, 15*time.Second)
}

// wait waits for the script to end by itself.
func (r *running) wait(t testing.TB, d time.Duration) drleetest.Result {
	r.once.Do(func() {
		select {
		case r.res = <-r.done:
		case <-time.After(d):
			t.Errorf("script did not end within %s", d)
			r.cancel()
			r.res = <-r.done
		}
	})
	return r.res
}

func newClient() *http.Client {
	return &http.Client{
		Timeout: 20 * time.Second,
		Transport: &http.Transport{
			MaxIdleConnsPerHost: 64,
			DisableCompression:  true,
		},
	}
}

type response struct {
	status int
	header http.Header
	body   []byte
	resp   *http.Response
}

// tryDo makes a request and reads the whole response. Safe from any goroutine.
func tryDo(c *http.Client, method, url string, body []byte, hdr http.Header) (response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return response{}, err
	}
	for k, vs := range hdr {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := c.Do(req)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: reading body: %w", method, url, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b, resp: resp}, nil
}

// do is tryDo for the test's goroutine: an error fails the test.
func do(t testing.TB, c *http.Client, method, url string, body []byte, hdr http.Header) response {
	t.Helper()
	r, err := tryDo(c, method, url, body, hdr)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// goGet runs a GET in a goroutine; the channel gets the response (an error fails the test
// and sends a zero response).
func goGet(t testing.TB, c *http.Client, url string) <-chan response {
	ch := make(chan response, 1)
	go func() {
		r, err := tryDo(c, "GET", url, nil, nil)
		if err != nil {
			t.Error(err)
		}
		ch <- r
	}()
	return ch
}

func get(t testing.TB, c *http.Client, url string) response {
	t.Helper()
	return do(t, c, "GET", url, nil, nil)
}

func wantStatus(t testing.TB, r response, want int) {
	t.Helper()
	if r.status != want {
		t.Fatalf("status %d, want %d; body %q", r.status, want, r.body)
	}
}

// rawExchange writes data on a fresh connection and reads until the server closes it or
// d passes. It reports how long the server took to close (0 if it did not).
// Safe from any goroutine: failures are reported with t.Error.
func rawExchange(t testing.TB, addr, data string, d time.Duration) (string, time.Duration) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Error(err)
		return "", 0
	}
	defer c.Close()
	start := time.Now()
	if _, err := io.WriteString(c, data); err != nil {
		t.Error(err)
		return "", 0
	}
	c.SetReadDeadline(start.Add(d))
	b, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return string(b), 0
	}
	return string(b), time.Since(start)
}

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

type stats struct {
	Handled      int `json:"handled"`
	WriteCBs     int `json:"write_cbs"`
	FinishCBs    int `json:"finish_cbs"`
	StreamErrors int `json:"stream_errors"`
	LateCBs      int `json:"late_cbs"`
}

func getStats(t testing.TB, c *http.Client, url string) stats {
	t.Helper()
	r := get(t, c, url+"/stats")
	wantStatus(t, r, 200)
	var s stats
	if err := json.Unmarshal(r.body, &s); err != nil {
		t.Fatalf("stats %q: %v", r.body, err)
	}
	return s
}

var methods = []string{"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"}

type echoed struct {
	Method     string `json:"method"`
	RequestURI string `json:"request_uri"`
	URL        string `json:"url"`
	RemoteAddr string `json:"remote_addr"`
	Foo        string `json:"foo"`
	FooLower   string `json:"foo_lower"`
	FooUpper   string `json:"foo_upper"`
	Multi      string `json:"multi"`
	Host       string `json:"host"`
	Body       string `json:"body"`
}

// Every method reaches the handler, with req.method, request_uri, url and remote_addr.
func TestServerMethods(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverScript(t, "server_routes.lua"), drleetest.Options{})
	c := newClient()
	defer c.CloseIdleConnections()
	for _, m := range methods {
		var local string
		var body []byte
		if m == "POST" || m == "PUT" || m == "PATCH" {
			body = []byte("payload of " + m)
		}
		req, _ := http.NewRequest(m, s.url+"/echo?x=1&y=two", bytes.NewReader(body))
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			GotConn: func(info httptrace.GotConnInfo) { local = info.Conn.LocalAddr().String() },
		}))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: status %d %q", m, resp.StatusCode, b)
		}
		h := resp.Header
		if h.Get("X-Method") != m {
			t.Errorf("%s: X-Method %q", m, h.Get("X-Method"))
		}
		if h.Get("X-URI") != "/echo?x=1&y=two" {
			t.Errorf("%s: request_uri %q", m, h.Get("X-URI"))
		}
		if want := s.url + "/echo?x=1&y=two"; h.Get("X-URL") != want {
			t.Errorf("%s: url %q, want %q", m, h.Get("X-URL"), want)
		}
		if h.Get("X-Remote") != local {
			t.Errorf("%s: remote_addr %q, want the client's address %q", m, h.Get("X-Remote"), local)
		}
		if h.Get("X-Body-Len") != strconv.Itoa(len(body)) {
			t.Errorf("%s: body length seen by the handler %q, want %d", m, h.Get("X-Body-Len"), len(body))
		}
		if m == "HEAD" {
			if len(b) != 0 {
				t.Errorf("HEAD: body %q", b)
			}
			continue
		}
		var e echoed
		if err := json.Unmarshal(b, &e); err != nil {
			t.Fatalf("%s: %q: %v", m, b, err)
		}
		if e.Method != m || e.RequestURI != "/echo?x=1&y=two" || e.Body != string(body) || e.RemoteAddr != local {
			t.Errorf("%s: echoed %+v", m, e)
		}
	}
}

// Request headers: look-ups work whatever the case; repeated headers are joined.
func TestServerRequestHeaders(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverScript(t, "server_routes.lua"), drleetest.Options{})
	c := newClient()
	defer c.CloseIdleConnections()
	hdr := http.Header{}
	hdr.Set("X-Foo", "bar baz")
	hdr.Add("X-Multi", "a")
	hdr.Add("X-Multi", "b")
	r := do(t, c, "GET", s.url+"/echo", nil, hdr)
	wantStatus(t, r, 200)
	var e echoed
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("%q: %v", r.body, err)
	}
	if e.Foo != "bar baz" || e.FooLower != "bar baz" || e.FooUpper != "bar baz" {
		t.Errorf("X-Foo look-ups: %q %q %q, want \"bar baz\" each", e.Foo, e.FooLower, e.FooUpper)
	}
	if e.Multi != "a, b" {
		t.Errorf("repeated X-Multi: %q, want \"a, b\"", e.Multi)
	}
	if e.Host != s.addr {
		t.Errorf("Host: %q, want %q", e.Host, s.addr)
	}
}

// Response headers: set before and after set_status count; get reads them back.
func TestServerResponseHeaders(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverScript(t, "server_routes.lua"), drleetest.Options{})
	c := newClient()
	defer c.CloseIdleConnections()
	r := get(t, c, s.url+"/headers")
	wantStatus(t, r, 201)
	for k, want := range map[string]string{
		"X-Before": "before", "X-After": "after", "Content-Type": "text/x-test",
	} {
		if got := r.header.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	if got := r.header.Values("X-Replaced"); len(got) != 1 || got[0] != "two" {
		t.Errorf("X-Replaced set twice: %q, want [two]", got)
	}
	var g struct {
		Got         string `json:"got"`
		GotLower    string `json:"got_lower"`
		GotMissing  bool   `json:"got_missing"`
		GotReplaced string `json:"got_replaced"`
	}
	if err := json.Unmarshal(r.body, &g); err != nil {
		t.Fatalf("%q: %v", r.body, err)
	}
	if g.Got != "before" || g.GotLower != "after" || !g.GotMissing || g.GotReplaced != "two" {
		t.Errorf("res:get: %+v", g)
	}
}

// req:read(n, cb) streams the body in pieces of at most n bytes; readall gets it whole.
func TestServerRequestBodyStreamed(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverScript(t, "server_routes.lua"), drleetest.Options{})
	c := newClient()
	defer c.CloseIdleConnections()
	for _, tc := range []struct{ n, size int }{{1, 100}, {7, 1000}, {4096, 100000}} {
		body := randomBytes(t, tc.size)
		r := do(t, c, "POST", fmt.Sprintf("%s/read?n=%d", s.url, tc.n), body, nil)
		wantStatus(t, r, 200)
		if !bytes.Equal(r.body, body) {
			t.Errorf("n=%d: echoed %d bytes differ from the %d sent", tc.n, len(r.body), len(body))
		}
		chunks := (tc.size + tc.n - 1) / tc.n
		if r.header.Get("X-Chunks") != strconv.Itoa(chunks) || r.header.Get("X-Max-Chunk") != strconv.Itoa(tc.n) {
			t.Errorf("n=%d size=%d: %s chunks of at most %s bytes, want %d of %d", tc.n, tc.size,
				r.header.Get("X-Chunks"), r.header.Get("X-Max-Chunk"), chunks, tc.n)
		}
	}
	// Empty body: the first read is the end.
	r := do(t, c, "POST", s.url+"/read?n=10", []byte{}, nil)
	wantStatus(t, r, 200)
	if len(r.body) != 0 || r.header.Get("X-Chunks") != "0" {
		t.Errorf("empty body: %q, %s chunks", r.body, r.header.Get("X-Chunks"))
	}
	// readall over several of its 64 KiB reads.
	body := randomBytes(t, 300000)
	r = do(t, c, "POST", s.url+"/readall", body, nil)
	wantStatus(t, r, 200)
	if !bytes.Equal(r.body, body) {
		t.Errorf("readall: echoed %d bytes differ from the %d sent", len(r.body), len(body))
	}
	// A request body sent chunked by the client.
	r2, err := c.Post(s.url+"/readall", "application/octet-stream", io.MultiReader(bytes.NewReader(body[:1000]), bytes.NewReader(body[1000:5000])))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(r2.Body)
	r2.Body.Close()
	if r2.StatusCode != 200 || !bytes.Equal(got, body[:5000]) {
		t.Errorf("chunked upload: status %d, %d bytes", r2.StatusCode, len(got))
	}
}

// A 10 MB body goes through the handler and back intact.
func TestServerLargeBody(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverScript(t, "server_routes.lua"), drleetest.Options{})
	c := newClient()
	defer c.CloseIdleConnections()
	body := randomBytes(t, 10<<20)
	want := sha256.Sum256(body)
	r := do(t, c, "POST", s.url+"/readall", body, nil)
	wantStatus(t, r, 200)
	if got := sha256.Sum256(r.body); got != want || len(r.body) != len(body) {
		t.Fatalf("10 MB echo: got %d bytes (sha256 %x), want %d (%x)", len(r.body), got[:8], len(body), want[:8])
	}
	if r.header.Get("Content-Length") != strconv.Itoa(len(body)) {
		t.Errorf("Content-Length %q", r.header.Get("Content-Length"))
	}
}

// Writes on both sides of a timer stream as chunks: the first arrives before the last is
// written. Timing-sensitive: not parallel.
func TestServerStreamingChunked(t *testing.T) {
	s := startServer(t, serverScript(t, "server_routes.lua"), drleetest.Options{})
	c := newClient()
	defer c.CloseIdleConnections()
	get(t, c, s.url+"/oneshot") // warm the connection
	tr := splitGet(t, c, s.url+"/stream?ms=300", 1)
	resp, firstAt, total := tr.resp, tr.firstAt, tr.total
	t.Logf("first byte after %v, end after %v", firstAt, total)
	if got := string(tr.first) + string(tr.rest); got != "ab" {
		t.Errorf("body %q, want \"ab\"", got)
	}
	if len(resp.TransferEncoding) != 1 || resp.TransferEncoding[0] != "chunked" || resp.ContentLength != -1 {
		t.Errorf("Transfer-Encoding %q, Content-Length %d: want chunked", resp.TransferEncoding, resp.ContentLength)
	}
	if firstAt > 200*time.Millisecond {
		t.Errorf("first byte after %v: it should arrive well before the 300 ms the last write waits", firstAt)
	}
	if total < 280*time.Millisecond {
		t.Errorf("response ended after %v, before the last write (300 ms)", total)
	}
}

// A response written and finished in one callback has Content-Length.
func TestServerContentLength(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverScript(t, "server_routes.lua"), drleetest.Options{})
	c := newClient()
	defer c.CloseIdleConnections()
	r := get(t, c, s.url+"/oneshot")
	wantStatus(t, r, 200)
	if string(r.body) != "hello world" {
		t.Errorf("body %q", r.body)
	}
	if r.resp.ContentLength != 11 || len(r.resp.TransferEncoding) != 0 {
		t.Errorf("Content-Length %d, Transfer-Encoding %q: want 11, none", r.resp.ContentLength, r.resp.TransferEncoding)
	}
	if r.header.Get("Content-Type") != "text/plain" {
		t.Errorf("Content-Type %q", r.header.Get("Content-Type"))
	}
}

// res:write and res:finish callbacks fire, buffered and streaming.
func TestServerWriteCallbacks(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverScript(t, "server_routes.lua"), drleetest.Options{})
	c := newClient()
	defer c.CloseIdleConnections()
	r := get(t, c, s.url+"/writecb")
	wantStatus(t, r, 200)
	if string(r.body) != "first;second:nil;third:nil" {
		t.Errorf("body %q", r.body)
	}
	r = get(t, c, s.url+"/writecb-oneshot")
	wantStatus(t, r, 200)
	if string(r.body) != "x" || r.resp.ContentLength != 1 {
		t.Errorf("one-shot with callbacks: %q, Content-Length %d", r.body, r.resp.ContentLength)
	}
	// The finish callbacks run once the responses are out: allow them a moment.
	var st stats
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if st = getStats(t, c, s.url); st.WriteCBs == 3 && st.FinishCBs == 2 {
			break
		}
	}
	if st.WriteCBs != 3 || st.FinishCBs != 2 {
		t.Errorf("callbacks fired: %d write (want 3), %d finish (want 2)", st.WriteCBs, st.FinishCBs)
	}
	res := s.stop(t)
	res.MustSucceed(t)
	res.Contains(t, "finish cb: nil")
}

// 1000 concurrent requests over 2 workers: each gets its own answer, both workers serve.
func TestServerConcurrent(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverScript(t, "server_routes.lua"), drleetest.Options{Workers: 2})
	c := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1000}}
	defer c.CloseIdleConnections()
	const n = 1000
	var mu sync.Mutex
	perWorker := map[string]int{}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			body := fmt.Sprintf("body-%d-%x", i, i*7919)
			resp, err := c.Post(fmt.Sprintf("%s/worker?id=%d", s.url, i), "text/plain", strings.NewReader(body))
			if err != nil {
				errs <- err
				return
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				errs <- err
				return
			}
			if want := fmt.Sprintf("/worker?id=%d|%s", i, body); resp.StatusCode != 200 || string(b) != want {
				errs <- fmt.Errorf("request %d: status %d body %q, want %q", i, resp.StatusCode, b, want)
				return
			}
			if resp.ContentLength != int64(len(b)) {
				errs <- fmt.Errorf("request %d: answered in one callback but streamed (Content-Length %d)", i, resp.ContentLength)
				return
			}
			mu.Lock()
			perWorker[resp.Header.Get("X-Worker")]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		if failed++; failed <= 5 {
			t.Error(err)
		}
	}
	if failed > 0 {
		t.Fatalf("%d of %d requests failed", failed, n)
	}
	t.Logf("requests per worker: %v", perWorker)
	if perWorker["1"]+perWorker["2"] != n || perWorker["1"] == 0 || perWorker["2"] == 0 {
		t.Errorf("requests per worker %v: want all %d served, by both workers", perWorker, n)
	}
	s.stop(t).MustSucceed(t)
}

// A handler that raises: plain 500, traceback in the log only, the worker goes on.
func TestServerHandlerError(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverScript(t, "server_routes.lua"), drleetest.Options{})
	c := newClient()
	defer c.CloseIdleConnections()
	for _, path := range []string{"/error", "/error-after-write"} {
		r := get(t, c, s.url+path)
		wantStatus(t, r, 500)
		body := string(r.body)
		for _, bad := range []string{"boom", "traceback", ".lua", "partial"} {
			if strings.Contains(body, bad) {
				t.Errorf("%s: 500 body %q contains %q", path, body, bad)
			}
		}
		if len(body) > 64 {
			t.Errorf("%s: 500 body is not plain: %q", path, body)
		}
		r = get(t, c, s.url+"/oneshot")
		wantStatus(t, r, 200)
	}
	res := s.stop(t)
	res.StderrContains(t, "boom in handler", "boom after write", "traceback")
}

// A handler that never finishes: 504 after the handler timeout; the worker goes on and
// the response is released (later writes raise). Timing-sensitive: not parallel.
func TestServerHandlerTimeout(t *testing.T) {
	s := startServer(t, serverScript(t, "server_routes.lua"), drleetest.Options{
		Configure: func(c *engine.Config) { drhttp.Settings.Ptr(c).HandlerTimeout = 300 * time.Millisecond },
	})
	c := newClient()
	defer c.CloseIdleConnections()
	wantStatus(t, get(t, c, s.url+"/oneshot"), 200)
	start := time.Now()
	r := get(t, c, s.url+"/hang?late=500")
	took := time.Since(start)
	wantStatus(t, r, 504)
	if took < 280*time.Millisecond || took > 2*time.Second {
		t.Errorf("504 after %v, want about 300 ms", took)
	}
	wantStatus(t, get(t, c, s.url+"/oneshot"), 200)
	time.Sleep(400 * time.Millisecond) // the hung handler's late write
	wantStatus(t, get(t, c, s.url+"/oneshot"), 200)
	stopAt := time.Now()
	res := s.stop(t)
	if d := time.Since(stopAt); d > 3*time.Second {
		t.Errorf("shutdown took %v: an abandoned request still holds the worker", d)
	}
	res.MustSucceed(t)
	res.Contains(t, "late write: false", "httpResponseWriter is closed")
}

// A handler that blocks the loop past the handler timeout gets 504, and so does a request
// queued behind it; when the busy handler goes on to answer, that is not a script error
// (res:set on the abandoned response must not raise), and the worker goes on.
// Timing-sensitive: not parallel.
func TestServerHandlerTimeoutBusy(t *testing.T) {
	s := startServer(t, serverScript(t, "server_routes.lua"), drleetest.Options{
		Configure: func(c *engine.Config) { drhttp.Settings.Ptr(c).HandlerTimeout = 300 * time.Millisecond },
	})
	c := newClient()
	defer c.CloseIdleConnections()
	wantStatus(t, get(t, c, s.url+"/oneshot"), 200)
	done := goGet(t, newClient(), s.url+"/busy?ms=600")
	time.Sleep(100 * time.Millisecond)
	wantStatus(t, get(t, c, s.url+"/oneshot"), 504) // queued behind the busy handler
	if r := <-done; r.status != 504 {
		t.Errorf("busy 600 ms with a 300 ms timeout: status %d", r.status)
	}
	time.Sleep(400 * time.Millisecond) // the busy handler ends
	wantStatus(t, get(t, c, s.url+"/oneshot"), 200)
	res := s.stop(t)
	res.MustSucceed(t)
}

// A full queue answers 503 with Retry-After at once; no request hangs.
func TestServerQueueFull(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverScript(t, "server_routes.lua"), drleetest.Options{QueueSize: 1})
	const n = 20
	var wg sync.WaitGroup
	var mu sync.Mutex
	counts := map[int]int{}
	retryAfter := 0
	start := time.Now()
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
			resp, err := c.Get(s.url + "/busy?ms=300")
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			mu.Lock()
			counts[resp.StatusCode]++
			if resp.StatusCode == 503 && resp.Header.Get("Retry-After") != "" {
				retryAfter++
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	t.Logf("statuses %v in %v", counts, time.Since(start))
	if counts[200] == 0 || counts[503] == 0 || counts[200]+counts[503] != n {
		t.Errorf("statuses %v: want some 200 and some 503, nothing else", counts)
	}
	if retryAfter != counts[503] {
		t.Errorf("%d of %d 503 responses have Retry-After", retryAfter, counts[503])
	}
	c := newClient()
	defer c.CloseIdleConnections()
	wantStatus(t, get(t, c, s.url+"/oneshot"), 200)
}

// Malformed requests get 400 and never reach Lua.
func TestServerMalformedRequest(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverScript(t, "server_routes.lua"), drleetest.Options{})
	for _, req := range []string{
		"GARBAGE\r\n\r\n",
		"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
		"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
		"GET /echo HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n",
		"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
	} {
		out, _ := rawExchange(t, s.addr, req, 5*time.Second)
		if !strings.HasPrefix(out, "HTTP/1.1 400 ") {
			t.Errorf("%q: answered %q, want 400", req, firstLine(out))
		}
	}
	c := newClient()
	defer c.CloseIdleConnections()
	if st := getStats(t, c, s.url); st.Handled != 1 {
		t.Errorf("the handler ran %d times: malformed requests reached Lua", st.Handled-1)
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// Bodies over --max-body-size get 413 and never reach Lua.
func TestServerOversizeBody(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverScript(t, "server_routes.lua"), drleetest.Options{
		Configure: func(c *engine.Config) { drhttp.Settings.Ptr(c).MaxBodySize = 1024 },
	})
	c := newClient()
	defer c.CloseIdleConnections()
	r := do(t, c, "POST", s.url+"/readall", randomBytes(t, 4096), nil)
	wantStatus(t, r, 413)
	// Chunked, so the size is known only while reading.
	resp, err := c.Post(s.url+"/readall", "application/octet-stream", io.MultiReader(bytes.NewReader(randomBytes(t, 1000)), bytes.NewReader(randomBytes(t, 3000))))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Errorf("chunked oversize body: status %d, want 413", resp.StatusCode)
	}
	body := randomBytes(t, 1000)
	r = do(t, c, "POST", s.url+"/readall", body, nil)
	wantStatus(t, r, 200)
	if !bytes.Equal(r.body, body) {
		t.Error("a body under the limit did not come back intact")
	}
	if st := getStats(t, c, s.url); st.Handled != 2 {
		t.Errorf("the handler ran %d times, want 2: an oversize request reached Lua", st.Handled)
	}
}

// A client that sends half its headers and stalls is disconnected by the read timeout;
// other requests are served meanwhile. Timing-sensitive: not parallel.
func TestServerSlowClient(t *testing.T) {
	s := startServer(t, serverScript(t, "server_routes.lua"), drleetest.Options{
		Configure: func(c *engine.Config) { drhttp.Settings.Ptr(c).ReadTimeout = 500 * time.Millisecond },
	})
	type result struct {
		out  string
		took time.Duration
	}
	slow := make(chan result, 1)
	go func() {
		out, took := rawExchange(t, s.addr, "GET /oneshot HTTP/1.1\r\nHost: x\r\nX-Half: ", 5*time.Second)
		slow <- result{out, took}
	}()
	c := newClient()
	defer c.CloseIdleConnections()
	time.Sleep(100 * time.Millisecond)
	for range 5 {
		start := time.Now()
		wantStatus(t, get(t, c, s.url+"/oneshot"), 200)
		if d := time.Since(start); d > 400*time.Millisecond {
			t.Errorf("a request took %v while a slow client stalled", d)
		}
	}
	r := <-slow
	t.Logf("slow client disconnected after %v with %q", r.took, firstLine(r.out))
	if r.took == 0 {
		t.Fatal("the slow client was not disconnected within 5 s")
	}
	if r.took < 400*time.Millisecond || r.took > 3*time.Second {
		t.Errorf("slow client disconnected after %v, want about 500 ms", r.took)
	}
	if strings.Contains(r.out, "200 OK") {
		t.Errorf("the incomplete request was answered: %q", r.out)
	}
	if st := getStats(t, c, s.url); st.Handled != 6 {
		t.Errorf("the handler ran %d times, want 6", st.Handled)
	}
}

// A keep-alive connection left idle is closed after --idle-timeout, not before.
func TestServerIdleTimeout(t *testing.T) {
	s := startServer(t, serverScript(t, "server_routes.lua"), drleetest.Options{
		Configure: func(c *engine.Config) { drhttp.Settings.Ptr(c).IdleTimeout = 300 * time.Millisecond },
	})
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	for i := range 3 { // keep-alive requests, each within the idle timeout of the last
		if i > 0 {
			time.Sleep(150 * time.Millisecond)
		}
		io.WriteString(c, "GET /oneshot HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d on a connection kept alive: %v", i+1, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	idle := time.Now()
	c.SetReadDeadline(idle.Add(5 * time.Second))
	_, err = br.ReadByte()
	took := time.Since(idle)
	if err != io.EOF {
		t.Fatalf("idle connection: %v, want the server to close it (EOF)", err)
	}
	if took < 300*time.Millisecond || took > 3*time.Second {
		t.Errorf("idle connection closed after %v, want about 300 ms", took)
	}
}

// A client that does not read its response is cut off after --write-timeout, and the
// server goes on serving others.
func TestServerWriteTimeout(t *testing.T) {
	s := startServer(t, serverScript(t, "server_routes.lua"), drleetest.Options{
		Configure: func(c *engine.Config) { drhttp.Settings.Ptr(c).WriteTimeout = 300 * time.Millisecond },
	})
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const n = 64 << 20 // more than the socket buffers hold
	io.WriteString(c, fmt.Sprintf("GET /big?n=%d HTTP/1.1\r\nHost: x\r\n\r\n", n))
	// Once the response has begun (building 64 MB in Lua can take a while here), read
	// nothing more: the server's write blocks.
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	first := make([]byte, 4096)
	got0, err := io.ReadAtLeast(c, first, 1)
	if err != nil {
		t.Fatalf("the response never began: %v", err)
	}
	time.Sleep(1500 * time.Millisecond)
	hc := newClient()
	defer hc.CloseIdleConnections()
	wantStatus(t, get(t, hc, s.url+"/oneshot"), 200)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.Copy(io.Discard, c)
	got += int64(got0)
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("reading the stalled response: %v", err)
	}
	if got >= n {
		t.Fatalf("the whole %d-byte response arrived: the write timeout never fired", got)
	}
	t.Logf("a stalled client got %d of %d bytes before the server closed", got, n)
}

// A streamed response is exempt from --write-timeout: a stream may last as long as it likes.
func TestServerStreamOutlivesWriteTimeout(t *testing.T) {
	s := startServer(t, serverScript(t, "server_routes.lua"), drleetest.Options{
		Configure: func(c *engine.Config) { drhttp.Settings.Ptr(c).WriteTimeout = 200 * time.Millisecond },
	})
	c := newClient()
	defer c.CloseIdleConnections()
	start := time.Now()
	r := get(t, c, s.url+"/stream-forever?n=30") // a chunk every 20 ms: about 600 ms
	wantStatus(t, r, 200)
	if n := strings.Count(string(r.body), "chunk "); n != 30 {
		t.Fatalf("got %d chunks in %v, want 30", n, time.Since(start))
	}
}

// A stream whose client stops reading is cut off once a write has been stuck for
// --write-timeout, and the script's write callback gets the error.
func TestServerStalledStreamIsCut(t *testing.T) {
	s := startServer(t, serverScript(t, "server_routes.lua"), drleetest.Options{
		Configure: func(c *engine.Config) { drhttp.Settings.Ptr(c).WriteTimeout = 300 * time.Millisecond },
	})
	conn, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET /stream-big HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(2 * time.Second) // read nothing
	c := newClient()
	defer c.CloseIdleConnections()
	wantStatus(t, get(t, c, s.url+"/oneshot"), 200)
	res := s.stop(t)
	res.MustSucceed(t)
	res.Contains(t, "stream-big write error after ")
}

// A handler stuck in a loop is interrupted at the callback timeout: its client gets 500
// and the worker, the only one, serves the next request.
func TestServerRunawayHandlerInterrupted(t *testing.T) {
	s := startServer(t, serverScript(t, "server_routes.lua"), drleetest.Options{
		CallbackTimeout: 200 * time.Millisecond,
	})
	c := newClient()
	defer c.CloseIdleConnections()
	wantStatus(t, get(t, c, s.url+"/runaway"), 500)
	wantStatus(t, get(t, c, s.url+"/oneshot"), 200)
	res := s.stop(t)
	if !strings.Contains(res.Stderr, "callback interrupted") {
		t.Errorf("stderr lacks the interruption:\n%s", res.Stderr)
	}
}

// server:start on a taken port calls cb(err) with a message; the script then ends.
func TestServerStartPortTaken(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	res := drleetest.Run(t, serverScript(t, "server_routes.lua"), drleetest.Options{
		Args: []string{ln.Addr().String()}, Timeout: 10 * time.Second,
	})
	res.MustSucceed(t)
	res.Contains(t, "start error: ", "address already in use")
}

// server:stop() with requests in flight: they complete, new connections are refused, and
// the script ends by itself.
func TestServerStopInFlight(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverScript(t, "server_routes.lua"), drleetest.Options{})
	const n = 3
	results := make(chan string, n)
	for i := range n {
		go func() {
			c := &http.Client{Timeout: 10 * time.Second}
			resp, err := c.Get(fmt.Sprintf("%s/slow?ms=600&id=%d", s.url, i))
			if err != nil {
				results <- err.Error()
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			results <- fmt.Sprintf("%d %s", resp.StatusCode, b)
		}()
	}
	time.Sleep(200 * time.Millisecond)
	stopped := time.Now()
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	r := get(t, c, s.url+"/stop")
	wantStatus(t, r, 200)
	// New connections are refused once the listener closed.
	refused := false
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		conn, err := net.DialTimeout("tcp", s.addr, time.Second)
		if err != nil {
			refused = true
			break
		}
		conn.Close()
	}
	if !refused {
		t.Error("new connections are still accepted 2 s after server:stop()")
	}
	got := map[string]bool{}
	for range n {
		got[<-results] = true
	}
	for i := range n {
		if want := fmt.Sprintf("200 slow done %d", i); !got[want] {
			t.Errorf("in-flight request %d: results %v", i, got)
		}
	}
	res := s.wait(t, 5*time.Second)
	t.Logf("script ended %v after server:stop()", time.Since(stopped))
	res.MustSucceed(t)
}

// A script that starts a server, serves N requests, stops it from a timer and ends by
// itself.
func TestServerScriptStopsItself(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverScript(t, "server_selfstop.lua"), drleetest.Options{Args: []string{"5"}})
	c := newClient()
	defer c.CloseIdleConnections()
	for i := 1; i <= 5; i++ {
		r := get(t, c, s.url+"/")
		wantStatus(t, r, 200)
		if want := fmt.Sprintf("request %d", i); string(r.body) != want {
			t.Errorf("body %q, want %q", r.body, want)
		}
	}
	res := s.wait(t, 5*time.Second)
	res.MustSucceed(t)
	res.Contains(t, "stopped after 5 requests")
}

// Engine shutdown closes the server and Run returns.
func TestServerEngineShutdown(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverScript(t, "server_routes.lua"), drleetest.Options{Workers: 2})
	c := newClient()
	defer c.CloseIdleConnections()
	wantStatus(t, get(t, c, s.url+"/oneshot"), 200)
	e := s.eng(t)
	start := time.Now()
	e.Shutdown()
	res := s.wait(t, 5*time.Second)
	t.Logf("Run returned %v after Shutdown", time.Since(start))
	res.MustSucceed(t)
	if conn, err := net.DialTimeout("tcp", s.addr, time.Second); err == nil {
		conn.Close()
		t.Error("the server still accepts connections after Run returned (the listener is closed in a goroutine)")
	}
}

// --lock-threads serves correctly too.
func TestServerLockThreads(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverScript(t, "server_routes.lua"), drleetest.Options{Workers: 2, LockThreads: true})
	c := newClient()
	defer c.CloseIdleConnections()
	r := get(t, c, s.url+"/oneshot")
	wantStatus(t, r, 200)
	if string(r.body) != "hello world" {
		t.Errorf("body %q", r.body)
	}
	r = get(t, c, s.url+"/stream?ms=50")
	if string(r.body) != "ab" || len(r.resp.TransferEncoding) == 0 {
		t.Errorf("stream: %q %q", r.body, r.resp.TransferEncoding)
	}
	body := randomBytes(t, 1<<20)
	r = do(t, c, "POST", s.url+"/readall", body, nil)
	if !bytes.Equal(r.body, body) {
		t.Error("1 MB echo differs")
	}
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := c.Get(fmt.Sprintf("%s/worker?id=%d", s.url, i))
			if err != nil {
				t.Error(err)
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if want := fmt.Sprintf("/worker?id=%d|", i); string(b) != want {
				t.Errorf("got %q, want %q", b, want)
			}
		}()
	}
	wg.Wait()
	s.stop(t).MustSucceed(t)
}

// curl from Debian as a client: methods, headers, bodies both ways, chunked streaming.
func TestServerCurl(t *testing.T) {
	t.Parallel()
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl not installed")
	}
	s := startServer(t, serverScript(t, "server_routes.lua"), drleetest.Options{})
	run := func(args ...string) (headers map[string]string, status string, body []byte) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		hdrFile := filepath.Join(t.TempDir(), "headers")
		args = append([]string{"-sS", "--http1.1", "-D", hdrFile}, args...)
		out, err := exec.CommandContext(ctx, curl, args...).Output()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				t.Fatalf("curl %q: %v: %s", args, err, ee.Stderr)
			}
			t.Fatalf("curl %q: %v", args, err)
		}
		raw, err := os.ReadFile(hdrFile)
		if err != nil {
			t.Fatal(err)
		}
		headers = map[string]string{}
		sc := bufio.NewScanner(bytes.NewReader(raw))
		for sc.Scan() {
			line := strings.TrimRight(sc.Text(), "\r")
			if strings.HasPrefix(line, "HTTP/") {
				status = line
				continue
			}
			if k, v, ok := strings.Cut(line, ":"); ok {
				headers[strings.ToLower(k)] = strings.TrimSpace(v)
			}
		}
		return headers, status, out
	}
	statusRe := regexp.MustCompile(`^HTTP/1\.1 200\b`)
	for _, m := range methods {
		args := []string{"-X", m, "-H", "X-Foo: from curl", s.url + "/echo?m=" + m}
		if m == "HEAD" {
			args = []string{"-I", "-H", "X-Foo: from curl", s.url + "/echo?m=" + m}
		}
		if m == "POST" || m == "PUT" || m == "PATCH" {
			args = append([]string{"--data-binary", "curl body " + m}, args...)
		}
		h, status, out := run(args...)
		if !statusRe.MatchString(status) || h["x-method"] != m || h["x-uri"] != "/echo?m="+m {
			t.Errorf("curl %s: %q, headers %v", m, status, h)
			continue
		}
		if m == "HEAD" {
			continue
		}
		var e echoed
		if err := json.Unmarshal(out, &e); err != nil {
			t.Fatalf("curl %s: %q: %v", m, out, err)
		}
		wantBody := ""
		if m == "POST" || m == "PUT" || m == "PATCH" {
			wantBody = "curl body " + m
		}
		if e.Method != m || e.Foo != "from curl" || e.FooLower != "from curl" || e.Body != wantBody {
			t.Errorf("curl %s: echoed %+v", m, e)
		}
	}
	// Streaming: chunked, as written.
	h, status, out := run("-N", s.url+"/stream?ms=100")
	if !statusRe.MatchString(status) || h["transfer-encoding"] != "chunked" || string(out) != "ab" {
		t.Errorf("curl stream: %q, headers %v, body %q", status, h, out)
	}
	// One shot: Content-Length.
	h, _, out = run(s.url + "/oneshot")
	if h["content-length"] != "11" || string(out) != "hello world" {
		t.Errorf("curl oneshot: headers %v, body %q", h, out)
	}
	// 10 MB up and back down.
	big := randomBytes(t, 10<<20)
	in := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(in, big, 0o644); err != nil {
		t.Fatal(err)
	}
	_, status, out = run("--data-binary", "@"+in, "-H", "Content-Type: application/octet-stream", s.url+"/readall")
	if !statusRe.MatchString(status) || sha256.Sum256(out) != sha256.Sum256(big) {
		t.Errorf("curl 10 MB echo: %q, %d bytes back", status, len(out))
	}
}

// Once a response streams, the request (method, headers, body, even a partly read one) is
// still readable from later callbacks.
func TestServerStreamThenReadBody(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverScript(t, "server_routes.lua"), drleetest.Options{})
	c := newClient()
	defer c.CloseIdleConnections()
	body := randomBytes(t, 200000)
	hdr := http.Header{"X-Foo": {"foo value"}}
	r := do(t, c, "PUT", s.url+"/stream-echo?a=b", body, hdr)
	wantStatus(t, r, 200)
	want := append([]byte("start;PUT;foo value;/stream-echo?a=b;"), body...)
	if !bytes.Equal(r.body, want) || len(r.resp.TransferEncoding) == 0 {
		t.Errorf("got %d bytes (%q...), Transfer-Encoding %q; want %d bytes", len(r.body), r.body[:min(len(r.body), 40)], r.resp.TransferEncoding, len(want))
	}
	r = do(t, c, "POST", s.url+"/stream-echo?pre=5", body, hdr)
	wantStatus(t, r, 200)
	want = append([]byte("start;POST;foo value;/stream-echo?pre=5;"), body...)
	if !bytes.Equal(r.body, want) {
		t.Errorf("partly read before streaming: got %d bytes (%q...), want %d", len(r.body), r.body[:min(len(r.body), 50)], len(want))
	}
}

// A client that goes away mid-stream: the script's writes fail with an error, finish
// still works, and the worker goes on.
func TestServerClientGoneMidStream(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverScript(t, "server_routes.lua"), drleetest.Options{})
	conn, err := net.DialTimeout("tcp", s.addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(conn, "GET /stream-forever HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(conn)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var seen strings.Builder
	for !strings.Contains(seen.String(), "chunk 3") {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the stream: %v after %q", err, seen.String())
		}
		seen.WriteString(line)
	}
	if !strings.Contains(strings.ToLower(seen.String()), "transfer-encoding: chunked") {
		t.Errorf("stream head: %q", seen.String())
	}
	conn.Close()
	c := newClient()
	defer c.CloseIdleConnections()
	time.Sleep(300 * time.Millisecond) // a few more writes, which fail
	wantStatus(t, get(t, c, s.url+"/oneshot"), 200)
	res := s.stop(t)
	res.MustSucceed(t)
	res.Contains(t, "stream write error: ", "stream finish: ")
}

// Engine shutdown (SIGTERM: the context is cancelled) with a stream that never ends: Run
// returns after the shutdown timeout (5 s in enginetest) and the stream's connection is
// closed, not left open.
func TestServerShutdownWithOpenStream(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverScript(t, "server_routes.lua"), drleetest.Options{})
	resp, err := newClient().Get(s.url + "/stream-forever")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	if _, err := br.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	s.stop(t)
	t.Logf("Run returned %v after the context was cancelled", time.Since(start))
	// The stream must end now that no worker is left to write it.
	ended := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, br)
		ended <- err
	}()
	select {
	case err := <-ended:
		t.Logf("stream ended (%v) %v after the context was cancelled", err, time.Since(start))
	case <-time.After(3 * time.Second):
		t.Errorf("the stream's connection is still open 3 s after Run returned")
	}
}

// server:stop() then a new server on the same address, in the same callback: the new one
// starts (the old listener is closed by then).
func TestServerRestartSameAddress(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverScript(t, "server_restart.lua"), drleetest.Options{})
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	r := get(t, c, s.url+"/")
	if string(r.body) != "first" {
		t.Fatalf("body %q", r.body)
	}
	get(t, c, s.url+"/restart")
	var body string
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		resp, err := c.Get(s.url + "/")
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if body = string(b); body == "second" {
			break
		}
	}
	res := s.stop(t)
	if body != "second" {
		t.Errorf("after restart: %q, want \"second\"\nstdout:\n%s", body, res.Stdout)
	}
	res.MustSucceed(t)
	res.Contains(t, "restarted")
}

// A pooled request is reused only once the loop is done with it: a response finished early
// in a long callback must not affect a later request that got the same pooled object on
// another worker (that one, written and finished in one callback, keeps Content-Length).
func TestServerRequestReuse(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverScript(t, "server_routes.lua"), drleetest.Options{Workers: 2})
	c := newClient()
	defer c.CloseIdleConnections()
	bad := 0
	const rounds = 25
	for i := range rounds {
		a := goGet(t, c, s.url+"/finish-then-busy?after=40")
		time.Sleep(5 * time.Millisecond)
		r := get(t, c, s.url+"/write-busy-finish?ms=60")
		<-a
		if r.status != 200 || string(r.body) != "one callback" {
			t.Fatalf("round %d: %d %q", i, r.status, r.body)
		}
		if r.resp.ContentLength != int64(len("one callback")) {
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d responses written and finished in one callback were streamed (no Content-Length)", bad, rounds)
	}
}

// Many streamed responses at once over keep-alive connections, on two workers: every
// body arrives whole. (Request objects are pooled: a stream that ended must not reach the
// next request that reuses its object.)
func TestServerConcurrentStreams(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverScript(t, "server_routes.lua"), drleetest.Options{Workers: 2})
	var want strings.Builder
	for i := 1; i <= 50; i++ {
		fmt.Fprintf(&want, "%d,", i)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 32*15)
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newClient()
			defer c.CloseIdleConnections()
			for range 15 {
				resp, err := c.Get(s.url + "/stream-many?n=50")
				if err != nil {
					errs <- err.Error()
					return
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || string(body) != want.String() {
					errs <- fmt.Sprintf("body %q, %v", body, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	s.stop(t).MustSucceed(t)
}

// Writes are sent in order, whether several per callback or one per callback, with or
// without write callbacks.
func TestServerStreamOrder(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverScript(t, "server_routes.lua"), drleetest.Options{})
	c := newClient()
	defer c.CloseIdleConnections()
	r := get(t, c, s.url+"/stream-many?n=2000")
	wantStatus(t, r, 200)
	var want strings.Builder
	for i := 1; i <= 2000; i++ {
		fmt.Fprintf(&want, "%d,", i)
	}
	if string(r.body) != want.String() {
		t.Errorf("streamed body (%d bytes) is not 1..2000 in order (%d bytes)", len(r.body), want.Len())
	}
	if len(r.resp.TransferEncoding) == 0 {
		t.Errorf("not streamed: Content-Length %d", r.resp.ContentLength)
	}
	s.stop(t).MustSucceed(t)
}

// The request stays readable after the response is finished, until the handler is done
// with it (logging a request once answered is common).
func TestServerRequestAfterFinish(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverScript(t, "server_routes.lua"), drleetest.Options{})
	c := newClient()
	defer c.CloseIdleConnections()
	wantStatus(t, get(t, c, s.url+"/req-after-finish?x=1"), 200)
	res := s.stop(t)
	res.MustSucceed(t)
	res.Contains(t, "answered GET /req-after-finish?x=1")
}

// Two workers share the listener: while one is busy, requests go to the other one.
// Timing-sensitive: not parallel.
func TestServerBusyWorkerSkipped(t *testing.T) {
	s := startServer(t, serverScript(t, "server_routes.lua"), drleetest.Options{Workers: 2})
	c := newClient()
	defer c.CloseIdleConnections()
	busy := goGet(t, newClient(), s.url+"/busy?ms=800")
	time.Sleep(100 * time.Millisecond)
	seen := map[string]int{}
	for range 10 {
		start := time.Now()
		r := get(t, c, s.url+"/worker")
		wantStatus(t, r, 200)
		if d := time.Since(start); d > 400*time.Millisecond {
			t.Errorf("a request took %v while the other worker was idle", d)
		}
		seen[r.header.Get("X-Worker")]++
	}
	b := <-busy
	wantStatus(t, b, 200)
	busyWorker := b.header.Get("X-Worker")
	if seen[busyWorker] > 0 {
		t.Errorf("worker %s got %d requests while busy (requests per worker %v)", busyWorker, seen[busyWorker], seen)
	}
}
