package engine_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/engine/enginetest"
)

// A per-worker counter and a per-engine list, as bindings declare them: at init.
var (
	workerHits = engine.NewWorkerLocal(func(w *engine.Worker) *int { return new(int) })
	engineSeen = engine.NewEngineLocal(func(e *engine.Engine) *seenWorkers { return new(seenWorkers) })
	testLimit  = engine.NewSetting("testlimit", struct{ Max int }{Max: 7})
)

// seenWorkers is an EngineLocal that the workers of an engine share: it has a lock.
type seenWorkers struct {
	mu  sync.Mutex // protects ids
	ids []int
}

func init() {
	engine.Register(&engine.Module{
		Name: "testlocal",
		Funcs: []engine.Function{{Name: "hit", Fn: func(c *engine.Call) int {
			w := engine.WorkerOf(c)
			*workerHits.Get(w)++
			seen := engineSeen.Get(w.Engine())
			seen.mu.Lock()
			seen.ids = append(seen.ids, w.ID)
			n := len(seen.ids)
			seen.mu.Unlock()
			return c.ReturnString(fmt.Sprintf("worker %d: %d hits, engine: %d, max %d",
				w.ID, *workerHits.Get(w), n, testLimit.Get(w.Engine()).Max))
		}}},
	})
}

// TestLocalsAndSettings: each worker has its own WorkerLocal value, each engine its own
// EngineLocal value and settings, however many engines a process runs.
func TestLocalsAndSettings(t *testing.T) {
	t.Parallel()
	script := `local t = require "testlocal"; t.hit(); print(t.hit())`
	a := enginetest.Run(t, script, enginetest.Options{Workers: 2})
	b := enginetest.Run(t, script, enginetest.Options{Workers: 1, Configure: func(c *engine.Config) {
		testLimit.Ptr(c).Max = 3
	}})
	a.MustSucceed(t)
	b.MustSucceed(t)
	// Each worker counts its own hits; the engine sees the hits of its workers only.
	for _, w := range []string{"1", "2"} {
		if !strings.Contains(a.Stdout, "worker "+w+": 2 hits, engine: ") || !strings.Contains(a.Stdout, "max 7") {
			t.Fatalf("engine a:\n%s", a.Stdout)
		}
	}
	if !strings.Contains(a.Stdout, "engine: 4") && !strings.Contains(a.Stdout, "engine: 3") {
		t.Fatalf("engine a's local did not see both workers:\n%s", a.Stdout)
	}
	if b.Stdout != "worker 1: 2 hits, engine: 2, max 3\n" {
		t.Fatalf("engine b (its own local and setting): %q", b.Stdout)
	}
}

// TestSettingsCopiedIntoTheEngine: changing a Config after the engine was made from it
// changes nothing in the engine.
func TestSettingsCopiedIntoTheEngine(t *testing.T) {
	t.Parallel()
	var cfg engine.Config
	testLimit.Ptr(&cfg).Max = 5
	e, err := engine.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	testLimit.Ptr(&cfg).Max = 9
	if got := testLimit.Get(e).Max; got != 5 {
		t.Fatalf("the engine's setting is %d, want 5", got)
	}
	if got := testLimit.Of(&engine.Config{}).Max; got != 7 {
		t.Fatalf("default %d, want 7", got)
	}
}

func TestLocalsDeclaredLatePanic(t *testing.T) {
	t.Parallel()
	if _, err := engine.New(engine.Config{}); err != nil { // the first engine freezes the count
		t.Fatal(err)
	}
	defer func() {
		if p := recover(); p == nil || !strings.Contains(fmt.Sprint(p), "after the first engine") {
			t.Fatalf("recover() = %v, want the late-declaration panic", p)
		}
	}()
	engine.NewWorkerLocal(func(*engine.Worker) *int { return nil })
}
