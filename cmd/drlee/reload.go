package main

// Reloading: `drlee run` owns the generations of engines of its process. SIGHUP (or `drlee
// reload --pid-file F`) starts a new generation, an engine that reads the script from disk
// again and runs it in a new set of workers, sharing the process (engine.Process) with the
// generation serving now: the new workers join the listening sockets the old ones serve on
// (the HTTP servers, the network module's shared sockets), which never close. Once every
// new worker has run the main chunk to its end (Engine.Ready), the old generation shuts
// down as on SIGTERM: its servers stop giving it new work, its in-flight requests, timers
// and streams have --shutdown-timeout to end, then its workers close. A script that fails
// to load (a syntax error, a main chunk that raises) ends its own generation only: the old
// one keeps serving, and the log says why.
//
// A SIGHUP that comes while a reload is loading is coalesced: one more reload follows once
// the current one is done (served or failed), however many came meanwhile, so that the
// last version of the script on disk is the one that ends up serving.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"

	"github.com/drlee/drlee/engine"
)

// generation is one engine of the process and the result of its Run.
type generation struct {
	n   int
	e   *engine.Engine
	err error // Run's, once it has returned (sent on ended)
}

// supervisor runs the generations of `drlee run`. Its fields belong to runGenerations'
// goroutine.
type supervisor struct {
	cfg    engine.Config
	proc   *engine.Process
	obs    *observeFlags // the access log and metrics, shared by the generations
	stderr io.Writer
	ended  chan *generation // each generation, once its Run returned

	last    int         // number of the newest generation
	cur     *generation // serving (or loading, for the first)
	loading *generation // a reload not ready yet
	// Generations that failed to load, shut down and not ended yet.
	discarded map[*generation]bool
	queued    bool   // a SIGHUP came during the reload in progress
	live      int    // generations whose Run has not returned
	stopping  bool   // SIGINT or SIGTERM, or the serving generation ended: no more reloads
	failed    bool   // a generation that served failed (uncaught error, log.fatal)
	refusal   string // why this process cannot reload ("": it can)
}

// runGenerations is `drlee run` once the flags are parsed: it runs the script in a first
// generation, reloads on SIGHUP, and shuts down on SIGINT or SIGTERM. It returns the exit
// code.
func runGenerations(cfg engine.Config, pidFile, refusal string, obs *observeFlags, stdout, stderr io.Writer) int {
	s := &supervisor{cfg: cfg, proc: engine.NewProcess(), stderr: stderr, ended: make(chan *generation), refusal: refusal,
		discarded: map[*generation]bool{}}
	s.cfg.Process = s.proc
	e, err := engine.New(s.cfg)
	if err != nil {
		fmt.Fprintf(stderr, "drlee: %v\n", err)
		return 1
	}
	// The access log and the metrics listener are the process's: they outlive generations.
	if err := obs.start(s.proc, e.Config().Workers, stdout); err != nil {
		fmt.Fprintf(stderr, "drlee: %v\n", err)
		s.proc.Close()
		return 1
	}
	defer obs.close(stderr) // after s.proc.Close: the writer has stopped, the last lines go out
	s.obs = obs
	obs.attach(e)
	obs.serve(e)
	// Before the pid file exists: a `drlee reload` that reads it must find SIGHUP caught,
	// not the default action, which ends the process.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	if pidFile != "" {
		if err := writePidFile(pidFile); err != nil {
			fmt.Fprintf(stderr, "drlee: --pid-file: %v\n", err)
			return 1
		}
		defer removePidFile(pidFile)
	}
	if path := os.Getenv("DRLEE_CPUPROFILE"); path != "" {
		// For profiling the runtime itself (docs/ARCHITECTURE.md, "Measurements"); not a
		// user feature.
		if f, err := os.Create(path); err == nil {
			if pprof.StartCPUProfile(f) == nil {
				defer pprof.StopCPUProfile()
			}
		}
	}
	s.cur = s.start(e)
	var result error
	for s.live > 0 {
		var ready, loadFailed <-chan struct{}
		if s.loading != nil {
			ready, loadFailed = s.loading.e.Ready(), s.loading.e.LoadFailed()
		}
		select {
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				s.reload()
			} else {
				s.stop()
			}
		case <-ready:
			s.switchOver()
		case <-loadFailed:
			// A worker could not run the script; the others may have, and serve on until
			// their engine is shut down: now.
			g := s.loading
			s.loading = nil
			s.discarded[g] = true
			g.e.Shutdown()
			s.failedReload(g, g.e.Err())
		case g := <-s.ended:
			s.live--
			if g == s.loading && g.err == nil && isClosed(g.e.Ready()) {
				s.switchOver() // it loaded, and ended at once (a script with nothing to serve)
			}
			switch {
			case g == s.cur:
				// The serving generation ended by itself (the script has nothing left to
				// do, log.fatal, a listener that failed): so does the process.
				result = g.err
				s.failed = s.failed || g.e.Failed()
				s.stop()
			case g == s.loading:
				s.loading = nil
				s.failedReload(g, g.err)
			case s.discarded[g]:
				delete(s.discarded, g)
				s.proc.Log("INFO", "reload: generation %d has ended", g.n)
			default:
				s.failed = s.failed || g.e.Failed()
				s.proc.Log("INFO", "reload: generation %d has ended", g.n)
			}
		}
	}
	s.proc.Close()
	if result != nil {
		var pe *os.PathError
		if errors.As(result, &pe) {
			fmt.Fprintf(stderr, "drlee: %v\n", result)
		}
		return 1
	}
	if s.failed {
		return 1
	}
	return 0
}

// start runs e as the next generation.
func (s *supervisor) start(e *engine.Engine) *generation {
	s.last++
	g := &generation{n: s.last, e: e}
	s.live++
	go func() {
		g.err = e.Run(context.Background())
		s.ended <- g
	}()
	return g
}

// reload starts a new generation, or queues one behind the reload in progress.
func (s *supervisor) reload() {
	switch {
	case s.stopping:
		s.proc.Log("WARN", "reload: shutting down, SIGHUP ignored")
	case s.refusal != "":
		s.proc.Log("WARN", "reload: SIGHUP ignored: %s", s.refusal)
	case s.loading != nil:
		if !s.queued {
			s.queued = true
			s.proc.Log("INFO", "reload: generation %d is still loading: one more reload follows it", s.loading.n)
		}
	default:
		e, err := engine.New(s.cfg)
		if err != nil { // the flags were checked at the start: cannot happen
			s.proc.Log("ERROR", "reload: %v: generation %d keeps serving", err, s.cur.n)
			return
		}
		s.obs.attach(e)
		s.loading = s.start(e)
		what := s.cfg.Script
		if what == "/dev/null" { // -e or -: the code is in the engine's config, read once
			what = "the same code (given with -e or on stdin: there is no file to read again)"
		}
		s.proc.Log("INFO", "reload: generation %d is loading %s", s.loading.n, what)
	}
}

// failedReload reports a generation that could not run the script, and starts the reload
// queued behind it, if any.
func (s *supervisor) failedReload(g *generation, err error) {
	s.proc.Log("ERROR", "reload failed: generation %d could not run the script (%s): generation %d keeps serving", g.n, firstLine(err), s.cur.n)
	s.next()
}

// next starts the reload queued behind the one that just ended, if any.
func (s *supervisor) next() {
	if s.queued && !s.stopping {
		s.queued = false
		s.reload()
	}
}

// switchOver retires the serving generation once the loading one is ready.
func (s *supervisor) switchOver() {
	old := s.cur
	s.cur, s.loading = s.loading, nil
	s.proc.Log("INFO", "reload: generation %d serves; generation %d drains", s.cur.n, old.n)
	s.obs.serve(s.cur.e) // /metrics shows the serving generation's numbers (counters restart)
	old.e.Shutdown()
	s.next()
}

// stop shuts every generation down, as SIGTERM does for one.
func (s *supervisor) stop() {
	s.stopping = true
	s.queued = false
	s.cur.e.Shutdown()
	if s.loading != nil {
		s.loading.e.Shutdown()
	}
	// The draining generations are shutting down already.
}

// reloadRefusal says why the flags of `drlee run` make a reload impossible, or "". The
// embedded NATS server of --cluster listens on the cluster port, which the new generation's
// rpc node cannot bind while the serving one holds it: its script would fail to load after
// the node's start timeout, every time. A node of a cluster is restarted instead (the
// cluster routes around it meanwhile); --nats (an external NATS) reloads.
func reloadRefusal(fs *flag.FlagSet) string {
	if f := fs.Lookup("cluster"); f != nil && f.Value.String() != "" {
		return "--cluster (the embedded NATS server) holds its port for one generation only: restart the node instead, or use --nats"
	}
	// The embedded server's JetStream locks its store: a second generation's could not open
	// it while the serving one holds it, and its kv buckets would fail.
	if f := fs.Lookup("data-dir"); f != nil && f.Value.String() != "" {
		return "--data-dir (the embedded JetStream store) is held by one generation only: restart instead, or use --nats"
	}
	return ""
}

// writePidFile writes this process's id to path (replacing what it held), for `drlee
// reload --pid-file` and for supervisors.
func writePidFile(path string) error {
	return os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644)
}

// removePidFile removes the pid file at exit, unless it names another process now (a
// second drlee started with the same --pid-file): that one's is not ours to remove.
func removePidFile(path string) {
	if pid, err := readPidFile(path); err == nil && pid != os.Getpid() {
		return
	}
	_ = os.Remove(path)
}

// isDrlee reports whether process pid runs a drlee, from its command line: a stale pid file
// may name a process id the system has given to another program since, which a SIGHUP
// could end. Where /proc cannot tell, it assumes so.
func isDrlee(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil || len(b) == 0 {
		return true
	}
	argv0, _, _ := strings.Cut(string(b), "\x00")
	return strings.Contains(filepath.Base(argv0), "drlee")
}

// reloadCmd is `drlee reload --pid-file F`: it sends SIGHUP to the drlee whose pid F holds.
// It does not wait for the reload: its result is in that drlee's log.
func reloadCmd(argv []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("drlee reload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	pidFile := fs.String("pid-file", "", "the file `drlee run --pid-file` wrote (required)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: drlee reload --pid-file PATH")
		fs.PrintDefaults()
	}
	if err := fs.Parse(argv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *pidFile == "" || fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	pid, err := readPidFile(*pidFile)
	if err != nil {
		fmt.Fprintf(stderr, "drlee reload: %v\n", err)
		return 1
	}
	if err := syscall.Kill(pid, 0); err == nil && !isDrlee(pid) {
		fmt.Fprintf(stderr, "drlee reload: process %d (from %s) is not a drlee: a stale pid file?\n", pid, *pidFile)
		return 1
	}
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		fmt.Fprintf(stderr, "drlee reload: process %d (from %s): %v\n", pid, *pidFile, err)
		return 1
	}
	return 0
}

// readPidFile reads a pid file: one decimal number, a positive process id.
func readPidFile(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	text := strings.TrimSpace(string(b))
	pid, err := strconv.Atoi(text)
	// 1 is init, never a drlee; 1<<22 is Linux's largest pid_max.
	if err != nil || pid <= 1 || pid > 1<<22 {
		return 0, fmt.Errorf("%s: not a process id: %q", path, truncate(text, 32))
	}
	return pid, nil
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// firstLine is an error's first line (the message of a Lua error, not its traceback, which
// the engine logged already), or a note that the generation ended with no error.
func firstLine(err error) string {
	if err == nil {
		return "its workers ended before the main chunk did"
	}
	msg, _, _ := strings.Cut(err.Error(), "\n")
	return msg
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
