package http

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/drlee/drlee/engine"
)

// Requests a server sheds (503 Service Unavailable) are counted per reason and logged, at
// most once a second per reason: a server that turns clients away says so, how many and
// why, without a line per request when it is flooded. The first 503 after a quiet second
// is logged at once; the ones after it are counted, and the rest of the second is logged
// when it is over (a timer, armed once per second at most), or when the engine closes.

// shedReason is why a request was answered 503.
type shedReason int

const (
	shedQueueFull     shedReason = iota // the worker's queue is at its bound (engine.ErrQueueFull)
	shedNoWorker                        // no worker serves the address any more (the server is stopping)
	shedWorkerStopped                   // the worker picked has ended (engine.ErrWorkerStopped)
	shedReasons
)

// shedLog counts the 503s of one reason since its last line.
type shedLog struct {
	n       atomic.Int64 // 503s not in a line yet
	pending atomic.Bool  // a line is due (timer armed): it will count what is added meanwhile

	mu    sync.Mutex // protects last, timer
	last  time.Time  // when the last line was written
	timer *time.Timer
}

// shedStats are a server's shedLogs.
type shedStats struct {
	e    logger
	addr string
	why  [shedReasons]string
	logs [shedReasons]shedLog
}

// logger is where a server's lines go: its process (engine.Process.Log), which writes them
// through its newest engine.
type logger interface {
	Log(level, format string, args ...any)
}

func newShedStats(e logger, queueSize int, addr string) *shedStats {
	st := &shedStats{e: e, addr: addr}
	st.why = [shedReasons]string{
		shedQueueFull:     fmt.Sprintf("worker queue full (--queue-size %d)", queueSize),
		shedNoWorker:      "no worker serves the address (the server is stopping)",
		shedWorkerStopped: "the worker has stopped",
	}
	return st
}

// reasonOf maps an error of Worker.Submit to its reason.
func reasonOf(err error) shedReason {
	if errors.Is(err, engine.ErrQueueFull) {
		return shedQueueFull
	}
	return shedWorkerStopped
}

// shed answers 503 with Retry-After and counts it. Any goroutine.
func (st *shedStats) shed(ctx *fasthttp.RequestCtx, r shedReason) {
	ctx.Error("Service Unavailable", fasthttp.StatusServiceUnavailable)
	ctx.Response.Header.Set("Retry-After", "1")
	l := &st.logs[r]
	l.n.Add(1)
	if l.pending.Load() {
		return // the line that is due counts this one: no lock while flooded
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pending.Load() {
		return
	}
	now := time.Now()
	if wait := time.Second - now.Sub(l.last); wait > 0 {
		l.pending.Store(true)
		l.timer = time.AfterFunc(wait, func() { st.flush(r) })
		return
	}
	st.writeLocked(r, now)
}

// flush writes the line that is due for reason r. Any goroutine.
func (st *shedStats) flush(r shedReason) {
	l := &st.logs[r]
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
	// pending is cleared before n is taken: a shed that still saw it set added to n
	// before, so its 503 is in this line.
	l.pending.Store(false)
	st.writeLocked(r, time.Now())
}

// close writes every line that is due (the engine closes: no timer may be left to fire).
func (st *shedStats) close() {
	for r := range shedReasons {
		st.flush(r)
	}
}

// writeLocked logs the count of reason r, if any. l.mu held.
func (st *shedStats) writeLocked(r shedReason, now time.Time) {
	l := &st.logs[r]
	n := l.n.Swap(0)
	if n == 0 {
		return
	}
	l.last = now
	plural := "s"
	if n == 1 {
		plural = ""
	}
	st.e.Log("WARN", "http: %s: %d request%s answered 503 since the last report: %s", st.addr, n, plural, st.why[r])
}

// quietLogger sends fasthttp's own messages to the engine log: the routine ones (bad
// requests, timeouts) at DEBUG, the one about connections it turned away with 503 (over
// its Concurrency) at WARN, since every 503 is to be seen.
type quietLogger struct{ e logger }

func (l quietLogger) Printf(format string, args ...any) {
	level := "DEBUG"
	if strings.HasPrefix(format, "The incoming connection cannot be served") {
		level = "WARN"
	}
	l.e.Log(level, "http: "+format, args...)
}
