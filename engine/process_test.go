package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/engine/enginetest"
)

// shareCount is a ProcessLocal made once per process, whichever engine asks first.
type shareCount struct{ made atomic.Int32 }

var shares = engine.NewProcessLocal(func(*engine.Process) *shareCount {
	c := &shareCount{}
	c.made.Add(1)
	return c
})

// The module "testready" delays a worker's readiness from Lua: delay(ms) holds it back
// (Worker.DelayReady) until a trip to the pool that sleeps ms has come back.
func init() {
	engine.Register(&engine.Module{
		Name: "testready",
		Funcs: []engine.Function{{Name: "delay", Fn: func(c *engine.Call) int {
			w := engine.WorkerOf(c)
			ms := c.CheckIntRange(1, 0, 10000)
			done := w.DelayReady()
			w.Async(0, func() engine.Completion {
				time.Sleep(time.Duration(ms) * time.Millisecond)
				return func(w *engine.Worker, a *engine.Args) { done(); a.Nil() }
			})
			return 0
		}}},
	})
}

func scriptFile(t *testing.T, src string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "main.lua")
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Two engines of one process share its ProcessLocals, and its goroutines outlive an
// engine's Run: Close ends them, after its OnClose functions.
func TestProcessOutlivesEngines(t *testing.T) {
	p := engine.NewProcess()
	path := scriptFile(t, `local x = 1`)
	var err enginetest.SyncBuffer
	stop := make(chan struct{})
	ended := make(chan struct{})
	if !p.Go("test: outlives", func() { <-stop; close(ended) }) {
		t.Fatal("Go refused")
	}
	var first *shareCount
	for i := range 2 {
		e, nerr := engine.New(engine.Config{Script: path, Workers: 2, Process: p, Stderr: &err})
		if nerr != nil {
			t.Fatal(nerr)
		}
		if e.Process() != p {
			t.Fatal("engine's process is not the one given")
		}
		c := shares.Get(e.Process())
		if i == 0 {
			first = c
		} else if c != first {
			t.Fatal("the second engine got a ProcessLocal of its own")
		}
		if rerr := e.Run(context.Background()); rerr != nil {
			t.Fatal(rerr)
		}
		select {
		case <-ended:
			t.Fatal("the process's goroutine ended with an engine")
		default:
		}
	}
	if first.made.Load() != 1 {
		t.Fatalf("made %d times", first.made.Load())
	}
	closed := false
	p.OnClose(func() { closed = true; close(stop) })
	p.Close()
	if !closed {
		t.Fatal("OnClose did not run")
	}
	select {
	case <-ended:
	default:
		t.Fatal("Close returned before the process's goroutine ended")
	}
	if p.Go("test: late", func() {}) {
		t.Fatal("Go after Close")
	}
	p.Close() // idempotent
	if s := err.String(); s != "" {
		t.Fatalf("stderr: %s", s)
	}
}

// An engine alone (no Process given) has one of its own, closed by Run: its goroutines
// are waited for there.
func TestOwnProcessClosedByRun(t *testing.T) {
	e, err := engine.New(engine.Config{Script: scriptFile(t, `local x = 1`), Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	p := e.Process()
	stop := make(chan struct{})
	p.OnClose(func() { close(stop) })
	if !p.Go("test: own", func() { <-stop }) {
		t.Fatal("Go refused")
	}
	if err := e.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if p.Go("test: late", func() {}) {
		t.Fatal("the engine's own process is still open after Run")
	}
}

// Ready closes once every main chunk has ended, its awaits and DelayReady included; the
// OnReady functions run before it closes, and at once once it has.
func TestReady(t *testing.T) {
	path := scriptFile(t, `
local testasync = require "testasync"
local testready = require "testready"
testasync.roundtrip_await() -- the main chunk awaits before it ends
testready.delay(200)
`)
	e, err := engine.New(engine.Config{Script: path, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	var before atomic.Bool
	e.OnReady(func() {
		select {
		case <-e.Ready():
		default:
			before.Store(true)
		}
	})
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- e.Run(context.Background()) }()
	select {
	case <-e.Ready():
	case <-time.After(5 * time.Second):
		t.Fatal("not ready")
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Fatalf("ready after %s, before DelayReady's done", d)
	}
	if !before.Load() {
		t.Fatal("the OnReady function did not run before Ready closed")
	}
	ran := false
	e.OnReady(func() { ran = true })
	if !ran {
		t.Fatal("OnReady once ready did not run at once")
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	select {
	case <-e.LoadFailed():
		t.Fatal("LoadFailed closed")
	default:
	}
}

// A main chunk that fails on one worker closes LoadFailed, never Ready, and Err says why.
func TestLoadFailed(t *testing.T) {
	path := scriptFile(t, `if env.worker_id == 2 then error("no load on 2") end`)
	var stderr enginetest.SyncBuffer
	e, err := engine.New(engine.Config{Script: path, Workers: 2, Stderr: &stderr})
	if err != nil {
		t.Fatal(err)
	}
	runErr := e.Run(context.Background())
	if runErr == nil || !strings.Contains(runErr.Error(), "no load on 2") {
		t.Fatalf("Run: %v", runErr)
	}
	select {
	case <-e.LoadFailed():
	default:
		t.Fatal("LoadFailed not closed")
	}
	select {
	case <-e.Ready():
		t.Fatal("Ready closed")
	default:
	}
	if e.Err() == nil || e.Err().Error() != runErr.Error() {
		t.Fatalf("Err %v, Run %v", e.Err(), runErr)
	}
}
