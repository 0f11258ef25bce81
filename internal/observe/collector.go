package observe

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// engineCollector reads the engine's numbers at scrape time.
type engineCollector struct{ s *State }

var (
	descQueueLen     = prometheus.NewDesc("drlee_worker_queue_length", "New work waiting in the worker's queue (requests beyond --queue-size get 503).", []string{"worker"}, nil)
	descQueueCap     = prometheus.NewDesc("drlee_worker_queue_capacity", "The bound of each worker's queue (--queue-size).", []string{"worker"}, nil)
	descUncaught     = prometheus.NewDesc("drlee_callback_errors_total", "Lua errors nobody caught (logged, and drlee exits 1), by worker.", []string{"worker"}, nil)
	descInterrupted  = prometheus.NewDesc("drlee_callbacks_interrupted_total", "Callbacks interrupted by --callback-timeout or at the shutdown timeout, by worker.", []string{"worker"}, nil)
	descLuaMemory    = prometheus.NewDesc("drlee_lua_memory_bytes", "The Lua heap of the worker's state.", []string{"worker"}, nil)
	descPoolSize     = prometheus.NewDesc("drlee_io_pool_size", "Goroutines of the shared blocking-I/O pool (--pool-size).", nil, nil)
	descPoolRunning  = prometheus.NewDesc("drlee_io_pool_running", "I/O pool goroutines busy now.", nil, nil)
	descPoolBacklog  = prometheus.NewDesc("drlee_io_pool_backlog", "I/O tasks waiting for a pool goroutine.", nil, nil)
	descPoolBacklogL = prometheus.NewDesc("drlee_io_pool_backlog_limit", "The bound of the I/O pool's backlog (beyond it: EPOOL, I/O pool saturated).", nil, nil)
	descPoolSat      = prometheus.NewDesc("drlee_io_pool_saturation", "Running over size of the I/O pool, 0 to 1.", nil, nil)
)

func (c *engineCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descQueueLen, descQueueCap, descUncaught, descInterrupted, descLuaMemory, descPoolSize, descPoolRunning, descPoolBacklog, descPoolBacklogL, descPoolSat} {
		ch <- d
	}
}

func (c *engineCollector) Collect(ch chan<- prometheus.Metric) {
	ws, ps := c.s.engine.Stats()
	if ws == nil {
		return // Run has not made the workers yet
	}
	mem := c.s.luaMemory(ws)
	for _, w := range ws {
		id := strconv.Itoa(w.ID)
		ch <- prometheus.MustNewConstMetric(descQueueLen, prometheus.GaugeValue, float64(w.QueueLen), id)
		ch <- prometheus.MustNewConstMetric(descQueueCap, prometheus.GaugeValue, float64(w.QueueSize), id)
		ch <- prometheus.MustNewConstMetric(descUncaught, prometheus.CounterValue, float64(w.Uncaught), id)
		ch <- prometheus.MustNewConstMetric(descInterrupted, prometheus.CounterValue, float64(w.Interrupted), id)
		if kb, ok := mem[w.ID]; ok {
			ch <- prometheus.MustNewConstMetric(descLuaMemory, prometheus.GaugeValue, float64(kb*1024), id)
		}
	}
	ch <- prometheus.MustNewConstMetric(descPoolSize, prometheus.GaugeValue, float64(ps.Size))
	ch <- prometheus.MustNewConstMetric(descPoolRunning, prometheus.GaugeValue, float64(ps.Running))
	ch <- prometheus.MustNewConstMetric(descPoolBacklog, prometheus.GaugeValue, float64(ps.Backlog))
	ch <- prometheus.MustNewConstMetric(descPoolBacklogL, prometheus.GaugeValue, float64(ps.BacklogLimit))
	sat := 0.0
	if ps.Size > 0 {
		sat = float64(ps.Running) / float64(ps.Size)
	}
	ch <- prometheus.MustNewConstMetric(descPoolSat, prometheus.GaugeValue, sat)
}
