package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is a process benchrun started. Each runs in a process group of its own
// so that stopping it also stops what it forked (nginx workers, the test
// binaries of go test), and with a parent-death signal so that it does not
// outlive a benchrun that was killed outright.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *tailBuffer   // the last few KB of its stderr (and of stdout when not captured)
	done chan struct{} // closed once it has exited
	err  error         // its exit status; read after done
}

// procs is every process still running, so one call can stop them all on
// exit, on an error and on Ctrl-C.
var procs struct {
	sync.Mutex
	m      map[*proc]bool
	closed bool // set by stopAll: refuse to start more
}

// start starts argv with env added to benchrun's environment. stdout may be
// nil (it then goes to the tail buffer with stderr).
func start(name string, env []string, stdout io.Writer, argv ...string) (*proc, error) {
	return startAs(nil, name, env, stdout, argv...)
}

// startAs is start with the process's user and group set to cred's (nil: benchrun's
// own): PostgreSQL refuses to run as root.
func startAs(cred *syscall.Credential, name string, env []string, stdout io.Writer, argv ...string) (*proc, error) {
	p := &proc{name: name, out: &tailBuffer{max: 8 << 10}, done: make(chan struct{})}
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: cred}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if stdout != nil {
		p.cmd.Stdout = stdout
	}
	procs.Lock()
	defer procs.Unlock()
	if procs.closed {
		return nil, errors.New("benchrun is stopping")
	}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if procs.m == nil {
		procs.m = map[*proc]bool{}
	}
	procs.m[p] = true
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// stop ends p's process group: SIGTERM, then SIGKILL if it has not exited
// within 3 s. The group is killed again after the leader has gone, because
// nginx workers can outlive their master.
func (p *proc) stop() {
	pgid := -p.cmd.Process.Pid
	syscall.Kill(pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(3 * time.Second):
		syscall.Kill(pgid, syscall.SIGKILL)
		<-p.done
	}
	syscall.Kill(pgid, syscall.SIGKILL)
	procs.Lock()
	delete(procs.m, p)
	procs.Unlock()
}

// stopAll stops every process still running and refuses to start more.
func stopAll() {
	procs.Lock()
	procs.closed = true
	ps := make([]*proc, 0, len(procs.m))
	for p := range procs.m {
		ps = append(ps, p)
	}
	procs.Unlock()
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Add(1)
		go func() { defer wg.Done(); p.stop() }()
	}
	wg.Wait()
}

// run runs argv to completion, or stops it after timeout or when ctx is done,
// and returns its stdout.
func run(ctx context.Context, timeout time.Duration, name string, env []string, argv ...string) (string, error) {
	return runAs(ctx, nil, timeout, name, env, argv...)
}

// runAs is run with the process's user and group set to cred's (see startAs).
func runAs(ctx context.Context, cred *syscall.Credential, timeout time.Duration, name string, env []string, argv ...string) (string, error) {
	var stdout bytes.Buffer
	p, err := startAs(cred, name, env, &stdout, argv...)
	if err != nil {
		return "", err
	}
	err = p.wait(ctx, timeout)
	return stdout.String(), err
}

// wait waits for p to exit, stopping it after timeout or when ctx is done.
func (p *proc) wait(ctx context.Context, timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.done:
		p.stop() // reaps any children left in the group
		if p.err != nil {
			return fmt.Errorf("%s: %v: %s", p.name, p.err, p.out.lastLines(5))
		}
		return nil
	case <-t.C:
		p.stop()
		return fmt.Errorf("%s: still running after %v, stopped", p.name, timeout)
	case <-ctx.Done():
		p.stop()
		return ctx.Err()
	}
}

// tailBuffer keeps the first line and the last max bytes written to it: a
// Lua error's message comes first, its traceback last.
type tailBuffer struct {
	mu    sync.Mutex
	max   int
	first []byte // up to the first newline (at most 512 bytes)
	b     []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if i := bytes.IndexByte(t.first, '\n'); i < 0 && len(t.first) < 512 {
		t.first = append(t.first, p[:min(len(p), 512-len(t.first))]...)
	}
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

// lastLines returns the first line and the last n lines, joined by " | " to
// fit in one table cell.
func (t *tailBuffer) lastLines(n int) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	first, _, _ := bytes.Cut(t.first, []byte("\n"))
	lines := strings.Split(strings.TrimSpace(string(t.b)), "\n")
	if len(lines) > n {
		lines = append([]string{string(first), "..."}, lines[len(lines)-n:]...)
	}
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return strings.Join(lines, " | ")
}

// cpuTicks returns the user+system CPU time, in clock ticks (1/100 s on
// Linux), of every live process in process group pgid.
func cpuTicks(pgid int) int64 {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var ticks int64
	for _, path := range stats {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		// Fields after "(comm) ": state ppid pgrp ... utime(14th) stime(15th).
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 13 {
			continue
		}
		if g, _ := strconv.Atoi(f[2]); g != pgid {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		s, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += u + s
	}
	return ticks
}

const ticksPerSecond = 100 // USER_HZ; fixed at 100 on Linux
