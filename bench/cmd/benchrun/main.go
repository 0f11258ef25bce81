// Command benchrun is `make bench`: it puts Dr.LEE beside its peers on this
// machine, in one run.
//
// It builds the peers (bench/peers/...) into a temp dir, runs the Go
// micro-benchmarks (raw output for benchstat in bench/results/micro-*.txt),
// then the HTTP comparison: every scenario (bench/scenario) on every server
// (Dr.LEE with and without --lock-threads, raw fasthttp, net/http, fasthttp +
// a gopher-lua pool, nginx + Lua), repetitions interleaved server by server,
// medians reported, with a Redis and a PostgreSQL server of its own for the
// data scenarios (redis-get, pg-select; see data.go); then the CPU-bound Lua scripts (bench/cpu) on Dr.LEE,
// luajit, lua5.1 and gopher-lua. The tables go to stdout and to
// bench/results/<time>.md and latest.md, with a chart in latest.svg.
//
//	go run -tags luajit ./bench/cmd/benchrun          # full: about 15 minutes
//	go run -tags luajit ./bench/cmd/benchrun -quick   # under 2 minutes
//
// Every process it starts runs in its own process group and is stopped at
// the end, on an error and on Ctrl-C. It only ever connects to 127.0.0.1.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type config struct {
	quick      bool
	reps       int
	duration   time.Duration
	warmup     time.Duration
	conns      []int
	scenarios  []string
	servers    []string // server keys to run; empty: all
	loadgen    string   // auto, wrk or go
	pin        bool
	micro      bool
	http       bool
	cpu        bool
	microCount int
	microTime  string
	readme     bool
}

// bench is one benchrun: its setup and what it measured.
type bench struct {
	cfg          config
	started      time.Time
	tmp          string // built peers, nginx dirs
	drlee        string // absolute path of bin/drlee
	drleeMissing string // why Dr.LEE cannot run, or ""
	useWrk       bool
	serverCores  int      // GOMAXPROCS / --workers / worker_processes
	loadCores    int      // GOMAXPROCS of the Go load generator
	serverCPUs   string   // taskset CPU list for servers; "" when not pinning
	loadCPUs     string   // taskset CPU list for the load generator
	setup        []string // lines describing the machine and method; the first is the title

	data dataServers // Redis and PostgreSQL, for the data scenarios

	micro microResult
	http  []*httpRow
	cpu   []*cpuRow
}

func main() {
	cfg := parseFlags()
	b := &bench{cfg: cfg, started: time.Now()}
	var err error
	if b.tmp, err = os.MkdirTemp("", "drlee-bench-"); err != nil {
		fatalf("%v", err)
	}
	// On Ctrl-C or SIGTERM stop every process started so far, then exit: the
	// runs in flight fail fast once their processes are gone.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		s := <-sig
		fmt.Fprintf(os.Stderr, "\nbenchrun: %v: stopping every process it started\n", s)
		cancel()
		stopAll()
		os.RemoveAll(b.tmp)
		os.Exit(130)
	}()
	err = b.run(ctx)
	stopAll()
	os.RemoveAll(b.tmp)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchrun:", err)
		os.Exit(1)
	}
}

func parseFlags() config {
	var cfg config
	var conns, scenarios, servers string
	flag.BoolVar(&cfg.quick, "quick", false, "short run (under 2 minutes): fewer connections, repetitions and seconds")
	flag.IntVar(&cfg.reps, "reps", 0, "interleaved repetitions per server (default 3, quick 1)")
	flag.DurationVar(&cfg.duration, "d", 0, "duration of one load run; wrk rounds up to whole seconds (default 3s, quick 1s)")
	flag.DurationVar(&cfg.warmup, "warmup", 0, "warm-up load after a server starts (default 1s, quick 200ms)")
	flag.StringVar(&conns, "conns", "", "comma-separated connection counts (default 1,64, quick 64)")
	flag.StringVar(&scenarios, "scenarios", strings.Join(scenarioNames, ","), "comma-separated scenarios")
	flag.StringVar(&servers, "servers", "", "comma-separated servers (drlee,drlee-locked,drlee-sysmon,drlee-await,fasthttp,nethttp,gopherlua,nginx; default all)")
	flag.StringVar(&cfg.loadgen, "loadgen", "auto", "load generator: auto (wrk when installed), wrk or go")
	flag.BoolVar(&cfg.pin, "pin", true, "pin the load generator to CPU 0 and servers to the other CPUs (taskset)")
	flag.BoolVar(&cfg.micro, "micro", true, "run the Go micro-benchmarks")
	flag.BoolVar(&cfg.http, "http", true, "run the HTTP comparison")
	flag.BoolVar(&cfg.cpu, "cpu", true, "run the CPU-bound Lua scripts")
	flag.IntVar(&cfg.microCount, "count", 0, "go test -count for micro-benchmarks (default 6, quick 1)")
	flag.StringVar(&cfg.microTime, "benchtime", "", "go test -benchtime for micro-benchmarks (default 300ms, quick 100ms)")
	flag.BoolVar(&cfg.readme, "readme", true, "put the latest tables into bench/README.md")
	flag.Parse()

	def := func(full, quick string) string {
		if cfg.quick {
			return quick
		}
		return full
	}
	if cfg.reps == 0 {
		// Quick: one pass. A second would not fit in 2 minutes on 2 cores
		// (30 server/scenario pairs of at least 1 s each, plus the rest).
		cfg.reps, _ = strconv.Atoi(def("3", "1"))
	}
	if cfg.duration == 0 {
		cfg.duration, _ = time.ParseDuration(def("3s", "1s"))
	}
	if cfg.warmup == 0 {
		cfg.warmup, _ = time.ParseDuration(def("1s", "200ms"))
	}
	if conns == "" {
		conns = def("1,64", "64")
	}
	for _, c := range strings.Split(conns, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil || n < 1 {
			fatalf("bad -conns %q", conns)
		}
		cfg.conns = append(cfg.conns, n)
	}
	for _, s := range strings.Split(scenarios, ",") {
		if s = strings.TrimSpace(s); !slices.Contains(scenarioNames, s) {
			fatalf("unknown scenario %q (have %s)", s, strings.Join(scenarioNames, ","))
		}
		cfg.scenarios = append(cfg.scenarios, s)
	}
	if servers != "" {
		for _, s := range strings.Split(servers, ",") {
			cfg.servers = append(cfg.servers, strings.TrimSpace(s))
		}
	}
	if cfg.microCount == 0 {
		cfg.microCount, _ = strconv.Atoi(def("6", "1"))
	}
	if cfg.microTime == "" {
		cfg.microTime = def("300ms", "100ms")
	}
	if !slices.Contains([]string{"auto", "wrk", "go"}, cfg.loadgen) {
		fatalf("bad -loadgen %q (auto, wrk or go)", cfg.loadgen)
	}
	return cfg
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "benchrun: "+format+"\n", args...)
	os.Exit(2)
}

func (b *bench) run(ctx context.Context) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	// Every path below (bench/..., bin/drlee) is relative to the module root.
	if err := os.Chdir(root); err != nil {
		return err
	}
	b.drlee = filepath.Join(root, "bin", "drlee")
	b.drleeMissing = drleeMissing(b.drlee)
	b.planCPUs()
	switch b.cfg.loadgen {
	case "wrk":
		b.useWrk = true
	case "auto":
		_, err := exec.LookPath("wrk")
		b.useWrk = err == nil
	}
	b.describeSetup()
	for _, line := range b.setup {
		fmt.Println(line)
	}

	fmt.Println("\n== building peers")
	if _, err := run(ctx, 5*time.Minute, "go build", nil, "go", "build", "-o", b.tmp+"/",
		"./bench/peers/...", "./bench/cmd/loadgen"); err != nil {
		return err
	}
	if b.cfg.micro {
		fmt.Println("\n== Go micro-benchmarks")
		b.runMicro(ctx)
	}
	if b.cfg.http {
		fmt.Println("\n== HTTP comparison")
		if err := b.runHTTP(ctx); err != nil {
			return err
		}
	}
	if b.cfg.cpu {
		fmt.Println("\n== CPU-bound Lua")
		if err := b.runCPU(ctx); err != nil {
			return err
		}
	}
	return b.report()
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "bench", "scenarios")); err == nil {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				return dir, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("run benchrun inside the Dr.LEE module (no go.mod with bench/scenarios above %s)", dir)
		}
		dir = parent
	}
}

// planCPUs decides who runs where. Pinned (the default, with 2+ CPUs and
// taskset): the load generator gets CPU 0 and every server the same other
// CPUs, so the servers do not compete with the load generator and a server's
// requests/s is its own. Unpinned: everyone shares all CPUs, the servers get
// one worker per CPU, and results depend on how each scheduler shares with wrk.
func (b *bench) planCPUs() {
	n := runtime.NumCPU()
	_, err := exec.LookPath("taskset")
	if !b.cfg.pin || n < 2 || err != nil {
		b.serverCores, b.loadCores = n, n
		return
	}
	b.serverCores, b.loadCores = n-1, 1
	b.loadCPUs = "0"
	b.serverCPUs = "1"
	if n > 2 {
		b.serverCPUs = fmt.Sprintf("1-%d", n-1)
	}
}

func (b *bench) describeSetup() {
	mode := "full"
	if b.cfg.quick {
		mode = "quick"
	}
	b.setup = append(b.setup,
		fmt.Sprintf("Dr.LEE bench (%s), %s", mode, b.started.Format("2006-01-02 15:04 MST")),
		fmt.Sprintf("machine: %s, %d CPUs, %s", cpuModel(), runtime.NumCPU(), runtime.Version()))
	if b.serverCPUs != "" {
		b.setup = append(b.setup, fmt.Sprintf("pinned: servers on CPU %s (%d core(s): GOMAXPROCS, --workers, worker_processes = %d), load generator on CPU %s",
			b.serverCPUs, b.serverCores, b.serverCores, b.loadCPUs))
	} else {
		b.setup = append(b.setup, fmt.Sprintf("not pinned: servers and load generator share %d CPUs (GOMAXPROCS, --workers, worker_processes = %d)", runtime.NumCPU(), b.serverCores))
	}
	lg := "built-in Go load generator (bench/loadgen; wrk not installed)"
	if b.useWrk {
		lg = "wrk -t1"
		if f := strings.Fields(versionOf("wrk", "--version")); len(f) > 1 {
			lg += " " + strings.TrimPrefix(f[1], "debian/") // "wrk debian/4.1.0-3+b2 [epoll] ..."
		}
	} else if b.cfg.loadgen == "go" {
		lg = "built-in Go load generator (bench/loadgen)"
	}
	reps := "1 pass"
	if b.cfg.reps > 1 {
		reps = fmt.Sprintf("%d interleaved repetitions", b.cfg.reps)
	}
	b.setup = append(b.setup, "load: "+lg+fmt.Sprintf(", keep-alive, %v per run after a %v warm-up, %s, connections %v",
		b.cfg.duration, b.cfg.warmup, reps, b.cfg.conns))
	// Only when nginx + Lua is among the servers and can run: an nginx without the
	// unpacked module is no server of the bench (its rows say why).
	if v := versionOf("nginx", "-v"); v != "" && nginxMissing() == "" &&
		(len(b.cfg.servers) == 0 || slices.Contains(b.cfg.servers, "nginx")) {
		b.setup = append(b.setup, strings.TrimPrefix(v, "nginx version: ")+" with lua-nginx-module and OpenResty's LuaJIT unpacked in "+nginxCache)
	}
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}
