package http

import (
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/internal/accesslog"
	"github.com/drlee/drlee/internal/observe"
)

// The access log and the request metrics (drlee run --access-log, --metrics; package
// observe). A request's life ends in one of two places, and each gives it its one line and
// its count, with the status and the body bytes that went out:
//
//   - in handle, on the connection goroutine, for every response that is not streamed:
//     answered by the worker (a 500 by a raise included), a file (res:send_file), a 503 by
//     overload, a 504 by the handler timeout;
//   - in responseStream.end, on the same goroutine, once a streamed response is over
//     (finished, cut by a raise, or the client gone), with the chunks' bytes counted as they
//     went to the socket (request.streamed).
//
// Requests fasthttp could not read (400, 413, 431, 408) never reach a server's handler
// and are not logged. Nothing here takes a lock shared by workers: a worker's log buffer
// and its counters are its own (the counters atomics on its own cache lines), summed when
// Prometheus scrapes.

// latencyBuckets are the request duration histogram's upper bounds, in seconds.
var latencyBuckets = [...]float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// workerStats are one worker's request counters (worker 0: requests no worker took).
type workerStats struct {
	_        [64]byte
	worker   int
	status   [6]atomic.Uint64 // by class: 1xx..5xx at 1..5, anything else at 0
	inflight atomic.Int64
	shed     [shedReasons]atomic.Uint64
	raised   atomic.Uint64 // responses a raise in the handler's scope ended (500, or a cut stream)
	bytes    atomic.Uint64
	latency  [len(latencyBuckets) + 1]atomic.Uint64 // latencyBuckets, then +Inf; not cumulative
	latSum   atomic.Uint64                          // nanoseconds
	_        [64]byte
}

// workerObs is what one worker's requests report to.
type workerObs struct {
	log   *accesslog.Log // nil: no access log
	stats *workerStats   // nil: no metrics
	id    int
}

// httpObs is an engine's: its log, and every worker's counters for the collector.
type httpObs struct {
	once    sync.Once
	log     *accesslog.Log
	metrics bool
	none    *workerObs // for requests no worker took (503 with no worker left)

	mu      sync.Mutex // protects workers
	workers map[int]*workerObs
}

var httpObsLocal = engine.NewEngineLocal(func(*engine.Engine) *httpObs {
	return &httpObs{workers: map[int]*workerObs{}}
})

// obsOf returns e's httpObs, reading package observe's switches the first time. Not under
// the engine-local's lock: observe.Of takes the same lock.
func obsOf(e *engine.Engine) *httpObs {
	h := httpObsLocal.Get(e)
	h.once.Do(func() {
		st := observe.Of(e)
		h.log = st.AccessLog()
		h.metrics = st.MetricsOn()
		h.none = h.newObs(0)
		if h.metrics {
			st.Registry().MustRegister(&httpCollector{h: h})
		}
	})
	return h
}

func (h *httpObs) on() bool { return h.log != nil || h.metrics }

func (h *httpObs) newObs(id int) *workerObs {
	o := &workerObs{log: h.log, id: id}
	if h.metrics {
		o.stats = &workerStats{worker: id}
	}
	return o
}

// forWorker returns w's workerObs, the same for all of w's servers; nil when off.
func (h *httpObs) forWorker(w *engine.Worker) *workerObs {
	if !h.on() {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	o := h.workers[w.ID]
	if o == nil {
		o = h.newObs(w.ID)
		h.workers[w.ID] = o
	}
	return o
}

// begin notes a request's start (nil o: off).
func (o *workerObs) begin() time.Time {
	if o.stats != nil {
		o.stats.inflight.Add(1)
	}
	return time.Now()
}

// end logs and counts a request that ended with ctx's response (not streamed). On the
// connection goroutine, which still owns ctx.
func (o *workerObs) end(ctx *fasthttp.RequestCtx, start time.Time) {
	resp := &ctx.Response
	var n int64
	switch {
	case ctx.IsHead():
	case resp.IsBodyStream(): // a file (sendfile.go): its length is set
		n = int64(max(resp.Header.ContentLength(), 0))
	default:
		n = int64(len(resp.Body()))
	}
	d := time.Since(start)
	if o.log != nil {
		var e accesslog.Entry
		fillEntry(&e, ctx, start)
		e.Status, e.Bytes, e.Duration, e.Worker = resp.StatusCode(), n, d, o.id
		o.log.Append(&e)
	}
	o.count(resp.StatusCode(), n, d)
}

// shedCount counts a 503 by overload.
func (o *workerObs) shedCount(r shedReason) {
	if o.stats != nil {
		o.stats.shed[r].Add(1)
	}
}

// shedEnd logs and counts a 503 no worker took.
func (o *workerObs) shedEnd(ctx *fasthttp.RequestCtx, r shedReason) {
	o.shedCount(r)
	o.end(ctx, o.begin())
}

// count adds one ended request to the counters.
func (o *workerObs) count(status int, n int64, d time.Duration) {
	st := o.stats
	if st == nil {
		return
	}
	st.inflight.Add(-1)
	class := status / 100
	if class < 1 || class > 5 {
		class = 0
	}
	st.status[class].Add(1)
	st.bytes.Add(uint64(n))
	s := d.Seconds()
	i := 0
	for i < len(latencyBuckets) && s > latencyBuckets[i] {
		i++
	}
	st.latency[i].Add(1)
	st.latSum.Add(uint64(max(d, 0)))
}

// fillEntry sets the request's side of e from ctx; the slices are ctx's.
func fillEntry(e *accesslog.Entry, ctx *fasthttp.RequestCtx, start time.Time) {
	h := &ctx.Request.Header
	e.Start = start
	if a, ok := ctx.RemoteAddr().(*net.TCPAddr); ok {
		e.Remote = a.AddrPort()
	}
	e.Method, e.URI, e.Proto = h.Method(), h.RequestURI(), h.Protocol()
	e.Referer, e.UserAgent = h.Referer(), h.UserAgent()
}

// streamObs is what a streamed response keeps for its line: the request's side copied
// out of ctx when streaming started (ctx is reused before the stream may end).
type streamObs struct {
	o      *workerObs
	start  time.Time
	status int
	entry  accesslog.Entry
	buf    []byte // the memory of entry's slices, kept with the pooled request
}

// streamStarts notes, when the response starts streaming, what its line needs. Loop,
// rs.mu held, ctx still the request's.
func (rs *request) streamStarts(ctx *fasthttp.RequestCtx) {
	o := rs.ep.obs
	if o == nil {
		return
	}
	so := &rs.sobs
	so.o, so.start, so.status = o, rs.start, ctx.Response.StatusCode()
	rs.streamed.Store(0)
	if o.log == nil {
		return
	}
	var e accesslog.Entry
	fillEntry(&e, ctx, rs.start)
	b := so.buf[:0]
	cp := func(v []byte) []byte {
		at := len(b)
		b = append(b, v...)
		return b[at:len(b):len(b)]
	}
	e.Method, e.URI, e.Proto, e.Referer, e.UserAgent = cp(e.Method), cp(e.URI), cp(e.Proto), cp(e.Referer), cp(e.UserAgent)
	so.buf = b
	so.entry = e
}

// streamEnds logs and counts a streamed response that is over. On the connection
// goroutine (responseStream.end), once.
func (rs *request) streamEnds() {
	so := &rs.sobs
	o := so.o
	if o == nil {
		return
	}
	so.o = nil
	n, d := rs.streamed.Load(), time.Since(so.start)
	if o.log != nil {
		e := so.entry
		e.Status, e.Bytes, e.Duration, e.Worker = so.status, n, d, o.id
		o.log.Append(&e)
	}
	o.count(so.status, n, d)
}

// httpCollector reads every worker's counters at scrape time.
type httpCollector struct{ h *httpObs }

var (
	descRequests = prometheus.NewDesc("drlee_http_requests_total", "HTTP requests served, by status class and worker (0: no worker took it).", []string{"code", "worker"}, nil)
	descInflight = prometheus.NewDesc("drlee_http_requests_in_flight", "HTTP requests handed to the worker and not over yet.", []string{"worker"}, nil)
	descShed     = prometheus.NewDesc("drlee_http_shed_total", "HTTP requests answered 503 by overload, by reason and worker.", []string{"reason", "worker"}, nil)
	descRaised   = prometheus.NewDesc("drlee_http_handler_errors_total", "HTTP responses a raise in the handler ended (500, or a cut stream).", []string{"worker"}, nil)
	descBytes    = prometheus.NewDesc("drlee_http_response_body_bytes_total", "Body bytes of the HTTP responses served.", []string{"worker"}, nil)
	descLatency  = prometheus.NewDesc("drlee_http_request_duration_seconds", "Time from a request's hand-over to the server until its response was handed to the socket (a stream: until its end).", nil, nil)
)

var shedReasonNames = [shedReasons]string{shedQueueFull: "queue_full", shedNoWorker: "no_worker", shedWorkerStopped: "worker_stopped"}

var statusClassNames = [6]string{"other", "1xx", "2xx", "3xx", "4xx", "5xx"}

func (c *httpCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRequests, descInflight, descShed, descRaised, descBytes, descLatency} {
		ch <- d
	}
}

func (c *httpCollector) Collect(ch chan<- prometheus.Metric) {
	c.h.mu.Lock()
	all := make([]*workerObs, 0, len(c.h.workers)+1)
	all = append(all, c.h.none)
	for _, o := range c.h.workers {
		all = append(all, o)
	}
	c.h.mu.Unlock()
	var buckets [len(latencyBuckets) + 1]uint64
	var sum uint64
	for _, o := range all {
		st := o.stats
		id := strconv.Itoa(o.id)
		for class, name := range statusClassNames {
			if v := st.status[class].Load(); v > 0 || (class == 2 && o.id != 0) {
				ch <- prometheus.MustNewConstMetric(descRequests, prometheus.CounterValue, float64(v), name, id)
			}
		}
		if o.id != 0 {
			ch <- prometheus.MustNewConstMetric(descInflight, prometheus.GaugeValue, float64(st.inflight.Load()), id)
			ch <- prometheus.MustNewConstMetric(descRaised, prometheus.CounterValue, float64(st.raised.Load()), id)
		}
		for r, name := range shedReasonNames {
			if v := st.shed[r].Load(); v > 0 || (o.id != 0 && shedReason(r) == shedQueueFull) {
				ch <- prometheus.MustNewConstMetric(descShed, prometheus.CounterValue, float64(v), name, id)
			}
		}
		ch <- prometheus.MustNewConstMetric(descBytes, prometheus.CounterValue, float64(st.bytes.Load()), id)
		for i := range buckets {
			buckets[i] += st.latency[i].Load()
		}
		sum += st.latSum.Load()
	}
	cum := make(map[float64]uint64, len(latencyBuckets))
	var total uint64
	for i, ub := range latencyBuckets {
		total += buckets[i]
		cum[ub] = total
	}
	total += buckets[len(latencyBuckets)]
	ch <- prometheus.MustNewConstHistogram(descLatency, total, float64(sum)/1e9, cum)
}
