package engine

import "time"

// A loop that waits for its next timer is poked by an alarm (armWake). Go's runtime timers
// are the portable alarm, but an idle Go scheduler sleeps in the network poller with a
// timeout in whole milliseconds, a delay under one rounded up to one: a 1 ms timer set
// while other timers are pending fired 100-400 µs late under load (the 1 ms timer scenario
// at 64 connections, measured by hand), and each late timer holds its request. On Linux a
// timerfd in the network poller fires within microseconds (wake_linux.go); elsewhere, or
// when one cannot be made, the runtime timer is the alarm.
type alarm interface {
	set(d time.Duration) // fire once, d from now, replacing any time set before
	stop()               // no more firing; the alarm is not used again
}

// runtimeAlarm is the portable alarm: a runtime timer that pokes the loop.
type runtimeAlarm struct{ t *time.Timer }

func newRuntimeAlarm(w *Worker) *runtimeAlarm {
	t := time.AfterFunc(time.Hour, w.poke)
	t.Stop()
	return &runtimeAlarm{t}
}

func (a *runtimeAlarm) set(d time.Duration) { a.t.Reset(d) }
func (a *runtimeAlarm) stop()               { a.t.Stop() }
