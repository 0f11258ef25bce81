// Package enginetest runs Lua scripts through the real engine, for tests of the engine
// itself: only the modules the test binary links are there (the engine's tests register
// their own). Tests of bindings, examples and the CLI use internal/drleetest, the same
// harness with every binding linked in.
//
//	res := enginetest.Run(t, `print("hi")`)
//	res.MustSucceed(t)
//	res.Contains(t, "hi")
//
// Scripts run in a fresh temporary directory (their __dirname__), with one worker unless
// the options say otherwise, and are bounded in time: a script that does not end within
// the timeout is shut down and the test fails.
package enginetest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drlee/drlee/engine"
)

// Options adjust a run.
type Options struct {
	Workers     int
	LockThreads bool
	Args        []string
	Timeout     time.Duration // default 30 s
	Dir         string        // where the script is written; default t.TempDir()
	Files       map[string]string
	QueueSize   int
	PoolSize    int
	// Configure, if set, adjusts the engine's configuration before it is made: the
	// settings of bindings (http.Settings.Ptr(c).HandlerTimeout = ...).
	Configure func(c *engine.Config)
	// CallbackTimeout is engine.Config.CallbackTimeout (default: none).
	CallbackTimeout time.Duration
	// ShutdownTimeout is engine.Config.ShutdownTimeout (default here: 5 s).
	ShutdownTimeout time.Duration
	// Started, if set, is called with the engine once Run has begun (to shut it down
	// from the test, for example).
	Started func(e *engine.Engine)
	Ctx     context.Context
}

// Result is what a script did.
type Result struct {
	Stdout, Stderr string
	Err            error // from engine.Run: the main chunk failed
	Failed         bool  // an uncaught Lua error, or Err
	Dir            string
}

// Run runs a script given as source.
func Run(t testing.TB, script string, opts ...Options) Result {
	t.Helper()
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	for name, body := range o.Files {
		p := filepath.Join(o.Dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(o.Dir, "main.lua")
	if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	return RunFile(t, path, o)
}

// RunFile runs the script at path.
func RunFile(t testing.TB, path string, o Options) Result {
	t.Helper()
	if o.Workers == 0 {
		o.Workers = 1
	}
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Second
	}
	if o.ShutdownTimeout == 0 {
		o.ShutdownTimeout = 5 * time.Second
	}
	var stdout, stderr SyncBuffer
	cfg := engine.Config{
		Script: path, Args: o.Args, Workers: o.Workers, LockThreads: o.LockThreads,
		QueueSize: o.QueueSize, PoolSize: o.PoolSize, ShutdownTimeout: o.ShutdownTimeout,
		CallbackTimeout: o.CallbackTimeout,
		Stdout:          &stdout, Stderr: &stderr,
	}
	if o.Configure != nil {
		o.Configure(&cfg)
	}
	e, err := engine.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := o.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	hookDone := make(chan struct{})
	if o.Started != nil {
		go func() {
			defer close(hookDone)
			// Once Run has created the workers, Started may shut the engine down.
			select {
			case <-e.Started():
				o.Started(e)
			case <-ctx.Done():
			}
		}()
	} else {
		close(hookDone)
	}
	runErr := e.Run(ctx)
	ranOut := ctx.Err() != nil
	// The hook's goroutine ends before RunFile returns, so that tests checking for leaked
	// goroutines do not find it: a Run that failed before Started never closes it, and
	// cancel releases it then.
	cancel()
	<-hookDone
	if ranOut && (o.Ctx == nil || o.Ctx.Err() == nil) {
		t.Errorf("script did not end within %s\nstdout:\n%s\nstderr:\n%s", o.Timeout, stdout.String(), stderr.String())
	}
	return Result{
		Stdout: stdout.String(), Stderr: stderr.String(), Err: runErr,
		Failed: runErr != nil || e.Failed(), Dir: filepath.Dir(path),
	}
}

// MustSucceed fails the test when the script failed in any way.
func (r Result) MustSucceed(t testing.TB) {
	t.Helper()
	if r.Failed {
		t.Fatalf("script failed (err %v)\nstdout:\n%s\nstderr:\n%s", r.Err, r.Stdout, r.Stderr)
	}
}

// MustFail fails the test when the script did not fail.
func (r Result) MustFail(t testing.TB) {
	t.Helper()
	if !r.Failed {
		t.Fatalf("script succeeded, expected a failure\nstdout:\n%s\nstderr:\n%s", r.Stdout, r.Stderr)
	}
}

// Contains fails the test unless stdout contains every one of want.
func (r Result) Contains(t testing.TB, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(r.Stdout, w) {
			t.Fatalf("stdout lacks %q\nstdout:\n%s\nstderr:\n%s", w, r.Stdout, r.Stderr)
		}
	}
}

// StderrContains fails the test unless stderr contains every one of want.
func (r Result) StderrContains(t testing.TB, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(r.Stderr, w) {
			t.Fatalf("stderr lacks %q\nstdout:\n%s\nstderr:\n%s", w, r.Stdout, r.Stderr)
		}
	}
}
