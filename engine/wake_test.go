package engine

import (
	"sort"
	"testing"
	"time"
)

// alarmWorker is the part of a worker an alarm uses: the engine that owns its goroutine
// and the queue whose notify channel it pokes.
func alarmWorker() *Worker {
	return &Worker{engine: &Engine{}, q: newQueue(16), epoch: time.Now()}
}

// TestAlarmFiresOnceAtItsTime: set fires once, not before its time; a later set replaces
// an earlier one; stop ends the alarm's goroutine (the engine's wait finds none running).
func TestAlarmFiresOnceAtItsTime(t *testing.T) {
	for name, mk := range map[string]func(*Worker) alarm{
		"default": newAlarm,
		"runtime": func(w *Worker) alarm { return newRuntimeAlarm(w) },
	} {
		t.Run(name, func(t *testing.T) {
			w := alarmWorker()
			a := mk(w)
			start := time.Now()
			a.set(20 * time.Millisecond)
			select {
			case <-w.q.notify:
			case <-time.After(5 * time.Second):
				t.Fatal("the alarm never fired")
			}
			if el := time.Since(start); el < 20*time.Millisecond {
				t.Fatalf("fired after %v, before its 20ms", el)
			}
			select {
			case <-w.q.notify:
				t.Fatal("a one-shot alarm fired twice")
			case <-time.After(50 * time.Millisecond):
			}
			a.set(time.Hour)
			a.set(time.Millisecond) // replaces the hour
			select {
			case <-w.q.notify:
			case <-time.After(5 * time.Second):
				t.Fatal("a set that replaced a later one never fired")
			}
			for _, d := range []time.Duration{0, -time.Second} { // at once, not never
				a.set(d)
				select {
				case <-w.q.notify:
				case <-time.After(5 * time.Second):
					t.Fatalf("set(%v) never fired", d)
				}
			}
			a.set(100 * 365 * 24 * time.Hour) // the longest a timer waits (time.MaxDelay)
			a.set(time.Millisecond)
			select {
			case <-w.q.notify:
			case <-time.After(5 * time.Second):
				t.Fatal("a set that replaced the longest never fired")
			}
			a.stop()
			if stuck := w.engine.owned.wait(time.Now().Add(5 * time.Second)); len(stuck) > 0 {
				t.Fatalf("goroutines left after stop: %v", stuck)
			}
		})
	}
}

// TestAlarmAfterEngineClosed: an engine that refuses goroutines still gets an alarm that
// fires (the runtime's).
func TestAlarmAfterEngineClosed(t *testing.T) {
	w := alarmWorker()
	w.engine.owned.wait(time.Now()) // refuses from now on
	a := newAlarm(w)
	defer a.stop()
	a.set(time.Millisecond)
	select {
	case <-w.q.notify:
	case <-time.After(5 * time.Second):
		t.Fatal("the alarm never fired")
	}
}

// benchAlarmLateness sets a 200 µs alarm and waits for it, b.N times, with nothing else to
// run (an idle loop whose next timer is near), and reports how late the alarm fired: the
// median and the 99th percentile, in µs. ns/op is the whole wait.
func benchAlarmLateness(b *testing.B, mk func(*Worker) alarm) {
	b.ReportAllocs()
	w := alarmWorker()
	a := mk(w)
	defer a.stop()
	late := make([]time.Duration, 0, b.N)
	const d = 200 * time.Microsecond
	for b.Loop() {
		start := time.Now()
		a.set(d)
		<-w.q.notify
		late = append(late, time.Since(start)-d)
	}
	sort.Slice(late, func(i, j int) bool { return late[i] < late[j] })
	b.ReportMetric(float64(late[len(late)/2].Microseconds()), "p50-late-µs")
	b.ReportMetric(float64(late[len(late)*99/100].Microseconds()), "p99-late-µs")
}

// BenchmarkAlarmLateness: the loop's alarm (a timerfd on Linux).
func BenchmarkAlarmLateness(b *testing.B) { benchAlarmLateness(b, newAlarm) }

// BenchmarkRuntimeAlarmLateness: its baseline twin, the runtime timer it replaced.
func BenchmarkRuntimeAlarmLateness(b *testing.B) {
	benchAlarmLateness(b, func(w *Worker) alarm { return newRuntimeAlarm(w) })
}
