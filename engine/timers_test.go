package engine

import (
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
