package main

import (
	"context"
	_ "embed"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/drlee/drlee/internal/drleetest"
)

//go:embed testdata/apifuzz.lua
var apiFuzzScript []byte

// TestLuaAPIFuzz runs testdata/apifuzz.lua: every function and method of every module called
// with odd values (nil, wrong types, NaN, infinities, huge numbers, huge and binary strings,
// cyclic and deep tables, functions, objects of other classes as self, closed objects), also
// from coroutines and from __gc finalizers. The process must survive to the end and shut
// down on SIGTERM, every callback must have run at most once, and no Go panic or C-level
// failure may have reached the log. The script runs in a scratch directory (the paths it
// uses are relative), in its own process, so that what it breaks is visible as an exit.
func TestLuaAPIFuzz(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "apifuzz.lua")
	if err := os.WriteFile(path, apiFuzzScript, 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, drleeBin, "run", "-w", "1", "--shutdown-timeout", "2s", path, addr)
	cmd.Dir = dir
	var stdout, stderr drleetest.SyncBuffer // read while the process writes
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	// The script prints its summary when it is through; the servers, handlers and timers
	// it made keep it running until SIGTERM.
	var waitErr error
	for done := false; !done; {
		select {
		case waitErr = <-exited:
			done = true
		case <-time.After(100 * time.Millisecond):
			if strings.Contains(stdout.String(), "FUZZ DONE") {
				cmd.Process.Signal(syscall.SIGTERM)
				select {
				case waitErr = <-exited:
				case <-time.After(30 * time.Second):
					t.Fatalf("no exit within 30 s of SIGTERM\nstdout:\n%s", tail(stdout.String()))
				}
				done = true
			}
		case <-ctx.Done():
			t.Fatalf("the fuzz script did not finish in time\nstdout:\n%s\nstderr:\n%s", tail(stdout.String()), tail(stderr.String()))
		}
	}
	out, log := stdout.String(), stderr.String()
	var ee *exec.ExitError
	code := 0
	if errors.As(waitErr, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			t.Fatalf("the process died of %v\nstdout:\n%s\nstderr:\n%s", ws.Signal(), tail(out), tail(log))
		}
		code = ee.ExitCode()
	} else if waitErr != nil {
		t.Fatal(waitErr)
	}
	// 1 is expected: the fuzz leaves errors that no callback received, which are reported
	// as uncaught. Anything else (2: a Go panic) is a crash.
	if code != 0 && code != 1 {
		t.Fatalf("exit code %d\nstdout:\n%s\nstderr:\n%s", code, tail(out), tail(log))
	}
	m := regexp.MustCompile(`FUZZ DONE calls=(\d+) raised=(\d+) callbacks=(\d+) twice=(\d+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no summary\nstdout:\n%s\nstderr:\n%s", tail(out), tail(log))
	}
	t.Logf("%s", m[0])
	if m[4] != "0" {
		t.Errorf("callbacks ran twice:\n%s", grepLines(out, "CALLED TWICE"))
	}
	for _, bad := range []string{"internal error", "fatal error", "panic:", "SIGSEGV", "bad value tag", "unprotected", "truncated value buffer"} {
		if strings.Contains(log, bad) {
			t.Errorf("the log has %q:\n%s", bad, grepLines(log, bad))
		}
	}
}

// tail is the end of a long output, for failure messages.
func tail(s string) string {
	if len(s) > 8000 {
		return "..." + s[len(s)-8000:]
	}
	return s
}

// grepLines returns the lines of s that contain sub, with the line after each.
func grepLines(s, sub string) string {
	lines := strings.Split(s, "\n")
	var out []string
	for i, l := range lines {
		if strings.Contains(l, sub) {
			out = append(out, l)
			if i+1 < len(lines) {
				out = append(out, lines[i+1])
			}
			if len(out) > 40 {
				break
			}
		}
	}
	return strings.Join(out, "\n")
}
