// Package rpc benchmarks Dr.LEE's rpc between nodes beside raw NATS between the same
// number of processes, in the same run:
//
//	go test -tags luajit -run '^$' -bench . ./bench/rpc/
//
// Every node is a process of its own and, on a machine with 2 cores or more, pinned to a
// core (taskset), the caller's side on one and the answering side on another, as if each
// were a machine: drlee nodes are drlee processes (testdata/pingpong.lua, one worker each,
// embedded NATS servers joined by routes on 127.0.0.1); the raw NATS nodes are this test
// binary run again (runPeer): a responder (an embedded nats-server, a client connected in
// process answering with m.Respond) or a requester (the same, timing its requests).
// Unpinned, each process's Go runtime believes it has every core and spins threads that
// take turns on the same two: measured here, p50 of a sequential call fell from 177 to
// 102 µs for drlee and from 180 to 143 µs for raw NATS with one core per process. And a
// baseline with both ends in one process (as this benchmark had before) hands every
// message between goroutines without waking another process: 77 µs a request against
// 322 µs across two processes, on the same machine in the same hour.
//
// BenchmarkRPCRoundTrip: a Lua caller on node A makes b.N sequential rpc.call to a handler
// on node B; then b.N sequential nats.Request to the responder process. Reported: the rates
// (drlee-calls/s, nats-reqs/s) and their ratio drlee/nats (1 = as fast as raw NATS), and the
// median time of one call (drlee-p50-us, timed in Lua; nats-p50-us) with their ratio. The
// two take turns, 5 rounds each, so that a change in the machine's load hits both.
// BenchmarkRPCRoundTripConcurrent does the same with 16 calls in flight.
// BenchmarkRPCBroadcast3: sequential rpc.broadcast to a handler on each of 3 other nodes,
// beside a raw NATS scatter-gather (one publish, 3 replies on one inbox) to 3 responders.
//
// The package has no tests: `go test ./...` only compiles it.
package rpc

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/drlee/drlee/internal/drleetest"
)

// peerEnv, set in a child's environment, makes this test binary a raw NATS node (runPeer)
// instead of a benchmark run.
const peerEnv = "DRLEE_BENCH_NATS_PEER"

// Cores: the callers' side runs on callerCore, the answering side on serverCore (when the
// machine has two cores and taskset).
const (
	callerCore = 0
	serverCore = 1
)

// The drlee nodes (A calls; B serves bench.echo and bench.bcast; C and D, started by the
// broadcast benchmark, serve bench.bcast), and the raw NATS responders (the first is the
// hub the others route to). Started once, by the first benchmark that needs them, and
// stopped by TestMain.
var (
	tmpDir  string
	drlee   string // the binary
	procs   []*exec.Cmd
	stdins  []io.WriteCloser     // the raw peers' stdin: held, a collected *os.File would close it
	procOut drleetest.SyncBuffer // the children's stderr (and the nodes' stdout), shown if they fail

	nodesOnce sync.Once
	nodesErr  error
	clusterA  string
	callerURL string

	bcastNodesOnce sync.Once
	bcastNodesErr  error

	natsOnce sync.Once
	natsErr  error
	hubRoute string // route URL of the first raw responder

	natsBcastOnce sync.Once
	natsBcastErr  error
)

func TestMain(m *testing.M) {
	if os.Getenv(peerEnv) != "" {
		if err := runPeer(os.Args[len(os.Args)-1]); err != nil {
			fmt.Fprintln(os.Stderr, "nats peer:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	code := m.Run()
	for _, p := range procs {
		p.Process.Kill()
		p.Wait()
	}
	if tmpDir != "" {
		os.RemoveAll(tmpDir)
	}
	os.Exit(code)
}

// pinned is argv run on core, when this machine can pin.
func pinned(core int, argv ...string) []string {
	if runtime.NumCPU() < 2 {
		return argv
	}
	if _, err := exec.LookPath("taskset"); err != nil {
		return argv
	}
	return append([]string{"taskset", "-c", strconv.Itoa(core)}, argv...)
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// peerConfig is what a raw NATS node is asked to be, as JSON in its last argument.
type peerConfig struct {
	Route    string   // route URL to join; "" for the hub
	Serve    []string // subjects to answer
	Op       string   // "call" or "scatter" to time requests; "" to only answer
	Subject  string
	N, C     int // requests, and how many at a time
	Want     int // answers per scatter
	Deadline time.Duration
}

// peerResult is a requester's answer, one JSON line on stdout.
type peerResult struct {
	Elapsed, P50 time.Duration
	Err          string
}

// runPeer is a raw NATS node: an embedded nats-server (routed to cfg.Route unless it is the
// hub) and a client connected in process. A responder answers every subject in cfg.Serve
// with the request's own data, prints "ready <route URL>" and runs until its stdin closes
// (the benchmark ended, or died). A requester waits until cfg.Subject answers, times its
// requests, prints a peerResult and exits.
func runPeer(arg string) error {
	var cfg peerConfig
	if err := json.Unmarshal([]byte(arg), &cfg); err != nil {
		return err
	}
	o := &server.Options{
		ServerName: "peer-" + strconv.Itoa(os.Getpid()), Host: "127.0.0.1", Port: server.RANDOM_PORT,
		NoLog: true, NoSigs: true, NoSystemAccount: true,
		Cluster: server.ClusterOpts{
			Name: "bench", Host: "127.0.0.1", Port: server.RANDOM_PORT,
			Compression: server.CompressionOpts{Mode: server.CompressionOff},
		},
	}
	if cfg.Route != "" {
		u, err := url.Parse(cfg.Route)
		if err != nil {
			return err
		}
		o.Routes = []*url.URL{u}
	}
	s, err := server.NewServer(o)
	if err != nil {
		return err
	}
	s.Start()
	defer s.Shutdown()
	if !s.ReadyForConnections(10 * time.Second) {
		return errors.New("nats-server did not start")
	}
	nc, err := nats.Connect("", nats.InProcessServer(s))
	if err != nil {
		return err
	}
	defer nc.Close()
	for _, subj := range cfg.Serve {
		if _, err := nc.Subscribe(subj, func(m *nats.Msg) { m.Respond(m.Data) }); err != nil {
			return err
		}
	}
	if err := nc.Flush(); err != nil {
		return err
	}
	if cfg.Op == "" {
		fmt.Println("ready nats-route://" + s.ClusterAddr().String())
		io.Copy(io.Discard, os.Stdin)
		return nil
	}
	var r peerResult
	// Until every responder's interest reached this server through the route.
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err = natsTimed(nc, cfg.Op, cfg.Subject, 1, 1, cfg.Want)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err == nil {
		start := time.Now()
		r.P50, err = natsTimed(nc, cfg.Op, cfg.Subject, cfg.N, cfg.C, cfg.Want)
		r.Elapsed = time.Since(start)
	}
	if err != nil {
		r.Err = err.Error()
	}
	return json.NewEncoder(os.Stdout).Encode(r)
}

// natsTimed makes n requests (op "call", c at a time) or scatter-gathers (op "scatter",
// one at a time, want answers each) and returns the median time of one.
func natsTimed(nc *nats.Conn, op, subject string, n, c, want int) (time.Duration, error) {
	if op == "scatter" {
		return natsScatter(nc, subject, n, want)
	}
	return natsCalls(nc, subject, n, c)
}

// natsCalls makes n requests, c at a time; payloads are about the size of rpc.call's.
func natsCalls(nc *nats.Conn, subject string, n, c int) (time.Duration, error) {
	var wg sync.WaitGroup
	errs := make(chan error, c)
	times := make([][]time.Duration, c)
	per, extra := n/c, n%c
	for g := range c {
		k := per
		if g < extra {
			k++
		}
		times[g] = make([]time.Duration, 0, k)
		wg.Add(1)
		go func(k int, times *[]time.Duration) {
			defer wg.Done()
			msg := make([]byte, 9)
			for i := range k {
				msg[0] = byte(i)
				t0 := time.Now()
				if _, err := nc.Request(subject, msg, 5*time.Second); err != nil {
					errs <- err
					return
				}
				*times = append(*times, time.Since(t0))
			}
		}(k, &times[g])
	}
	wg.Wait()
	close(errs)
	return median(slices.Concat(times...)), <-errs
}

// natsScatter publishes n requests one after the other, each answered by want responders
// on one inbox, and returns the median time to the last answer.
func natsScatter(nc *nats.Conn, subject string, n, want int) (time.Duration, error) {
	inbox := nc.NewRespInbox()
	ch := make(chan *nats.Msg, 64)
	sub, err := nc.ChanSubscribe(inbox, ch)
	if err != nil {
		return 0, err
	}
	defer sub.Unsubscribe()
	times := make([]time.Duration, 0, n)
	msg := make([]byte, 9)
	timer := time.NewTimer(time.Hour)
	for i := range n {
		msg[0] = byte(i)
		t0 := time.Now()
		if err := nc.PublishRequest(subject, inbox, msg); err != nil {
			return 0, err
		}
		timer.Reset(5 * time.Second)
		for got := 0; got < want; {
			select {
			case m := <-ch:
				if m.Data[0] == byte(i) {
					got++
				}
			case <-timer.C:
				return 0, fmt.Errorf("scatter-gather: fewer than %d answers in 5s", want)
			}
		}
		times = append(times, time.Since(t0))
	}
	return median(times), nil
}

func median(ts []time.Duration) time.Duration {
	if len(ts) == 0 {
		return 0
	}
	slices.Sort(ts)
	return ts[len(ts)/2]
}

// peerCommand is this binary run as a raw NATS node on core.
func peerCommand(core int, cfg peerConfig) *exec.Cmd {
	arg, _ := json.Marshal(cfg)
	argv := pinned(core, os.Args[0], "-test.run=^$", string(arg))
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), peerEnv+"=1")
	cmd.Stderr = &procOut
	return cmd
}

// startResponder starts a raw NATS responder for subjects and returns its route URL once
// it is ready.
func startResponder(route string, subjects ...string) (string, error) {
	cmd := peerCommand(serverCore, peerConfig{Route: route, Serve: subjects})
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	stdin, err := cmd.StdinPipe() // closed when this process exits: the responder then ends
	if err != nil {
		return "", err
	}
	stdins = append(stdins, stdin)
	if err := cmd.Start(); err != nil {
		return "", err
	}
	procs = append(procs, cmd)
	line, err := bufio.NewReader(stdout).ReadString('\n')
	ready, ok := strings.CutPrefix(strings.TrimSpace(line), "ready ")
	if !ok {
		return "", fmt.Errorf("nats responder: %q, %v\n%s", line, err, procOut.String())
	}
	go io.Copy(io.Discard, stdout)
	return ready, nil
}

// natsRun runs a requester process and returns what it timed.
func natsRun(cfg peerConfig) (elapsed, p50 time.Duration, err error) {
	cfg.Route = hubRoute
	out, err := peerCommand(callerCore, cfg).Output()
	if err != nil {
		return 0, 0, fmt.Errorf("nats requester: %v\n%s", err, procOut.String())
	}
	var r peerResult
	if err := json.Unmarshal(out, &r); err != nil {
		return 0, 0, fmt.Errorf("nats requester said %q: %v", out, err)
	}
	if r.Err != "" {
		return 0, 0, errors.New(r.Err)
	}
	return r.Elapsed, r.P50, nil
}

// startDrleeNode starts one node running pingpong.lua with role on core, joining A
// unless it is A.
func startDrleeNode(name, role string, core int) (httpURL string, err error) {
	ports := make([]int, 2)
	for i := range ports {
		if ports[i], err = freePort(); err != nil {
			return "", err
		}
	}
	cluster := "127.0.0.1:" + strconv.Itoa(ports[0])
	args := []string{drlee, "run", "-w", "1", "--node", name, "--cluster", cluster}
	if clusterA == "" {
		clusterA = cluster
	} else {
		args = append(args, "--join", clusterA)
	}
	args = append(args, filepath.Join("testdata", "pingpong.lua"), strconv.Itoa(ports[1]))
	if role != "" {
		args = append(args, role)
	}
	argv := pinned(core, args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = &procOut, &procOut
	if err := cmd.Start(); err != nil {
		return "", err
	}
	procs = append(procs, cmd)
	return "http://127.0.0.1:" + strconv.Itoa(ports[1]), nil
}

func startNodes() error {
	var err error
	if tmpDir, err = os.MkdirTemp("", "drlee-bench-rpc-"); err != nil {
		return err
	}
	drlee = filepath.Join(tmpDir, "drlee")
	if err := drleetest.BuildDrlee(drlee); err != nil {
		return err
	}
	if callerURL, err = startDrleeNode("benchA", "", callerCore); err != nil {
		return err
	}
	if _, err := startDrleeNode("benchB", "serve", serverCore); err != nil {
		return err
	}
	return waitFor(func() error { _, err := runCalls("call", 1, 1, 1); return err })
}

func startBroadcastNodes() error {
	for _, name := range []string{"benchC", "benchD"} {
		if _, err := startDrleeNode(name, "bcast", serverCore); err != nil {
			return err
		}
	}
	return waitFor(func() error { _, err := runCalls("bcast", 1, 1, 3); return err })
}

// waitFor retries try until it succeeds or 20 s passed (the census takes a heartbeat or
// two to see a new node).
func waitFor(try func() error) error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := try()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the nodes do not answer: %v\n%s", err, procOut.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var client = &http.Client{Timeout: 10 * time.Minute}

// runCalls asks node A for n calls (op "call") or broadcasts to want handlers (op
// "bcast"), c at a time, and returns the median time of one, as node A measured it.
func runCalls(op string, n, c, want int) (p50 time.Duration, err error) {
	u := fmt.Sprintf("%s/run?op=%s&n=%d&c=%d&want=%d", callerURL, op, n, c, want)
	resp, err := client.Get(u)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return 0, fmt.Errorf("%s: %s", resp.Status, body)
	}
	us, err := strconv.ParseFloat(string(body), 64)
	if err != nil {
		return 0, fmt.Errorf("node A answered %q: %v", body, err)
	}
	return time.Duration(us * float64(time.Microsecond)), nil
}

func setup(b *testing.B, broadcast bool) {
	nodesOnce.Do(func() { nodesErr = startNodes() })
	if nodesErr != nil {
		b.Fatal(nodesErr)
	}
	natsOnce.Do(func() { hubRoute, natsErr = startResponder("", "bench.echo", "bench.bcast") })
	if natsErr != nil {
		b.Fatal(natsErr)
	}
	if broadcast {
		bcastNodesOnce.Do(func() { bcastNodesErr = startBroadcastNodes() })
		if bcastNodesErr != nil {
			b.Fatal(bcastNodesErr)
		}
		natsBcastOnce.Do(func() {
			for range 2 {
				if _, natsBcastErr = startResponder(hubRoute, "bench.bcast"); natsBcastErr != nil {
					return
				}
			}
		})
		if natsBcastErr != nil {
			b.Fatal(natsBcastErr)
		}
	}
}

// rounds is how many turns drlee and raw NATS take, one after the other, within one
// benchmark: the machine's load changes from second to second, and interleaving spreads
// the change over both.
const rounds = 5

// compare times b.N calls through drlee (op, c at a time, want answers each) and as many
// through raw NATS (natsOp), in interleaved rounds, and reports both: rates over the whole,
// p50 as the median of the rounds' medians.
func compare(b *testing.B, op, natsOp, subject string, c, want int) {
	setup(b, want > 1)
	b.ResetTimer()
	var drleeTime, natsTime time.Duration
	var drleeP50s, natsP50s []time.Duration
	for r := range rounds {
		n := b.N / rounds
		if r < b.N%rounds {
			n++
		}
		if n == 0 {
			continue
		}
		b.StartTimer()
		start := time.Now()
		p50, err := runCalls(op, n, c, want)
		if err != nil {
			b.Fatalf("%v\nnodes' output:\n%s", err, procOut.String())
		}
		drleeTime += time.Since(start)
		drleeP50s = append(drleeP50s, p50)
		b.StopTimer()
		elapsed, p50, err := natsRun(peerConfig{Op: natsOp, Subject: subject, N: n, C: c, Want: want})
		if err != nil {
			b.Fatal(err)
		}
		natsTime += elapsed
		natsP50s = append(natsP50s, p50)
	}
	drleeRate := float64(b.N) / drleeTime.Seconds()
	natsRate := float64(b.N) / natsTime.Seconds()
	drleeP50, natsP50 := median(drleeP50s), median(natsP50s)
	b.ReportMetric(drleeRate, "drlee-calls/s")
	b.ReportMetric(natsRate, "nats-reqs/s")
	b.ReportMetric(drleeRate/natsRate, "drlee/nats")
	b.ReportMetric(float64(drleeP50)/1e3, "drlee-p50-us")
	b.ReportMetric(float64(natsP50)/1e3, "nats-p50-us")
	b.ReportMetric(float64(drleeP50)/float64(natsP50), "p50-drlee/nats")
}

// BenchmarkRPCRoundTrip: sequential rpc.call round trips between two nodes, beside
// sequential NATS request-replies between two processes.
func BenchmarkRPCRoundTrip(b *testing.B) { compare(b, "call", "call", "bench.echo", 1, 1) }

// BenchmarkRPCRoundTripConcurrent: the same with 16 calls in flight.
func BenchmarkRPCRoundTripConcurrent(b *testing.B) {
	compare(b, "call", "call", "bench.echo", 16, 1)
}

// BenchmarkRPCBroadcast3: sequential rpc.broadcast answered by one handler on each of 3
// nodes, beside a raw NATS scatter-gather to 3 responder processes.
func BenchmarkRPCBroadcast3(b *testing.B) { compare(b, "bcast", "scatter", "bench.bcast", 1, 3) }
