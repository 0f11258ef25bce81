package deadline

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// childEnv names the test a child process (this test binary again) runs the body of:
// those tests lower RLIMIT_NOFILE, which must touch no other test.
const childEnv = "DRLEE_DEADLINE_CHILD"

// inChild runs test name in a child process and reports whether this is the child, which
// then runs the body itself.
func inChild(t *testing.T, name string) bool {
	if os.Getenv(childEnv) == name {
		return true
	}
	t.Parallel()
	cmd := exec.Command(os.Args[0], "-test.run=^"+name+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), childEnv+"="+name)
	timer := time.AfterFunc(60*time.Second, func() { cmd.Process.Kill() })
	defer timer.Stop()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "--- PASS: "+name) {
		t.Fatalf("the child did not run the test:\n%s", out)
	}
	return false
}

// exhaust lowers the soft RLIMIT_NOFILE near the descriptors open now and opens
// /dev/null until none is left. The returned function closes those files.
func exhaust(t *testing.T) func() {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	lim.Cur = uint64(len(fds) + 16)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	var files []*os.File
	for {
		f, err := os.Open(os.DevNull)
		if err != nil {
			if !errors.Is(err, syscall.EMFILE) {
				t.Fatal(err)
			}
			break
		}
		files = append(files, f)
	}
	return func() {
		for _, f := range files {
			f.Close()
		}
	}
}

type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) logf(level, format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, level+" "+fmt.Sprintf(format, args...))
}

func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

func (l *logLines) count(level string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range l.lines {
		if strings.HasPrefix(s, level+" ") {
			n++
		}
	}
	return n
}

// Accept out of file descriptors keeps trying, with growing pauses, and hands over the
// connection waiting in the backlog once descriptors are free again; the burst is logged
// once when it begins and once when it ends.
func TestAcceptRidesOutEMFILE(t *testing.T) {
	if !inChild(t, "TestAcceptRidesOutEMFILE") {
		return
	}
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := NewListener(raw, Timeouts{}, res, func(*item) {})
	defer l.Close()
	var logs logLines
	l.Logf = logs.logf
	third := make(chan struct{})
	l.acceptRetryHook = func(n int) {
		if n == 3 {
			close(third)
		}
	}
	client, err := net.Dial("tcp", raw.Addr().String()) // waits in the backlog
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	release := exhaust(t)
	accepted := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			if _, ok := c.(*Conn[item]); !ok {
				err = fmt.Errorf("accepted a %T, not a *Conn", c)
			}
			c.Close()
		}
		accepted <- err
	}()
	select {
	case <-third:
	case err := <-accepted:
		release()
		t.Fatalf("Accept out of descriptors returned %v instead of retrying", err)
	case <-time.After(10 * time.Second):
		release()
		t.Fatal("Accept did not retry three times within 10 s")
	}
	release()
	select {
	case err := <-accepted:
		if err != nil {
			t.Fatalf("Accept once descriptors were free: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Accept did not return within 10 s of descriptors being free")
	}
	if n := logs.count("WARN"); n != 1 {
		t.Errorf("%d WARN lines for one burst, want 1:\n%s", n, &logs)
	}
	if n := logs.count("INFO"); n != 1 || !strings.Contains(logs.String(), "accepting again") {
		t.Errorf("want one line saying the burst ended:\n%s", &logs)
	}
	if !strings.Contains(logs.String(), "too many open files") {
		t.Errorf("the log does not say why:\n%s", &logs)
	}
}

// Closing the listener ends an Accept that is pausing after a failure at once, with the
// closed listener's error.
func TestAcceptPauseEndsOnClose(t *testing.T) {
	if !inChild(t, "TestAcceptPauseEndsOnClose") {
		return
	}
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := NewListener(raw, Timeouts{}, res, func(*item) {})
	l.pauses = [2]time.Duration{time.Hour, time.Hour}
	first := make(chan struct{})
	l.acceptRetryHook = func(n int) {
		if n == 1 {
			close(first)
		}
	}
	client, err := net.Dial("tcp", raw.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	release := exhaust(t)
	defer release()
	accepted := make(chan error, 1)
	go func() {
		_, err := l.Accept()
		accepted <- err
	}()
	select {
	case <-first:
	case err := <-accepted:
		t.Fatalf("Accept out of descriptors returned %v instead of retrying", err)
	case <-time.After(10 * time.Second):
		t.Fatal("Accept did not fail within 10 s")
	}
	l.Close()
	select {
	case err := <-accepted:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("Accept after Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Accept still pauses 10 s after Close")
	}
}
