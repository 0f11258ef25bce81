package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// drleeBin is the binary under test, built once by TestMain.
var drleeBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "drlee-cmd-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	drleeBin = filepath.Join(dir, "drlee")
	build := exec.Command("go", "build", "-tags", "luajit", "-o", drleeBin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building drlee:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
	elapsed        time.Duration
}

// script writes a Lua script into a fresh directory and returns its path.
func script(t *testing.T, src string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "main.lua")
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// drlee runs the binary with args, bounded in time.
func drlee(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, drleeBin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	res := result{stdout: stdout.String(), stderr: stderr.String(), elapsed: time.Since(start)}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
	default:
		t.Fatalf("drlee %v: %v", args, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("drlee %v did not end within 30 s\nstdout:\n%s\nstderr:\n%s", args, res.stdout, res.stderr)
	}
	return res
}

func (r result) expect(t *testing.T, code int, stdout ...string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.stdout, r.stderr)
	}
	for _, s := range stdout {
		if !strings.Contains(r.stdout, s) {
			t.Fatalf("stdout lacks %q\nstdout:\n%s\nstderr:\n%s", s, r.stdout, r.stderr)
		}
	}
}

func (r result) stderrHas(t *testing.T, want ...string) {
	t.Helper()
	for _, s := range want {
		if !strings.Contains(r.stderr, s) {
			t.Fatalf("stderr lacks %q\nstderr:\n%s", s, r.stderr)
		}
	}
}

func TestRunPrints(t *testing.T) {
	t.Parallel()
	p := script(t, `print("hello from", env.worker_id, arg[1], arg[2])`)
	r := drlee(t, "run", "-w", "1", p, "a1", "a2")
	r.expect(t, 0)
	if r.stdout != "hello from\t1\ta1\ta2\n" {
		t.Fatalf("stdout %q", r.stdout)
	}
	if r.stderr != "" {
		t.Errorf("stderr %q", r.stderr)
	}
	// drlee script.lua is drlee run script.lua.
	drlee(t, p).expect(t, 0, "hello from")
	// --workers and --lock-threads.
	drlee(t, "run", "--workers", "2", "--lock-threads", p).expect(t, 0, "hello from\t1", "hello from\t2")
}

func TestRunWorkers(t *testing.T) {
	t.Parallel()
	p := script(t, `print("worker " .. env.worker_id .. "/" .. env.workers)`)
	r := drlee(t, "run", "-w", "3", p)
	r.expect(t, 0)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	sort.Strings(lines)
	if strings.Join(lines, ",") != "worker 1/3,worker 2/3,worker 3/3" {
		t.Fatalf("stdout %q", r.stdout)
	}
}

func TestMainChunkError(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ name, src, want string }{
		{"syntax", "print('x')\nlocal = 1\n", "main.lua:2: "},
		{"runtime", "local t\n\nprint(t.x)\n", "main.lua:3: attempt to index local 't' (a nil value)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := drlee(t, "run", "-w", "2", script(t, tt.src))
			r.expect(t, 1)
			r.stderrHas(t, tt.want)
		})
	}
}

func TestUncaughtCallbackError(t *testing.T) {
	t.Parallel()
	p := script(t, `local time = require "time"
time.timeout(1, function()
  error("callback failed")
end)
time.timeout(100, function() print("other work done") end)
`)
	r := drlee(t, "run", "-w", "1", p)
	r.expect(t, 1, "other work done")
	r.stderrHas(t, "main.lua:3: callback failed", "stack traceback:")
}

func TestCommands(t *testing.T) {
	t.Parallel()
	r := drlee(t, "version")
	r.expect(t, 0, "drlee ")
	if !strings.Contains(r.stdout, "linux/") {
		t.Errorf("version: %q", r.stdout)
	}
	drlee(t, "help").expect(t, 0, "drlee run")
	r = drlee(t)
	r.expect(t, 2)
	r.stderrHas(t, "Usage:")
	r = drlee(t, "frobnicate")
	r.expect(t, 2)
	r.stderrHas(t, `unknown command "frobnicate"`)
	drlee(t, "run").expect(t, 2)
	r = drlee(t, "run", "--no-such-flag", "x.lua")
	r.expect(t, 2)
	r = drlee(t, "run", filepath.Join(t.TempDir(), "missing.lua"))
	r.expect(t, 1)
	r.stderrHas(t, "drlee: ", "missing.lua", "no such file")
	r = drlee(t, "run", "--log-level", "loud", script(t, ""))
	if r.code == 0 {
		t.Errorf("an unknown log level is accepted")
	}
}

// TestModuleFlags: the modules' flags are parsed into their settings and checked when the
// engine is made: a bad value is an error naming the flag, and --cluster names the node
// after its port.
func TestModuleFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ flag, value, want string }{
		{"--max-body-size", "0", "--max-body-size must be from 1 to 2147483392 bytes"},
		{"--max-body-size", "5000000000", "--max-body-size must be from 1 to 2147483392 bytes"},
		{"--handler-timeout", "-1s", "--handler-timeout must be positive"},
		{"--idle-timeout", "0s", "--idle-timeout must be positive"},
		{"--cluster", "nocolon", `--cluster "nocolon"`},
	} {
		r := drlee(t, "run", tc.flag, tc.value, script(t, `print("ran")`))
		r.expect(t, 1)
		r.stderrHas(t, tc.want)
		if strings.Contains(r.stdout, "ran") {
			t.Errorf("%s %s: the script ran", tc.flag, tc.value)
		}
	}
	host, _ := os.Hostname()
	r := drlee(t, "run", "-w", "1", "--cluster", "127.0.0.1:0", "--max-body-size", "1024", script(t, `print("node", env.node)`))
	r.expect(t, 0, "node\t"+host+":0\n")
	r = drlee(t, "run", "-w", "1", "--cluster", "127.0.0.1:0", "--node", "n1", script(t, `print("node", env.node)`))
	r.expect(t, 0, "node\tn1\n")
}

// startDrlee starts the binary and waits until its stdout has a line with ready.
func startDrlee(t *testing.T, ready string, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer, <-chan error) {
	t.Helper()
	cmd := exec.Command(drleeBin, args...)
	var stderr, stdout bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	seen := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(out)
		found := false
		for sc.Scan() {
			stdout.WriteString(sc.Text() + "\n")
			if !found && strings.Contains(sc.Text(), ready) {
				found = true
				close(seen)
			}
		}
		io.Copy(io.Discard, out)
		done <- cmd.Wait()
	}()
	select {
	case <-seen:
	case err := <-done:
		t.Fatalf("drlee ended before %q: %v\nstderr:\n%s", ready, err, stderr.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("drlee never printed %q\nstderr:\n%s", ready, stderr.String())
	}
	return cmd, &stdout, &stderr, done
}

// TestSignalWithTicker: SIGTERM (and SIGINT) to a script whose ticker never stops: drlee
// exits 0 within the shutdown timeout.
func TestSignalWithTicker(t *testing.T) {
	t.Parallel()
	p := script(t, `local time = require "time"
local tk = time.tick(10)
local function loop() tk:next_tick(function(err) if not err then loop() end end) end
loop()
print("ticking")
`)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			const timeout = 2 * time.Second
			cmd, _, stderr, done := startDrlee(t, "ticking", "run", "-w", "2", "--shutdown-timeout", timeout.String(), p)
			start := time.Now()
			cmd.Process.Signal(sig)
			var err error
			select {
			case err = <-done:
			case <-time.After(timeout + 10*time.Second):
				t.Fatalf("drlee still running %v after %v", time.Since(start), sig)
			}
			el := time.Since(start)
			if err != nil {
				t.Fatalf("exit after %v: %v\nstderr:\n%s", sig, err, stderr.String())
			}
			if el > timeout+3*time.Second {
				t.Fatalf("exit %v after %v, shutdown timeout %v", el, sig, timeout)
			}
			t.Logf("%v: exit 0 after %v (shutdown timeout %v)\nstderr:\n%s", sig, el, timeout, stderr.String())
		})
	}
}

// TestSignalLetsInFlightFinish: SIGTERM to a script whose work finishes quickly lets it finish: exit 0
// with its output, well before the shutdown timeout.
func TestSignalLetsInFlightFinish(t *testing.T) {
	t.Parallel()
	p := script(t, `local time = require "time"
print("started")
time.timeout(300, function() print("in-flight work done") end)
`)
	cmd, stdout, stderr, done := startDrlee(t, "started", "run", "-w", "1", "--shutdown-timeout", "10s", p)
	start := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v\nstderr:\n%s", err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("drlee did not exit")
	}
	if !strings.Contains(stdout.String(), "in-flight work done") {
		t.Fatalf("stdout:\n%s", stdout.String())
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("exit after %v", el)
	}
}
