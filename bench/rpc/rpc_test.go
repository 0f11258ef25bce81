// Package rpc benchmarks Dr.LEE's rpc.call between two nodes beside a raw NATS
// request-reply between two routed nats-servers, in the same run:
//
//	go test -tags luajit -run '^$' -bench . ./bench/rpc/
//
// BenchmarkRPCRoundTrip: two drlee processes (testdata/pingpong.lua, one worker each,
// embedded NATS servers joined by a route on 127.0.0.1); a Lua caller on node A makes b.N
// sequential rpc.call to a handler on node B. Then, in Go, b.N sequential nats.Request
// between two embedded nats-servers joined the same way, each client in-process with its
// server as drlee's are. Reported: ns/op and drlee-calls/s for rpc.call, nats-reqs/s for
// NATS, and drlee/nats, the ratio of the two rates (1 = as fast as raw NATS).
// BenchmarkRPCRoundTripConcurrent does the same with 16 calls in flight.
//
// The package has no tests: `go test ./...` only compiles it.
package rpc

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/drlee/drlee/internal/drleetest"
)

// setup is started once, by the first benchmark that needs it, and torn down by TestMain.
var (
	setupOnce sync.Once
	setupErr  error
	tmpDir    string
	procs     []*exec.Cmd
	procOut   drleetest.SyncBuffer // the nodes' stdout and stderr, shown if they fail
	callerURL string

	natsOnce sync.Once
	natsErr  error
	servers  []*server.Server
	conns    []*nats.Conn
)

func TestMain(m *testing.M) {
	code := m.Run()
	for _, p := range procs {
		p.Process.Kill()
		p.Wait()
	}
	for _, nc := range conns {
		nc.Close()
	}
	for _, s := range servers {
		s.Shutdown()
		s.WaitForShutdown()
	}
	if tmpDir != "" {
		os.RemoveAll(tmpDir)
	}
	os.Exit(code)
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// startNodes builds drlee and starts the two nodes; callerURL is node A's HTTP address.
func startNodes() error {
	var err error
	if tmpDir, err = os.MkdirTemp("", "drlee-bench-rpc-"); err != nil {
		return err
	}
	bin := filepath.Join(tmpDir, "drlee")
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	build := exec.Command(goBin, "build", "-tags", "luajit", "-trimpath", "-o", bin, "./cmd/drlee")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("building drlee: %v\n%s", err, out)
	}
	var ports [4]int
	for i := range ports {
		if ports[i], err = freePort(); err != nil {
			return err
		}
	}
	clusterA := "127.0.0.1:" + strconv.Itoa(ports[0])
	clusterB := "127.0.0.1:" + strconv.Itoa(ports[1])
	script := filepath.Join("testdata", "pingpong.lua")
	for _, args := range [][]string{
		{"run", "-w", "1", "--node", "benchA", "--cluster", clusterA, script, strconv.Itoa(ports[2])},
		{"run", "-w", "1", "--node", "benchB", "--cluster", clusterB, "--join", clusterA, script, strconv.Itoa(ports[3]), "serve"},
	} {
		cmd := exec.Command(bin, args...)
		cmd.Stdout, cmd.Stderr = &procOut, &procOut
		if err := cmd.Start(); err != nil {
			return err
		}
		procs = append(procs, cmd)
	}
	callerURL = "http://127.0.0.1:" + strconv.Itoa(ports[2])
	// Ready once node A's census lists node B's handler.
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := runCalls(1, 1)
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

// runCalls makes node A do n rpc.call to node B, c at a time.
func runCalls(n, c int) error {
	resp, err := client.Get(callerURL + "/run?n=" + strconv.Itoa(n) + "&c=" + strconv.Itoa(c))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s: %s", resp.Status, body)
	}
	return nil
}

// startNATS starts two embedded nats-servers joined by a route on 127.0.0.1, a responder
// on the second and a requester on the first, both connected in-process.
func startNATS() error {
	opts := func(name string, routes ...*url.URL) *server.Options {
		return &server.Options{
			ServerName: name, Host: "127.0.0.1", Port: server.RANDOM_PORT,
			NoLog: true, NoSigs: true, NoSystemAccount: true,
			Cluster: server.ClusterOpts{
				Name: "bench", Host: "127.0.0.1", Port: server.RANDOM_PORT,
				Compression: server.CompressionOpts{Mode: server.CompressionOff},
			},
			Routes: routes,
		}
	}
	start := func(o *server.Options) (*server.Server, error) {
		s, err := server.NewServer(o)
		if err != nil {
			return nil, err
		}
		s.Start()
		servers = append(servers, s)
		if !s.ReadyForConnections(10 * time.Second) {
			return nil, fmt.Errorf("nats-server %s did not start", o.ServerName)
		}
		return s, nil
	}
	s1, err := start(opts("n1"))
	if err != nil {
		return err
	}
	route, _ := url.Parse("nats-route://" + s1.ClusterAddr().String())
	s2, err := start(opts("n2", route))
	if err != nil {
		return err
	}
	nc1, err := nats.Connect("", nats.InProcessServer(s1))
	if err != nil {
		return err
	}
	conns = append(conns, nc1)
	nc2, err := nats.Connect("", nats.InProcessServer(s2))
	if err != nil {
		return err
	}
	conns = append(conns, nc2)
	if _, err := nc2.Subscribe("bench.echo", func(m *nats.Msg) { m.Respond(m.Data) }); err != nil {
		return err
	}
	if err := nc2.Flush(); err != nil {
		return err
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := nc1.Request("bench.echo", []byte("ping"), time.Second)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no reply through the route: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// natsCalls makes n requests, c at a time; payloads are about the size of rpc.call's.
func natsCalls(n, c int) error {
	nc := conns[0]
	var wg sync.WaitGroup
	errs := make(chan error, c)
	per, extra := n/c, n%c
	for g := 0; g < c; g++ {
		k := per
		if g < extra {
			k++
		}
		wg.Add(1)
		go func(k int) {
			defer wg.Done()
			msg := make([]byte, 9)
			for i := 0; i < k; i++ {
				msg[0] = byte(i)
				if _, err := nc.Request("bench.echo", msg, 5*time.Second); err != nil {
					errs <- err
					return
				}
			}
		}(k)
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func roundTrips(b *testing.B, concurrency int) {
	setupOnce.Do(func() { setupErr = startNodes() })
	if setupErr != nil {
		b.Fatal(setupErr)
	}
	natsOnce.Do(func() { natsErr = startNATS() })
	if natsErr != nil {
		b.Fatal(natsErr)
	}
	b.ResetTimer()
	start := time.Now()
	if err := runCalls(b.N, concurrency); err != nil {
		b.Fatalf("%v\nnodes' output:\n%s", err, procOut.String())
	}
	drlee := time.Since(start)
	b.StopTimer()
	start = time.Now()
	if err := natsCalls(b.N, concurrency); err != nil {
		b.Fatal(err)
	}
	raw := time.Since(start)
	drleeRate := float64(b.N) / drlee.Seconds()
	natsRate := float64(b.N) / raw.Seconds()
	b.ReportMetric(drleeRate, "drlee-calls/s")
	b.ReportMetric(natsRate, "nats-reqs/s")
	b.ReportMetric(drleeRate/natsRate, "drlee/nats")
}

// BenchmarkRPCRoundTrip: sequential rpc.call round trips between two nodes, beside
// sequential NATS request-replies between two routed servers.
func BenchmarkRPCRoundTrip(b *testing.B) { roundTrips(b, 1) }

// BenchmarkRPCRoundTripConcurrent: the same with 16 calls in flight.
func BenchmarkRPCRoundTripConcurrent(b *testing.B) { roundTrips(b, 16) }
