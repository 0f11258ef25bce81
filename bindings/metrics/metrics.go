// Package metrics is the Lua module "metrics": a script's own Prometheus metrics, served
// with the runtime's on `drlee run --metrics ADDR` (/metrics; package observe).
//
//	local metrics = require "metrics"
//	local hits = metrics.counter("app_hits_total", "Pages served.", {"page"})
//	hits:inc({page = "home"})            -- or hits:inc(2, {page = "home"})
//	local users = metrics.gauge("app_users", "Users online.")
//	users:set(10); users:inc(); users:dec(3)
//	local lat = metrics.histogram("app_db_seconds", "DB time.", {0.01, 0.1, 1})
//	lat:observe(0.042)
//
// Every worker runs the script, so every worker declares the metric: the same name in
// several workers is one metric, each worker keeping its own values (no lock shared across
// workers when a value moves), summed across workers when Prometheus scrapes: counters and
// histograms add up, and so do gauges (each worker's own part of the whole: users on that
// worker). Declaring a name again with another kind, other labels or other buckets is an
// error; with the same, it is the same metric (the first help text stays).
//
// Names follow Prometheus' rules (names.go); the runtime's prefixes (drlee_, go_,
// process_) are refused. Values must be finite; a counter only goes up. A metric holds at
// most maxSeries label combinations per worker: beyond, inc/set/observe raise, since
// unbounded labels (a user id, a URL) would grow the process until it dies.
package metrics

import (
	_ "embed"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/internal/observe"
)

//go:embed metrics.lua
var prelude string

func init() {
	engine.Register(&engine.Module{
		Name: "metrics",
		Funcs: []engine.Function{
			{Name: "__declare", Fn: declare},
			{Name: "__add", Fn: add},
			{Name: "__set", Fn: set},
			{Name: "__observe", Fn: observeFn},
		},
		Lua: prelude,
	})
}

// Limits of what a script declares.
const (
	maxSeries  = 10000 // label combinations of one metric in one worker
	maxLabels  = 16
	maxBuckets = 64
)

type kind int

const (
	counterKind kind = iota
	gaugeKind
	histogramKind
)

var kindNames = map[string]kind{"counter": counterKind, "gauge": gaugeKind, "histogram": histogramKind}

func (k kind) String() string {
	for n, v := range kindNames {
		if v == k {
			return n
		}
	}
	return "?"
}

// family is one metric name of an engine, with every worker's values.
type family struct {
	name, help string
	kind       kind
	labels     []string
	buckets    []float64 // histograms: upper bounds, increasing, without +Inf
	desc       *prometheus.Desc
	stores     []*store // one per worker that declared it; appended under registry.mu
}

// store is one worker's values of a family. Its lock is taken by that worker when a value
// moves and by a scrape: never by two workers.
type store struct {
	mu     sync.Mutex
	series map[string]*series // by label values joined with keySep
	fam    *family
}

const keySep = "\xff" // not in valid UTF-8: cannot be part of a label value

type series struct {
	values  []string
	v       float64  // counter, gauge
	counts  []uint64 // histogram: per bucket, then +Inf; not cumulative
	sum     float64
	samples uint64
}

// registry is an engine's families.
type registry struct {
	mu       sync.Mutex // protects families and the families' stores lists
	families map[string]*family
	once     sync.Once
}

var registries = engine.NewEngineLocal(func(*engine.Engine) *registry {
	return &registry{families: map[string]*family{}}
})

// registryOf returns e's registry, its collector registered with observe the first time
// (not under the engine-local's lock, which observe.Of takes too).
func registryOf(e *engine.Engine) *registry {
	r := registries.Get(e)
	r.once.Do(func() { observe.Of(e).Registry().MustRegister(&collector{r: r}) })
	return r
}

// handles are a worker's declared metrics, by the id its Lua objects carry.
type handles struct {
	list   []*store
	byName map[string]int
	key    []byte // scratch for series keys
}

var workerHandles = engine.NewWorkerLocal(func(*engine.Worker) *handles {
	return &handles{byName: map[string]int{}}
})

// failed returns msg to Lua: the prelude raises it at the script's line.
func failed(c *engine.Call, format string, args ...any) int {
	return c.ReturnString(fmt.Sprintf(format, args...))
}

// fail returns nil, msg to Lua (a declaration's result): the prelude raises it.
func fail(c *engine.Call, format string, args ...any) int {
	out := c.Out()
	out.Nil()
	out.String(fmt.Sprintf(format, args...))
	return c.Return()
}

// metrics.__declare(kind, name, help, nbuckets, nlabels, buckets..., labels...) -> id | nil, err
func declare(c *engine.Call) int {
	w := engine.WorkerOf(c)
	k, ok := kindNames[c.CheckString(1)]
	if !ok {
		return fail(c, "metrics: unknown kind")
	}
	what := "metrics." + k.String()
	if c.Type(2) != engine.TypeString {
		return fail(c, "%s: name must be a string, got %s", what, typeName(c.Type(2)))
	}
	name := c.CheckString(2)
	if err := checkMetricName(name); err != nil {
		return fail(c, "%s: %v", what, err)
	}
	if c.Type(3) != engine.TypeString {
		return fail(c, "%s: help must be a string, got %s", what, typeName(c.Type(3)))
	}
	help := c.CheckString(3)
	if len(help) > maxHelpLen {
		return fail(c, "%s: help is longer than %d bytes", what, maxHelpLen)
	}
	nb := int(c.CheckIntRange(4, 0, 1<<20))
	nl := int(c.CheckIntRange(5, 0, 1<<20))
	if nl > maxLabels {
		return fail(c, "%s: %d labels, at most %d", what, nl, maxLabels)
	}
	if nb > maxBuckets {
		return fail(c, "%s: %d buckets, at most %d", what, nb, maxBuckets)
	}
	var buckets []float64
	if k == histogramKind {
		if nb == 0 {
			buckets = prometheus.DefBuckets
		}
		for i := range nb {
			if c.Type(6+i) != engine.TypeNumber {
				return fail(c, "%s: bucket %d must be a number, got %s", what, i+1, typeName(c.Type(6+i)))
			}
			b := c.CheckNumber(6 + i)
			if math.IsNaN(b) || math.IsInf(b, 0) {
				return fail(c, "%s: bucket %d must be finite, got %v", what, i+1, b)
			}
			if i > 0 && b <= buckets[i-1] {
				return fail(c, "%s: buckets must increase, got %v after %v", what, b, buckets[i-1])
			}
			buckets = append(buckets, b)
		}
	} else if nb != 0 {
		return fail(c, "%s: only a histogram has buckets", what)
	}
	labels := make([]string, nl)
	for i := range nl {
		labels[i] = c.CheckString(6 + nb + i)
		if err := checkLabelName(labels[i], k == histogramKind); err != nil {
			return fail(c, "%s: %v", what, err)
		}
	}
	h := workerHandles.Get(w)
	if id, ok := h.byName[name]; ok {
		if err := h.list[id-1].fam.same(k, labels, buckets); err != nil {
			return fail(c, "%s: %v", what, err)
		}
		c.Out().Int(int64(id))
		return c.Return()
	}
	r := registryOf(w.Engine())
	r.mu.Lock()
	f := r.families[name]
	if f == nil {
		f = &family{name: name, help: help, kind: k, labels: labels, buckets: buckets}
		f.desc = prometheus.NewDesc(name, help, labels, nil)
		r.families[name] = f
	} else if err := f.same(k, labels, buckets); err != nil {
		r.mu.Unlock()
		return fail(c, "%s: %v", what, err)
	}
	s := &store{series: map[string]*series{}, fam: f}
	if len(labels) == 0 {
		// A metric without labels is exported from its declaration on, at 0: a rate over
		// it needs the 0 before the first event.
		sr := &series{}
		if k == histogramKind {
			sr.counts = make([]uint64, len(buckets)+1)
		}
		s.series[""] = sr
	}
	f.stores = append(f.stores, s)
	r.mu.Unlock()
	h.list = append(h.list, s)
	h.byName[name] = len(h.list)
	c.Out().Int(int64(len(h.list)))
	return c.Return()
}

// same reports how a new declaration differs from f, or nil.
func (f *family) same(k kind, labels []string, buckets []float64) error {
	if k != f.kind {
		return fmt.Errorf("%s is declared already as a %s", f.name, f.kind)
	}
	if !slices.Equal(labels, f.labels) {
		return fmt.Errorf("%s is declared already with the labels {%s}, not {%s}", f.name, strings.Join(f.labels, ", "), strings.Join(labels, ", "))
	}
	if k == histogramKind && !slices.Equal(buckets, f.buckets) {
		return fmt.Errorf("%s is declared already with the buckets %v, not %v", f.name, f.buckets, buckets)
	}
	return nil
}

// lookup returns the store of handle argument 1 and the series of the label values from
// argument 3 on, made if new; or an error message.
func lookup(c *engine.Call) (*store, *series, string) {
	h := workerHandles.Get(engine.WorkerOf(c))
	s := handleOf(c)
	if s == nil {
		return nil, nil, "metrics: not a metric (bad handle)"
	}
	f := s.fam
	if n := c.N() - 2; n != len(f.labels) {
		return nil, nil, fmt.Sprintf("%s: %d label values, want %d", f.name, max(n, 0), len(f.labels))
	}
	key := h.key[:0]
	for i := range f.labels {
		if t := c.Type(3 + i); t != engine.TypeString {
			return nil, nil, fmt.Sprintf("%s: label %s must be a string, got %s", f.name, f.labels[i], typeName(t))
		}
		if i > 0 {
			key = append(key, keySep...)
		}
		key = append(key, c.CheckBytes(3+i)...)
	}
	h.key = key
	s.mu.Lock()
	sr := s.series[string(key)] // no allocation: the compiler's map look-up by []byte
	s.mu.Unlock()
	if sr != nil {
		return s, sr, ""
	}
	values := make([]string, len(f.labels))
	for i := range values {
		values[i] = c.CheckString(3 + i)
		if err := checkLabelValue(values[i]); err != nil {
			return nil, nil, fmt.Sprintf("%s: label %s: %v", f.name, f.labels[i], err)
		}
	}
	sr = &series{values: values}
	if f.kind == histogramKind {
		sr.counts = make([]uint64, len(f.buckets)+1)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.series) >= maxSeries {
		return nil, nil, fmt.Sprintf("%s: more than %d label combinations in this worker (labels must take few values: not ids or URLs)", f.name, maxSeries)
	}
	s.series[string(key)] = sr
	return s, sr, ""
}

// number returns argument 2 as a finite number, or an error message. Checked before the
// labels, so that a bad value makes no series.
func number(c *engine.Call, what string) (float64, string) {
	if t := c.Type(2); t != engine.TypeNumber {
		return 0, fmt.Sprintf("%s must be a number, got %s", what, typeName(t))
	}
	v := c.CheckNumber(2)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Sprintf("%s must be finite, got %v", what, v)
	}
	return v, ""
}

// handle returns the family of handle argument 1, or nil.
func handleOf(c *engine.Call) *store {
	h := workerHandles.Get(engine.WorkerOf(c))
	if c.Type(1) != engine.TypeNumber {
		return nil
	}
	id := c.CheckNumber(1)
	if id != math.Trunc(id) || id < 1 || id > float64(len(h.list)) {
		return nil
	}
	return h.list[int(id)-1]
}

// metrics.__add(id, n, labelvalues...) -> nil | err: counter:inc, gauge:inc and :dec.
func add(c *engine.Call) int {
	s := handleOf(c)
	if s == nil {
		return failed(c, "metrics: not a metric (bad handle)")
	}
	f := s.fam
	if f.kind == histogramKind {
		return failed(c, "%s: a histogram is observed, not added to", f.name)
	}
	v, msg := number(c, "the amount")
	if msg != "" {
		return failed(c, "%s: %s", f.name, msg)
	}
	if f.kind == counterKind && v < 0 {
		return failed(c, "%s: a counter only goes up (inc by %v)", f.name, v)
	}
	_, sr, msg := lookup(c)
	if msg != "" {
		return failed(c, "%s", msg)
	}
	s.mu.Lock()
	nv := sr.v + v
	ok := !math.IsInf(nv, 0)
	if ok {
		sr.v = nv
	}
	s.mu.Unlock()
	if !ok {
		return failed(c, "%s: the value would overflow", f.name)
	}
	return 0
}

// metrics.__set(id, v, labelvalues...) -> nil | err: gauge:set.
func set(c *engine.Call) int {
	s := handleOf(c)
	if s == nil {
		return failed(c, "metrics: not a metric (bad handle)")
	}
	f := s.fam
	if f.kind != gaugeKind {
		return failed(c, "%s: only a gauge is set", f.name)
	}
	v, msg := number(c, "the value")
	if msg != "" {
		return failed(c, "%s: %s", f.name, msg)
	}
	_, sr, msg := lookup(c)
	if msg != "" {
		return failed(c, "%s", msg)
	}
	s.mu.Lock()
	sr.v = v
	s.mu.Unlock()
	return 0
}

// metrics.__observe(id, v, labelvalues...) -> nil | err: histogram:observe.
func observeFn(c *engine.Call) int {
	s := handleOf(c)
	if s == nil {
		return failed(c, "metrics: not a metric (bad handle)")
	}
	f := s.fam
	if f.kind != histogramKind {
		return failed(c, "%s: only a histogram is observed", f.name)
	}
	v, msg := number(c, "the value")
	if msg != "" {
		return failed(c, "%s: %s", f.name, msg)
	}
	_, sr, msg := lookup(c)
	if msg != "" {
		return failed(c, "%s", msg)
	}
	i := sort.SearchFloat64s(f.buckets, v) // the first bound >= v: le is inclusive
	s.mu.Lock()
	sr.counts[i]++
	sr.sum += v
	sr.samples++
	s.mu.Unlock()
	return 0
}

// collector sums every worker's values of every family at scrape time.
type collector struct{ r *registry }

// Describe sends nothing: the families are declared by scripts as they run (an unchecked
// collector, for the registry).
func (c *collector) Describe(chan<- *prometheus.Desc) {}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	c.r.mu.Lock()
	fams := make([]*family, 0, len(c.r.families))
	stores := make([][]*store, 0, len(c.r.families))
	for _, f := range c.r.families {
		fams = append(fams, f)
		stores = append(stores, slices.Clone(f.stores))
	}
	c.r.mu.Unlock()
	for i, f := range fams {
		sum := map[string]*series{}
		var order []string
		for _, s := range stores[i] {
			s.mu.Lock()
			for k, sr := range s.series {
				t := sum[k]
				if t == nil {
					t = &series{values: sr.values}
					if f.kind == histogramKind {
						t.counts = make([]uint64, len(sr.counts))
					}
					sum[k] = t
					order = append(order, k)
				}
				t.v += sr.v
				t.sum += sr.sum
				t.samples += sr.samples
				for j, n := range sr.counts {
					t.counts[j] += n
				}
			}
			s.mu.Unlock()
		}
		sort.Strings(order)
		for _, k := range order {
			t := sum[k]
			switch f.kind {
			case counterKind:
				ch <- prometheus.MustNewConstMetric(f.desc, prometheus.CounterValue, t.v, t.values...)
			case gaugeKind:
				ch <- prometheus.MustNewConstMetric(f.desc, prometheus.GaugeValue, t.v, t.values...)
			case histogramKind:
				cum := make(map[float64]uint64, len(f.buckets))
				var n uint64
				for j, ub := range f.buckets {
					n += t.counts[j]
					cum[ub] = n
				}
				ch <- prometheus.MustNewConstHistogram(f.desc, t.samples, t.sum, cum, t.values...)
			}
		}
	}
}

// typeName is Lua's name of a type code, for messages.
func typeName(t int) string {
	switch t {
	case engine.TypeNone:
		return "no value"
	case engine.TypeNil:
		return "nil"
	case engine.TypeBoolean:
		return "boolean"
	case engine.TypeNumber:
		return "number"
	case engine.TypeString:
		return "string"
	case engine.TypeTable:
		return "table"
	case engine.TypeFunction:
		return "function"
	case engine.TypeUserdata:
		return "userdata"
	}
	return "a value of another type"
}
