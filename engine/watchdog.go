package engine

import (
	"fmt"
	"time"
)

// A Lua callback that never returns holds its worker: nothing else runs there, no other
// request, no timer. With Config.CallbackTimeout the watchdog interrupts a callback that
// has run longer than that: an error is raised inside it (lua.Guard), reported with its
// traceback like any error in a callback, and the worker goes on. At the shutdown timeout
// the engine interrupts whatever still runs, so that SIGTERM ends a stuck process.
//
// What cannot be interrupted (docs/ARCHITECTURE.md, "The watchdog"): a loop the JIT
// compiled whole, which never looks at hooks. The watchdog then says so, once, so that the
// operator knows why the worker stopped answering.

// watchState is what the watchdog last saw of one worker.
type watchState struct {
	seq         uint64    // the top-level call running when first seen
	since       time.Time // when it was first seen running
	interrupted bool
	reported    bool // "cannot be interrupted" was logged
}

// watchdogTick is how often the watchdog looks: an eighth of the timeout, between 10 ms
// and 1 s.
func watchdogTick(timeout time.Duration) time.Duration {
	return min(max(timeout/8, 10*time.Millisecond), time.Second)
}

// watchdog is a goroutine the engine owns (Go); it runs until stop is closed, once the
// workers ended. It only reads the workers' guards, two atomic loads each per tick.
func (e *Engine) watchdog(stop <-chan struct{}) {
	limit := e.cfg.CallbackTimeout
	t := time.NewTicker(watchdogTick(limit))
	defer t.Stop()
	seen := make([]watchState, len(e.workers))
	msg := fmt.Sprintf("callback interrupted: it ran longer than the callback timeout (%s)", limit)
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			for i, w := range e.workers {
				e.watch(w, &seen[i], now, limit, msg)
			}
		}
	}
}

func (e *Engine) watch(w *Worker, s *watchState, now time.Time, limit time.Duration, msg string) {
	g := w.guard.Load()
	if g == nil {
		return
	}
	seq, running := g.Sample()
	if !running || seq != s.seq {
		*s = watchState{seq: seq, since: now}
		return
	}
	ran := now.Sub(s.since)
	switch {
	case !s.interrupted && ran >= limit:
		s.interrupted = true
		if g.Interrupt(seq, msg) {
			w.counters.interrupted.Add(1)
			w.Logf("WARN", "interrupting a callback that has run for %s (callback timeout %s)", ran.Round(time.Millisecond), limit)
		}
	case s.interrupted && !s.reported && ran >= 2*limit:
		s.reported = true
		w.Logf("ERROR", "a callback has run for %s and cannot be interrupted (a loop compiled by the JIT does not check): this worker serves nothing until it returns", ran.Round(time.Millisecond))
	}
}

// interruptAll interrupts every callback running now (at the shutdown timeout).
func (e *Engine) interruptAll(why string) {
	for _, w := range e.workers {
		if g := w.guard.Load(); g != nil {
			if seq, running := g.Sample(); running && g.Interrupt(seq, "callback interrupted: "+why) {
				w.counters.interrupted.Add(1)
				w.Logf("WARN", "interrupting a callback still running at the %s", why)
			}
		}
	}
}
