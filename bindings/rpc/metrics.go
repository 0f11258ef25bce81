package rpc

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/internal/observe"
)

// The rpc metrics (drlee run --metrics; package observe): per name, the calls a worker made
// and how they ended, their duration from send to completion, and the calls its handlers
// served and how many of them failed. Counted only when the engine serves metrics; off,
// each call pays one nil check.
//
// Nothing on the hot path takes a lock shared by workers. Each worker has its own map of
// names to counters, which only its loop writes; the counters are atomics on their own
// cache lines, read by the collector at scrape time. The worker takes its own map's mutex
// only to add a name (the collector takes it to walk the map): a call to a name seen
// before is a map lookup and a few atomic adds, no allocation.
//
// Names come from scripts, and a script that makes them up (one per user, per request)
// would make a series per name: each worker tracks at most maxNames distinct names, and
// counts the calls to any further one under the name "other".

// maxNames bounds the names each worker tracks; beyond it, calls count under otherName.
const maxNames = 1000

// otherName is the name the calls beyond maxNames names count under.
const otherName = "other"

// callBuckets are the call duration histogram's upper bounds, in seconds: a local call takes
// tens of microseconds, one through NATS a few hundred, a timeout up to its options.timeout.
var callBuckets = [...]float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// The kinds of calls, the label kind.
const (
	kindCall = iota
	kindBroadcast
	kinds
)

var kindNames = [kinds]string{kindCall: "call", kindBroadcast: "broadcast"}

// errorCodes are the codes a caller's error may have (engine's closed set), and codeIndex
// their place in nameStats.errors.
var (
	errorCodes = engine.ErrorCodes()
	codeIndex  = func() map[string]int {
		m := make(map[string]int, len(errorCodes))
		for i, c := range errorCodes {
			m[c] = i
		}
		return m
	}()
	unknownIndex = codeIndex[engine.CodeUnknown]
)

// nameStats are one worker's counters for one name.
type nameStats struct {
	_             [64]byte
	calls         [kinds]atomic.Uint64
	errors        []atomic.Uint64                     // by codeIndex
	latency       [len(callBuckets) + 1]atomic.Uint64 // callBuckets, then +Inf; not cumulative
	latSum        atomic.Uint64                       // nanoseconds
	handled       atomic.Uint64
	handlerErrors atomic.Uint64
	_             [64]byte
}

// workerMetrics are one worker's counters, by name.
type workerMetrics struct {
	id    int
	mu    sync.Mutex            // taken by the loop to add to names, and by the collector
	names map[string]*nameStats // written by the worker's loop only, under mu
}

// stats returns name's counters, adding them (or "other"'s, beyond maxNames) the first
// time. Loop only: the loop is the map's only writer, so it reads it without mu.
func (m *workerMetrics) stats(name string) *nameStats {
	if s := m.names[name]; s != nil {
		return s
	}
	if len(m.names) >= maxNames {
		name = otherName
		if s := m.names[name]; s != nil {
			return s
		}
	}
	s := &nameStats{errors: make([]atomic.Uint64, len(errorCodes))}
	m.mu.Lock()
	m.names[name] = s
	m.mu.Unlock()
	return s
}

// callDone counts a call or broadcast that ended with code ("": success), started at
// start. Loop only.
func (m *workerMetrics) callDone(name string, kind int, start time.Time, code string) {
	d := time.Since(start)
	s := m.stats(name)
	s.calls[kind].Add(1)
	if code != "" {
		i, ok := codeIndex[code]
		if !ok {
			i = unknownIndex
		}
		s.errors[i].Add(1)
	}
	if kind != kindCall {
		return // a broadcast lasts until its timeout or its last reply: not a call's latency
	}
	sec := d.Seconds()
	i := 0
	for i < len(callBuckets) && sec > callBuckets[i] {
		i++
	}
	s.latency[i].Add(1)
	s.latSum.Add(uint64(max(d, 0)))
}

// engineMetrics are an engine's: every worker's counters, for the collector.
type engineMetrics struct {
	once sync.Once
	on   bool

	mu      sync.Mutex // protects workers
	workers []*workerMetrics
}

var engineMetricsLocal = engine.NewEngineLocal(func(*engine.Engine) *engineMetrics { return &engineMetrics{} })

// metricsSlot holds a worker's counters: m is nil when the engine does not count.
type metricsSlot struct{ m *workerMetrics }

var workerMetricsLocal = engine.NewWorkerLocal(func(w *engine.Worker) *metricsSlot {
	em := engineMetricsOf(w.Engine())
	if !em.on {
		return &metricsSlot{}
	}
	m := &workerMetrics{id: w.ID, names: map[string]*nameStats{}}
	em.mu.Lock()
	em.workers = append(em.workers, m)
	em.mu.Unlock()
	return &metricsSlot{m: m}
})

// engineMetricsOf returns e's engineMetrics, reading package observe's switch and
// registering the collector the first time. Not under the engine-local's lock: observe.Of
// takes the same lock.
func engineMetricsOf(e *engine.Engine) *engineMetrics {
	em := engineMetricsLocal.Get(e)
	em.once.Do(func() {
		st := observe.Of(e)
		em.on = st.MetricsOn()
		if em.on {
			st.Registry().MustRegister(&rpcCollector{em: em})
		}
	})
	return em
}

// metricsOf returns w's counters, nil when the engine does not count. Loop only.
func metricsOf(w *engine.Worker) *workerMetrics { return workerMetricsLocal.Get(w).m }

// rpcCollector reads every worker's counters at scrape time.
type rpcCollector struct{ em *engineMetrics }

var (
	descCalls         = prometheus.NewDesc("drlee_rpc_calls_total", "rpc.call and rpc.broadcast calls completed at the caller, by name, kind and calling worker.", []string{"name", "kind", "worker"}, nil)
	descCallErrors    = prometheus.NewDesc("drlee_rpc_call_errors_total", "rpc calls and broadcasts that ended in an error at the caller, by name and error code.", []string{"name", "code"}, nil)
	descCallDuration  = prometheus.NewDesc("drlee_rpc_call_duration_seconds", "Time of an rpc.call from its send until its callback (or await) got the result, at the caller.", []string{"name"}, nil)
	descHandled       = prometheus.NewDesc("drlee_rpc_handled_total", "rpc calls and broadcasts handed to a handler of this process, by name and serving worker.", []string{"name", "worker"}, nil)
	descHandlerErrors = prometheus.NewDesc("drlee_rpc_handler_errors_total", "rpc handlers of this process that raised or replied with an error, by name.", []string{"name"}, nil)
)

func (c *rpcCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descCalls, descCallErrors, descCallDuration, descHandled, descHandlerErrors} {
		ch <- d
	}
}

// nameSum is one name's counters summed over the workers, for the series without a worker
// label.
type nameSum struct {
	errors        []uint64
	latency       [len(callBuckets) + 1]uint64
	latSum        uint64
	calls         uint64
	handled       uint64
	handlerErrors uint64
}

func (c *rpcCollector) Collect(ch chan<- prometheus.Metric) {
	c.em.mu.Lock()
	workers := append([]*workerMetrics(nil), c.em.workers...)
	c.em.mu.Unlock()
	sums := map[string]*nameSum{}
	for _, m := range workers {
		id := strconv.Itoa(m.id)
		m.mu.Lock()
		for name, s := range m.names {
			sum := sums[name]
			if sum == nil {
				sum = &nameSum{errors: make([]uint64, len(errorCodes))}
				sums[name] = sum
			}
			for k := range kinds {
				if v := s.calls[k].Load(); v > 0 {
					ch <- prometheus.MustNewConstMetric(descCalls, prometheus.CounterValue, float64(v), name, kindNames[k], id)
					if k == kindCall {
						sum.calls += v
					}
				}
			}
			if v := s.handled.Load(); v > 0 {
				ch <- prometheus.MustNewConstMetric(descHandled, prometheus.CounterValue, float64(v), name, id)
				sum.handled += v
			}
			for i := range sum.errors {
				sum.errors[i] += s.errors[i].Load()
			}
			for i := range sum.latency {
				sum.latency[i] += s.latency[i].Load()
			}
			sum.latSum += s.latSum.Load()
			sum.handlerErrors += s.handlerErrors.Load()
		}
		m.mu.Unlock()
	}
	for name, sum := range sums {
		for i, v := range sum.errors {
			if v > 0 {
				ch <- prometheus.MustNewConstMetric(descCallErrors, prometheus.CounterValue, float64(v), name, errorCodes[i])
			}
		}
		if sum.calls > 0 {
			cum := make(map[float64]uint64, len(callBuckets))
			var total uint64
			for i, ub := range callBuckets {
				total += sum.latency[i]
				cum[ub] = total
			}
			total += sum.latency[len(callBuckets)]
			ch <- prometheus.MustNewConstHistogram(descCallDuration, total, float64(sum.latSum)/1e9, cum, name)
		}
		if sum.handled > 0 || sum.handlerErrors > 0 {
			ch <- prometheus.MustNewConstMetric(descHandlerErrors, prometheus.CounterValue, float64(sum.handlerErrors), name)
		}
	}
}
