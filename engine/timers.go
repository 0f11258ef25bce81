package engine

import (
	"time"
)

// Timer is a one-shot or periodic timer on a worker's loop. Timers live in one heap per
// worker, serviced by the loop: no goroutine per timer.
//
// A binding that keeps state per timer embeds a Timer in its own struct and starts it with
// StartTimer, the struct being the Firer: one allocation per timer, where After's closure
// and Timer are two more. The zero Timer is stopped.
type Timer struct {
	w      *Worker
	when   int64 // monotonic nanoseconds since the worker started
	period int64 // 0 for one-shot
	fire   Firer
	pos    int    // 1 + the index in the heap; 0 when not scheduled
	scope  *Scope // a one-shot timer's scope: it waits for the timer, which fires in it
}

// Firer is what a timer runs on the loop when it fires.
type Firer interface{ Fire(w *Worker) }

// FireFunc is a function as a Firer.
type FireFunc func(w *Worker)

// Fire calls f.
func (f FireFunc) Fire(w *Worker) { f(w) }

// TimerDone is a Firer that learns when the engine has let go of its one-shot timer: Fire
// returned (without a panic), the timer's scope was released, and Fire did not start the
// timer again. From then the timer, and the record that embeds it, may be reused: how the
// time module keeps spare timers instead of allocating one per time.timeout.
type TimerDone interface {
	Firer
	TimerDone(w *Worker)
}

// timerHeap is a binary min-heap of timers by when; a timer's pos is its index + 1 (0: not
// in the heap). Written out rather than through container/heap, whose Less and Swap are
// interface calls: ~120 instructions a timed request in its sift-down alone (callgrind, the
// timer scenario at 64 connections). The same algorithm: timers due at the same time fire
// in no particular order, as before.
type timerHeap []*Timer

func (h *timerHeap) push(t *Timer) {
	*h = append(*h, t)
	h.up(len(*h) - 1)
}

// remove takes the timer at index i out of the heap and returns it.
func (h *timerHeap) remove(i int) *Timer {
	old := *h
	last := len(old) - 1
	t := old[i]
	if i != last {
		old[i] = old[last]
	}
	old[last] = nil
	*h = old[:last]
	if i != last {
		h.fix(i)
	}
	t.pos = 0
	return t
}

// fix restores the heap after the timer at index i changed its when.
func (h timerHeap) fix(i int) {
	if !h.down(i) {
		h.up(i)
	}
}

func (h timerHeap) up(i int) {
	t := h[i]
	for i > 0 {
		p := (i - 1) / 2
		if h[p].when <= t.when {
			break
		}
		h[i] = h[p]
		h[i].pos = i + 1
		i = p
	}
	h[i] = t
	t.pos = i + 1
}

// down moves the timer at index i0 down to its place; it reports whether it moved.
func (h timerHeap) down(i0 int) bool {
	t, i, n := h[i0], i0, len(h)
	for {
		c := 2*i + 1
		if c >= n {
			break
		}
		if r := c + 1; r < n && h[r].when < h[c].when {
			c = r
		}
		if t.when <= h[c].when {
			break
		}
		h[i] = h[c]
		h[i].pos = i + 1
		i = c
	}
	h[i] = t
	t.pos = i + 1
	return i > i0
}

// After runs fn on the loop after d. The timer keeps the worker alive until it fires or is
// stopped. Loop only.
func (w *Worker) After(d time.Duration, fn func(w *Worker)) *Timer {
	t := new(Timer)
	w.StartTimer(t, d, FireFunc(fn))
	return t
}

// StartTimer schedules t to run f.Fire on the loop once, after d: After for a Timer the
// caller holds (embedded in f, typically). t must not be scheduled; one that fired or was
// stopped may start again. It keeps the worker alive until it fires or is stopped, and
// fires in the scope of the code that started it. Loop only.
func (w *Worker) StartTimer(t *Timer, d time.Duration, f Firer) {
	if t.pos != 0 {
		panic("engine: StartTimer of a timer already scheduled")
	}
	*t = Timer{w: w, when: w.now() + int64(d), fire: f, scope: w.scope.child()}
	t.scope.hold()
	w.timers.push(t)
}

// Every runs fn on the loop every d until stopped. It keeps the worker alive until then.
func (w *Worker) Every(d time.Duration, fn func(w *Worker)) *Timer {
	if d <= 0 {
		d = time.Millisecond
	}
	t := &Timer{w: w, when: w.now() + int64(d), period: int64(d), fire: FireFunc(fn)}
	w.timers.push(t)
	return t
}

// Stop cancels the timer; it reports whether the timer was still scheduled. Loop only.
func (t *Timer) Stop() bool {
	if t.pos == 0 {
		return false
	}
	t.w.timers.remove(t.pos - 1)
	if t.period == 0 {
		t.scope.release(t.w)
	}
	return true
}

// runTimers fires every due timer and returns the delay until the next one (-1: none).
// A timer's function that panics is reported and the others still fire (recover.go).
func (w *Worker) runTimers() time.Duration {
	for {
		if d, ok := w.runTimersFrom(); ok {
			return d
		}
	}
}

// runTimersFrom fires due timers under one deferred recover; false after a panic, which
// it reported (and whose tick end it finished).
func (w *Worker) runTimersFrom() (next time.Duration, ok bool) {
	defer func() {
		if p := recover(); p != nil {
			w.internalError("a timer", p)
			w.finishTick()
			ok = false
		}
	}()
	for len(w.timers) > 0 {
		now := w.now()
		t := w.timers[0]
		if t.when > now {
			return time.Duration(t.when - now), true
		}
		if t.period > 0 {
			t.when += t.period
			if t.when <= now { // the loop fell behind: skip missed ticks, as time.Ticker does
				t.when = now + t.period
			}
			w.timers.fix(0)
		} else {
			w.timers.remove(0)
		}
		w.fireTimer(t)
		if d, ok := t.fire.(TimerDone); ok && t.period == 0 && t.pos == 0 {
			d.TimerDone(w)
		}
		w.endTick()
	}
	return -1, true
}

// fireTimer runs t's function in t's scope; a one-shot timer then lets its scope go.
// The scope is read before the call: a function that starts its own timer again gives it
// a new scope, which is the new run's to release.
func (w *Worker) fireTimer(t *Timer) {
	prev, sc, oneShot := w.scope, t.scope, t.period == 0
	w.scope = sc
	defer func() { // also when fn panics: the scope must not wait for it for ever
		w.scope = prev
		if oneShot {
			sc.release(w)
		}
	}()
	t.fire.Fire(w)
}

func (w *Worker) now() int64 { return int64(time.Since(w.epoch)) }
