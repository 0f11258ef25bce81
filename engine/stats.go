package engine

import "sync/atomic"

// Stats are read-only counters for monitoring (the --metrics endpoint), safe to read from
// any goroutine while the engine runs: each is an atomic, or read under the lock that
// already guards it. Nothing on a loop's hot path takes a lock for them: the counters are
// bumped where the event already costs far more (an error logged, a callback interrupted).

// WorkerStats are one worker's counters.
type WorkerStats struct {
	ID          int   // the worker's id (Worker.ID), from 1
	QueueLen    int   // new work waiting in its queue now (bounded by --queue-size)
	QueueSize   int   // the queue's bound (Config.QueueSize)
	Uncaught    int64 // Lua errors nobody caught (ReportError), since the worker started
	Interrupted int64 // callbacks interrupted by the watchdog or at the shutdown timeout
}

// PoolStats are the I/O pool's occupancy: Running of Size goroutines busy, and Backlog of
// BacklogLimit tasks waiting for one (beyond it, work fails with ErrPoolSaturated).
type PoolStats struct {
	Size, Running, Backlog, BacklogLimit int
}

// workerCounters are the Worker fields behind WorkerStats that the Worker does not keep
// anyway (uncaught is its own).
type workerCounters struct {
	interrupted atomic.Int64
}

// Stats returns every worker's counters, in worker order, and the I/O pool's; nil and zero
// before Run has made the workers. Safe from any goroutine.
func (e *Engine) Stats() ([]WorkerStats, PoolStats) {
	e.hooksMu.Lock()
	workers := e.workers // set under hooksMu, after the pool
	e.hooksMu.Unlock()
	if workers == nil {
		return nil, PoolStats{}
	}
	ws := make([]WorkerStats, len(workers))
	for i, w := range workers {
		ws[i] = WorkerStats{
			ID: w.ID, QueueLen: w.QueueLen(), QueueSize: e.cfg.QueueSize,
			Uncaught: w.uncaught.Load(), Interrupted: w.counters.interrupted.Load(),
		}
	}
	p := e.pool
	p.mu.Lock()
	ps := PoolStats{Size: p.size, Running: p.running, Backlog: len(p.backlog), BacklogLimit: p.limit}
	p.mu.Unlock()
	return ws, ps
}
