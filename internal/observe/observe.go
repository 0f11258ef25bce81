// Package observe is what `drlee run --access-log` and `--metrics` switch on for an engine:
// its access log (package accesslog) and its Prometheus registry, which the HTTP server and
// the metrics module add their collectors to, served on a listener of its own (Serve).
//
// Nothing here is on a worker's hot path: the bindings look up their engine's State once
// (when a server starts, when a module is first used) and keep what it gave them. The
// engine's own numbers (queues, the I/O pool, Lua memory, callback errors) are collected at
// scrape time from engine.Stats and, for the Lua heaps, from a task each worker runs.
package observe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"

	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/internal/accesslog"
)

// State is one engine's observability.
type State struct {
	log     atomic.Pointer[accesslog.Log]
	metrics atomic.Bool
	reg     *prometheus.Registry

	memMu  sync.Mutex // protects memKB: the last Lua heap sizes, by worker id
	memKB  map[int]int64
	engine *engine.Engine
}

var states = engine.NewEngineLocal(func(e *engine.Engine) *State {
	s := &State{reg: prometheus.NewRegistry(), memKB: map[int]int64{}, engine: e}
	s.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&engineCollector{s: s},
	)
	return s
})

// Of returns e's State. It takes a lock: look it up once, not per request.
func Of(e *engine.Engine) *State { return states.Get(e) }

// SetAccessLog makes l the engine's access log (before Run).
func (s *State) SetAccessLog(l *accesslog.Log) { s.log.Store(l) }

// AccessLog is the engine's access log, nil when off.
func (s *State) AccessLog() *accesslog.Log { return s.log.Load() }

// MetricsOn reports whether the engine serves metrics (--metrics): the bindings count
// only then.
func (s *State) MetricsOn() bool { return s.metrics.Load() }

// Registry is the engine's Prometheus registry.
func (s *State) Registry() *prometheus.Registry { return s.reg }

// CountMetrics switches the bindings' counting on for the engine (MetricsOn); call it
// before Run.
func (s *State) CountMetrics() { s.metrics.Store(true) }

// Owner runs the metrics server's goroutine and says when to stop it: an engine, or the
// process whose engines (a reload's generations) take turns behind one listener.
type Owner interface {
	Go(name string, fn func()) bool
	OnClose(fn func())
	Log(level, format string, args ...any)
}

// A Server serves one engine's registry at a time as Prometheus text on /metrics: after a
// reload, the serving generation's (its counters start again from zero, which Prometheus'
// rate() reads as a restart).
type Server struct {
	cur  atomic.Pointer[State]
	addr net.Addr
}

// Addr is the address listened on.
func (srv *Server) Addr() net.Addr { return srv.addr }

// Use makes e the engine whose numbers are served, and switches its counting on.
func (srv *Server) Use(e *engine.Engine) {
	s := Of(e)
	s.CountMetrics()
	srv.cur.Store(s)
}

// Listen listens on addr and serves /metrics on a goroutine of o until o closes; it
// serves nothing until Use names an engine.
func Listen(o Owner, addr string) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics: %w", err)
	}
	srv := &Server{addr: ln.Addr()}
	gather := prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		s := srv.cur.Load()
		if s == nil {
			return nil, nil
		}
		return s.reg.Gather()
	})
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(gather, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	if !o.Go("metrics: serve "+ln.Addr().String(), func() {
		defer close(done)
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			o.Log("ERROR", "metrics: the server on %s stopped: %v", ln.Addr(), err)
		}
	}) {
		_ = ln.Close()
		return nil, errors.New("--metrics: its owner has ended")
	}
	// Scrapes are served until the owner closes, so that the last numbers of a shutdown can
	// still be read; a scrape in progress gets a second to end.
	o.OnClose(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if hs.Shutdown(ctx) != nil {
			_ = hs.Close()
		}
		<-done
	})
	return srv, nil
}

// Serve is Listen owned by e, serving e: for an engine that runs alone. It returns the
// address listened on. Call it before Run.
func Serve(e *engine.Engine, addr string) (net.Addr, error) {
	srv, err := Listen(e, addr)
	if err != nil {
		return nil, err
	}
	srv.Use(e)
	return srv.Addr(), nil
}

// memoryWait is how long a scrape waits for the workers to report their Lua heaps; a busy
// worker's last report is used after it.
const memoryWait = 100 * time.Millisecond

// luaMemory asks every worker for its Lua heap (a state is only read by its owner) and
// returns the latest sizes known, in KiB, by worker id. ws (non-nil: Run has made the
// workers, so Workers may be read) says which.
func (s *State) luaMemory(ws []engine.WorkerStats) map[int]int64 {
	workers := s.engine.Workers()
	replies := make(chan struct{}, len(workers)) // never blocks a worker
	asked := 0
	for _, w := range workers {
		if w.Post(engine.TaskFunc(func(w *engine.Worker) {
			kb := int64(w.MemoryKB())
			s.memMu.Lock()
			s.memKB[w.ID] = kb
			s.memMu.Unlock()
			replies <- struct{}{}
		})) == nil {
			asked++
		}
	}
	t := time.NewTimer(memoryWait)
	defer t.Stop()
wait:
	for ; asked > 0; asked-- {
		select {
		case <-replies:
		case <-t.C:
			break wait
		}
	}
	s.memMu.Lock()
	defer s.memMu.Unlock()
	out := make(map[int]int64, len(ws))
	for _, w := range ws {
		if kb, ok := s.memKB[w.ID]; ok {
			out[w.ID] = kb
		}
	}
	return out
}
