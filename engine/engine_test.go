package engine_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/engine/enginetest"
	"github.com/drlee/drlee/packed"
)

const continuation = "    " // engine.continuation

// The module "testasync" exercises the engine's async paths from Lua. Modules must be
// registered before the first state is created: hence init.
func init() {
	engine.Register(&engine.Module{
		Name: "testasync",
		Funcs: []engine.Function{
			{Name: "roundtrip", Fn: roundtrip},
			{Name: "roundtrip_await", Fn: roundtripAwait},
			{Name: "now", Fn: now},
			{Name: "now_reserved", Fn: nowReserved},
			{Name: "fail", Fn: fail},
			{Name: "panic_work", Fn: panicWork},
			{Name: "block", Fn: block},
			{Name: "release", Fn: release},
			{Name: "flood", Fn: flood},
			{Name: "flood_ran", Fn: floodRan},
			{Name: "go_panic", Fn: func(c *engine.Call) int { panic("test panic") }},
			{Name: "panic_on_loop", Fn: panicOnLoop},
			{Name: "too_large", Fn: tooLarge},
			{Name: "on_shutdown", Fn: onShutdown},
			{Name: "memory_kb", Fn: func(c *engine.Call) int {
				return c.ReturnNumber(float64(engine.WorkerOf(c).MemoryKB()))
			}},
		},
	})
}

// roundtrip(cb): to the pool and back; cb(nil).
func roundtrip(c *engine.Call) int {
	engine.WorkerOf(c).Async(c.OptFunc(1), func() engine.Completion {
		return func(w *engine.Worker, a *engine.Args) { a.Nil() }
	})
	return 0
}

// roundtrip_await(cb?): roundtrip, and without cb in a runtime thread, an await.
func roundtripAwait(c *engine.Call) int {
	return engine.WorkerOf(c).AsyncCall(c, 1, func() engine.Completion {
		return func(w *engine.Worker, a *engine.Args) { a.Nil() }
	})
}

// now(n, cb?): an outcome known at once (ReturnNowCall): cb(nil, n) on the loop's next
// turn, or n returned at once to an awaiting thread.
func now(c *engine.Call) int {
	n := c.CheckNumber(1)
	return engine.WorkerOf(c).ReturnNowCall(c, 2, func(w *engine.Worker, a *engine.Args) { a.Nil(); a.Number(n) })
}

// now_reserved(n, cb?): now through ReserveCall and ReturnNow, an Op allocated per call
// (now's baseline).
func nowReserved(c *engine.Call) int {
	n := c.CheckNumber(1)
	return engine.WorkerOf(c).ReserveCall(c, 2).ReturnNow(c, func(w *engine.Worker, a *engine.Args) { a.Nil(); a.Number(n) })
}

// fail(msg, cb): cb(msg) from the pool; with no cb, the error is uncaught.
func fail(c *engine.Call) int {
	msg := c.CheckString(1)
	engine.WorkerOf(c).Async(c.OptFunc(2), func() engine.Completion {
		return func(w *engine.Worker, a *engine.Args) { a.Error(errors.New(msg)) }
	})
	return 0
}

// panic_work(cb): the work panics on the pool.
func panicWork(c *engine.Call) int {
	engine.WorkerOf(c).Async(c.OptFunc(1), func() engine.Completion { panic("work exploded") })
	return 0
}

// panic_on_loop(where, cb): Go code the loop runs panics: in the operation's completion,
// in a timer, in a deferred function, in a task, in a tick-end function, or in an I/O pool
// task (which still completes its operation). cb runs once either way.
func panicOnLoop(c *engine.Call) int {
	w := engine.WorkerOf(c)
	where := c.CheckString(1)
	op := w.Reserve(c.OptFunc(2))
	boom := func() { panic("loop exploded in " + where) }
	done := func(w *engine.Worker, a *engine.Args) { a.Nil(); a.String("survived") }
	switch where {
	case "completion":
		op.Complete(func(w *engine.Worker, a *engine.Args) { a.Nil(); boom() })
		return 0
	case "timer":
		w.After(time.Millisecond, func(w *engine.Worker) { boom() })
	case "defer":
		w.Defer(func(w *engine.Worker) { boom() })
	case "task":
		if err := w.Submit(engine.TaskFunc(func(w *engine.Worker) { boom() })); err != nil {
			c.Raise("%v", err)
		}
	case "tick end":
		w.AtTickEnd(boom)
	case "batch":
		// Two tasks of one drain: the second runs although the first panicked.
		for _, t := range []engine.TaskFunc{func(w *engine.Worker) { boom() }, func(w *engine.Worker) { op.Complete(done) }} {
			if err := w.Submit(t); err != nil {
				c.Raise("%v", err)
			}
		}
		return 0
	case "tick end batch":
		// Two tick-end functions: the second runs although the first panicked.
		w.AtTickEnd(boom)
		w.AtTickEnd(func() { op.Complete(done) })
		return 0
	case "pool":
		if err := w.Engine().Pool(func() {
			defer op.Complete(done)
			boom()
		}); err != nil {
			c.Raise("%v", err)
		}
		return 0
	default:
		c.ArgError(1, "unknown place")
	}
	w.After(5*time.Millisecond, func(w *engine.Worker) { op.Complete(done) })
	return 0
}

// too_large(cb): the operation's result is a string longer than Lua can hold (address space
// that no memory backs).
func tooLarge(c *engine.Call) int {
	engine.WorkerOf(c).Async(c.OptFunc(1), func() engine.Completion {
		return func(w *engine.Worker, a *engine.Args) {
			m, err := syscall.Mmap(-1, 0, packed.MaxString+1, syscall.PROT_READ, syscall.MAP_PRIVATE|syscall.MAP_ANON|syscall.MAP_NORESERVE)
			if err != nil {
				panic(err)
			}
			defer syscall.Munmap(m)
			a.Nil()
			a.Bytes(m)
		}
	})
	return 0
}

// gates is each worker's gate: block waits on it, release opens it (and makes a new one).
var gates = engine.NewWorkerLocal(func(*engine.Worker) *chan struct{} {
	g := make(chan struct{})
	return &g
})

func gate(w *engine.Worker) chan struct{} { return *gates.Get(w) }

// block(cb): the work waits until release() (or 10 s), holding a pool goroutine.
func block(c *engine.Call) int {
	w := engine.WorkerOf(c)
	g := gate(w)
	w.Async(c.OptFunc(1), func() engine.Completion {
		select {
		case <-g:
		case <-time.After(10 * time.Second):
		}
		return func(w *engine.Worker, a *engine.Args) { a.Nil() }
	})
	return 0
}

func release(c *engine.Call) int {
	w := engine.WorkerOf(c)
	g := gates.Get(w)
	close(*g)
	*g = make(chan struct{})
	return 0
}

// floods counts, per worker, the flood tasks that ran.
var floods = engine.NewWorkerLocal(func(*engine.Worker) *int { return new(int) })

// flood(n) -> refused: n Submits to the worker's own queue from its own loop. None may
// block; beyond the bound they are refused.
func flood(c *engine.Call) int {
	w := engine.WorkerOf(c)
	n := int(c.CheckInt(1))
	refused := 0
	for i := 0; i < n; i++ {
		err := w.Submit(engine.TaskFunc(func(w *engine.Worker) {
			*floods.Get(w)++
		}))
		if errors.Is(err, engine.ErrQueueFull) {
			refused++
		} else if err != nil {
			c.Raise("submit: %v", err)
		}
	}
	return c.ReturnNumber(float64(refused))
}

func floodRan(c *engine.Call) int {
	return c.ReturnNumber(float64(*floods.Get(engine.WorkerOf(c))))
}

// on_shutdown(cb): cb() on the loop when the engine shuts down.
func onShutdown(c *engine.Call) int {
	w := engine.WorkerOf(c)
	ref := c.CheckFunc(1)
	w.OnShutdown(func() { w.Callback(ref, w.NewArgs()) })
	return 0
}

// luaMeasure defines measure(tag), which prints "tag <Lua KB> <registry refs>" after a full
// collection. Registry refs are integer keys whose value is not a number (luaL_ref's free
// list holds numbers).
const luaMeasure = `
local function regcount()
  local n = 0
  for k, v in pairs(debug.getregistry()) do
    if type(k) == "number" and type(v) ~= "number" then n = n + 1 end
  end
  return n
end
function measure(tag)
  collectgarbage(); collectgarbage()
  print(string.format("%s %.1f %d", tag, collectgarbage("count"), regcount()))
end
`

// measured returns what measure(tag) printed.
func measured(t *testing.T, stdout, tag string) (kb float64, refs int) {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(tag) + ` ([0-9.]+) ([0-9]+)$`).FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("no measure(%q) in stdout:\n%s", tag, stdout)
	}
	kb, _ = strconv.ParseFloat(m[1], 64)
	refs, _ = strconv.Atoi(m[2])
	return kb, refs
}

func checkBaseline(t *testing.T, stdout, start, end string, slackKB float64) {
	t.Helper()
	kb0, refs0 := measured(t, stdout, start)
	kb1, refs1 := measured(t, stdout, end)
	t.Logf("%s: %.1f KB, %d refs; %s: %.1f KB, %d refs", start, kb0, refs0, end, kb1, refs1)
	if refs1 != refs0 {
		t.Errorf("registry refs: %d at %s, %d at %s", refs0, start, refs1, end)
	}
	if kb1-kb0 > slackKB {
		t.Errorf("Lua memory: %.1f KB at %s, %.1f KB at %s", kb0, start, kb1, end)
	}
}

func TestLivenessPendingTimer(t *testing.T) {
	t.Parallel()
	start := time.Now()
	res := enginetest.Run(t, `
local time = require "time"
time.timeout(300, function() print("fired") end)
print("main done")
`)
	res.MustSucceed(t)
	res.Contains(t, "main done\nfired\n")
	if el := time.Since(start); el < 300*time.Millisecond {
		t.Fatalf("ended after %v, before its timer fired", el)
	}
}

func TestLivenessNothingPending(t *testing.T) {
	t.Parallel()
	start := time.Now()
	res := enginetest.Run(t, `
local time = require "time"
local t = time.timeout(60000, function() print("never") end)
t:cancel()                            -- a cancelled timer does not keep the worker alive
parallel_callback({function(cb) end}, function() print("never") end) -- a callback nobody calls
local f = function() print("never") end
print("main done")
`, enginetest.Options{Workers: 2})
	res.MustSucceed(t)
	if strings.Contains(res.Stdout, "never") {
		t.Fatalf("stdout: %s", res.Stdout)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Fatalf("a script with nothing pending took %v to end", el)
	}
}

// TestRefsReleased: 10k fired timeouts and 10k cancelled timers leave neither registry
// refs nor Lua memory behind.
func TestRefsReleased(t *testing.T) {
	t.Parallel()
	res := enginetest.Run(t, luaMeasure+`
local time = require "time"
local function round(done)
  local fired, n = 0, 10000
  for i = 1, n do
    time.timeout(0, function() fired = fired + 1; if fired == n then done() end end)
  end
  for i = 1, n do
    local t = time:timeout(10000, function() error("a cancelled timer fired") end)
    assert(t:cancel() == true)
    assert(t:cancel() == false)
  end
end
-- A first round warms up (JIT traces, table sizes); the second is measured.
round(function()
  measure("start")
  round(function()
    time.timeout(0, function() measure("end") end)
  end)
end)
`)
	res.MustSucceed(t)
	checkBaseline(t, res.Stdout, "start", "end", 16)
}

// TestMillionTimers: 1e6 timers (in batches of 10k, half of them cancelled) without
// growth of Lua memory or registry refs.
func TestMillionTimers(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("1e6 timers: skipped with -short")
	}
	start := time.Now()
	res := enginetest.Run(t, luaMeasure+`
local time = require "time"
local batches, size = 100, 10000
local function batch(k)
  if k == 2 then measure("start") end
  if k > batches then measure("end") return end
  local left = size / 2
  for i = 1, size / 2 do
    time.timeout(0, function()
      left = left - 1
      if left == 0 then batch(k + 1) end
    end)
    time.timeout(1000, function() error("cancelled timer fired") end):cancel()
  end
end
batch(1)
`, enginetest.Options{Timeout: 150 * time.Second})
	res.MustSucceed(t)
	checkBaseline(t, res.Stdout, "start", "end", 16)
	t.Logf("1e6 timers in %v", time.Since(start))
}

// TestAsyncRefsReleased: callbacks through the pool are released too, errors included.
func TestAsyncRefsReleased(t *testing.T) {
	t.Parallel()
	res := enginetest.Run(t, luaMeasure+`
local a = require "testasync"
local function round(n, done)
  local left = 2 * n
  local function one() left = left - 1; if left == 0 then done() end end
  for i = 1, n do
    a.roundtrip(function(err) assert(err == nil); one() end)
    a.fail("oops", function(err) assert(err == "EUNKNOWN: oops"); one() end)
  end
end
round(5000, function()
  measure("start")
  round(5000, function() measure("end") end)
end)
`)
	res.MustSucceed(t)
	checkBaseline(t, res.Stdout, "start", "end", 16)
}

func TestAsyncErrors(t *testing.T) {
	t.Parallel()
	res := enginetest.Run(t, `
local a = require "testasync"
a.panic_work(function(err) print("panic_work:", err) end)
a.fail("nobody listens")   -- no callback: reported as uncaught
a.roundtrip()              -- no callback, no error: nothing to report
a.roundtrip(function(err) print("roundtrip:", err) end)
`)
	res.MustFail(t)
	res.Contains(t, "panic_work:\tEINTERNAL: drlee: internal error (reported in the log)", "roundtrip:\tnil")
	res.StderrContains(t, "internal error in an I/O task: work exploded", "goroutine ")
	res.StderrContains(t, "uncaught error (no callback): EUNKNOWN: nobody listens")
}

// TestPoolSaturated: a full pool and backlog is an error in the callback, never a block.
func TestPoolSaturated(t *testing.T) {
	t.Parallel()
	res := enginetest.Run(t, `
local a = require "testasync"
local ok, saturated = 0, 0
for i = 1, 100 do
  a.block(function(err)
    if err == nil then ok = ok + 1
    elseif err:find("^EBUSY: .*pool saturated") and err_code(err) == "EBUSY" then saturated = saturated + 1
    else error(err) end
  end)
end
-- Saturated callbacks come back while the others still block.
local time = require "time"
time.timeout(50, function()
  print("saturated before release:", saturated)
  a.release()
  time.timeout(200, function() print("ok:", ok, "saturated:", saturated) end)
end)
`, enginetest.Options{PoolSize: 1})
	res.MustSucceed(t)
	// Pool of 1 with a backlog of 64: 65 run, 35 are refused.
	res.Contains(t, "saturated before release:\t35", "ok:\t65\tsaturated:\t35")
}

// TestQueueFullFromOwnLoop: a worker submitting to its own full queue gets ErrQueueFull
// at once (the loop never blocks on its own queue), and what was admitted runs.
func TestQueueFullFromOwnLoop(t *testing.T) {
	t.Parallel()
	res := enginetest.Run(t, `
local a = require "testasync"
local time = require "time"
print("refused:", a.flood(100))
time.timeout(10, function() print("ran:", a.flood_ran()) end)
`, enginetest.Options{QueueSize: 16})
	res.MustSucceed(t)
	res.Contains(t, "refused:\t84", "ran:\t16")
}

func TestUncaughtCallbackError(t *testing.T) {
	t.Parallel()
	res := enginetest.Run(t, `local time = require "time"
local function handler()
  local t = nil
  return t.field
end
time.timeout(1, function() handler() end)
time.timeout(50, function() print("later output") end)
require("testasync").fail("async failure", function(err) error("callback got " .. err) end)
print("main done")
`)
	if res.Err != nil {
		t.Fatalf("Run returned %v for an error in a callback", res.Err)
	}
	res.MustFail(t)
	res.Contains(t, "main done", "later output")
	res.StderrContains(t,
		"main.lua:4: attempt to index local 't' (a nil value)",
		"stack traceback:",
		"main.lua:6: in function",
		"main.lua:8: callback got EUNKNOWN: async failure",
		"[worker 1]",
	)
}

func TestMainChunkErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ name, script, want string }{
		{"syntax", "print('a')\nlocal x = = 1\n", "main.lua:2: unexpected symbol near '='"},
		{"runtime", "local time = require 'time'\nlocal t = nil\nprint(t.x)\n", "main.lua:3: attempt to index local 't' (a nil value)"},
		{"error call", "error('explicit failure')", "main.lua:1: explicit failure"},
		{"bad argument", "require('time').timeout('soon')", "main.lua:1: bad argument #1 to 'time.timeout' (number expected, got string)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := enginetest.Run(t, tt.script, enginetest.Options{Workers: 2})
			if res.Err == nil {
				t.Fatalf("Run returned nil for a failing main chunk\nstderr: %s", res.Stderr)
			}
			res.StderrContains(t, tt.want)
			if n := strings.Count(res.Stderr, tt.want); n != 1 {
				t.Errorf("the error is reported %d times, want once:\n%s", n, res.Stderr)
			}
			if !strings.Contains(res.Err.Error(), tt.want) {
				t.Errorf("Run error %q lacks %q", res.Err, tt.want)
			}
		})
	}
}

func TestMissingScript(t *testing.T) {
	t.Parallel()
	e, err := engine.New(engine.Config{Script: filepath.Join(t.TempDir(), "nope.lua"), Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Run(context.Background()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Run = %v, want a not-exist error", err)
	}
}

// TestGoPanicInFunc: a Go panic in a Lua-visible function is a catchable Lua error and is
// logged (with its Go stack) to the engine's stderr.
func TestGoPanicInFunc(t *testing.T) {
	// Not parallel: see TestPanicLoggedByOwnEngine.
	res := enginetest.Run(t, `
local a = require "testasync"
for i = 1, 1000 do
  local ok, err = pcall(a.go_panic)
  assert(not ok and err:find("internal error in 'testasync.go_panic': test panic", 1, true), err)
end
print("still running")
`)
	res.MustSucceed(t)
	res.Contains(t, "still running")
	res.StderrContains(t, "internal error in testasync.go_panic: test panic", "goroutine ")
}

// TestPanicLoggedByOwnEngine: with two engines in one process, a Go panic in a function
// called by the first one's script is logged to the first one's stderr. (lua.PanicHandler
// is a process-wide variable that every engine.New overwrites.)
// TestGoPanicOnLoop: a Go panic in anything the loop runs (a bug in a binding) is logged
// with its stack and counts as an error, and never ends the process: the worker goes on,
// and the operation's callback runs exactly once (with an error when its completion was
// what panicked).
func TestGoPanicOnLoop(t *testing.T) {
	t.Parallel()
	res := enginetest.Run(t, `
local a = require "testasync"
local places = {"completion", "timer", "defer", "task", "tick end", "pool", "batch", "tick end batch"}
for _, where in ipairs(places) do
  local calls = 0
  a.panic_on_loop(where, function(err, v)
    calls = calls + 1
    assert(calls == 1, where .. ": callback ran twice")
    print(where .. ":", err, v)
  end)
end
`)
	res.MustFail(t) // the panics count as errors: drlee run exits 1
	res.Contains(t,
		"completion:\tEINTERNAL: drlee: internal error (reported in the log)\tnil",
		"timer:\tnil\tsurvived", "defer:\tnil\tsurvived", "task:\tnil\tsurvived",
		"tick end:\tnil\tsurvived", "pool:\tnil\tsurvived",
		"batch:\tnil\tsurvived", "tick end batch:\tnil\tsurvived")
	for _, where := range []string{"completion", "timer", "defer", "task", "tick end", "pool", "batch", "tick end batch"} {
		res.StderrContains(t, "loop exploded in "+where)
	}
	res.StderrContains(t, "goroutine ")
}

// TestResultTooLargeForACallback: a result the value format cannot carry reaches the
// callback as an error, instead of a buffer whose cut length C would misread.
func TestResultTooLargeForACallback(t *testing.T) {
	t.Parallel()
	res := enginetest.Run(t, `require("testasync").too_large(function(err, v) print(err, v) end)`)
	res.MustSucceed(t)
	res.Contains(t, "EMSGSIZE: packed: too large for a Lua value: a string of 2147483393 bytes (at most 2147483392)\tnil")
}

func TestPanicLoggedByOwnEngine(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "main.lua")
	os.WriteFile(script, []byte(`pcall(require("testasync").go_panic)`), 0o644)
	var errA, errB bytes.Buffer
	a, err := engine.New(engine.Config{Script: script, Workers: 1, Stderr: &errA, Stdout: &bytes.Buffer{}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := engine.New(engine.Config{Script: script, Workers: 1, Stderr: &errB}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errA.String(), "test panic") {
		t.Errorf("engine A's stderr lacks its panic:\nA: %q\nB: %q", errA.String(), errB.String())
	}
}

func TestLockThreads(t *testing.T) {
	t.Parallel()
	for _, lock := range []bool{false, true} {
		t.Run(fmt.Sprintf("lock=%v", lock), func(t *testing.T) {
			t.Parallel()
			res := enginetest.Run(t, `
local time = require "time"
local a = require "testasync"
local n = 0
local function chain(i)
  if i == 0 then
    print("chain done", env.worker_id)
    return
  end
  time.timeout(0, function() a.roundtrip(function(err) assert(err == nil); n = n + 1; chain(i - 1) end) end)
end
chain(2000)
local tk = time.tick(1)
local ticks = 0
local function tick()
  tk:next_tick(function(err, ts)
    assert(err == nil and ts.year >= 2024)
    ticks = ticks + 1
    if ticks < 5 then tick() else tk:stop(); print("ticks done", env.worker_id) end
  end)
end
tick()
parallel_callback({
  function(cb) time.timeout(5, function() cb(nil, "a") end) end,
  function(cb) a.roundtrip(function(err) cb(err, "b") end) end,
}, function(err, res) print("parallel", err, res[1], res[2]) end)
`, enginetest.Options{Workers: 2, LockThreads: lock})
			res.MustSucceed(t)
			for _, want := range []string{"chain done\t1", "chain done\t2", "ticks done\t1", "ticks done\t2"} {
				res.Contains(t, want)
			}
			if n := strings.Count(res.Stdout, "parallel\tnil\ta\tb"); n != 2 {
				t.Fatalf("parallel_callback results: %d, want 2\n%s", n, res.Stdout)
			}
		})
	}
}

// runEngine runs a script with an engine of its own (for options enginetest does not
// offer), cancelling ctx after cancelAfter.
func runEngine(t *testing.T, script string, cfg engine.Config, cancelAfter time.Duration) (stdout, stderr string, err error, e *engine.Engine) {
	t.Helper()
	dir := t.TempDir()
	cfg.Script = filepath.Join(dir, "main.lua")
	if err := os.WriteFile(cfg.Script, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb enginetest.SyncBuffer
	cfg.Stdout, cfg.Stderr = &out, &errb
	if cfg.Workers == 0 {
		cfg.Workers = 1
	}
	e, err = engine.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if cancelAfter > 0 {
		time.AfterFunc(cancelAfter, cancel)
	}
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("Run did not return\nstdout:\n%s\nstderr:\n%s", out.String(), errb.String())
	}
	return out.String(), errb.String(), err, e
}

const tickerForever = `
local time = require "time"
local tk = time.tick(10)
local function loop()
  tk:next_tick(function(err)
    if err then print("ticker:", err) return end
    loop()
  end)
end
loop()
print("started")
`

// TestShutdownTickerForever: a ticker that never stops, then the context is cancelled.
// Today nothing stops the ticker at shutdown: the worker stays alive until the shutdown
// timeout ends it. Run must return by then, without an error.
func TestShutdownTickerForever(t *testing.T) {
	t.Parallel()
	const timeout = time.Second
	start := time.Now()
	stdout, stderr, err, e := runEngine(t, tickerForever, engine.Config{ShutdownTimeout: timeout}, 100*time.Millisecond)
	el := time.Since(start)
	if err != nil {
		t.Fatalf("Run = %v", err)
	}
	if !strings.Contains(stdout, "started") {
		t.Fatalf("stdout: %s", stdout)
	}
	if el > 100*time.Millisecond+timeout+2*time.Second {
		t.Fatalf("Run returned %v after start, shutdown timeout %v", el, timeout)
	}
	t.Logf("Run returned after %v (shutdown timeout %v); failed=%v\nstderr:\n%s", el, timeout, e.Failed(), stderr)
	if e.Failed() {
		t.Errorf("a forced shutdown counts as a script failure:\n%s", stderr)
	}
}

// TestShutdownHookStopsTicker: the script stops its ticker from a shutdown hook (as a
// server stops accepting): the worker then ends at once, and the callback still waiting
// on the ticker gets "ECLOSED: ticker stopped".
func TestShutdownHookStopsTicker(t *testing.T) {
	t.Parallel()
	const timeout = 10 * time.Second
	start := time.Now()
	stdout, stderr, err, e := runEngine(t, tickerForever+`
require("testasync").on_shutdown(function() print("shutting down") tk:stop() end)
`, engine.Config{ShutdownTimeout: timeout}, 100*time.Millisecond)
	el := time.Since(start)
	if err != nil || e.Failed() {
		t.Fatalf("Run = %v, failed = %v\nstderr:\n%s", err, e.Failed(), stderr)
	}
	if el > 5*time.Second {
		t.Fatalf("Run returned after %v: the shutdown hook did not end the worker", el)
	}
	for _, want := range []string{"started", "shutting down", "ticker:\tECLOSED: ticker stopped"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s\nstderr:\n%s", want, stdout, stderr)
		}
	}
}

// TestShutdownWaitsForInFlight: work in flight at shutdown finishes (within the timeout).
func TestShutdownWaitsForInFlight(t *testing.T) {
	t.Parallel()
	stdout, stderr, err, _ := runEngine(t, `
local time = require "time"
time.timeout(300, function() print("in-flight timer done") end)
print("started")
`, engine.Config{ShutdownTimeout: 10 * time.Second}, 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout, "in-flight timer done") {
		t.Fatalf("in-flight work dropped at shutdown:\n%s\n%s", stdout, stderr)
	}
}

// TestNoGoroutineLeft: after Run returns, nothing the engine started is still running.
// Not parallel: goleak sees every goroutine of the process.
func TestNoGoroutineLeft(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	res := enginetest.Run(t, `
local time = require "time"
local a = require "testasync"
for i = 1, 100 do a.roundtrip(function() end) end
a.fail("x", function() end)
time.timeout(10, function() end)
local tk = time.tick(1)
tk:next_tick(function() tk:stop() end)
`, enginetest.Options{Workers: 2})
	res.MustSucceed(t)
	// A forced shutdown (ticker forever, short timeout) leaves nothing either.
	runEngine(t, tickerForever,
		engine.Config{Workers: 2, ShutdownTimeout: 200 * time.Millisecond}, 50*time.Millisecond)
}

func TestEnvAndArg(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	res := enginetest.Run(t, `
assert(type(env) == "table")
assert(env.workers == 3, env.workers)
assert(env.worker_id >= 1 and env.worker_id <= 3)
assert(type(env.node) == "string" and env.node ~= "")
assert(type(env.worker_dir) == "string" and env.worker_dir ~= "")
assert(#env.args == 2 and env.args[1] == "one" and env.args[2] == "two words")
assert(#arg == 2 and arg[1] == "one" and arg[2] == "two words")
assert(arg[0]:match("main%.lua$"), arg[0])
assert(type(arg[-1]) == "string")
assert(__dirname__ .. "/main.lua" == arg[0], __dirname__)
assert(require("env") == env)
print("worker", env.worker_id)
`, enginetest.Options{Workers: 3, Args: []string{"one", "two words"}, Dir: dir})
	res.MustSucceed(t)
	res.Contains(t, "worker\t1", "worker\t2", "worker\t3")
}

// TestPrintLinesWhole: two workers printing 10k lines each never interleave within a line.
func TestPrintLinesWhole(t *testing.T) {
	t.Parallel()
	res := enginetest.Run(t, `
local pad = string.rep("x", 200)
for i = 1, 10000 do
  if i % 2 == 0 then
    print(string.format("w%d %05d %s", env.worker_id, i, pad))
  else
    print("w" .. env.worker_id, string.format("%05d", i), pad, "end")
  end
end
`, enginetest.Options{Workers: 2})
	res.MustSucceed(t)
	pad := strings.Repeat("x", 200)
	line := regexp.MustCompile(`^w([12])[ \t]([0-9]{5})[ \t]` + pad + `(\tend)?$`)
	next := map[string]int{"1": 1, "2": 1}
	lines := strings.Split(strings.TrimSuffix(res.Stdout, "\n"), "\n")
	if len(lines) != 20000 {
		t.Fatalf("%d lines, want 20000", len(lines))
	}
	for i, l := range lines {
		m := line.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("line %d is not whole: %q", i, l)
		}
		n, _ := strconv.Atoi(m[2])
		if n != next[m[1]] {
			t.Fatalf("worker %s: line %d after %d", m[1], n, next[m[1]]-1)
		}
		next[m[1]]++
	}
}

// TestLogForging: what a script logs can never look like a line of the runtime's own: its
// newlines start indented continuation lines, and CR and other control characters (ANSI
// escapes) are escaped.
func TestLogForging(t *testing.T) {
	t.Parallel()
	res := enginetest.Run(t, `
log.warn("x\nERROR [worker 9] forged")
log.info("over\rwritten \27[31mred\27[0m\ttab")
error("uncaught\n2026-01-01T00:00:00.000Z ERROR [worker 9] forged too")
`)
	res.MustFail(t)
	for _, l := range strings.Split(strings.TrimSpace(res.Stderr), "\n") {
		if strings.Contains(l, "forged") && !strings.HasPrefix(l, continuation) {
			t.Errorf("a forged line reads as a log line of its own: %q\n%s", l, res.Stderr)
		}
	}
	res.StderrContains(t, "WARN  [worker 1] x\n"+continuation+"ERROR [worker 9] forged\n",
		"INFO  [worker 1] over\\rwritten \\x1b[31mred\\x1b[0m\ttab\n")
}

func TestLogLines(t *testing.T) {
	t.Parallel()
	res := enginetest.Run(t, `
log.info("hello", 1, true, nil)
log.warn("careful")
log.error("bad", {} ~= nil)
log.debug("hidden at the default level")
require("log").info("via require")
`, enginetest.Options{Workers: 2})
	res.MustSucceed(t)
	for _, w := range []string{"1", "2"} {
		for _, want := range []string{
			"INFO  [worker " + w + "] hello 1 true nil",
			"WARN  [worker " + w + "] careful",
			"ERROR [worker " + w + "] bad true",
			"INFO  [worker " + w + "] via require",
		} {
			res.StderrContains(t, want)
		}
	}
	if strings.Contains(res.Stderr, "hidden") {
		t.Errorf("debug line at the info level:\n%s", res.Stderr)
	}
	for _, l := range strings.Split(strings.TrimSpace(res.Stderr), "\n") {
		if strings.HasPrefix(l, "    ") {
			continue // the continuation of a message with newlines (TestLogForging)
		}
		if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\S* (INFO |WARN |ERROR) \[worker [12]\] `).MatchString(l) {
			t.Errorf("log line %q", l)
		}
	}
}
