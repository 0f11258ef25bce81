// Package engine runs Lua scripts on LuaJIT workers: one state per worker, one owner
// goroutine per state, a bounded completion queue per worker, one timer heap per worker and
// one shared pool for blocking I/O.
//
// The simplest use is what `drlee run` does:
//
//	e, err := engine.New(engine.Config{Script: "app.lua", Workers: 4})
//	err = e.Run(ctx) // returns when every worker has ended; cancel ctx to shut down
//
// Bindings (package bindings/...) extend what Lua sees with Register, and follow one recipe:
// convert Lua arguments to Go values on the loop, Reserve an Op (or call Async), do the I/O
// on the pool, and convert the Go result back to Lua in the Completion, which runs on the
// loop exactly once.
//
// Concurrency: a Worker's methods run on its loop unless documented otherwise; Submit,
// Op.Complete, ReportError and Logf are safe from any goroutine. Every goroutine the engine
// or a binding starts is started by Engine.Go, which Run waits for (goroutines.go).
package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	lua "github.com/drlee/drlee/cgo"
	"github.com/drlee/drlee/internal/nodename"
)

// Config configures an engine. Zero values take the defaults documented per field.
type Config struct {
	Script  string   // path of the main script
	Args    []string // script arguments: arg[1..], env.args
	Workers int      // default: number of CPUs
	// LockThreads pins each worker's loop goroutine to its own OS thread.
	LockThreads     bool
	PoolSize        int           // goroutines of the blocking-I/O pool; default 1024
	QueueSize       int           // bound of each worker's queue of admitted work; default 4096
	ShutdownTimeout time.Duration // in-flight work may finish within it; default 10 s
	// CallbackTimeout interrupts a Lua callback (not the main chunk) that has run longer,
	// with an error raised inside it; 0: never (see watchdog.go).
	CallbackTimeout time.Duration
	Node            string    // this node's name (env.node); default hostname
	Stdout, Stderr  io.Writer // default os.Stdout, os.Stderr
	LogLevel        string    // debug, info (default), warn or error
	// Process is what this engine shares with the other generations of a reloading process
	// (process.go); nil: a process of its own, closed at the end of Run.
	Process *Process

	// The bindings' settings (Setting): HTTP timeouts, cluster addresses... The engine
	// does not read them.
	settings map[int]settingValue
}

// stuckGrace is how long Run waits, after the shutdown timeout, for workers whose running
// callbacks it interrupted.
const stuckGrace = 2 * time.Second

// Engine is a running set of workers.
type Engine struct {
	cfg     Config
	pool    *ioPool
	workers []*Worker

	failed   atomic.Bool
	ran      atomic.Bool   // Run was called: it runs once
	started  chan struct{} // closed once Run has created the workers
	live     atomic.Int32  // workers whose loop has not ended yet
	allDone  chan struct{} // closed by the last worker to end
	stopping chan struct{} // closed by Shutdown: servers stop accepting
	stopFlag atomic.Bool   // the same, as the loops read it
	killFlag atomic.Bool   // the shutdown timeout ran out: loops end now
	stopOnce sync.Once

	proc     *Process      // shared with the other generations; its outMu keeps lines whole
	ownProc  bool          // proc is this engine's alone: Run closes it
	ready    chan struct{} // closed once every worker has run the main chunk to its end
	loaded   atomic.Int32  // workers whose main chunk has ended without an error
	readyMu  sync.Mutex    // protects readyFns, isReady
	readyFns []func()      // OnReady
	isReady  bool

	hooksMu sync.Mutex // protects closers, and workers while Run sets it
	closers []func()   // process-wide resources of bindings, closed after the workers ended

	minLevel int // lines below it are dropped

	owned owned         // the goroutines the engine owns (Go)
	grace time.Duration // how long Run waits for them: GoroutineGrace, shorter in tests

	fatalMu  sync.Mutex
	fatalErr error         // the first error that kept a worker from running the script
	loadFail chan struct{} // closed with the first such error (fatal)

	localsMu     sync.Mutex // protects locals
	locals       []any      // the engine's EngineLocal values, by index
	workerLocals int        // how many WorkerLocals each worker has room for
}

// New checks the configuration (the modules' settings included: Module.Configure); the I/O
// pool and the workers start in Run.
func New(cfg Config) (*Engine, error) {
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.NumCPU()
	}
	if cfg.PoolSize <= 0 {
		cfg.PoolSize = 1024
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 4096
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 10 * time.Second
	}
	if cfg.Stdout == nil {
		cfg.Stdout = os.Stdout
	}
	if cfg.Stderr == nil {
		cfg.Stderr = os.Stderr
	}
	cloneSettings(&cfg)
	if err := configure(&cfg); err != nil {
		return nil, err
	}
	if cfg.Node == "" {
		cfg.Node = nodename.Default("")
	}
	nw, ne, _ := freezeLocals()
	e := &Engine{
		cfg: cfg, started: make(chan struct{}), allDone: make(chan struct{}), stopping: make(chan struct{}),
		locals: make([]any, ne), grace: GoroutineGrace, proc: cfg.Process, ready: make(chan struct{}),
		loadFail: make(chan struct{}),
	}
	if e.proc == nil {
		e.proc, e.ownProc = NewProcess(), true
	}
	e.workerLocals = nw
	if cfg.LogLevel == "" {
		cfg.LogLevel = "info"
	}
	lvl, ok := logLevels[strings.ToUpper(cfg.LogLevel)]
	if !ok || lvl > logLevels["ERROR"] {
		return nil, fmt.Errorf("unknown log level %q (debug, info, warn, error)", cfg.LogLevel)
	}
	e.minLevel = lvl
	return e, nil
}

// NodeName is this node's name in the cluster (env.node): Config.Node, or by default the
// host name, plus ":" and the cluster port when a module configured one (Configure).
func (e *Engine) NodeName() string { return e.cfg.Node }

// Process returns what the engine shares with the other generations of its process
// (Config.Process, or a process of its own).
func (e *Engine) Process() *Process { return e.proc }

// Ready is closed once every worker has run the main chunk to its end (its awaits
// included) without an error: the script is loaded and its servers listen. A reload
// retires the old generation only then. A script that fails never closes it.
func (e *Engine) Ready() <-chan struct{} { return e.ready }

// LoadFailed is closed when a worker could not run the script (a syntax error, a main
// chunk that raised): the engine never becomes Ready. Its other workers run on (as they
// always have: `drlee run` exits 1 at the end); a reload shuts the engine down.
func (e *Engine) LoadFailed() <-chan struct{} { return e.loadFail }

// Err is the error Run returns, as it stands now: the first failure to run the script (see
// LoadFailed), or an Abort's. Safe from any goroutine.
func (e *Engine) Err() error {
	e.fatalMu.Lock()
	defer e.fatalMu.Unlock()
	return e.fatalErr
}

// OnReady registers fn to run once the engine is Ready: on the goroutine that makes it so
// (the loop of the last worker to load), before Ready closes; at once, on the caller's, if
// it is already. For a binding that holds a new generation's share of a shared listener
// back until the whole generation has loaded (a reload switches over at once, never to a
// half-loaded script). fn must not block or call into Lua. Safe from any goroutine.
func (e *Engine) OnReady(fn func()) {
	e.readyMu.Lock()
	if !e.isReady {
		e.readyFns = append(e.readyFns, fn)
		e.readyMu.Unlock()
		return
	}
	e.readyMu.Unlock()
	fn()
}

// workerLoaded counts a worker whose main chunk ended without an error.
func (e *Engine) workerLoaded() {
	if int(e.loaded.Add(1)) != e.cfg.Workers {
		return
	}
	e.readyMu.Lock()
	e.isReady = true
	fns := e.readyFns
	e.readyFns = nil
	e.readyMu.Unlock()
	for _, fn := range fns {
		fn()
	}
	close(e.ready)
}

// Config returns the engine's configuration.
func (e *Engine) Config() Config { return e.cfg }

// Workers returns the workers (valid once Run started).
func (e *Engine) Workers() []*Worker { return e.workers }

// Failed reports whether any Lua error went uncaught: `drlee run` then exits 1.
func (e *Engine) Failed() bool { return e.failed.Load() }

// OnClose registers a process-wide cleanup that runs after every worker ended, in the
// reverse order of registration, before Run waits for the goroutines the engine owns (Go):
// it closes what those goroutines wait on. Safe from any goroutine.
func (e *Engine) OnClose(fn func()) {
	e.hooksMu.Lock()
	e.closers = append(e.closers, fn)
	e.hooksMu.Unlock()
}

// Run loads the script, runs it in every worker and returns when all of them have ended.
// Cancelling ctx shuts down: servers stop accepting, in-flight work has ShutdownTimeout to
// finish, then the loops end. Once the workers ended, the OnClose functions run, and Run
// waits a grace period for the goroutines the engine owns (Go) and the I/O pool's, logging
// those that do not end. Run returns an error when the script could not run (syntax error,
// runtime error in the main chunk). It runs once per engine.
func (e *Engine) Run(ctx context.Context) error {
	if !e.ran.CompareAndSwap(false, true) {
		return errors.New("engine: Run called twice")
	}
	e.proc.enter(e)
	defer e.proc.leave(e)
	code, err := os.ReadFile(e.cfg.Script)
	if err != nil {
		e.endGoroutines() // none started: Go refuses from now on
		return err
	}
	// Made here, not in New: its goroutines live from Run to its end, and an engine that
	// is never run has none. Never blocking: a burst waits in the pool's bounded backlog,
	// and beyond that is an error the binding reports to Lua, never a loop that blocks
	// waiting for a slot.
	if e.pool, err = newIOPool(e.cfg.PoolSize, 64*e.cfg.PoolSize, func(p any) {
		e.InternalError(0, "an I/O task", p)
	}); err != nil {
		e.endGoroutines()
		return err
	}
	// Shebang line, as the luajit CLI accepts it.
	if len(code) > 1 && code[0] == '#' && code[1] == '!' {
		code[0], code[1] = '-', '-'
	}
	abs, _ := filepath.Abs(e.cfg.Script)
	e.cfg.Script = abs
	chunk := "@" + e.displayName()
	workers := make([]*Worker, e.cfg.Workers)
	for i := range workers {
		workers[i] = &Worker{
			ID: i + 1, engine: e, q: newQueue(e.cfg.QueueSize), epoch: time.Now(),
			locals: make([]any, e.workerLocals),
		}
	}
	e.hooksMu.Lock() // Shutdown may come from another goroutine at any time
	e.workers = workers
	e.hooksMu.Unlock()
	// Each worker's loop counts itself out as it ends, and the last one closes allDone:
	// no goroutine waits for them one by one.
	e.live.Store(int32(len(workers)))
	for _, w := range e.workers {
		e.Go(fmt.Sprintf("engine: worker %d", w.ID), func() { w.start(code, chunk) })
	}
	close(e.started)
	stopWatchdog := make(chan struct{})
	if e.cfg.CallbackTimeout > 0 {
		e.Go("engine: watchdog", func() { e.watchdog(stopWatchdog) })
	}
	// Shutdown starts with ctx or with a call to Shutdown; either way in-flight work gets
	// ShutdownTimeout, then the loops are ended.
	select {
	case <-e.allDone:
	case <-ctx.Done():
		e.Shutdown()
	case <-e.stopping:
	}
	select {
	case <-e.allDone:
	case <-time.After(e.cfg.ShutdownTimeout):
		e.logf(0, "WARN", "shutdown timeout (%s) reached: ending workers with work in flight", e.cfg.ShutdownTimeout)
		e.killFlag.Store(true)
		e.pokeAll()
		e.interruptAll("shutdown timeout")
		select {
		case <-e.allDone:
		case <-time.After(stuckGrace):
			// A worker stuck in a loop that no hook can reach: the process ends without it.
			e.logf(0, "ERROR", "a worker is stuck in a callback that cannot be interrupted: ending without it")
		}
	}
	close(stopWatchdog) // it watches the workers, and they are gone
	e.hooksMu.Lock()
	closers := e.closers
	e.closers = nil
	e.hooksMu.Unlock()
	for i := len(closers) - 1; i >= 0; i-- {
		closers[i]()
	}
	if e.ownProc {
		// Alone in its process: what the process holds ends with the engine, as if it
		// were the engine's own (one grace period for both).
		e.proc.runClosers()
		deadline := time.Now().Add(e.grace)
		e.endGoroutines()
		e.proc.grace = e.grace
		e.proc.waitGoroutines(deadline)
	} else {
		e.endGoroutines()
	}
	lua.FlushStdout()
	e.fatalMu.Lock()
	defer e.fatalMu.Unlock()
	return e.fatalErr
}

// workerEnded counts out a worker whose loop has ended.
func (e *Engine) workerEnded() {
	if e.live.Add(-1) == 0 {
		close(e.allDone)
	}
}

// Shutdown asks every worker to stop accepting new work (servers close). Safe from any
// goroutine; idempotent.
func (e *Engine) Shutdown() {
	e.stopOnce.Do(func() {
		e.stopFlag.Store(true)
		close(e.stopping)
		e.pokeAll()
	})
}

// pokeAll wakes every worker's loop so that it reads the engine's flags.
func (e *Engine) pokeAll() {
	e.hooksMu.Lock()
	workers := e.workers
	e.hooksMu.Unlock()
	for _, w := range workers {
		w.poke()
	}
}

// Started is closed once Run has created the workers (they may still be loading the
// script): from then on Workers is set and Shutdown reaches every worker. A Run that fails
// before (the script cannot be read) never closes it.
func (e *Engine) Started() <-chan struct{} { return e.started }

// Stopping is closed when shutdown begins.
func (e *Engine) Stopping() <-chan struct{} { return e.stopping }

// displayName is the script's name in messages: relative to the working directory when
// that is shorter.
func (e *Engine) displayName() string {
	wd, err := os.Getwd()
	if err == nil {
		if rel, err := filepath.Rel(wd, e.cfg.Script); err == nil && len(rel) < len(e.cfg.Script) {
			return rel
		}
	}
	return e.cfg.Script
}

var errFatal = errors.New("script failed")

// fatal records that a worker could not run the script (it stops); the first failure is
// reported, once: every worker runs the same chunk and would report the same error.
func (e *Engine) fatal(worker int, err error) {
	e.failed.Store(true)
	e.fatalMu.Lock()
	first := e.fatalErr == nil
	if first {
		e.fatalErr = fmt.Errorf("%w: %w", errFatal, err)
		close(e.loadFail)
	}
	e.fatalMu.Unlock()
	if first {
		var le *lua.Error
		msg := err.Error()
		if errors.As(err, &le) {
			msg = le.Msg
		}
		e.logf(worker, "ERROR", "%s", msg)
	}
}

// Abort ends the engine because part of the runtime failed for good (a listener that can
// no longer accept): err is logged and Run returns it once the workers have shut down as on
// SIGTERM, so that `drlee run` exits non-zero instead of staying up deaf. Safe from any
// goroutine; only the first error is kept.
func (e *Engine) Abort(err error) { e.abort(err, true) }

// abort is Abort, logging err or not (Process.Abort logs it once for all its engines).
func (e *Engine) abort(err error, log bool) {
	e.failed.Store(true)
	e.fatalMu.Lock()
	if e.fatalErr == nil {
		e.fatalErr = err
	}
	e.fatalMu.Unlock()
	if log {
		e.logf(0, "ERROR", "%v", err)
	}
	e.Shutdown()
}

// Fail ends the engine at the script's request (log.fatal): it shuts down as on SIGTERM
// (servers stop accepting, tickers stop, in-flight work gets ShutdownTimeout), and the run
// counts as failed, so that `drlee run` exits 1 once it is over. Safe from any goroutine;
// idempotent.
func (e *Engine) Fail() {
	e.failed.Store(true)
	e.Shutdown()
}

// logLevels ranks the levels of log lines. FATAL lines (log.fatal) are never dropped: no
// --log-level is above them.
var logLevels = map[string]int{"DEBUG": 0, "INFO": 1, "WARN": 2, "ERROR": 3, "FATAL": 4}

// logf writes one line to stderr: time, level, worker id, message. Safe from any goroutine.
func (e *Engine) logf(worker int, level, format string, args ...any) {
	if logLevels[level] < e.minLevel {
		return
	}
	msg := safeLogText(fmt.Sprintf(format, args...))
	var tag string
	if worker > 0 {
		tag = fmt.Sprintf("[worker %d] ", worker)
	}
	line := fmt.Sprintf("%s %-5s %s%s\n", time.Now().Format("2006-01-02T15:04:05.000Z07:00"), level, tag, msg)
	e.proc.outMu.Lock()
	io.WriteString(e.cfg.Stderr, line)
	e.proc.outMu.Unlock()
}

// continuation starts each line of a message after its first: a message with newlines (a
// traceback, or text a script logs) can never produce a line that looks like the start of
// a log line of its own ("x\nERROR [worker 9] forged").
const continuation = "    "

// safeLogText makes text safe for one log entry: newlines start indented continuation lines,
// and other control characters (CR, ESC and the rest, which could overwrite or recolour what
// a terminal shows) are escaped as \r or \xNN. Tabs stay.
func safeLogText(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\n':
			b.WriteByte('\n')
			b.WriteString(continuation)
		case c == '\r':
			b.WriteString(`\r`)
		case (c < 0x20 && c != '\t') || c == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Log writes a log line as the engine (worker 0). Safe from any goroutine.
func (e *Engine) Log(level, format string, args ...any) { e.logf(0, level, format, args...) }

// WriteStdout writes b to the engine's stdout in one piece, so that lines written by
// different workers never interleave. Safe from any goroutine.
func (e *Engine) WriteStdout(b []byte) {
	e.proc.outMu.Lock()
	e.cfg.Stdout.Write(b)
	e.proc.outMu.Unlock()
}

// Pool runs fn on the blocking-I/O pool; an error means the pool is saturated.
func (e *Engine) Pool(fn func()) error { return e.pool.Submit(fn) }
