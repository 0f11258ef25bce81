// Command drlee runs Lua scripts on Dr.LEE, the Distributed Lua Execution Environment.
//
//	drlee run [flags] script.lua [args...]
//
// The script runs once in every worker (one LuaJIT state each, --workers, default the
// number of CPUs). drlee exits when every worker has nothing left to do, or on SIGINT or
// SIGTERM after in-flight work finished (--shutdown-timeout). It exits 1 when the main
// chunk failed, any Lua error went uncaught, or a script called log.fatal (which shuts
// down as SIGTERM does).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	_ "github.com/drlee/drlee/bindings" // every module
	"github.com/drlee/drlee/engine"
)

// version is set by the build (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func usage(w io.Writer) {
	fmt.Fprint(w, `Dr.LEE: a Distributed Lua Execution Environment on LuaJIT.

Usage:
  drlee run [flags] script.lua [args...]   run a script in N workers
  drlee version                            print the version
  drlee help                               this text

Run "drlee run -h" for the flags.
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
	case "version", "--version", "-v":
		fmt.Fprintf(stdout, "drlee %s (%s, %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return 0
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
	engine.Flags(fs, &cfg) // every module's flags, bound to its settings in cfg
	var obs observeFlags
	obs.register(fs) // --access-log, --metrics (observe.go)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: drlee run [flags] script.lua [args...]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(argv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() < 1 {
		fs.Usage()
		return 2
	}
	cfg.Script = fs.Arg(0)
	cfg.Args = fs.Args()[1:]
	cfg.Stdout, cfg.Stderr = stdout, stderr

	e, err := engine.New(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "drlee: %v\n", err)
		return 1
	}
	if err := obs.start(e, stdout); err != nil {
		fmt.Fprintf(stderr, "drlee: %v\n", err)
		return 1
	}
	defer obs.close(stderr)
	if path := os.Getenv("DRLEE_CPUPROFILE"); path != "" {
		// For profiling the runtime itself (docs/ARCHITECTURE.md, "Measurements"); not a
		// user feature.
		if f, err := os.Create(path); err == nil {
			if pprof.StartCPUProfile(f) == nil {
				defer pprof.StopCPUProfile()
			}
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := e.Run(ctx); err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			fmt.Fprintf(stderr, "drlee: %v\n", err)
		}
		return 1
	}
	if e.Failed() {
		return 1
	}
	return 0
}
