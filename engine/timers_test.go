package engine

import (
	"container/heap"
	"math/rand/v2"
	"testing"
	"time"
)

// These tests drive the timer heap directly (no Lua state): runTimers is what the loop
// calls every turn.

func TestTimersFireInOrder(t *testing.T) {
	t.Parallel()
	w := &Worker{epoch: time.Now()}
	var got []int
	for _, d := range []int{30, 10, 20, 0, 10} {
		w.After(time.Duration(d)*time.Millisecond, func(*Worker) { got = append(got, d) })
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(w.timers) > 0 && time.Now().Before(deadline) {
		if next := w.runTimers(); next > 0 {
			time.Sleep(next)
		}
	}
	want := []int{0, 10, 10, 20, 30}
	if len(got) != len(want) {
		t.Fatalf("fired %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("fired %v, want %v", got, want)
		}
	}
	if next := w.runTimers(); next != -1 {
		t.Fatalf("runTimers with no timers = %v, want -1", next)
	}
}

func TestTimerStop(t *testing.T) {
	t.Parallel()
	w := &Worker{epoch: time.Now()}
	fired := 0
	a := w.After(time.Hour, func(*Worker) { fired++ })
	b := w.After(0, func(*Worker) { fired++ })
	if !a.Stop() {
		t.Fatal("Stop of a scheduled timer = false")
	}
	if a.Stop() {
		t.Fatal("second Stop = true")
	}
	w.runTimers()
	if fired != 1 {
		t.Fatalf("fired %d, want 1", fired)
	}
	if b.Stop() {
		t.Fatal("Stop of a fired timer = true")
	}
	if len(w.timers) != 0 {
		t.Fatalf("%d timers left", len(w.timers))
	}
	// A timer that stops another one scheduled in the same turn.
	var c *Timer
	w.After(0, func(*Worker) { c.Stop() })
	c = w.After(0, func(*Worker) { t.Error("stopped timer fired") })
	w.runTimers()
}

func TestEvery(t *testing.T) {
	t.Parallel()
	w := &Worker{epoch: time.Now()}
	n := 0
	var tk *Timer
	tk = w.Every(time.Millisecond, func(*Worker) {
		n++
		if n == 5 {
			tk.Stop()
		}
	})
	deadline := time.Now().Add(5 * time.Second)
	for len(w.timers) > 0 && time.Now().Before(deadline) {
		if next := w.runTimers(); next > 0 {
			time.Sleep(next)
		}
	}
	if n != 5 {
		t.Fatalf("ticked %d times, want 5", n)
	}
	// A loop that fell behind skips missed ticks instead of firing a burst.
	n = 0
	w.Every(time.Millisecond, func(*Worker) { n++ })
	time.Sleep(20 * time.Millisecond)
	w.runTimers()
	if n != 1 {
		t.Fatalf("after 20 missed ticks: fired %d times in one turn, want 1", n)
	}
	// A zero period is a millisecond, not a busy loop.
	z := w.Every(0, func(*Worker) {})
	if z.period != int64(time.Millisecond) {
		t.Fatalf("Every(0) period = %v", time.Duration(z.period))
	}
}

// firing is a Firer with its Timer embedded, as bindings use StartTimer.
type firing struct {
	Timer
	n int
}

func (f *firing) Fire(*Worker) { f.n++ }

func TestStartTimerEmbedded(t *testing.T) {
	t.Parallel()
	w := &Worker{epoch: time.Now()}
	var zero firing
	if zero.Stop() {
		t.Fatal("Stop of a zero Timer = true")
	}
	f := &firing{}
	w.StartTimer(&f.Timer, 0, f)
	func() {
		defer func() {
			if recover() == nil {
				t.Error("StartTimer of a scheduled timer did not panic")
			}
		}()
		w.StartTimer(&f.Timer, 0, f)
	}()
	w.runTimers()
	if f.n != 1 {
		t.Fatalf("fired %d times, want 1", f.n)
	}
	// A timer that fired starts again; one stopped does not fire.
	w.StartTimer(&f.Timer, 0, f)
	w.runTimers()
	w.StartTimer(&f.Timer, time.Hour, f)
	if !f.Stop() || f.Stop() {
		t.Fatal("Stop of the restarted timer: want true, then false")
	}
	w.runTimers()
	if f.n != 2 || len(w.timers) != 0 {
		t.Fatalf("fired %d times with %d timers left, want 2 and 0", f.n, len(w.timers))
	}
}

// TestTimerHeapRandom: random pushes, removals from anywhere and changes of the earliest
// timer's time keep the heap a heap, every timer's pos its index + 1, and pops come in
// order of when.
func TestTimerHeapRandom(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	var h timerHeap
	check := func(step int) {
		for i, x := range h {
			if x.pos != i+1 {
				t.Fatalf("step %d: timer at %d has pos %d", step, i, x.pos)
			}
			if i > 0 && h[(i-1)/2].when > x.when {
				t.Fatalf("step %d: timer at %d is due before its parent", step, i)
			}
		}
	}
	for step := 0; step < 20000; step++ {
		switch op := r.IntN(10); {
		case op < 5 || len(h) == 0:
			h.push(&Timer{when: r.Int64N(1000)}) // many equal whens
		case op < 8:
			i := r.IntN(len(h))
			if x := h.remove(i); x.pos != 0 {
				t.Fatalf("step %d: a removed timer keeps pos %d", step, x.pos)
			}
		default:
			h[0].when += r.Int64N(500)
			h.fix(0)
		}
		check(step)
	}
	for last := int64(-1); len(h) > 0; {
		x := h.remove(0)
		if x.when < last {
			t.Fatalf("popped %d after %d", x.when, last)
		}
		last = x.when
		check(-1)
	}
}

// doneFiring is a Firer that is told when the engine let go of its timer (TimerDone).
type doneFiring struct {
	Timer
	fired, done int
	restart     bool // Fire starts the timer again, once
}

func (f *doneFiring) Fire(w *Worker) {
	f.fired++
	if f.restart {
		f.restart = false
		if f.done != 0 {
			panic("TimerDone before Fire returned")
		}
		w.StartTimer(&f.Timer, 0, f)
	}
}

func (f *doneFiring) TimerDone(*Worker) { f.done++ }

// TestTimerDone: TimerDone comes once per firing, after Fire; not for a stopped timer
// (the caller knows when it stopped it), and not while Fire started the timer again: then
// after that run.
func TestTimerDone(t *testing.T) {
	t.Parallel()
	w := &Worker{epoch: time.Now()}
	f := &doneFiring{}
	w.StartTimer(&f.Timer, 0, f)
	w.runTimers()
	if f.fired != 1 || f.done != 1 {
		t.Fatalf("fired %d, done %d; want 1 and 1", f.fired, f.done)
	}
	w.StartTimer(&f.Timer, 0, f) // reused, as the time module's spare timers are
	w.runTimers()
	if f.fired != 2 || f.done != 2 {
		t.Fatalf("after reuse: fired %d, done %d; want 2 and 2", f.fired, f.done)
	}
	s := &doneFiring{}
	w.StartTimer(&s.Timer, time.Hour, s)
	s.Stop()
	w.runTimers()
	if s.fired != 0 || s.done != 0 {
		t.Fatalf("stopped: fired %d, done %d; want 0 and 0", s.fired, s.done)
	}
	r := &doneFiring{restart: true}
	w.StartTimer(&r.Timer, 0, r)
	w.runTimers() // fires twice: the restart is due at once
	if r.fired != 2 || r.done != 1 || len(w.timers) != 0 {
		t.Fatalf("restarted: fired %d, done %d, %d timers left; want 2, 1, 0", r.fired, r.done, len(w.timers))
	}
}

// rescoping restarts its timer from its Fire, once, in scope next.
type rescoping struct {
	Timer
	next  *Scope
	fired int
}

func (f *rescoping) Fire(w *Worker) {
	if f.fired++; f.fired == 1 {
		w.scope = f.next
		w.StartTimer(&f.Timer, 0, f)
	}
}

// TestTimerRestartedInOtherScope: a one-shot timer holds the scope it was started in until
// it fires; one that Fire starts again in another scope holds that one, and the first is
// let go: each scope's count is its own.
func TestTimerRestartedInOtherScope(t *testing.T) {
	t.Parallel()
	first, next := &Scope{pending: 1}, &Scope{pending: 1} // 1: the code running in each
	w := &Worker{epoch: time.Now(), scope: first}
	f := &rescoping{next: next}
	w.StartTimer(&f.Timer, 0, f)
	w.scope = nil
	if first.pending != 2 {
		t.Fatalf("a started timer holds its scope: pending %d, want 2", first.pending)
	}
	w.runTimers() // fires twice: the restart is due at once
	if f.fired != 2 || first.pending != 1 || next.pending != 1 || len(w.timers) != 0 {
		t.Fatalf("fired %d, scopes' pending %d and %d, %d timers left; want 2, 1, 1, 0",
			f.fired, first.pending, next.pending, len(w.timers))
	}
}

// BenchmarkStartTimer: a one-shot timer embedded in the caller's struct, started and
// fired; its twin BenchmarkAfter is the same with a closure (two allocations more).
func BenchmarkStartTimer(b *testing.B) {
	w := &Worker{epoch: time.Now()}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		f := &firing{}
		w.StartTimer(&f.Timer, 0, f)
		w.runTimers()
	}
}

// BenchmarkAfter: the baseline of BenchmarkStartTimer.
func BenchmarkAfter(b *testing.B) {
	w := &Worker{epoch: time.Now()}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		n := 0
		w.After(0, func(*Worker) { n++ })
		w.runTimers()
	}
}

// BenchmarkTimerHeap64: a push and a pop of the earliest with 64 timers waiting, as on the
// timer scenario at 64 connections; its twin BenchmarkContainerHeap64 is the same on
// container/heap, which the worker's heap used before.
func BenchmarkTimerHeap64(b *testing.B) {
	var h timerHeap
	ts := make([]Timer, 64)
	for i := 0; i < 64; i++ {
		ts[i].when = int64(i * 7919 % 1000)
		h.push(&ts[i])
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t := h.remove(0)
		t.when += 1000
		h.push(t)
	}
}

// containerHeap is the worker's heap as container/heap drives it: the baseline.
type containerHeap []*Timer

func (h containerHeap) Len() int           { return len(h) }
func (h containerHeap) Less(i, j int) bool { return h[i].when < h[j].when }
func (h containerHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i]; h[i].pos = i + 1; h[j].pos = j + 1 }
func (h *containerHeap) Push(x any)        { t := x.(*Timer); t.pos = len(*h) + 1; *h = append(*h, t) }
func (h *containerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	*h = old[:len(old)-1]
	t.pos = 0
	return t
}

// BenchmarkContainerHeap64: the baseline of BenchmarkTimerHeap64.
func BenchmarkContainerHeap64(b *testing.B) {
	var h containerHeap
	ts := make([]Timer, 64)
	for i := range ts {
		ts[i].when = int64(i * 7919 % 1000)
		heap.Push(&h, &ts[i])
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t := heap.Pop(&h).(*Timer)
		t.when += 1000
		heap.Push(&h, t)
	}
}
