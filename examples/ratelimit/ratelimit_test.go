// Package ratelimit_test runs examples/ratelimit/ratelimit.lua with real HTTP requests: on
// two workers of one node (each client gets its limit per window whichever worker answers,
// and a new budget in the next window), and on two nodes as separate drlee processes
// joined in a cluster (the quota holds across both, the window stays each node's own).
package ratelimit_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/drlee/drlee/internal/drleetest"
	"github.com/drlee/drlee/internal/leaktest"
)

// drleeBin is the binary TestMain built, for the nodes TestClusterQuota starts as
// processes.
var drleeBin string

// TestMain builds drlee, runs the tests, and checks that no goroutine is left: the
// in-process engine's (its fasthttp server's and its embedded NATS server's end with it)
// and the tests' own.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(drleetest.WithDrlee(m, &drleeBin), append(leaktest.FasthttpServer(), leaktest.AtInit())...)
}

// client makes a new connection for each request (so that they spread over the workers)
// from the local address ip.
func client(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
}

func get(t *testing.T, c *http.Client, url string) (int, string, http.Header) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body), resp.Header
}

// windowStart waits until a window of w seconds later than after has just begun (the
// script counts windows from the same clock), so that a burst of requests falls in one
// window, and returns its start. Not in the first 50 ms of it: the script's os.time() is
// C's time(), which reads the kernel's coarse clock, up to a tick behind time.Now(), so a
// request sent in the window's first milliseconds may still be counted in the one before.
func windowStart(w, after int64) int64 {
	for {
		now := time.Now()
		if s, ns := now.Unix(), now.Nanosecond(); s%w == 0 && s > after && ns >= 50e6 && ns < 300e6 {
			return s
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRateLimit(t *testing.T) {
	const limit, window = 5, 2
	port := drleetest.FreePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan drleetest.Result, 1)
	go func() {
		done <- drleetest.RunFile(t, "ratelimit.lua", drleetest.Options{
			Workers: 2, Args: []string{strconv.Itoa(port), strconv.Itoa(limit), strconv.Itoa(window)},
			Ctx: ctx, Timeout: 30 * time.Second,
		})
	}()
	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/"
	a, b := client("127.0.0.1"), client("127.0.0.2")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err := a.Get(url)
		if err == nil {
			resp.Body.Close()
			break
		}
		select {
		case res := <-done:
			t.Fatalf("ratelimit.lua ended before serving\nstdout:\n%s\nstderr:\n%s", res.Stdout, res.Stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("ratelimit.lua does not serve %s: %v", url, err)
		}
	}

	burst := func(c *http.Client, who string) {
		for i := 1; i <= limit+3; i++ {
			status, body, h := get(t, c, url)
			if i <= limit {
				if status != 200 || body != "ok "+strconv.Itoa(i)+"/5\n" || h.Get("X-RateLimit-Remaining") != strconv.Itoa(limit-i) {
					t.Fatalf("%s request %d: %d %q remaining %q", who, i, status, body, h.Get("X-RateLimit-Remaining"))
				}
				continue
			}
			if status != 429 || body != "too many requests\n" {
				t.Fatalf("%s request %d: %d %q, want 429", who, i, status, body)
			}
			if ra, err := strconv.Atoi(h.Get("Retry-After")); err != nil || ra < 1 || ra > window {
				t.Fatalf("%s request %d: Retry-After %q", who, i, h.Get("Retry-After"))
			}
		}
	}
	// A window after the one the probe above was counted in.
	first := windowStart(window, time.Now().Unix())
	burst(a, "127.0.0.1")
	burst(b, "127.0.0.2")      // another client has its own budget
	windowStart(window, first) // the next window: a new budget
	burst(a, "127.0.0.1 next window")

	// A malformed API key is refused before anything is counted.
	for _, key := range []string{"", strings.Repeat("k", 129), "a b", "a.b", "ключ"} {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("X-API-Key", key)
		resp, err := a.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || string(body) != "bad X-API-Key\n" {
			t.Errorf("X-API-Key %q: %d %q, want 400", key, resp.StatusCode, body)
		}
	}

	a.CloseIdleConnections()
	b.CloseIdleConnections()
	cancel()
	var res drleetest.Result
	select {
	case res = <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("ratelimit.lua did not end after shutdown")
	}
	res.MustSucceed(t)
}

// TestBadArguments: each argument out of its range stops the script with a message that
// names it, before it listens or binds anything.
func TestBadArguments(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"0"}, "PORT (argument 1) must be a whole number from 1 to 65535, not \"0\""},
		{[]string{"8080", "ten"}, "LIMIT (argument 2) must be a whole number from 1 to"},
		{[]string{"8080", "10", "1.5"}, "WINDOW (argument 3) must be a whole number from 1 to"},
		{[]string{"8080", "10", "60", "-1"}, "QUOTA (argument 4) must be a whole number from 1 to"},
		{[]string{"8080", "10", "60", "100", "nan"}, "QUOTA_WINDOW (argument 5) must be a whole number from 1 to"},
		{[]string{"8080", "10", "60", "100", "86400", "101"}, "LEASE (argument 6) must be a whole number from 1 to 100, not \"101\""},
	} {
		res := drleetest.RunFile(t, "ratelimit.lua", drleetest.Options{Args: c.args, Timeout: 10 * time.Second})
		res.MustFail(t)
		if !strings.Contains(res.Stderr, c.want) && (res.Err == nil || !strings.Contains(res.Err.Error(), c.want)) {
			t.Errorf("args %v: err %v, stderr %q; want %q", c.args, res.Err, res.Stderr, c.want)
		}
	}
}

// node is one drlee process running ratelimit.lua in a cluster.
type node struct {
	name   string
	url    string
	cmd    *exec.Cmd
	stdout drleetest.SyncBuffer
	stderr drleetest.SyncBuffer
	exited chan struct{}
}

// startNode starts ratelimit.lua on 2 workers as node name, its cluster port at
// clusterAddr, joining join if not "", with the script's arguments args after its HTTP
// port. It is killed at the end of the test, and its output logged if the test failed.
func startNode(t *testing.T, name, clusterAddr, join string, args ...string) *node {
	t.Helper()
	port := drleetest.FreePort(t)
	n := &node{name: name, url: "http://127.0.0.1:" + strconv.Itoa(port) + "/", exited: make(chan struct{})}
	cmdArgs := []string{"run", "-w", "2", "--node", name, "--shutdown-timeout", "5s", "--cluster", clusterAddr}
	if join != "" {
		cmdArgs = append(cmdArgs, "--join", join)
	}
	cmdArgs = append(append(cmdArgs, "ratelimit.lua", strconv.Itoa(port)), args...)
	n.cmd = exec.Command(drleeBin, cmdArgs...)
	n.cmd.Stdout, n.cmd.Stderr = &n.stdout, &n.stderr
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = n.cmd.Wait()
		close(n.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-n.exited:
		default:
			_ = n.cmd.Process.Kill()
			<-n.exited
		}
		if t.Failed() {
			t.Logf("node %s stdout:\n%s\nnode %s stderr:\n%s", n.name, n.stdout.String(), n.name, n.stderr.String())
		}
	})
	return n
}

// ready waits until n answers a request (the nodes bind the bucket before they serve,
// which needs the cluster's JetStream leader: both nodes must be up).
func (n *node) ready(t *testing.T, c *http.Client) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		req, _ := http.NewRequest("GET", n.url, nil)
		req.Header.Set("X-API-Key", "probe")
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		select {
		case <-n.exited:
			t.Fatalf("node %s ended before serving\nstderr:\n%s", n.name, n.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s does not serve %s: %v", n.name, n.url, err)
		}
	}
}

// hit makes a request to n as the client with the API key key.
func (n *node) hit(t *testing.T, c *http.Client, key string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest("GET", n.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-API-Key", key)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("node %s: %v", n.name, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body), resp.Header
}

// TestClusterQuota runs two nodes (separate processes, B joining A) with a window of 20
// requests per 2 s per node and a cluster quota of 30 per hour in leases of 5, and checks
// with requests split over both that the window is each node's own, that the quota holds
// in total (exactly, when the requests alternate; never beyond, when they come at once),
// and the 429s beyond each with its Retry-After.
func TestClusterQuota(t *testing.T) {
	t.Parallel()
	const limit, window, quota, qwindow, lease = 20, 2, 30, 3600, 5
	args := []string{strconv.Itoa(limit), strconv.Itoa(window), strconv.Itoa(quota), strconv.Itoa(qwindow), strconv.Itoa(lease)}
	addrA := "127.0.0.1:" + strconv.Itoa(drleetest.FreePort(t))
	addrB := "127.0.0.1:" + strconv.Itoa(drleetest.FreePort(t))
	// Both at once: a cluster of two elects JetStream's leader only once both are up.
	a := startNode(t, "nodeA", addrA, "", args...)
	b := startNode(t, "nodeB", addrB, addrA, args...)
	// A new connection for each request, so that they spread over each node's workers.
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	a.ready(t, c)
	b.ready(t, c)
	nodes := []*node{a, b}

	t.Run("window per node", func(t *testing.T) {
		windowStart(window, time.Now().Unix())
		for i := 1; i <= limit+2; i++ {
			status, body, h := a.hit(t, c, "alpha")
			if i <= limit {
				if status != 200 || body != "ok "+strconv.Itoa(i)+"/"+strconv.Itoa(limit)+"\n" || h.Get("X-RateLimit-Remaining") != strconv.Itoa(limit-i) || h.Get("X-Quota-Limit") != strconv.Itoa(quota) {
					t.Fatalf("request %d on A: %d %q remaining %q quota %q", i, status, body, h.Get("X-RateLimit-Remaining"), h.Get("X-Quota-Limit"))
				}
				continue
			}
			if status != 429 || body != "too many requests\n" {
				t.Fatalf("request %d on A: %d %q, want 429 too many requests", i, status, body)
			}
			if ra, err := strconv.Atoi(h.Get("Retry-After")); err != nil || ra < 1 || ra > window {
				t.Fatalf("request %d on A: Retry-After %q, want 1 to %d", i, h.Get("Retry-After"), window)
			}
		}
		// B counts its own window: alpha's first request there is its first.
		if status, body, _ := b.hit(t, c, "alpha"); status != 200 || body != "ok 1/"+strconv.Itoa(limit)+"\n" {
			t.Fatalf("alpha's first request on B: %d %q", status, body)
		}
	})

	t.Run("quota across nodes, alternating", func(t *testing.T) {
		// 40 requests, A, B, A, ...: 20 per node, within any window. Each node leases 5 at a
		// time, the leases stop at 30, and each node spends all of its 15: exactly 30.
		admitted := 0
		for i := 0; i < 2*limit; i++ {
			n := nodes[i%2]
			status, body, h := n.hit(t, c, "beta")
			switch {
			case status == 200:
				admitted++
				if admitted != i+1 {
					t.Fatalf("request %d on %s admitted after a refusal", i+1, n.name)
				}
			case status == 429 && body == "quota exceeded\n":
				if ra, err := strconv.Atoi(h.Get("Retry-After")); err != nil || ra < 1 || ra > qwindow {
					t.Fatalf("request %d on %s: Retry-After %q, want 1 to %d", i+1, n.name, h.Get("Retry-After"), qwindow)
				}
			default:
				t.Fatalf("request %d on %s: %d %q", i+1, n.name, status, body)
			}
		}
		if admitted != quota {
			t.Fatalf("%d requests of beta admitted over both nodes, want the quota, %d", admitted, quota)
		}
		// Used up on both nodes, and another client is not. (In the next window: the 40
		// requests used up this one's 20 per node, and the window is checked first.)
		windowStart(window, time.Now().Unix())
		for _, n := range nodes {
			if status, body, _ := n.hit(t, c, "beta"); status != 429 || body != "quota exceeded\n" {
				t.Errorf("beta on %s after its quota: %d %q", n.name, status, body)
			}
			if status, body, _ := n.hit(t, c, "other"); status != 200 {
				t.Errorf("another client on %s: %d %q", n.name, status, body)
			}
		}
	})

	t.Run("quota across nodes, at once", func(t *testing.T) {
		// 36 requests from 6 clients at once, half on each node (18 per node: within the
		// window): the nodes race for the leases, with compare-and-set. Never beyond the
		// quota; short of it by what the race strands at most (each node's last lease).
		const clients, each = 6, 6
		var mu sync.Mutex
		admitted, refused := 0, 0
		var wg sync.WaitGroup
		for g := 0; g < clients; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < each; i++ {
					n := nodes[(g+i)%2]
					req, _ := http.NewRequest("GET", n.url, nil)
					req.Header.Set("X-API-Key", "gamma")
					resp, err := c.Do(req)
					if err != nil {
						t.Errorf("node %s: %v", n.name, err)
						return
					}
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					mu.Lock()
					switch {
					case resp.StatusCode == 200:
						admitted++
					case resp.StatusCode == 429 && string(body) == "quota exceeded\n":
						refused++
					default:
						t.Errorf("node %s: %d %q", n.name, resp.StatusCode, body)
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if admitted > quota || admitted < quota-2*lease || admitted+refused != clients*each {
			t.Fatalf("gamma: %d admitted and %d refused of %d requests; want %d to %d admitted", admitted, refused, clients*each, quota-2*lease, quota)
		}
		t.Logf("gamma: %d admitted of %d (quota %d)", admitted, clients*each, quota)
	})

	for _, n := range nodes {
		if strings.Contains(n.stderr.String(), "failing open") {
			t.Errorf("node %s failed open while both nodes were up", n.name)
		}
	}

	t.Run("a node lost", func(t *testing.T) {
		// B stops (and must stop cleanly); the cluster of two has no JetStream majority
		// then: A still serves, counted if the bucket's one replica is on A, else
		// uncounted and logged (fail open), after the bucket's 2 s timeout at most.
		_ = b.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-b.exited:
		case <-time.After(15 * time.Second):
			t.Fatalf("node %s did not end after SIGTERM", b.name)
		}
		if !b.cmd.ProcessState.Success() {
			t.Errorf("node %s: %v", b.name, b.cmd.ProcessState)
		}
		start := time.Now()
		for i := 1; i <= 3; i++ {
			if status, body, _ := a.hit(t, c, "delta"); status != 200 || body != "ok "+strconv.Itoa(i)+"/"+strconv.Itoa(limit)+"\n" {
				t.Fatalf("delta's request %d on A without B: %d %q", i, status, body)
			}
		}
		t.Logf("3 requests on A without B in %v", time.Since(start).Round(time.Millisecond))
	})

	if strings.Contains(a.stderr.String(), "failing open") {
		t.Log("without B, A failed open (the bucket's replica was on B)")
	} else {
		t.Log("without B, A still counted (the bucket's replica is on A)")
	}
	// A is killed by startNode's cleanup: its shutdown without B would wait for a
	// cluster that is gone.
}
