package core_test

import (
	"bufio"
	_ "embed"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/internal/drleetest"
)

//go:embed testdata/io/errcodes.lua
var errcodesIO string

// TestErrorCodesOfRealFailures: the codes scripts get for real failures, through the
// modules (testdata/io/errcodes.lua): missing files, a directory read as a file, EXCL on
// an existing file, a refused connection, a client timeout against a slow server, a
// response that is not HTTP, response headers too large, a port in use, invalid JSON.
func TestErrorCodesOfRealFailures(t *testing.T) {
	t.Parallel()
	// A port nothing listens on: listened on, then closed.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()

	// A server that answers only when the test ends.
	stop := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-stop:
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	defer slow.Close()
	defer close(stop)

	// Raw servers: one answers garbage, one a header larger than the client's buffer.
	garbage := rawServer(t, "garbage\r\n\r\n")
	big := rawServer(t, "HTTP/1.1 200 OK\r\nX-Big: "+strings.Repeat("x", 100<<10)+"\r\nContent-Length: 0\r\n\r\n")

	res := drleetest.Run(t, errcodesIO, drleetest.Options{
		Files: map[string]string{"check.lua": file(t, "check.lua")},
		Args: []string{"http://" + closed + "/", slow.URL + "/", "http://" + garbage + "/",
			"http://" + big + "/", slow.Listener.Addr().String()},
	})
	res.MustSucceed(t)
	res.Contains(t, "PASS\n")
	// Where a resolver answers that the host does not exist, the code says so.
	if strings.Contains(res.Stdout, "no such host") && !strings.Contains(res.Stdout, "DNS: ENOTFOUND: ") {
		t.Errorf("no such host without ENOTFOUND:\n%s", res.Stdout)
	}
}

// rawServer answers every connection with answer once it has read the request's head,
// then closes it; it stops with the test.
func rawServer(t *testing.T, answer string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { l.Close(); <-done })
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil || line == "\r\n" {
						break
					}
				}
				c.Write([]byte(answer))
			}()
		}
	}()
	return l.Addr().String()
}

// TestErrorCodesDocumented: the README's Errors section has a row for every code an error
// can start with, and names no code that is not one.
func TestErrorCodesDocumented(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	start := strings.Index(readme, "\n### Errors\n")
	if start < 0 {
		t.Fatal("README has no Errors section")
	}
	section := readme[start+1:]
	if end := strings.Index(section[4:], "\n### "); end >= 0 {
		section = section[:end+4]
	}
	documented := map[string]bool{}
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "| `E") {
			continue
		}
		first := strings.SplitN(line, "|", 3)[1]
		for _, f := range strings.Split(first, ",") {
			documented[strings.Trim(strings.TrimSpace(f), "`")] = true
		}
	}
	for _, c := range engine.ErrorCodes() {
		if !documented[c] {
			t.Errorf("README's Errors table has no row for %s", c)
		}
		delete(documented, c)
	}
	for c := range documented {
		t.Errorf("README's Errors table documents %s, which is no code (engine.ErrorCodes)", c)
	}
}
