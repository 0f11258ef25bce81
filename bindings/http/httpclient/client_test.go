package httpclient

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mccutchen/go-httpbin/v2/httpbin"
)

// countingListener counts accepted connections.
type countingListener struct {
	net.Listener
	n atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

func newHTTPBin(t testing.TB) (*httptest.Server, *countingListener) {
	t.Helper()
	srv := httptest.NewUnstartedServer(httpbin.New().Handler())
	cl := &countingListener{Listener: srv.Listener}
	srv.Listener = cl
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, cl
}

type readResult struct {
	data []byte
	err  error
}

// readOnce does one ReadAsync and waits for its callback.
func readOnce(resp *Response, n int) ([]byte, error) {
	ch := make(chan readResult, 1)
	resp.ReadAsync(n, func(data []byte, err error) { ch <- readResult{data, err} })
	r := <-ch
	return r.data, r.err
}

// readAll reads the body to the end with successive ReadAsync calls and
// reports how many calls returned data.
func readAll(t testing.TB, resp *Response, n int) ([]byte, int) {
	t.Helper()
	var out []byte
	calls := 0
	for {
		data, err := readOnce(resp, n)
		if err != nil {
			t.Fatalf("read after %d bytes: %v", len(out), err)
		}
		if len(data) == 0 {
			if data == nil {
				t.Fatalf("EOF data is nil, want empty non-nil")
			}
			return out, calls
		}
		if n > 0 && len(data) > n {
			t.Fatalf("read returned %d bytes, asked for at most %d", len(data), n)
		}
		calls++
		out = append(out, data...)
	}
}

func closeWait(t testing.TB, resp *Response) {
	t.Helper()
	done := make(chan struct{})
	resp.CloseAsync(func() { close(done) })
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("CloseAsync callback not called")
	}
}

func do(t testing.TB, c *Client, req *Request) *Response {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("Do(%s %s): %v", req.Method, req.URL, err)
	}
	return resp
}

type anythingResp struct {
	Method  string              `json:"method"`
	Headers map[string][]string `json:"headers"`
	Data    string              `json:"data"`
	URL     string              `json:"url"`
	Gzipped bool                `json:"gzipped"`
}

func getJSON(t testing.TB, c *Client, req *Request) (*Response, anythingResp) {
	t.Helper()
	resp := do(t, c, req)
	body, _ := readAll(t, resp, 0)
	closeWait(t, resp)
	var a anythingResp
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatalf("bad JSON from %s: %v\n%s", req.URL, err, body)
	}
	return resp, a
}

func TestMethods(t *testing.T) {
	srv, _ := newHTTPBin(t)
	c := New(Options{})
	for _, m := range []string{"GET", "POST", "PUT", "DELETE", "PATCH", "post"} {
		t.Run(m, func(t *testing.T) {
			body := "body of " + m
			resp, a := getJSON(t, c, &Request{
				Method:  m,
				URL:     srv.URL + "/anything/x?q=1",
				Headers: [][2]string{{"X-Test", "yes"}, {"Content-Type", "text/plain"}},
				Body:    []byte(body),
			})
			if resp.StatusCode != 200 || resp.Status != "200 OK" {
				t.Fatalf("status %d %q", resp.StatusCode, resp.Status)
			}
			if a.Method != strings.ToUpper(m) {
				t.Errorf("method %q, want %q", a.Method, strings.ToUpper(m))
			}
			if a.Data != body {
				t.Errorf("data %q, want %q", a.Data, body)
			}
			if got := a.Headers["X-Test"]; len(got) != 1 || got[0] != "yes" {
				t.Errorf("X-Test %q", got)
			}
			if got := a.Headers["Content-Type"]; len(got) != 1 || got[0] != "text/plain" {
				t.Errorf("Content-Type %q", got)
			}
			if got := a.Headers["User-Agent"]; len(got) != 1 || got[0] != DefaultUserAgent {
				t.Errorf("User-Agent %q", got)
			}
			if !strings.HasSuffix(a.URL, "/anything/x?q=1") {
				t.Errorf("url %q", a.URL)
			}
		})
	}
}

func TestNoDefaultHeaders(t *testing.T) {
	srv, _ := newHTTPBin(t)
	c := New(Options{})
	_, a := getJSON(t, c, &Request{Method: "POST", URL: srv.URL + "/anything", Body: []byte("x")})
	if a.Data != "data:application/octet-stream;base64,eA==" { // httpbin's rendering without Content-Type
		t.Errorf("data %q", a.Data)
	}
	for _, h := range []string{"Accept-Encoding", "Content-Type"} {
		if v, ok := a.Headers[h]; ok {
			t.Errorf("unexpected %s: %q", h, v)
		}
	}
	// The path is sent as is: Go's ServeMux answers an unclean path with a
	// redirect to the cleaned one.
	resp := do(t, c, &Request{URL: srv.URL + "/anything/a//b/../c"})
	resp.Close()
	if resp.StatusCode != 307 || resp.Header("Location") != "/anything/a/c" {
		t.Errorf("path was rewritten: %s, Location %q", resp.Status, resp.Header("Location"))
	}
	// OPTIONS gets httpbin's CORS preflight answer.
	resp = do(t, c, &Request{Method: "OPTIONS", URL: srv.URL + "/anything"})
	readAll(t, resp, 0)
	resp.Close()
	if resp.StatusCode != 200 || resp.Header("Access-Control-Allow-Methods") == "" {
		t.Errorf("OPTIONS: %s %q", resp.Status, resp.Headers)
	}
}

func TestHeaders(t *testing.T) {
	srv, _ := newHTTPBin(t)
	c := New(Options{})
	_, a := getJSON(t, c, &Request{
		URL: srv.URL + "/anything",
		Headers: [][2]string{
			{"X-Multi", "one"}, {"x-multi", "two"}, {"Authorization", "Bearer t"},
			{"Content-Length", "999"}, // ignored
		},
	})
	if got := a.Headers["X-Multi"]; len(got) != 2 || got[0] != "one" || got[1] != "two" {
		t.Errorf("X-Multi %q", got)
	}
	if got := a.Headers["Authorization"]; len(got) != 1 || got[0] != "Bearer t" {
		t.Errorf("Authorization %q", got)
	}

	resp := do(t, c, &Request{URL: srv.URL + "/response-headers?X-Foo=a&X-Foo=b&X-Foo=c&Set-Cookie=k1%3Dv1&Set-Cookie=k2%3Dv2"})
	defer resp.Close()
	var foo, cookies []string
	for _, h := range resp.Headers {
		switch h[0] {
		case "X-Foo":
			foo = append(foo, h[1])
		case "Set-Cookie":
			cookies = append(cookies, h[1])
		}
	}
	if strings.Join(foo, ",") != "a,b,c" {
		t.Errorf("X-Foo values %q (headers %q)", foo, resp.Headers)
	}
	if strings.Join(cookies, ",") != "k1=v1,k2=v2" {
		t.Errorf("Set-Cookie values %q", cookies)
	}
	if got := resp.Header("content-type"); !strings.HasPrefix(got, "application/json") {
		t.Errorf("Content-Type %q", got)
	}
	if resp.ContentLength <= 0 {
		t.Errorf("ContentLength %d", resp.ContentLength)
	}
}

// A method that is not a token, or a header that would inject another one, is refused
// before anything is sent (fasthttp would send the method as it is and turn CR and LF into
// spaces).
func TestInvalidRequestRefused(t *testing.T) {
	srv, cl := newHTTPBin(t)
	c := New(Options{})
	for _, r := range []*Request{
		{Method: "GET /EVIL", URL: srv.URL + "/p"},
		{Method: "GET\r\nX-Evil: 1\r\n", URL: srv.URL + "/p"},
		{URL: srv.URL + "/p", Headers: [][2]string{{"X-A", "a\r\nX-Evil: 1"}}},
		{URL: srv.URL + "/p", Headers: [][2]string{{"X-A", "a\x00"}}},
		{URL: srv.URL + "/p", Headers: [][2]string{{"X-A\r\nX-Evil", "1"}}},
		{URL: srv.URL + "/p", Headers: [][2]string{{"", "1"}}},
	} {
		resp, err := c.Do(r)
		if err == nil {
			resp.Close()
			t.Errorf("%q %q: sent", r.Method, r.Headers)
		} else if !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("%q %q: %v, want ErrInvalidRequest", r.Method, r.Headers, err)
		}
	}
	if n := cl.n.Load(); n != 0 {
		t.Errorf("%d connections reached the server", n)
	}
}

func TestStatus(t *testing.T) {
	srv, _ := newHTTPBin(t)
	c := New(Options{})
	for code, status := range map[int]string{418: "418 I'm a teapot", 404: "404 Not Found", 204: "204 No Content", 500: "500 Internal Server Error"} {
		resp := do(t, c, &Request{URL: fmt.Sprintf("%s/status/%d", srv.URL, code)})
		if resp.StatusCode != code || resp.Status != status {
			t.Errorf("got %d %q, want %q", resp.StatusCode, resp.Status, status)
		}
		readAll(t, resp, 0)
		closeWait(t, resp)
	}
}

func TestHead(t *testing.T) {
	srv, _ := newHTTPBin(t)
	c := New(Options{})
	resp := do(t, c, &Request{Method: "HEAD", URL: srv.URL + "/bytes/100"})
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	// No body: the read completes synchronously.
	called := false
	resp.ReadAsync(10, func(data []byte, err error) {
		called = true
		if len(data) != 0 || err != nil {
			t.Errorf("HEAD read: %q, %v", data, err)
		}
	})
	if !called {
		t.Error("read on HEAD response not completed synchronously")
	}
	resp.Close()
}

func TestRedirects(t *testing.T) {
	srv, _ := newHTTPBin(t)
	c := New(Options{})

	t.Run("follow", func(t *testing.T) {
		resp, a := getJSON(t, c, &Request{URL: srv.URL + "/redirect/3", FollowRedirects: true})
		if resp.StatusCode != 200 || !strings.HasSuffix(resp.URL, "/get") {
			t.Fatalf("got %d at %s", resp.StatusCode, resp.URL)
		}
		if a.Method != "" && a.Method != "GET" {
			t.Errorf("method %q", a.Method)
		}
	})
	t.Run("relative", func(t *testing.T) {
		resp, _ := getJSON(t, c, &Request{URL: srv.URL + "/relative-redirect/3", FollowRedirects: true})
		if resp.StatusCode != 200 || !strings.HasSuffix(resp.URL, "/get") {
			t.Fatalf("got %d at %s", resp.StatusCode, resp.URL)
		}
	})
	t.Run("not followed", func(t *testing.T) {
		resp := do(t, c, &Request{URL: srv.URL + "/redirect/3"})
		defer resp.Close()
		if resp.StatusCode != 302 || resp.Status != "302 Found" {
			t.Fatalf("got %d %q", resp.StatusCode, resp.Status)
		}
		if loc := resp.Header("Location"); !strings.Contains(loc, "/relative-redirect/2") && !strings.Contains(loc, "/redirect/2") {
			t.Errorf("Location %q", loc)
		}
	})
	for _, code := range []int{307, 308} {
		t.Run(fmt.Sprint(code, " keeps method and body"), func(t *testing.T) {
			u := fmt.Sprintf("%s/redirect-to?url=%s&status_code=%d", srv.URL, url.QueryEscape("/anything/after"), code)
			resp, a := getJSON(t, c, &Request{Method: "POST", URL: u, Body: []byte("payload"), FollowRedirects: true,
				Headers: [][2]string{{"Content-Type", "text/plain"}}})
			if resp.StatusCode != 200 || a.Method != "POST" || a.Data != "payload" || !strings.HasSuffix(resp.URL, "/anything/after") {
				t.Fatalf("got %d %s %q at %s", resp.StatusCode, a.Method, a.Data, resp.URL)
			}
		})
	}
	for _, code := range []int{301, 302, 303} {
		t.Run(fmt.Sprint(code, " turns into GET"), func(t *testing.T) {
			u := fmt.Sprintf("%s/redirect-to?url=%s&status_code=%d", srv.URL, url.QueryEscape("/anything/after"), code)
			resp, a := getJSON(t, c, &Request{Method: "PUT", URL: u, Body: []byte("payload"), FollowRedirects: true,
				Headers: [][2]string{{"Content-Type", "text/plain"}}})
			if resp.StatusCode != 200 || a.Method != "GET" || a.Data != "" || a.Headers["Content-Type"] != nil {
				t.Fatalf("got %d %s %q %q", resp.StatusCode, a.Method, a.Data, a.Headers["Content-Type"])
			}
		})
	}
	t.Run("too many", func(t *testing.T) {
		_, err := c.Do(&Request{URL: srv.URL + "/redirect/11", FollowRedirects: true})
		if !errors.Is(err, ErrTooManyRedirects) || !strings.Contains(err.Error(), "stopped after 10") {
			t.Fatalf("err %v", err)
		}
		resp := do(t, c, &Request{URL: srv.URL + "/redirect/10", FollowRedirects: true})
		if resp.StatusCode != 200 {
			t.Fatalf("10 redirects: %d", resp.StatusCode)
		}
		resp.Close()
	})
	t.Run("cross host drops credentials", func(t *testing.T) {
		// 127.0.0.1 -> localhost is another host.
		other := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) + "/anything"
		u := srv.URL + "/redirect-to?url=" + url.QueryEscape(other)
		_, a := getJSON(t, c, &Request{URL: u, FollowRedirects: true,
			Headers: [][2]string{{"Authorization", "secret"}, {"Cookie", "a=b"}, {"X-Keep", "1"}}})
		if a.Headers["Authorization"] != nil || a.Headers["Cookie"] != nil || a.Headers["X-Keep"] == nil {
			t.Fatalf("headers after cross-host redirect: %v", a.Headers)
		}
		_, a = getJSON(t, c, &Request{URL: srv.URL + "/redirect-to?url=/anything", FollowRedirects: true,
			Headers: [][2]string{{"Authorization", "secret"}}})
		if a.Headers["Authorization"] == nil {
			t.Fatalf("same-host redirect dropped Authorization")
		}
	})
}

func TestGzipPassesThrough(t *testing.T) {
	srv, _ := newHTTPBin(t)
	c := New(Options{})
	resp := do(t, c, &Request{URL: srv.URL + "/gzip", Headers: [][2]string{{"Accept-Encoding", "gzip"}}})
	raw, _ := readAll(t, resp, 100)
	resp.Close()
	if resp.Header("Content-Encoding") != "gzip" {
		t.Errorf("Content-Encoding %q", resp.Header("Content-Encoding"))
	}
	if len(raw) < 2 || raw[0] != 0x1f || raw[1] != 0x8b {
		t.Fatalf("body is not raw gzip: % x", raw[:min(len(raw), 8)])
	}
	if int64(len(raw)) != resp.ContentLength {
		t.Errorf("read %d bytes, Content-Length %d", len(raw), resp.ContentLength)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	var a anythingResp
	if err := json.Unmarshal(plain, &a); err != nil || !a.Gzipped {
		t.Fatalf("decoded %s: %v", plain, err)
	}
}

func TestTimeout(t *testing.T) {
	srv, _ := newHTTPBin(t)
	c := New(Options{})

	start := time.Now()
	_, err := c.Do(&Request{URL: srv.URL + "/delay/2", Timeout: 200 * time.Millisecond})
	elapsed := time.Since(start)
	if err == nil {
		t.Fatal("no error")
	}
	if elapsed > time.Second {
		t.Errorf("took %v", elapsed)
	}
	if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "timeout after 200ms") {
		t.Errorf("err %v, want a timeout", err)
	}
	var he *Error
	if !errors.As(err, &he) || !he.Timeout() || he.Method != "GET" {
		t.Errorf("err %#v", err)
	}
	t.Log(err)

	// Client default timeout.
	c2 := New(Options{Timeout: 200 * time.Millisecond})
	if _, err := c2.Do(&Request{URL: srv.URL + "/delay/2"}); !errors.Is(err, ErrTimeout) {
		t.Errorf("default timeout: %v", err)
	}

	// The timeout also bounds reading the body.
	resp := do(t, c, &Request{URL: srv.URL + "/drip?numbytes=5&duration=3&delay=0", Timeout: 500 * time.Millisecond})
	var rerr error
	start = time.Now()
	for rerr == nil {
		var data []byte
		data, rerr = readOnce(resp, 10)
		if rerr == nil && len(data) == 0 {
			t.Fatal("EOF before timeout")
		}
	}
	if !errors.Is(rerr, ErrTimeout) || time.Since(start) > 2*time.Second {
		t.Errorf("body read err %v after %v", rerr, time.Since(start))
	}
	t.Log(rerr)
	// The error sticks.
	if _, err := readOnce(resp, 10); err != rerr {
		t.Errorf("second read err %v", err)
	}
	closeWait(t, resp)
}

func TestStreamBytes(t *testing.T) {
	srv, _ := newHTTPBin(t)
	c := New(Options{})
	u := srv.URL + "/stream-bytes/100000?seed=7&chunk_size=3000"
	want := mustNetHTTPGet(t, u)
	if len(want) != 100000 {
		t.Fatalf("reference body %d bytes", len(want))
	}
	for _, n := range []int{1000, 4096, 9000, 0, 1 << 20} {
		resp := do(t, c, &Request{URL: u})
		if resp.ContentLength != -1 {
			t.Errorf("ContentLength %d for a chunked body", resp.ContentLength)
		}
		got, _ := readAll(t, resp, n)
		closeWait(t, resp)
		if !bytes.Equal(got, want) {
			t.Fatalf("n=%d: got %d bytes, mismatch", n, len(got))
		}
	}
}

func mustNetHTTPGet(t testing.TB, u string) []byte {
	t.Helper()
	r, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestQueuedReadsInOrder(t *testing.T) {
	srv, _ := newHTTPBin(t)
	c := New(Options{})
	u := srv.URL + "/stream-bytes/50000?seed=3&chunk_size=1000"
	want := mustNetHTTPGet(t, u)
	resp := do(t, c, &Request{URL: u})
	defer resp.Close()

	var mu sync.Mutex
	var got []byte
	seq := 0
	eof := make(chan struct{})
	// Issue 200 reads at once; each callback checks it runs in issue order.
	for i := range 200 {
		resp.ReadAsync(512, func(data []byte, err error) {
			mu.Lock()
			defer mu.Unlock()
			if i != seq {
				t.Errorf("callback %d ran as #%d", i, seq)
			}
			seq++
			if err != nil {
				t.Errorf("read %d: %v", i, err)
			}
			got = append(got, data...)
			if i == 199 {
				close(eof)
			}
		})
	}
	<-eof
	mu.Lock()
	defer mu.Unlock()
	if !bytes.Equal(got, want) {
		t.Fatalf("got %d bytes, want %d", len(got), len(want))
	}
}

func TestDrip(t *testing.T) {
	srv, _ := newHTTPBin(t)
	c := New(Options{})
	start := time.Now()
	resp := do(t, c, &Request{URL: srv.URL + "/drip?numbytes=10&duration=1&delay=0"})
	got, calls := readAll(t, resp, 100)
	closeWait(t, resp)
	if string(got) != "**********" {
		t.Fatalf("got %q", got)
	}
	if calls < 2 {
		t.Errorf("all 10 bytes came in %d read(s); expected them to trickle in", calls)
	}
	t.Logf("%d reads over %v", calls, time.Since(start))
}

func TestConnectErrors(t *testing.T) {
	c := New(Options{})
	_, err := c.Do(&Request{URL: "http://127.0.0.1:1/"})
	if err == nil || !strings.HasPrefix(err.Error(), "http: GET http://127.0.0.1:1/: dial tcp") || !strings.HasSuffix(err.Error(), "127.0.0.1:1: connect: connection refused") {
		t.Errorf("refused: %v", err)
	}
	t.Log(err)

	_, err = c.Do(&Request{Method: "post", URL: "http://nonexistent.invalid/"})
	if err == nil || !strings.HasPrefix(err.Error(), "http: POST http://nonexistent.invalid/: ") || !strings.Contains(err.Error(), "nonexistent.invalid") {
		t.Errorf("DNS: %v", err)
	}
	t.Log(err)

	for _, u := range []string{"ftp://example.com/", "example.com/x", "http:///x", "http://[::1"} {
		if _, err := c.Do(&Request{URL: u}); err == nil {
			t.Errorf("%q: no error", u)
		} else {
			t.Log(err)
		}
	}
}

func TestConnectionReuse(t *testing.T) {
	srv, cl := newHTTPBin(t)
	c := New(Options{})

	t.Run("read to end", func(t *testing.T) {
		before := cl.n.Load()
		for range 20 {
			resp := do(t, c, &Request{URL: srv.URL + "/stream-bytes/20000?chunk_size=1000"})
			readAll(t, resp, 4096)
			resp.Close()
		}
		if n := cl.n.Load() - before; n != 1 {
			t.Errorf("20 requests opened %d connections", n)
		}
	})
	t.Run("read to end without Close", func(t *testing.T) {
		c := New(Options{})
		before := cl.n.Load()
		for range 20 {
			resp := do(t, c, &Request{URL: srv.URL + "/bytes/3000"})
			readAll(t, resp, 1000)
		}
		if n := cl.n.Load() - before; n != 1 {
			t.Errorf("20 requests opened %d connections", n)
		}
	})
	t.Run("close early", func(t *testing.T) {
		c := New(Options{})
		before := cl.n.Load()
		for i := range 20 {
			u := srv.URL + "/bytes/30000"
			if i%2 == 1 {
				u = srv.URL + "/stream-bytes/30000?chunk_size=2000"
			}
			resp := do(t, c, &Request{URL: u})
			if i%4 < 2 {
				readOnce(resp, 100)
			}
			closeWait(t, resp)
		}
		if n := cl.n.Load() - before; n != 1 {
			t.Errorf("20 requests opened %d connections", n)
		}
	})
	t.Run("close early with large remainder", func(t *testing.T) {
		c := New(Options{})
		before := cl.n.Load()
		for range 3 {
			resp := do(t, c, &Request{URL: srv.URL + "/bytes/300000"})
			closeWait(t, resp)
		}
		// Too much to drain: each connection is closed.
		if n := cl.n.Load() - before; n != 3 {
			t.Errorf("3 requests opened %d connections", n)
		}
		resp, _ := getJSON(t, c, &Request{URL: srv.URL + "/anything"})
		if resp.StatusCode != 200 {
			t.Fatal(resp.Status)
		}
	})
	t.Run("redirects", func(t *testing.T) {
		c := New(Options{})
		before := cl.n.Load()
		for range 5 {
			resp, _ := getJSON(t, c, &Request{URL: srv.URL + "/redirect/3", FollowRedirects: true})
			if resp.StatusCode != 200 {
				t.Fatal(resp.Status)
			}
		}
		if n := cl.n.Load() - before; n != 1 {
			t.Errorf("5x4 requests opened %d connections", n)
		}
	})
}

func TestClose(t *testing.T) {
	srv, _ := newHTTPBin(t)
	c := New(Options{})

	t.Run("before reading", func(t *testing.T) {
		resp := do(t, c, &Request{URL: srv.URL + "/bytes/5000"})
		if err := resp.Close(); err != nil {
			t.Fatal(err)
		}
		if err := resp.Close(); err != nil { // idempotent
			t.Fatal(err)
		}
		if _, err := readOnce(resp, 10); !errors.Is(err, ErrClosed) {
			t.Errorf("read after close: %v", err)
		}
		closeWait(t, resp) // CloseAsync after Close still calls back
	})
	t.Run("buffered body", func(t *testing.T) {
		resp := do(t, c, &Request{URL: srv.URL + "/status/204"})
		closeWait(t, resp)
		if _, err := readOnce(resp, 10); !errors.Is(err, ErrClosed) {
			t.Errorf("read after close: %v", err)
		}
	})
	t.Run("during a slow read", func(t *testing.T) {
		resp := do(t, c, &Request{URL: srv.URL + "/drip?numbytes=3&duration=6&delay=0"})
		readAll := make(chan error, 10)
		for range 3 { // one in flight, two queued
			resp.ReadAsync(10, func(data []byte, err error) {
				if err == nil && len(data) > 0 {
					// the first byte may already be there; read again
					resp.ReadAsync(10, func(_ []byte, err error) { readAll <- err })
					return
				}
				readAll <- err
			})
		}
		time.Sleep(100 * time.Millisecond)
		start := time.Now()
		closed := make(chan struct{})
		resp.CloseAsync(func() { close(closed) })
		for range 3 {
			select {
			case err := <-readAll:
				if !errors.Is(err, ErrClosed) {
					t.Errorf("pending read: %v", err)
				}
			case <-time.After(2 * time.Second):
				t.Fatal("pending read not failed by Close")
			}
		}
		select {
		case <-closed:
		case <-time.After(2 * time.Second):
			t.Fatal("CloseAsync callback missing")
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("close took %v", d)
		}
	})
}

func TestConcurrent(t *testing.T) {
	srv, cl := newHTTPBin(t)
	c := New(Options{})
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for g := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 5 {
				id := fmt.Sprintf("%d-%d", g, i)
				resp, err := c.Do(&Request{Method: "POST", URL: srv.URL + "/anything", Body: []byte(id),
					Headers: [][2]string{{"X-Id", id}, {"Content-Type", "text/plain"}}})
				if err != nil {
					errs <- err
					return
				}
				var out []byte
				for {
					data, err := readOnce(resp, 256)
					if err != nil {
						errs <- err
						return
					}
					if len(data) == 0 {
						break
					}
					out = append(out, data...)
				}
				resp.Close()
				var a anythingResp
				if err := json.Unmarshal(out, &a); err != nil {
					errs <- err
					return
				}
				if a.Data != id || len(a.Headers["X-Id"]) != 1 || a.Headers["X-Id"][0] != id {
					errs <- fmt.Errorf("request %s got %q / %q", id, a.Data, a.Headers["X-Id"])
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("%d connections for 250 requests", cl.n.Load())
}

func TestTLS(t *testing.T) {
	srv := httptest.NewTLSServer(httpbin.New().Handler())
	defer srv.Close()
	c := New(Options{})

	resp, a := getJSON(t, c, &Request{Method: "POST", URL: srv.URL + "/anything", Body: []byte("tls"), Insecure: true,
		Headers: [][2]string{{"Content-Type", "text/plain"}}})
	if resp.StatusCode != 200 || a.Data != "tls" {
		t.Fatalf("insecure: %d %q", resp.StatusCode, a.Data)
	}
	_, err := c.Do(&Request{URL: srv.URL + "/get"})
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("verified request to a self-signed server: %v", err)
	}
	t.Log(err)
	// The insecure pool does not leak into verified requests, and back.
	if _, err := c.Do(&Request{URL: srv.URL + "/get"}); err == nil {
		t.Fatal("second verified request succeeded")
	}
	resp, _ = getJSON(t, c, &Request{URL: srv.URL + "/get", Insecure: true})
	if resp.StatusCode != 200 {
		t.Fatal(resp.Status)
	}

	// A client trusting the server's certificate verifies fine.
	c2 := New(Options{TLSConfig: srv.Client().Transport.(*http.Transport).TLSClientConfig})
	resp, _ = getJSON(t, c2, &Request{URL: srv.URL + "/get"})
	if resp.StatusCode != 200 {
		t.Fatal(resp.Status)
	}
	c.CloseIdleConnections()
	c2.CloseIdleConnections()
}

func TestUnclosedResponseIsCollected(t *testing.T) {
	srv, cl := newHTTPBin(t)
	c := New(Options{MaxConnsPerHost: 1, MaxConnWaitTimeout: 3 * time.Second})
	// Abandon a response without reading or closing it: its connection is
	// the only one allowed, so the next request can only proceed once the
	// GC cleanup closed the first response.
	func() {
		resp := do(t, c, &Request{URL: srv.URL + "/bytes/100"})
		_ = resp
	}()
	done := make(chan error, 1)
	go func() {
		resp, err := c.Do(&Request{URL: srv.URL + "/bytes/100"})
		if err == nil {
			resp.Close()
		}
		done <- err
	}()
	deadline := time.After(3 * time.Second)
	for {
		runtime.GC()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			if n := cl.n.Load(); n != 1 {
				t.Logf("%d connections", n)
			}
			return
		case <-deadline:
			t.Fatal("abandoned response never released its connection")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// A server that accepts connections but never answers: the timeout must
// cover the TLS handshake and the wait for headers.
func TestStalledServer(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}()
	c := New(Options{})
	for _, u := range []string{"https://" + ln.Addr().String() + "/", "http://" + ln.Addr().String() + "/"} {
		start := time.Now()
		_, err := c.Do(&Request{URL: u, Timeout: 300 * time.Millisecond, Insecure: true})
		if !errors.Is(err, ErrTimeout) || time.Since(start) > 2*time.Second {
			t.Errorf("%s: %v after %v", u, err, time.Since(start))
		}
		t.Log(err)
	}
}

// rawServer answers every connection with the given raw bytes, then closes
// it.
func rawServer(t *testing.T, raw string) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				_, _ = c.Read(buf)
				_, _ = io.WriteString(c, raw)
			}()
		}
	}()
	return "http://" + ln.Addr().String() + "/"
}

func TestBodyFraming(t *testing.T) {
	c := New(Options{})
	t.Run("until close", func(t *testing.T) {
		u := rawServer(t, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nhello, world")
		resp := do(t, c, &Request{URL: u})
		got, _ := readAll(t, resp, 5)
		if string(got) != "hello, world" || resp.ContentLength != -1 {
			t.Fatalf("got %q, ContentLength %d", got, resp.ContentLength)
		}
		if resp.Header("Content-Type") != "" {
			t.Errorf("made-up Content-Type %q", resp.Header("Content-Type"))
		}
	})
	t.Run("truncated", func(t *testing.T) {
		u := rawServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this")
		resp := do(t, c, &Request{URL: u})
		var err error
		var got []byte
		for err == nil {
			var data []byte
			data, err = readOnce(resp, 1000)
			if err == nil && len(data) == 0 {
				t.Fatal("EOF on a truncated body")
			}
			got = append(got, data...)
		}
		if string(got) != "only this" || !strings.Contains(err.Error(), "reading body: unexpected EOF") {
			t.Fatalf("got %q, %v", got, err)
		}
		t.Log(err)
		resp.Close()
	})
	t.Run("custom reason phrase", func(t *testing.T) {
		u := rawServer(t, "HTTP/1.1 299 Fine Thanks\r\nContent-Length: 0\r\n\r\n")
		resp := do(t, c, &Request{URL: u})
		if resp.Status != "299 Fine Thanks" {
			t.Fatalf("Status %q", resp.Status)
		}
		resp.Close()
	})
}

func TestHostHeader(t *testing.T) {
	srv, _ := newHTTPBin(t)
	c := New(Options{})
	_, a := getJSON(t, c, &Request{URL: srv.URL + "/anything", Headers: [][2]string{{"Host", "example.test"}}})
	if !strings.HasPrefix(a.URL, "http://example.test/anything") {
		t.Errorf("httpbin saw URL %q", a.URL)
	}
}
