package engine

import (
	"fmt"
	"sync"
)

// Bindings keep state per worker and per engine: a worker's pool of response buffers, its
// running tickers; an engine's HTTP listeners, its cluster node. A WorkerLocal or an
// EngineLocal is declared once, at init (as a module is registered), and gives each worker
// or engine a value of its own, made on first use: typed, found by index (no map look-up on
// hot paths), and never shared between two engines of one process.

var (
	localsMu      sync.Mutex // protects the counts while locals are declared (init)
	workerLocals  int
	engineLocals  int
	processLocals int
	localsFrozen  bool // the first engine exists: no more declarations
)

// freezeLocals fixes the number of locals once the first engine is made.
func freezeLocals() (workers, engines, processes int) {
	localsMu.Lock()
	defer localsMu.Unlock()
	localsFrozen = true
	return workerLocals, engineLocals, processLocals
}

func declareLocal(n *int, what string) int {
	localsMu.Lock()
	defer localsMu.Unlock()
	if localsFrozen {
		panic(fmt.Sprintf("engine: %s declared after the first engine was made", what))
	}
	*n++
	return *n - 1
}

// WorkerLocal is a binding's per-worker value of type T.
type WorkerLocal[T any] struct {
	i    int
	make func(w *Worker) *T
}

// NewWorkerLocal declares a per-worker value; make builds a worker's value on its first
// Get (on the loop: it may call Worker methods such as OnShutdown or AfterClose). Call it
// from an init function or a package variable's initializer.
func NewWorkerLocal[T any](make func(w *Worker) *T) *WorkerLocal[T] {
	return &WorkerLocal[T]{i: declareLocal(&workerLocals, "a WorkerLocal"), make: make}
}

// Get returns w's value, making it the first time. Loop only.
func (l *WorkerLocal[T]) Get(w *Worker) *T {
	if v := w.locals[l.i]; v != nil {
		return v.(*T)
	}
	v := l.make(w)
	w.locals[l.i] = v
	return v
}

// Peek returns w's value, or nil if Get never made it. Loop only.
func (l *WorkerLocal[T]) Peek(w *Worker) *T {
	if v := w.locals[l.i]; v != nil {
		return v.(*T)
	}
	return nil
}

// EngineLocal is a binding's per-engine value of type T: state shared by the workers of one
// engine, and only by them.
type EngineLocal[T any] struct {
	i    int
	make func(e *Engine) *T
}

// NewEngineLocal declares a per-engine value; make builds an engine's value on its first
// Get. Call it from an init function or a package variable's initializer.
func NewEngineLocal[T any](make func(e *Engine) *T) *EngineLocal[T] {
	return &EngineLocal[T]{i: declareLocal(&engineLocals, "an EngineLocal"), make: make}
}

// Get returns e's value, making it the first time. Safe from any goroutine: the value's own
// fields need locks of their own if several workers use them.
func (l *EngineLocal[T]) Get(e *Engine) *T {
	e.localsMu.Lock()
	defer e.localsMu.Unlock()
	if v := e.locals[l.i]; v != nil {
		return v.(*T)
	}
	v := l.make(e)
	e.locals[l.i] = v
	return v
}
