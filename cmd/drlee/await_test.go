package main

import (
	"bufio"
	_ "embed"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

//go:embed testdata/await_load.lua
var awaitLoadScript []byte

// startAwaitLoad runs testdata/await_load.lua on two workers and returns its address, and
// stop, which ends it (SIGTERM) and returns its log.
func startAwaitLoad(t *testing.T) (addr string, stop func() string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "await_load.lua")
	if err := os.WriteFile(path, awaitLoadScript, 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr = ln.Addr().String()
	ln.Close()
	cmd, _, errBuf, done := startDrlee(t, "listening", "run", "-w", "2", "--handler-timeout", "60s", path, addr)
	var once sync.Once
	var log string
	stop = func() string {
		once.Do(func() {
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				t.Error("drlee did not exit within 20 s of SIGTERM")
				cmd.Process.Kill()
				<-done
			}
			log = errBuf.String() // written by the process until it exited
		})
		return log
	}
	t.Cleanup(func() { stop() })
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("drlee does not accept on %s\n%s", addr, stop())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return addr, stop
}

// needFiles skips the test when the process may not open n more files (the hard limit is
// what Go raises the soft one to).
func needFiles(t *testing.T, n uint64) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Cur < n {
		t.Skipf("needs %d open files, the limit is %d (raise ulimit -n)", n, lim.Cur)
	}
}

// 10,000 requests wait at once, each suspended in its handler until a common moment,
// spread over 2 workers; then every one of them is answered, none lost.
func TestAwaitTenThousandConcurrent(t *testing.T) {
	t.Parallel()
	const n = 10000
	needFiles(t, n+200)
	addr, stop := startAwaitLoad(t)
	// Long enough for every connection to be open and waiting before it, under -race too.
	release := time.Now().Add(8 * time.Second)
	req := fmt.Sprintf("GET /hold?until=%d HTTP/1.1\r\nHost: x\r\n\r\n", release.UnixMilli())

	type answer struct {
		worker, peak int
		err          error
	}
	answers := make(chan answer, n)
	dials := make(chan struct{}, 64) // connections being opened at once
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dials <- struct{}{}
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err == nil {
				_, err = io.WriteString(c, req)
			}
			<-dials
			if err != nil {
				answers <- answer{err: err}
				return
			}
			defer c.Close()
			c.SetDeadline(release.Add(30 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				answers <- answer{err: err}
				return
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			var a answer
			if err == nil && resp.StatusCode != 200 {
				err = fmt.Errorf("status %d: %q", resp.StatusCode, b)
			}
			if err == nil {
				_, err = fmt.Sscanf(string(b), "%d %d", &a.worker, &a.peak)
			}
			a.err = err
			answers <- a
		}()
	}
	wg.Wait()
	close(answers)
	if time.Now().Before(release) {
		t.Fatal("answered before the release: the handlers did not wait")
	}
	peaks := map[int]int{}
	failed := 0
	for a := range answers {
		if a.err != nil {
			if failed++; failed <= 5 {
				t.Errorf("a request: %v", a.err)
			}
			continue
		}
		peaks[a.worker] = max(peaks[a.worker], a.peak)
	}
	if failed > 0 {
		t.Fatalf("%d of %d requests failed\n%s", failed, n, tail(stop()))
	}
	total := 0
	for _, p := range peaks {
		total += p
	}
	t.Logf("waiting at once, per worker: %v", peaks)
	if len(peaks) != 2 || total != n {
		t.Errorf("per worker, the most requests waiting at once: %v (sum %d), want all %d at once on 2 workers", peaks, total, n)
	}
}

// registry reads "worker refs threads" from both workers.
func registry(t *testing.T, c *http.Client, addr string) map[int][2]int {
	t.Helper()
	out := map[int][2]int{}
	for i := 0; i < 50 && len(out) < 2; i++ {
		resp, err := c.Get("http://" + addr + "/registry")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		f := strings.Fields(string(b))
		if len(f) != 3 {
			t.Fatalf("/registry: %q", b)
		}
		w, _ := strconv.Atoi(f[0])
		refs, _ := strconv.Atoi(f[1])
		threads, _ := strconv.Atoi(f[2])
		out[w] = [2]int{refs, threads}
	}
	if len(out) != 2 {
		t.Fatalf("/registry reached the workers %v only", out)
	}
	return out
}

// pipelined sends n requests for path over conns connections, depth at a time on each,
// and checks every answer is 200 "ok".
func pipelined(t *testing.T, addr, path string, n, conns, depth int) {
	t.Helper()
	req := strings.Repeat("GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n", depth)
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i := range conns {
		share := n / conns
		if i < n%conns {
			share++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(2 * time.Minute))
			br := bufio.NewReader(c)
			for share > 0 {
				k := min(depth, share)
				if _, err := io.WriteString(c, req[:k*len(req)/depth]); err != nil {
					errs <- err
					return
				}
				for range k {
					resp, err := http.ReadResponse(br, nil)
					if err != nil {
						errs <- err
						return
					}
					b, err := io.ReadAll(resp.Body)
					resp.Body.Close()
					if err != nil || resp.StatusCode != 200 || string(b) != "ok" {
						errs <- fmt.Errorf("status %d, %q, %v", resp.StatusCode, b, err)
						return
					}
				}
				share -= k
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// 100,000 awaited requests (each awaits a spawned function that awaits a timer) leave
// the registry as they found it: no ref, no runtime thread leaks.
func TestAwaitNoLeak(t *testing.T) {
	t.Parallel()
	addr, stop := startAwaitLoad(t)
	c := &http.Client{Timeout: 10 * time.Second}
	defer c.CloseIdleConnections()
	pipelined(t, addr, "/r", 10000, 16, 16) // warm up: the free lists fill
	before := registry(t, c, addr)
	start := time.Now()
	pipelined(t, addr, "/r", 100000, 16, 16)
	took := time.Since(start)
	after := registry(t, c, addr)
	t.Logf("100000 awaited requests in %v; registry (refs, threads) per worker before %v, after %v", took.Round(time.Millisecond), before, after)
	for w, b := range before {
		a := after[w]
		if a[0] > b[0]+8 || a[1] > b[1]+8 {
			t.Errorf("worker %d: registry refs %d -> %d, threads %d -> %d over 100000 requests", w, b[0], a[0], b[1], a[1])
		}
	}
	if s := stop(); strings.Contains(s, "ERROR") || strings.Contains(s, "WARN") {
		t.Errorf("the log:\n%s", tail(s))
	}
}
