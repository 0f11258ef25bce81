package http_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	drhttp "github.com/drlee/drlee/bindings/http"
	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/internal/drleetest"
)

// okScript answers "ok" to everything on arg[1].
const okScript = `
local http = require "http"
local server = http.create_server(arg[1], function(req, res)
  res:write("ok")
  res:finish()
end)
server:start(function(err) assert(not err, err) end)
`

// emfileChildEnv marks the child process of TestServerAcceptEMFILE.
const emfileChildEnv = "DRLEE_TEST_EMFILE_CHILD"

// A server out of file descriptors (RLIMIT_NOFILE 128, 200 connections at once) rides the
// burst out: once the connections are closed, a new one is served. The server runs in a
// child process (this test binary again), so that the lowered limit touches nothing else.
func TestServerAcceptEMFILE(t *testing.T) {
	if os.Getenv(emfileChildEnv) != "" {
		emfileChild(t)
		return
	}
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestServerAcceptEMFILE$", "-test.count=1")
	cmd.Env = append(os.Environ(), emfileChildEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr drleetest.SyncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	// next waits for the child's next line that starts with prefix.
	next := func(prefix string) string {
		t.Helper()
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					cmd.Wait()
					t.Fatalf("the child ended before saying %q\nstderr:\n%s", prefix, stderr.String())
				}
				if rest, ok := strings.CutPrefix(l, prefix); ok {
					return rest
				}
			case <-ctx.Done():
				t.Fatalf("the child did not say %q\nstderr:\n%s", prefix, stderr.String())
			}
		}
	}
	addr := next("addr=")
	var conns []net.Conn
	for range 200 { // the kernel completes them all; the server accepts until it runs out
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	next("emfile") // the server's accept failed for want of file descriptors
	for _, c := range conns {
		c.Close()
	}
	c := newClient()
	c.Timeout = 5 * time.Second
	start := time.Now()
	r, err := tryDo(c, "GET", "http://"+addr+"/", nil, nil)
	c.CloseIdleConnections()
	if err != nil {
		t.Errorf("a GET after the connections closed: %v", err)
	} else if r.status != 200 || string(r.body) != "ok" {
		t.Errorf("a GET after the connections closed: %d %q", r.status, r.body)
	}
	t.Logf("answered %v after the connections closed", time.Since(start))
	stdin.Close() // the child shuts its server down
	if err := cmd.Wait(); err != nil {
		t.Errorf("child: %v", err)
	}
	logs := stderr.String()
	n := 0
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, "WARN") && strings.Contains(l, "too many open files") {
			n++
		}
	}
	if n < 1 || n > 3 {
		t.Errorf("%d WARN lines about the accept errors, want one per burst (1, at most 3 if closing raced accepting)\n%s", n, logs)
	}
	if !strings.Contains(logs, "accepting again") {
		t.Errorf("no line says accepting works again\n%s", logs)
	}
	if t.Failed() {
		t.Logf("child's stderr:\n%s", logs)
	}
}

// emfileChild serves okScript under RLIMIT_NOFILE 128 and says on stdout where it
// listens ("addr=..."), then "emfile" once the log reports an accept that failed with
// EMFILE. It stops when its stdin closes; the engine's log goes to stderr.
func emfileChild(t *testing.T) {
	lim := syscall.Rlimit{Cur: 128, Max: 128}
	var cur syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &cur); err != nil {
		t.Fatal(err)
	}
	lim.Max = cur.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "main.lua")
	if err := os.WriteFile(path, []byte(okScript), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	logs := &lineWatch{w: os.Stderr, want: "too many open files", seen: func() { os.Stdout.WriteString("emfile\n") }}
	e, err := engine.New(engine.Config{
		Script: path, Args: []string{addr}, Workers: 1, ShutdownTimeout: 5 * time.Second,
		Stdout: io.Discard, Stderr: logs, LogLevel: "debug",
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	waitListening(t, addr, done)
	os.Stdout.WriteString("addr=" + addr + "\n")
	io.Copy(io.Discard, os.Stdin)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// waitListening waits until addr accepts connections, or fails when the engine ends first.
func waitListening(t testing.TB, addr string, done <-chan error) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return
		}
		select {
		case err := <-done:
			t.Fatalf("the engine ended before listening: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("nothing listens on %s after 10 s", addr)
}

// lineWatch passes log output on to w and calls seen once, the first time a write
// contains want.
type lineWatch struct {
	mu   sync.Mutex
	w    io.Writer
	want string
	seen func()
	done bool
}

func (l *lineWatch) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.done && bytes.Contains(p, []byte(l.want)) {
		l.done = true
		l.seen()
	}
	return l.w.Write(p)
}

// A listener that fails for good (its socket shut down under it) is reported, and the
// engine ends with the error instead of staying up deaf: `drlee run` exits non-zero.
func TestServerListenerFailureAborts(t *testing.T) {
	t.Parallel()
	s := startServer(t, okScript, drleetest.Options{Timeout: 20 * time.Second})
	c := newClient()
	wantStatus(t, get(t, c, s.url+"/"), 200)
	c.CloseIdleConnections()
	if err := drhttp.BreakListener(s.eng(t), s.addr); err != nil {
		t.Fatal(err)
	}
	res := s.wait(t, 10*time.Second)
	if res.Err == nil || !strings.Contains(res.Err.Error(), s.addr) {
		t.Errorf("Run returned %v, want the listener's error", res.Err)
	}
	if !res.Failed {
		t.Error("the engine does not report the failure")
	}
	res.StderrContains(t, "ERROR", "invalid argument")
}
