package drleetest

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// BuildDrlee builds this module's cmd/drlee into out, for tests that run nodes as
// processes. It finds the module root by walking up from the working directory.
func BuildDrlee(out string) error {
	dir, err := os.Getwd()
	if err != nil {
		return err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return fmt.Errorf("drleetest: no go.mod above the working directory")
		}
		dir = parent
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = "/usr/local/go/bin/go" // where Go lives on this project's machines
	}
	cmd := exec.Command(goBin, "build", "-tags", "luajit", "-o", out, "./cmd/drlee")
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building drlee: %v\n%s", err, b)
	}
	return nil
}

// FreePort returns a 127.0.0.1 port that was free a moment ago, for a process the test
// starts to listen on. It is taken below the kernel's ephemeral range (where a port from
// :0 comes from, and where every outgoing connection of the machine takes its local port:
// one of those could take it before the process binds it), at random, never twice in one
// test binary.
func FreePort(t testing.TB) int {
	t.Helper()
	low := ephemeralLow()
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 200 {
		p := 10000 + rand.IntN(low-10000)
		if portsGiven[p] {
			continue
		}
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		ln.Close()
		portsGiven[p] = true
		return p
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

var (
	portsMu    sync.Mutex
	portsGiven = map[int]bool{}
)

// ephemeralLow is the first port of the kernel's ephemeral range (Linux's default when it
// cannot be read).
func ephemeralLow() int {
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n > 11000 {
				low = n
			}
		}
	}
	return low
}

// MainWithDrlee is a TestMain for packages that run drlee as processes: it builds the
// binary into a temporary directory, sets *bin to its path, runs the tests, cleans up, and
// exits with their code.
func MainWithDrlee(m *testing.M, bin *string) { os.Exit(WithDrlee(m, bin).Run()) }

// WithDrlee is m for such a TestMain, as goleak.VerifyTestMain takes it: its Run builds the
// binary, sets *bin, runs the tests, cleans up and returns their code, and VerifyTestMain
// checks for leaked goroutines after:
//
//	func TestMain(m *testing.M) { goleak.VerifyTestMain(drleetest.WithDrlee(m, &drleeBin)) }
func WithDrlee(m *testing.M, bin *string) interface{ Run() int } {
	return withDrlee{m, bin}
}

type withDrlee struct {
	m   *testing.M
	bin *string
}

func (w withDrlee) Run() int {
	dir, err := os.MkdirTemp("", "drlee-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	*w.bin = filepath.Join(dir, "drlee")
	if err := BuildDrlee(*w.bin); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return w.m.Run()
}

// Eventually retries f every 50 ms until it returns "" or d passed, then fails the test
// with what and f's last complaint: for a state other processes reach in their own time
// (a cluster's census, a replica catching up).
func Eventually(t testing.TB, d time.Duration, what string, f func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		why := f()
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still not after %v: %s", what, d, why)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
