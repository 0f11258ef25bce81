package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"
)

// drleeWith runs the binary with args, stdin and extra environment variables.
func drleeWith(t *testing.T, stdin string, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, drleeBin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := result{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
	default:
		t.Fatalf("drlee %v: %v", args, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("drlee %v did not end\nstdout:\n%s\nstderr:\n%s", args, res.stdout, res.stderr)
	}
	return res
}

func sortedLines(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	sort.Strings(lines)
	return strings.Join(lines, ",")
}

func TestRunExpr(t *testing.T) {
	t.Parallel()
	r := drlee(t, "run", "-w", "2", "-e", `print(env.worker_id, arg[0], env.script, arg[1], arg[2], select("#", ...))`, "a1", "a2")
	r.expect(t, 0)
	if got := sortedLines(r.stdout); got != "1\t(command line)\t(command line)\ta1\ta2\t2,2\t(command line)\t(command line)\ta1\ta2\t2" {
		t.Fatalf("stdout %q", r.stdout)
	}
	// It runs as a main chunk does: in a runtime thread, so it may wait.
	drlee(t, "run", "-w", "1", "-e", `local time = require "time"; time.sleep(5); print("slept")`).expect(t, 0, "slept\n")
	// Modules are found in the working directory.
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/mymod.lua", []byte("return {v = 7}"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(drleeBin, "run", "-w", "1", "-e", `print(require("mymod").v)`)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil || string(out) != "7\n" {
		t.Fatalf("require next to the working directory: %v %q", err, out)
	}
	// Errors: once, exit 1, named after the command line.
	r = drlee(t, "run", "-w", "3", "-e", "local = 1")
	r.expect(t, 1)
	r.stderrHas(t, "(command line):1: '<name>' expected near '='")
	if n := strings.Count(r.stderr, "expected near"); n != 1 {
		t.Errorf("the error is reported %d times:\n%s", n, r.stderr)
	}
	r = drlee(t, "run", "-w", "1", "-e", `print("before"); error("boom")`)
	r.expect(t, 1, "before\n")
	r.stderrHas(t, "(command line):1: boom")
	// An empty -e is valid code.
	drlee(t, "run", "-e", "").expect(t, 0)
}

func TestRunStdin(t *testing.T) {
	t.Parallel()
	r := drleeWith(t, "#!/usr/bin/env drlee\nlocal time = require 'time'\ntime.sleep(1)\nprint('from stdin', arg[1], env.script)\n", nil, "run", "-w", "1", "-", "x")
	r.expect(t, 0, "from stdin\tx\t(stdin)\n")
	r = drleeWith(t, "print(1)\nprint(nil .. 1)\n", nil, "run", "-w", "1", "-")
	r.expect(t, 1, "1\n")
	r.stderrHas(t, "(stdin):2: attempt to concatenate a nil value")
}

func TestCheck(t *testing.T) {
	t.Parallel()
	good := script(t, "print('ran')\nlocal http = require 'http'\n")
	r := drlee(t, "run", "--check", good)
	r.expect(t, 0)
	if r.stdout != "" || r.stderr != "" {
		t.Fatalf("--check ran the script or said something: %q %q", r.stdout, r.stderr)
	}
	r = drlee(t, "run", "--check", script(t, "print('x')\nlocal = 1\n"))
	r.expect(t, 1)
	r.stderrHas(t, "main.lua:2: '<name>' expected near '='")
	if strings.Contains(r.stdout, "x") {
		t.Fatal("--check ran the main chunk")
	}
	r = drlee(t, "run", "--check", "-e", "print(")
	r.expect(t, 1)
	r.stderrHas(t, "(command line):1: unexpected symbol near '<eof>'")
	drlee(t, "run", "--check", "-e", "print('not run')").expect(t, 0)
	r = drleeWith(t, "if then", nil, "run", "--check", "-")
	r.expect(t, 1)
	r.stderrHas(t, "(stdin):1:")
	r = drlee(t, "run", "--check", "/no/such/file.lua")
	r.expect(t, 1)
	r.stderrHas(t, "no such file")
}

func TestEnvFlags(t *testing.T) {
	t.Parallel()
	p := script(t, `print(env.workers)`)
	r := drleeWith(t, "", []string{"DRLEE_WORKERS=3"}, "run", p)
	r.expect(t, 0)
	if sortedLines(r.stdout) != "3,3,3" {
		t.Fatalf("DRLEE_WORKERS=3: %q", r.stdout)
	}
	// The command line wins.
	r = drleeWith(t, "", []string{"DRLEE_WORKERS=3"}, "run", "-w", "1", p)
	if r.stdout != "1\n" {
		t.Fatalf("-w 1 with DRLEE_WORKERS=3: %q", r.stdout)
	}
	// Unknown variables are ignored; a module's flag works too.
	drleeWith(t, "", []string{"DRLEE_NO_SUCH_FLAG=1", "DRLEE_NODE=n7"}, "run", "-w", "1", "-e", "print(env.node)").expect(t, 0, "n7\n")
	for _, tc := range []struct{ env, want string }{
		{"DRLEE_WORKERS=many", `DRLEE_WORKERS="many": invalid value for --workers`},
		{"DRLEE_SHUTDOWN_TIMEOUT=soon", `DRLEE_SHUTDOWN_TIMEOUT="soon": invalid value for --shutdown-timeout`},
		{"DRLEE_LOCK_THREADS=maybe", `DRLEE_LOCK_THREADS="maybe": invalid value for --lock-threads`},
	} {
		r := drleeWith(t, "", []string{tc.env}, "run", p)
		r.expect(t, 2)
		r.stderrHas(t, tc.want)
	}
	// A module's setting checked when the engine is made names the flag.
	r = drleeWith(t, "", []string{"DRLEE_MAX_BODY_SIZE=0"}, "run", p)
	r.expect(t, 1)
	r.stderrHas(t, "--max-body-size must be from 1")
	// --check is not a setting: DRLEE_CHECK does not make a run a check.
	drleeWith(t, "", []string{"DRLEE_CHECK=true"}, "run", "-w", "1", p).expect(t, 0, "1\n")
	// drlee test reads them too.
	r = drleeWith(t, "", []string{"DRLEE_TIMEOUT=0s"}, "test", t.TempDir())
	r.expect(t, 2)
	r.stderrHas(t, "--timeout must be from")
}

func TestVersion(t *testing.T) {
	t.Parallel()
	r := drlee(t, "version")
	r.expect(t, 0, "drlee dev\n", "\nLuaJIT 2.", "\ngo1.")
	if n := strings.Count(r.stdout, "\n"); n != 3 {
		t.Fatalf("version: %q", r.stdout)
	}
}

// TestREPL drives drlee repl through a pipe, one line at a time: results, globals that
// stay, multi-line chunks, waiting calls, errors that do not end it, EOF that does.
func TestREPL(t *testing.T) {
	t.Parallel()
	lib := script(t, `greeting = "hello"
local http = require "http"
srv = http.create_server("127.0.0.1:0", function(req, res)
  res:write("path " .. req.path)
  res:finish()
end)
assert(srv:start())
`)
	cmd := exec.Command(drleeBin, "repl", lib)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	out := bufio.NewReader(outPipe)
	// readUntil reads stdout up to and including the next prompt ("> " or ">> ").
	readUntil := func(prompt string) string {
		t.Helper()
		var b strings.Builder
		done := make(chan struct{})
		go func() {
			defer close(done)
			for !strings.HasSuffix(b.String(), prompt) {
				c, err := out.ReadByte()
				if err != nil {
					return
				}
				b.WriteByte(c)
			}
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Fatalf("no %q prompt; stdout so far %q\nstderr:\n%s", prompt, b.String(), stderr.String())
		}
		return strings.TrimSuffix(b.String(), prompt)
	}
	send := func(line string) { io.WriteString(in, line+"\n") }
	if got := readUntil("> "); got != "" {
		t.Fatalf("before the first prompt: %q", got)
	}
	for _, step := range []struct{ line, prompt, want string }{
		{"greeting", "> ", "hello\n"},
		{"x = 6 * 7", "> ", ""},
		{"= x, x + 1", "> ", "42\t43\n"},
		{"function double(n)", ">> ", ""},
		{"  return n * 2", ">> ", ""},
		{"end", "> ", ""},
		{"double(21)", "> ", "42\n"},
		{`local time = require "time"; time.sleep(20); return "waited"`, "> ", "waited\n"},
		{`local res = assert(require("http").get("http://" .. srv:address() .. "/x")); local body = res:read(100); res:close(); return res.status_code, body`, "> ", "200\tpath /x\n"},
		{`error("oops")`, "> ", ""},
		{"local = 1", "> ", ""},
		{"print('still here')", "> ", "still here\n"},
	} {
		send(step.line)
		if got := readUntil(step.prompt); got != step.want {
			t.Fatalf("%q: stdout %q, want %q\nstderr:\n%s", step.line, got, step.want, stderr.String())
		}
	}
	in.Close() // EOF: the REPL ends, and the server with it
	done := make(chan error, 1)
	go func() { io.Copy(io.Discard, out); done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v\nstderr:\n%s", err, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("drlee repl did not end at EOF")
	}
	for _, want := range []string{"oops", "stdin:1: '<name>' expected near '='"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
}

// drlee run --sysmon-awake (or DRLEE_SYSMON_AWAKE=true) starts with Go's sysmon kept from
// its deep sleep (sysmon.go): the process's environment at exec has schedtrace in GODEBUG,
// and the script, like its children, sees the GODEBUG it was started with (none, empty, or
// the user's). A GODEBUG that sets schedtrace itself is left alone, and so is a run
// without the flag.
func TestRunKeepsSysmonAwake(t *testing.T) {
	t.Parallel()
	script := `local f = assert(io.open("/proc/self/environ"))
local environ = f:read("*a"); f:close()
local godebug = environ:match("%zGODEBUG=([^%z]*)") or environ:match("^GODEBUG=([^%z]*)")
print(tostring(godebug), tostring(os.getenv("GODEBUG")), tostring(os.getenv("DRLEE_GODEBUG_WAS")))`
	for _, c := range []struct {
		env  []string
		want string
	}{
		{nil, "schedtrace=2147483647\tnil\tnil\n"},
		{[]string{"GODEBUG="}, "schedtrace=2147483647\t\tnil\n"},
		{[]string{"GODEBUG=madvdontneed=1"}, "madvdontneed=1,schedtrace=2147483647\tmadvdontneed=1\tnil\n"},
		{[]string{"GODEBUG=schedtrace=100000000"}, "schedtrace=100000000\tschedtrace=100000000\tnil\n"},
		{[]string{"DRLEE_SYSMON_AWAKE=true", "GODEBUG=x=1"}, "x=1,schedtrace=2147483647\tx=1\tnil\n"},
		{[]string{"DRLEE_SYSMON_AWAKE=false"}, "nil\tnil\tnil\n"},
	} {
		env := []string{}
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "GODEBUG=") && !strings.HasPrefix(kv, "DRLEE_SYSMON_AWAKE=") {
				env = append(env, kv)
			}
		}
		args := []string{"run", "-w", "1", "--sysmon-awake", "-e", script}
		if len(c.env) > 0 && strings.HasPrefix(c.env[0], "DRLEE_SYSMON_AWAKE=") {
			args = []string{"run", "-w", "1", "-e", script} // the flag from the environment
		}
		cmd := exec.Command(drleeBin, args...)
		cmd.Env = append(env, c.env...)
		out, err := cmd.CombinedOutput()
		// A host up for longer than the period gets the runtime's "SCHED" line at start.
		var kept []string
		for _, line := range strings.SplitAfter(string(out), "\n") {
			if !strings.HasPrefix(line, "SCHED ") {
				kept = append(kept, line)
			}
		}
		out = []byte(strings.Join(kept, ""))
		if err != nil || string(out) != c.want {
			t.Errorf("with %q: %q (%v), want %q", c.env, out, err, c.want)
		}
	}
}
