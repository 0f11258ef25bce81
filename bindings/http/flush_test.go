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

	"github.com/drlee/drlee/internal/drleetest"
)

// wantLength checks that r went out with Content-Length n, not chunked.
func wantLength(t *testing.T, r response, n int64) {
	t.Helper()
	if r.resp.ContentLength != n || len(r.resp.TransferEncoding) != 0 {
		t.Errorf("Content-Length %d, Transfer-Encoding %q: want %d, none", r.resp.ContentLength, r.resp.TransferEncoding, n)
	}
}

// wantChunked checks that r was streamed.
func wantChunked(t *testing.T, r response) {
	t.Helper()
	if r.resp.ContentLength != -1 || len(r.resp.TransferEncoding) != 1 || r.resp.TransferEncoding[0] != "chunked" {
		t.Errorf("Content-Length %d, Transfer-Encoding %q: want chunked", r.resp.ContentLength, r.resp.TransferEncoding)
	}
}

// timed is a GET read in two parts, with when each arrived.
type timed struct {
	resp           *http.Response
	first, rest    []byte
	firstAt, total time.Duration
}

// splitGet GETs url and reads its first n bytes of body, then the rest, timing both.
func splitGet(t *testing.T, c *http.Client, url string, n int) timed {
	t.Helper()
	start := time.Now()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := timed{resp: resp, first: make([]byte, n)}
	if _, err := io.ReadFull(resp.Body, r.first); err != nil {
		t.Fatal(err)
	}
	r.firstAt = time.Since(start)
	if r.rest, err = io.ReadAll(resp.Body); err != nil {
		t.Fatal(err)
	}
	r.total = time.Since(start)
	return r
}

// A response finished before the loop turns to other work goes out with Content-Length,
// however many callbacks of work on the loop it took: the seed's idiom, chained writes
// (whose headers may still change), reads of a body in memory and a spawned function.
func TestServerFinishedInCallbacksHasLength(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverScript(t, "server_flush.lua"), drleetest.Options{})
	c := newClient()
	defer c.CloseIdleConnections()

	r := get(t, c, s.url+"/seed")
	wantStatus(t, r, 200)
	if string(r.body) != "hello world" {
		t.Errorf("/seed: body %q", r.body)
	}
	wantLength(t, r, 11)

	r = get(t, c, s.url+"/chain")
	if string(r.body) != "abc" || r.header.Get("X-Late") != "yes" {
		t.Errorf("/chain: body %q, X-Late %q", r.body, r.header.Get("X-Late"))
	}
	wantLength(t, r, 3)

	r = do(t, c, "POST", s.url+"/other-work", []byte("12345"), nil)
	if string(r.body) != "start;read 5;spawned;" {
		t.Errorf("/other-work: body %q", r.body)
	}
	wantLength(t, r, int64(len("start;read 5;spawned;")))
}

// A response left unfinished when the loop turns to other work streams: its first part
// arrives before the rest is written. One that grows past 64 KiB in callbacks streams too.
func TestServerUnfinishedResponseStreams(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverScript(t, "server_flush.lua"), drleetest.Options{})
	c := newClient()
	defer c.CloseIdleConnections()
	get(t, c, s.url+"/seed") // warm the connection

	tr := splitGet(t, c, s.url+"/timer", len("first;"))
	if got := string(tr.first) + string(tr.rest); got != "first;second" {
		t.Errorf("/timer: body %q", got)
	}
	if tr.firstAt > 120*time.Millisecond {
		t.Errorf("/timer: first part after %v: it must not wait for the 150 ms timer", tr.firstAt)
	}
	wantChunked(t, response{resp: tr.resp})

	r := get(t, c, s.url+"/big")
	if len(r.body) != 32*8192 || strings.Trim(string(r.body), "z") != "" {
		t.Errorf("/big: %d bytes, want %d of 'z'", len(r.body), 32*8192)
	}
	wantChunked(t, r)
}

// res:flush sends what was written at once (headers included, when nothing was written
// yet) and calls back, or returns in the await style, once it is out.
func TestServerFlush(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverScript(t, "server_flush.lua"), drleetest.Options{})

	// Raw, to see the headers arrive before the body is written.
	conn, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	io.WriteString(conn, "GET /flush-headers HTTP/1.1\r\nHost: x\r\n\r\n")
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(conn)
	status, err := br.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	headersAt := time.Since(start)
	if !strings.HasPrefix(status, "HTTP/1.1 200") {
		t.Errorf("status line %q", status)
	}
	if headersAt > 150*time.Millisecond {
		t.Errorf("headers after %v: res:flush should send them before the 200 ms timer", headersAt)
	}
	var head strings.Builder
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if line == "\r\n" {
			break
		}
		head.WriteString(line)
	}
	if !strings.Contains(head.String(), "Transfer-Encoding: chunked") || !strings.Contains(head.String(), "Content-Type: text/event-stream") {
		t.Errorf("headers:\n%s", head.String())
	}

	c := newClient()
	defer c.CloseIdleConnections()
	r := get(t, c, s.url+"/flush-each")
	if string(r.body) != "part1;part2;part3;" {
		t.Errorf("/flush-each: body %q", r.body)
	}
	wantChunked(t, r)

	r = get(t, c, s.url+"/flush-await")
	if string(r.body) != "a;true;nil" {
		t.Errorf("/flush-await: body %q", r.body)
	}
	wantChunked(t, r)

	r = get(t, c, s.url+"/flush-bad")
	wantStatus(t, r, 200)
	res := s.stop(t)
	res.MustSucceed(t)
	res.Contains(t, "flush-bad\tfalse\t", "function expected", "\tfalse\t", "flush after finish")
}

// Write callbacks taken by the fast path run after the code that wrote returns, in order,
// in the request's scope: a raise answers 500, an await suspends the rest, and a write
// from a coroutine of the script's goes the slow way with the same outcome.
func TestServerWriteCallbackOrderAndScope(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverScript(t, "server_flush.lua"), drleetest.Options{})
	c := newClient()
	defer c.CloseIdleConnections()

	r := get(t, c, s.url+"/cb-order")
	if string(r.body) != "1234" {
		t.Errorf("/cb-order: body %q, want 1234", r.body)
	}
	wantLength(t, r, 4)

	start := time.Now()
	r = get(t, c, s.url+"/cb-raise")
	wantStatus(t, r, 500)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("/cb-raise: 500 after %v", d)
	}

	r = do(t, c, "POST", s.url+"/read-raise", []byte("xyz"), nil)
	wantStatus(t, r, 500)

	r = get(t, c, s.url+"/cb-await")
	if string(r.body) != "ab" {
		t.Errorf("/cb-await: body %q, want ab", r.body)
	}
	wantChunked(t, r)

	r = get(t, c, s.url+"/cb-coroutine")
	if string(r.body) != "x" {
		t.Errorf("/cb-coroutine: body %q", r.body)
	}
	wantLength(t, r, 1)

	res := s.stop(t)
	res.StderrContains(t, "boom in a write callback", "boom in a read callback: xyz")
}

// A stream's writes go out in the order the script made them, whichever way each took
// (recorded in C without a crossing into Go when small and without a callback, Go's
// otherwise), a late res:set raises, and the request stays readable from the snapshot.
func TestServerStreamWritesInOrder(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverScript(t, "server_flush.lua"), drleetest.Options{})
	c := newClient()
	defer c.CloseIdleConnections()
	for range 3 { // the pooled request and response buffer serve again
		r := get(t, c, s.url+"/stream-mixed")
		want := "a;b;" + strings.Repeat("B", 9000) + ";c;d;g;set-raised;e;f;"
		if string(r.body) != want {
			t.Fatalf("/stream-mixed: body %d bytes, want %d: %.80q...", len(r.body), len(want), r.body)
		}
		wantChunked(t, r)
		req, err := http.NewRequest("GET", s.url+"/stream-req?q=1", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Test", "yes")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if want := "GET|/stream-req?q=1|/stream-req|http://" + s.addr + "/stream-req?q=1|remote-ok|yes"; string(body) != want {
			t.Errorf("/stream-req: %q, want %q", body, want)
		}
	}
	res := s.stop(t)
	res.MustSucceed(t)
	res.Contains(t, "stream-mixed late write\tfalse")
}

// Flushes whose callbacks run straight after the code that flushed (everything written was
// out) still let the loop take its turns: a timer set during a 2,000-flush chain fires
// within maxTurnGenerations * (maxSoonFlushes + 1) flushes of it, not at its end.
func TestServerFlushChainYieldsToTheLoop(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverScript(t, "server_flush.lua"), drleetest.Options{})
	c := newClient()
	defer c.CloseIdleConnections()
	r := get(t, c, s.url+"/flush-chain")
	body := string(r.body)
	if !strings.HasPrefix(body, strings.Repeat("x", 2000)+"fired at ") {
		t.Fatalf("body %.40q...%q", body, body[max(0, len(body)-30):])
	}
	var at int
	if _, err := fmt.Sscanf(strings.TrimPrefix(body, strings.Repeat("x", 2000)), "fired at %d", &at); err != nil {
		t.Fatalf("%q: %v", body[2000:], err)
	}
	if at > 200 { // maxTurnGenerations * (maxSoonFlushes + 1) is 136
		t.Errorf("the timer fired after %d of 2000 flushes: the chain held the loop", at)
	}
	s.stop(t).MustSucceed(t)
}
