package engine_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/engine/enginetest"
)

// The module "testowned" lets a script start goroutines the engine owns: start(key) calls
// the Go hook the test stored under key, on the loop, with the worker's engine.
var ownedHooks sync.Map // key -> func(*engine.Engine)

func init() {
	engine.Register(&engine.Module{
		Name: "testowned",
		Funcs: []engine.Function{{Name: "start", Fn: func(c *engine.Call) int {
			hook, ok := ownedHooks.Load(c.CheckString(1))
			if !ok {
				c.Raise("no hook %q", c.CheckString(1))
			}
			hook.(func(*engine.Engine))(engine.WorkerOf(c).Engine())
			return 0
		}}},
	})
}

// runOwned runs a script that calls hook once, through testowned.start, with Run's grace
// period for owned goroutines set to grace (0: the default). It returns the engine after
// Run returned, Run's error and stderr.
func runOwned(t *testing.T, grace time.Duration, hook func(e *engine.Engine)) (*engine.Engine, error, string) {
	t.Helper()
	ownedHooks.Store(t.Name(), hook)
	t.Cleanup(func() { ownedHooks.Delete(t.Name()) })
	dir := t.TempDir()
	script := filepath.Join(dir, "main.lua")
	src := `require("testowned").start(` + "[[" + t.Name() + "]]" + `)`
	if err := os.WriteFile(script, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr enginetest.SyncBuffer
	e, err := engine.New(engine.Config{Script: script, Workers: 1, Stdout: &stdout, Stderr: &stderr})
	if err != nil {
		t.Fatal(err)
	}
	if grace > 0 {
		engine.SetGrace(e, grace)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = e.Run(ctx)
	if ctx.Err() != nil {
		t.Fatalf("Run did not return\nstderr:\n%s", stderr.String())
	}
	return e, err, stderr.String()
}

// Run waits for the goroutines the engine owns: one that ends only after the OnClose
// functions ran (as a binding's goroutine waits for what its OnClose function closes) has
// ended by the time Run returns.
func TestRunWaitsForOwnedGoroutines(t *testing.T) {
	t.Parallel()
	var ended atomic.Bool
	_, err, stderr := runOwned(t, 0, func(e *engine.Engine) {
		closed := make(chan struct{})
		e.OnClose(func() { close(closed) })
		if !e.Go("test: ends after close", func() {
			<-closed
			time.Sleep(50 * time.Millisecond) // work that takes a while, not a synchronisation
			ended.Store(true)
		}) {
			t.Error("Go refused while the engine runs")
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if !ended.Load() {
		t.Fatalf("Run returned before its goroutine ended\nstderr:\n%s", stderr)
	}
	if strings.Contains(stderr, "left behind") {
		t.Fatalf("a goroutine that ended was reported:\n%s", stderr)
	}
}

// A goroutine that does not end within the grace period is logged by name, and Run
// returns anyway.
func TestRunLogsStuckGoroutine(t *testing.T) {
	t.Parallel()
	release, gone := make(chan struct{}), make(chan struct{})
	defer func() {
		close(release)
		<-gone // no goroutine outlives the test (TestMain checks)
	}()
	start := time.Now()
	_, err, stderr := runOwned(t, 100*time.Millisecond, func(e *engine.Engine) {
		e.Go("test: never ends", func() {
			defer close(gone)
			<-release
		})
		e.Go("test: ends", func() {})
	})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("Run took %v with a stuck goroutine", took)
	}
	if !strings.Contains(stderr, "goroutines still running 100ms after shutdown, left behind: test: never ends\n") {
		t.Fatalf("the stuck goroutine was not logged by name (alone):\n%s", stderr)
	}
}

// Once Run has returned the engine owns no goroutine any more, and Go refuses to start one.
func TestGoRefusedAfterRun(t *testing.T) {
	t.Parallel()
	e, err, _ := runOwned(t, 0, func(*engine.Engine) {})
	if err != nil {
		t.Fatal(err)
	}
	var ran atomic.Bool
	if e.Go("test: too late", func() { ran.Store(true) }) {
		t.Fatal("Go started a goroutine after Run returned")
	}
	if ran.Load() {
		t.Fatal("fn ran although Go refused it")
	}
}

// An owned goroutine carries the pprof label drlee=name, so that a goroutine dump says
// whose it is.
func TestGoLabelsGoroutine(t *testing.T) {
	t.Parallel()
	var dump bytes.Buffer
	_, err, _ := runOwned(t, 0, func(e *engine.Engine) {
		done := make(chan struct{})
		e.Go("test: labelled", func() {
			defer close(done)
			_ = pprof.Lookup("goroutine").WriteTo(&dump, 1)
		})
		<-done
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(dump.String(), `"drlee":"test: labelled"`) {
		t.Fatalf("no drlee label in the goroutine profile:\n%s", dump.String())
	}
}
