package engine

import (
	"context"
	"fmt"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"time"
)

// Every goroutine the engine starts, for itself (each worker's loop, the watchdog) or for a
// binding (an HTTP listener's accept loop and sweeper, a response body's reader), is started
// by Go: counted, labelled with its owner's name, refused once Run has finished closing, and
// waited for by Run, so that no goroutine of an engine outlives it unnoticed and a goroutine
// dump says whose each one is. Model: nats-server's startGoRoutine (server.go).
//
// Goroutines that libraries start for themselves (fasthttp's connection goroutines, nats.go's
// and nats-server's, ants' pool workers) are theirs: the bindings end them through the
// libraries' own calls in their OnClose functions and goroutines (fasthttp's
// Server.ShutdownWithContext, nats.go's Conn.Drain and Close, nats-server's
// Server.Shutdown), and Run ends the I/O pool's (ants' ReleaseTimeout).

// GoroutineGrace is how long Run waits, after the OnClose functions ran, for the goroutines
// it owns (and the I/O pool's) to end. A binding whose OnClose function gives its goroutines
// time to finish (the last responses of a server) keeps well within it.
const GoroutineGrace = 2 * time.Second

// owned counts the engine's goroutines. Not a sync.WaitGroup: Run's wait is bounded, and a
// WaitGroup can only be waited for with a bound by one more goroutine, which would itself
// outlive Run whenever a goroutine is stuck; and Run names the ones that did not end.
type owned struct {
	mu      sync.Mutex     // protects following fields
	refused bool           // Run has finished closing: Go starts nothing more
	n       int            // goroutines running
	names   map[string]int // goroutines running, by name
	idle    chan struct{}  // set by wait: closed when n drops to 0
}

// Go runs fn on a new goroutine that the engine owns and reports true; once Run has finished
// closing (every worker ended and every OnClose function ran) it refuses: it reports false
// and fn never runs, and the caller does without (or releases what fn would have served).
// Safe from any goroutine: a worker's loop, an OnClose function, a goroutine Go started.
//
// Run waits for the goroutines it owns after the OnClose functions ran, for a grace period
// (GoroutineGrace); one still running then is logged by name and left behind, and Run
// returns anyway. So fn must end when the engine shuts down, by itself: it watches Stopping
// (closed when shutdown starts: a signal, Shutdown, Abort; never when the script simply
// ends) or what an OnClose function closes (a listener, a connection, a channel of its
// own), whichever applies to it. A goroutine that must outlive the workers (one that
// answers their last requests) ends with an OnClose function.
//
// name says whose the goroutine is, as "module: what" ("http: serve 127.0.0.1:8080"). It
// is the goroutine's pprof label drlee=name, which goroutine profiles show (`go tool pprof
// -tags`, or debug=1) and which the goroutines fn starts inherit, and the name Run logs.
// Each call takes a lock and makes a label set: not for per-request work.
func (e *Engine) Go(name string, fn func()) bool { return e.owned.start(name, fn) }

// start is Go, for an engine's goroutines or a process's (Process.Go).
func (g *owned) start(name string, fn func()) bool {
	g.mu.Lock()
	if g.refused {
		g.mu.Unlock()
		return false
	}
	g.n++
	if g.names == nil {
		g.names = map[string]int{}
	}
	g.names[name]++
	g.mu.Unlock()
	go func() {
		defer g.done(name)
		pprof.Do(context.Background(), pprof.Labels("drlee", name), func(context.Context) { fn() })
	}()
	return true
}

func (g *owned) done(name string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.n--
	if g.names[name]--; g.names[name] == 0 {
		delete(g.names, name)
	}
	if g.n == 0 && g.idle != nil {
		close(g.idle)
		g.idle = nil
	}
}

// wait refuses new goroutines and waits until those running have ended or deadline has
// passed. It reports the ones still running then ("name" or "name (count)"), sorted.
func (g *owned) wait(deadline time.Time) []string {
	g.mu.Lock()
	g.refused = true
	if g.n == 0 {
		g.mu.Unlock()
		return nil
	}
	idle := make(chan struct{})
	g.idle = idle
	g.mu.Unlock()
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-idle:
		return nil
	case <-t.C:
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	var stuck []string
	for name, n := range g.names {
		if n > 1 {
			name = fmt.Sprintf("%s (%d)", name, n)
		}
		stuck = append(stuck, name)
	}
	sort.Strings(stuck)
	return stuck
}

// endGoroutines is the last step of Run: it waits, within the grace period, for the
// goroutines the engine owns, then for the I/O pool's, and logs what did not end.
func (e *Engine) endGoroutines() {
	deadline := time.Now().Add(e.grace)
	if stuck := e.owned.wait(deadline); len(stuck) > 0 {
		e.logf(0, "ERROR", "goroutines still running %s after shutdown, left behind: %s", e.grace, strings.Join(stuck, ", "))
	}
	if e.pool == nil {
		return
	}
	if n := e.pool.release(time.Until(deadline)); n > 0 {
		e.logf(0, "ERROR", "%d I/O pool tasks still running %s after shutdown (blocked in I/O), left behind", n, e.grace)
	}
}
