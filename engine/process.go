package engine

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// A reload (`drlee run` on SIGHUP) starts a new engine, a generation, with the script as it
// is on disk now, while the old one drains: both are engines of one Process. What must
// outlive a generation is the process's, not an engine's: the listening sockets of the
// bindings (a ProcessLocal: the HTTP module's shared servers, the network module's shared
// sockets), the goroutines that serve them (Process.Go), their cleanups (Process.OnClose),
// and the lock that keeps log lines whole. Everything else (the Lua states, the timers, the
// I/O pool, the EngineLocals) belongs to one generation and ends with it.
//
// An engine made without a Process (Config.Process nil, every test of a binding) has one of
// its own, which Run closes at its end: then nothing changes from an engine that is alone.

// Process is what the engines of one process share across reloads. Its methods are safe
// from any goroutine.
type Process struct {
	owned owned      // the goroutines that outlive a generation (Go)
	outMu sync.Mutex // protects writes to the engines' Stdout and Stderr (Engine.logf)
	grace time.Duration

	hooksMu sync.Mutex // protects closers, closed
	closers []func()
	closed  bool

	localsMu sync.Mutex // protects locals
	locals   []any      // ProcessLocal values, by index

	mu      sync.Mutex // protects running, newest
	running []*Engine  // engines whose Run has started and not returned, oldest first
	newest  *Engine    // the engine whose Run started last
}

// NewProcess makes the shared part of a process's engines; pass it as Config.Process to
// each generation, and Close it once the last one's Run has returned.
func NewProcess() *Process {
	_, _, np := freezeLocals()
	return &Process{locals: make([]any, np), grace: GoroutineGrace}
}

// Go runs fn on a new goroutine that the process owns, as Engine.Go does for an engine:
// for the goroutines of what outlives a generation (an accept loop of a listener that the
// next generation takes over). Close waits for them; fn must end when an OnClose function
// of the process closes what it waits on. False once Close has started: fn never runs.
func (p *Process) Go(name string, fn func()) bool { return p.owned.start(name, fn) }

// OnClose registers a cleanup that runs at Close, once the last engine ended, in the
// reverse order of registration, before Close waits for the process's goroutines.
func (p *Process) OnClose(fn func()) {
	p.hooksMu.Lock()
	p.closers = append(p.closers, fn)
	p.hooksMu.Unlock()
}

// Close runs the OnClose functions and waits, within the grace period, for the goroutines
// of the process (Go), logging those that do not end. Call it once no engine of the process
// runs any more; later calls do nothing.
func (p *Process) Close() {
	if !p.runClosers() {
		return
	}
	p.waitGoroutines(time.Now().Add(p.grace))
}

// runClosers runs the OnClose functions, once; false if they ran already.
func (p *Process) runClosers() bool {
	p.hooksMu.Lock()
	if p.closed {
		p.hooksMu.Unlock()
		return false
	}
	p.closed = true
	closers := p.closers
	p.closers = nil
	p.hooksMu.Unlock()
	for i := len(closers) - 1; i >= 0; i-- {
		closers[i]()
	}
	return true
}

func (p *Process) waitGoroutines(deadline time.Time) {
	if stuck := p.owned.wait(deadline); len(stuck) > 0 {
		p.Log("ERROR", "goroutines still running %s after shutdown, left behind: %s", p.grace, strings.Join(stuck, ", "))
	}
}

// Log writes a log line through the newest engine (its log level, its stderr); before any
// engine ran, to os.Stderr.
func (p *Process) Log(level, format string, args ...any) {
	p.mu.Lock()
	e := p.newest
	p.mu.Unlock()
	if e == nil {
		fmt.Fprintf(os.Stderr, "%s %-5s %s\n", time.Now().Format("2006-01-02T15:04:05.000Z07:00"), level, safeLogText(fmt.Sprintf(format, args...)))
		return
	}
	e.logf(0, level, format, args...)
}

// Abort ends every running engine of the process as Engine.Abort does (a shared listener
// failed for good: no generation can serve any more); err is logged once.
func (p *Process) Abort(err error) {
	p.mu.Lock()
	engines := append([]*Engine(nil), p.running...)
	p.mu.Unlock()
	for i, e := range engines {
		e.abort(err, i == 0)
	}
	if len(engines) == 0 {
		p.Log("ERROR", "%v", err)
	}
}

// enter and leave keep the list of running engines.
func (p *Process) enter(e *Engine) {
	p.mu.Lock()
	p.running = append(p.running, e)
	p.newest = e
	p.mu.Unlock()
}

func (p *Process) leave(e *Engine) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, r := range p.running {
		if r == e {
			p.running = append(p.running[:i], p.running[i+1:]...)
			break
		}
	}
}

// ProcessLocal is a binding's per-process value of type T: state shared by every engine of
// a process, across reloads (the listening sockets that a new generation takes over).
type ProcessLocal[T any] struct {
	i    int
	make func(p *Process) *T
}

// NewProcessLocal declares a per-process value; make builds a process's value on its first
// Get. Call it from an init function or a package variable's initializer.
func NewProcessLocal[T any](make func(p *Process) *T) *ProcessLocal[T] {
	return &ProcessLocal[T]{i: declareLocal(&processLocals, "a ProcessLocal"), make: make}
}

// Get returns p's value, making it the first time. Safe from any goroutine.
func (l *ProcessLocal[T]) Get(p *Process) *T {
	p.localsMu.Lock()
	defer p.localsMu.Unlock()
	if v := p.locals[l.i]; v != nil {
		return v.(*T)
	}
	v := l.make(p)
	p.locals[l.i] = v
	return v
}
