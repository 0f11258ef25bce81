package http_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	drhttp "github.com/drlee/drlee/bindings/http"
	"github.com/drlee/drlee/internal/drleetest"
)

// The loop writes a streamed chunk to the connection itself while the connection
// goroutine waits for the next one (stream.go, writeDirectLocked). These tests push it
// through its edges: a socket that takes only part of a chunk, or nothing, so that the
// connection goroutine must write the rest; empty writes; the await style; a client that
// leaves mid-stream.

// streamBody is what server_direct.lua sends for n chunks of size bytes.
func streamBody(n, size int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		head := strconv.Itoa(i) + ":"
		b.WriteString(head)
		b.WriteString(strings.Repeat(string(rune('a'+i%26)), size-len(head)))
	}
	return b.String()
}

// slowGet sends GET path on a connection with a small receive buffer and reads nothing
// for pause, so that the server's socket fills up and its writes are partial or refused,
// then reads the whole (chunked) response.
func slowGet(t *testing.T, addr, path string, pause time.Duration) (*http.Response, string) {
	t.Helper()
	// The buffer is set before connecting: shrunk on an open connection, the window it
	// advertised may stall the transfer (a kernel matter, with or without this server).
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var err error
		if cerr := rc.Control(func(fd uintptr) {
			err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		}); cerr != nil {
			return cerr
		}
		return err
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path)
	time.Sleep(pause)
	c.SetReadDeadline(time.Now().Add(60 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: body: %v (after %d bytes)", path, err, len(body))
	}
	return resp, string(body)
}

func TestServerDirectWritesAgainstAFullSocket(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverScript(t, "server_direct.lua"), drleetest.Options{Workers: 2})
	partial := drhttp.PartialDirectWrites()
	for _, route := range []string{"/write-cb", "/write-flush", "/write-flush?empty=1&", "/await"} {
		for _, size := range []int{10, 4096, 100000} {
			n := min(8<<20/size, 20000) // up to 8 MB: past what the sockets buffer (4 MB at most)
			path := fmt.Sprintf("%s?n=%d&size=%d", route, n, size)
			if strings.Contains(route, "?") {
				path = fmt.Sprintf("%sn=%d&size=%d", route, n, size)
			}
			resp, body := slowGet(t, s.addr, path, 200*time.Millisecond)
			if len(resp.TransferEncoding) == 0 {
				t.Errorf("%s: not chunked", path)
			}
			if want := streamBody(n, size); body != want {
				t.Errorf("%s: body of %d bytes differs from the %d sent", path, len(body), len(want))
			}
		}
	}
	c := newClient()
	defer c.CloseIdleConnections()
	if r := get(t, c, s.url+"/failed"); string(r.body) != "0" {
		t.Errorf("%s writes failed", r.body)
	}
	if drhttp.PartialDirectWrites() == partial {
		t.Error("no direct write was partial: the test did not fill the socket")
	}
	s.stop(t).MustSucceed(t)
}

// Many small chunks to fast clients at once, on two workers: each body arrives whole.
func TestServerDirectWritesConcurrent(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverScript(t, "server_direct.lua"), drleetest.Options{Workers: 2})
	want := streamBody(200, 300)
	errs := make(chan string, 16)
	for range 16 {
		go func() {
			c := newClient()
			defer c.CloseIdleConnections()
			for range 10 {
				r, err := c.Get(s.url + "/write-flush?n=200&size=300")
				if err != nil {
					errs <- err.Error()
					return
				}
				b, err := io.ReadAll(r.Body)
				r.Body.Close()
				if err != nil || string(b) != want {
					errs <- fmt.Sprintf("body of %d bytes, %v", len(b), err)
					return
				}
			}
			errs <- ""
		}()
	}
	for range 16 {
		if e := <-errs; e != "" {
			t.Error(e)
		}
	}
	s.stop(t).MustSucceed(t)
}

// A client that leaves mid-stream: the direct write fails, the script's callback gets the
// error, and the worker is not held by the dead stream (stop succeeds at once).
func TestServerDirectWriteToAGoneClient(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverScript(t, "server_direct.lua"), drleetest.Options{})
	for range 5 {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "GET /write-flush?n=100000&size=1000 HTTP/1.1\r\nHost: x\r\n\r\n")
		buf := make([]byte, 64<<10)
		if _, err := io.ReadAtLeast(c, buf, 32<<10); err != nil {
			t.Fatal(err)
		}
		c.(*net.TCPConn).SetLinger(0) // a reset, not a polite close
		c.Close()
	}
	c := newClient()
	defer c.CloseIdleConnections()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := get(t, c, s.url+"/failed")
		if string(r.body) == "5" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s of 5 abandoned streams saw their write fail", r.body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.stop(t).MustSucceed(t)
}
