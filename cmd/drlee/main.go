// Command drlee runs Lua scripts on Dr.LEE, the Distributed Lua Execution Environment.
//
//	drlee run [flags] script.lua [args...]
//	drlee run [flags] -e 'code' [args...]
//	drlee run [flags] - [args...]            (the script on stdin)
//	drlee test [flags] [paths...]
//	drlee repl [flags] [script.lua [args...]]
//	drlee version
//
// Flags can also come from the environment: DRLEE_WORKERS=4 is --workers 4 (env.go).
//
// The script runs once in every worker (one LuaJIT state each, --workers, default the
// number of CPUs). drlee exits when every worker has nothing left to do, or on SIGINT or
// SIGTERM after in-flight work finished (--shutdown-timeout). It exits 1 when the main
// chunk failed, any Lua error went uncaught, or a script called log.fatal (which shuts
// down as SIGTERM does). SIGHUP reloads: the script, read again, runs in new workers that
// take over the listening sockets while the old ones drain (reload.go).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	_ "github.com/drlee/drlee/bindings" // every module
	"github.com/drlee/drlee/engine"
)

// version is set by the build (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	reexecAllowed = true // --sysmon-awake (sysmon.go)
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func usage(w io.Writer) {
	fmt.Fprint(w, `Dr.LEE: a Distributed Lua Execution Environment on LuaJIT.

Usage:
  drlee run [flags] script.lua [args...]   run a script in N workers
  drlee run [flags] -e 'code' [args...]    run code given on the command line
  drlee run [flags] - [args...]            run the script read from stdin
  drlee run --check script.lua             compile only: exit 1 with the syntax error
  drlee reload --pid-file PATH             reload a running drlee (as SIGHUP does)
  drlee test [flags] [paths...]            run the *_test.lua files of paths (default .)
  drlee repl [flags] [script.lua]          a Lua prompt on a worker (script loaded first)
  drlee version                            print the versions of drlee, LuaJIT and Go
  drlee help                               this text

Run "drlee run -h" (test -h, repl -h) for the flags. Each flag can also be set by a
DRLEE_ environment variable: DRLEE_WORKERS=4 is --workers 4 (the command line wins).
`)
}

func run(argv []string, stdout, stderr io.Writer) int {
	if len(argv) == 0 {
		usage(stderr)
		return 2
	}
	switch argv[0] {
	case "run":
		return runScript(argv[1:], stdout, stderr)
	case "test":
		return runTests(argv[1:], stdout, stderr)
	case "repl":
		return runREPL(argv[1:], os.Stdin, stdout, stderr)
	case "reload":
		return reloadCmd(argv[1:], stderr)
	case "version", "--version", "-v":
		return printVersion(stdout, stderr)
	case "help", "-h", "--help":
		usage(stdout)
		return 0
	}
	// `drlee script.lua` is `drlee run script.lua`.
	if strings.HasSuffix(argv[0], ".lua") {
		return runScript(argv, stdout, stderr)
	}
	fmt.Fprintf(stderr, "drlee: unknown command %q\n", argv[0])
	usage(stderr)
	return 2
}

func runScript(argv []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("drlee run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg engine.Config
	fs.IntVar(&cfg.Workers, "workers", runtime.NumCPU(), "number of workers (LuaJIT states)")
	fs.IntVar(&cfg.Workers, "w", runtime.NumCPU(), "shorthand for --workers")
	fs.BoolVar(&cfg.LockThreads, "lock-threads", false, "pin each worker's loop to its own OS thread (for thread-affine C libraries; slower)")
	fs.IntVar(&cfg.PoolSize, "pool-size", 1024, "goroutines in the shared blocking-I/O pool")
	fs.IntVar(&cfg.QueueSize, "queue-size", 4096, "bound of each worker's queue of new work (requests beyond it get 503)")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", 10*time.Second, "on SIGINT/SIGTERM, time given to in-flight work")
	fs.DurationVar(&cfg.CallbackTimeout, "callback-timeout", time.Minute, "interrupt a Lua callback (not the main chunk) that runs longer, with an error; 0: never")
	fs.StringVar(&cfg.Node, "node", "", "this node's name (env.node; default: host name, plus the cluster port)")
	fs.StringVar(&cfg.LogLevel, "log-level", "info", "debug, info, warn or error")
	pidFile := fs.String("pid-file", "", "write the process id to this file (for drlee reload), removed at exit")
	sysmonAwake := fs.Bool("sysmon-awake", false, "keep Go's system monitor from its deep sleep (fewer wake-ups on a core of its own; see README, Speed): drlee executes itself once more at start")
	engine.Flags(fs, &cfg) // every module's flags, bound to its settings in cfg
	expr := fs.String("e", "", "run this code instead of a script file (the arguments are all the script's)")
	check := fs.Bool("check", false, "only load and compile the script (or -e, -), in one worker with every module: exit 1 with the syntax error")
	var obs observeFlags
	obs.register(fs) // --access-log, --metrics (observe.go)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: drlee run [flags] script.lua|-e code|- [args...]")
		fs.PrintDefaults()
	}
	if !applyEnv(fs, stderr) {
		return 2
	}
	if err := fs.Parse(argv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *sysmonAwake {
		keepSysmonAwake() // sysmon.go: executes drlee again, once, or returns
	}
	if code := chooseSource(fs, &cfg, expr, isFlagSet(fs, "e"), *check, os.Stdin, stderr); code >= 0 {
		return code
	}
	cfg.Stdout, cfg.Stderr = stdout, stderr
	// A server ignores SIGPIPE, as nginx does: a write to a client that left fails with
	// EPIPE, which every write path already handles, and no signal is delivered at all
	// (Go's runtime would ignore it for sockets anyway, but only after taking it: a signal
	// per dead connection, and the nested ones crash valgrind, which bench/instructions.sh
	// runs the server under). A closed stdout, too, is then a write error, not an exit.
	signal.Ignore(syscall.SIGPIPE)

	return runGenerations(cfg, *pidFile, reloadRefusal(fs), &obs, stdout, stderr) // reload.go
}
