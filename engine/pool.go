package engine

import (
	"errors"
	"sync"
	"time"

	"github.com/panjf2000/ants/v2"
)

// ErrPoolSaturated is reported to a Lua callback when the I/O pool and its backlog are
// both full.
var ErrPoolSaturated = errors.New("drlee: I/O pool saturated")

// ioPool runs blocking work on a bounded number of ants goroutines. Work submitted while
// every slot is busy waits in a bounded FIFO backlog, which finishing tasks drain, so that
// a burst (a script issuing 2000 fs.stat at once) queues instead of failing; only beyond the
// backlog does Submit fail. The loop never blocks on it.
type ioPool struct {
	ants *ants.Pool
	size int

	mu      sync.Mutex // protects running, backlog
	running int
	backlog []func()
	limit   int

	onPanic func(p any) // told about a task that panicked (a bug), on its goroutine
}

func newIOPool(size, backlog int, onPanic func(p any)) (*ioPool, error) {
	// ants is only the goroutine recycler, with no capacity of its own: the bound is kept
	// here (running <= size). A bounded ants pool refused work now and then while our count
	// had a slot free, because its slot frees a moment after our task returns (seen as
	// spurious ErrPoolSaturated under load).
	a, err := ants.NewPool(-1, ants.WithNonblocking(true))
	if err != nil {
		return nil, err
	}
	return &ioPool{ants: a, size: size, limit: backlog, onPanic: onPanic}, nil
}

// Submit runs fn on the pool, or queues it. Safe from any goroutine; never blocks.
func (p *ioPool) Submit(fn func()) error {
	p.mu.Lock()
	if p.running >= p.size {
		if len(p.backlog) >= p.limit {
			p.mu.Unlock()
			return ErrPoolSaturated
		}
		p.backlog = append(p.backlog, fn)
		p.mu.Unlock()
		return nil
	}
	p.running++
	p.mu.Unlock()
	if err := p.ants.Submit(func() { p.run(fn) }); err != nil {
		p.mu.Lock()
		p.running--
		p.mu.Unlock()
		return ErrPoolSaturated
	}
	return nil
}

// run runs fn, then whatever waits in the backlog, keeping its slot until it is empty.
func (p *ioPool) run(fn func()) {
	for fn != nil {
		p.runOne(fn)
		p.mu.Lock()
		if len(p.backlog) > 0 {
			fn = p.backlog[0]
			p.backlog[0] = nil
			p.backlog = p.backlog[1:]
		} else {
			fn = nil
			p.running--
		}
		p.mu.Unlock()
	}
}

// runOne runs a task; a panic in it is reported rather than ending the process (the task's
// own owner is responsible for completing what it reserved: Worker.Async does).
func (p *ioPool) runOne(fn func()) {
	defer func() {
		if r := recover(); r != nil && p.onPanic != nil {
			p.onPanic(r)
		}
	}()
	fn()
}

// release stops the pool and waits at most d for its goroutines to end. It returns how
// many tasks are still running or queued then (blocked in I/O), 0 when all ended.
func (p *ioPool) release(d time.Duration) int {
	// Not ants' ReleaseTimeout: once its workers are gone it spins on a non-blocking select
	// until its two helper goroutines have stored their exit flags, which, with no
	// preemption in sight (GOMAXPROCS=1), burnt a second of CPU at every engine's end.
	// Release cancels those helpers (they end at once); the workers are waited for here,
	// sleeping between looks.
	p.ants.Release()
	deadline := time.Now().Add(d)
	for p.ants.Running() > 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if p.ants.Running() == 0 {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.running + len(p.backlog)
}
