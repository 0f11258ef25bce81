package rpc_test

// The harness of the multi-process tests: a drlee binary built once, nodes started as
// separate processes on 127.0.0.1 (testdata/node.lua), driven over HTTP.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/drlee/drlee/internal/drleetest"
	"github.com/drlee/drlee/internal/leaktest"
)

// drleeBin is the binary TestMain built.
var drleeBin string

// TestMain builds drlee once, for the nodes the tests start as processes. goleak then
// checks that no goroutine is left once every test has run: the engines' (each in-process
// test's engine must have ended them all), nats.go's and the embedded nats-server's
// (Node.Shutdown ends them), the tests' own. Exempt is only what package initialisers
// started (leaktest.AtInit).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(drleetest.WithDrlee(m, &drleeBin), leaktest.AtInit())
}

// node is one drlee process running testdata/node.lua.
type node struct {
	t           testing.TB
	name        string
	clusterAddr string // "" with --nats
	url         string // http://127.0.0.1:port
	cmd         *exec.Cmd
	stdout      drleetest.SyncBuffer
	stderr      drleetest.SyncBuffer
	exited      chan struct{}
	waitErr     error // valid once exited is closed
}

type nodeOpts struct {
	name    string
	join    []*node  // --join their cluster addresses
	names   []string // extra rpc names to register (testdata/node.lua's arg[2])
	nats    string   // --nats URL instead of --cluster
	workers int      // default 2
}

var client = &http.Client{Timeout: 60 * time.Second}

// startNode starts a node (it does not wait for it: see ready). It is killed at the end of
// the test, and its output is logged if the test failed.
func startNode(t testing.TB, o nodeOpts) *node {
	t.Helper()
	if o.workers == 0 {
		o.workers = 2
	}
	n := &node{t: t, name: o.name, exited: make(chan struct{})}
	n.url = "http://127.0.0.1:" + strconv.Itoa(drleetest.FreePort(t))
	args := []string{"run", "-w", strconv.Itoa(o.workers), "--node", o.name, "--shutdown-timeout", "5s"}
	if o.nats != "" {
		args = append(args, "--nats", o.nats)
	} else {
		n.clusterAddr = "127.0.0.1:" + strconv.Itoa(drleetest.FreePort(t))
		args = append(args, "--cluster", n.clusterAddr)
		var peers []string
		for _, p := range o.join {
			peers = append(peers, p.clusterAddr)
		}
		if len(peers) > 0 {
			args = append(args, "--join", strings.Join(peers, ","))
		}
	}
	port := n.url[strings.LastIndexByte(n.url, ':')+1:]
	args = append(args, filepath.Join("testdata", "node.lua"), port, strings.Join(o.names, ","))
	n.cmd = exec.Command(drleeBin, args...)
	n.cmd.Stdout, n.cmd.Stderr = &n.stdout, &n.stderr
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		n.waitErr = n.cmd.Wait()
		close(n.exited)
	}()
	t.Cleanup(func() {
		n.kill()
		if t.Failed() {
			t.Logf("node %s stdout:\n%s\nnode %s stderr:\n%s", n.name, n.stdout.String(), n.name, n.stderr.String())
		}
	})
	return n
}

// kill sends SIGKILL, if the process still runs, and waits for it to end.
func (n *node) kill() {
	select {
	case <-n.exited:
		return
	default:
	}
	_ = n.cmd.Process.Kill()
	select {
	case <-n.exited:
	case <-time.After(10 * time.Second):
		n.t.Errorf("node %s did not end after SIGKILL", n.name)
	}
}

// stop sends sig and waits up to d for the process to end; it returns the exit code.
func (n *node) stop(sig syscall.Signal, d time.Duration) (int, bool) {
	_ = n.cmd.Process.Signal(sig)
	select {
	case <-n.exited:
		return n.cmd.ProcessState.ExitCode(), true
	case <-time.After(d):
		return -1, false
	}
}

// ready waits until the node serves HTTP.
func (n *node) ready() {
	n.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := client.Get(n.url + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		select {
		case <-n.exited:
			n.t.Fatalf("node %s ended before serving (%v)\nstderr:\n%s", n.name, n.waitErr, n.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("node %s does not serve %s: %v\nstderr:\n%s", n.name, n.url, err, n.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// request requests path (a POST with body when body is not nil) and decodes the JSON answer
// into out.
func (n *node) request(path string, body []byte, out any) error {
	var resp *http.Response
	var err error
	if body == nil {
		resp, err = client.Get(n.url + path)
	} else {
		resp, err = client.Post(n.url+path, "application/json", bytes.NewReader(body))
	}
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s: %s: %s", path, resp.Status, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s: %v: %s", path, err, b)
	}
	return nil
}

func (n *node) mustRequest(path string, body []byte, out any) {
	n.t.Helper()
	if err := n.request(path, body, out); err != nil {
		n.t.Fatalf("node %s: %v", n.name, err)
	}
}

// who is what who.* and svc.* handlers answer.
type who struct {
	Node     string `json:"node"`
	WorkerID int    `json:"worker_id"`
}

type callResult struct {
	Err    string          `json:"err"`
	Result json.RawMessage `json:"result"`
	MS     float64         `json:"ms"`
}

type bcastReply struct {
	Node     string `json:"node"`
	WorkerID int    `json:"worker_id"`
	Result   *who   `json:"result"`
	Error    string `json:"error"`
}

type bcastResult struct {
	Err     string       `json:"err"`
	Replies []bcastReply `json:"result"`
	MS      float64      `json:"ms"`
}

func query(name string, timeoutMS int) string {
	q := "?name=" + url.QueryEscape(name)
	if timeoutMS > 0 {
		q += "&timeout=" + strconv.Itoa(timeoutMS)
	}
	return q
}

// call makes n call name with message msg (JSON; "" for nil).
func (n *node) call(name, msg string, timeoutMS int) callResult {
	n.t.Helper()
	var r callResult
	n.mustRequest("/call"+query(name, timeoutMS), []byte(msg), &r)
	return r
}

func (n *node) broadcast(name, msg string, timeoutMS int) bcastResult {
	n.t.Helper()
	var r bcastResult
	n.mustRequest("/broadcast"+query(name, timeoutMS), []byte(msg), &r)
	return r
}

// reaches waits until from's call to name succeeds and returns who answered.
func reaches(t testing.TB, from *node, name string) who {
	t.Helper()
	var w who
	drleetest.Eventually(t, 15*time.Second, from.name+" calls "+name, func() string {
		r := from.call(name, "", 2000)
		if r.Err != "" {
			return r.Err
		}
		if err := json.Unmarshal(r.Result, &w); err != nil {
			return err.Error()
		}
		return ""
	})
	return w
}

// handlerSet is the (node, worker) pairs of broadcast replies, as "node/worker".
func handlerSet(rs []bcastReply) map[string]int {
	m := map[string]int{}
	for _, r := range rs {
		m[r.Node+"/"+strconv.Itoa(r.WorkerID)]++
	}
	return m
}

func wantHandlers(nodes []*node, workers int) map[string]int {
	m := map[string]int{}
	for _, n := range nodes {
		for w := 1; w <= workers; w++ {
			m[n.name+"/"+strconv.Itoa(w)] = 1
		}
	}
	return m
}

func sameSet(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// countLines counts lines of s containing sub.
func countLines(s, sub string) int {
	k := 0
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			k++
		}
	}
	return k
}

// streamResult is testdata/node.lua's /stream answer.
type streamResult struct {
	Why      string   `json:"why"`
	Issued   int      `json:"issued"`
	Answered int      `json:"answered"`
	OK       int      `json:"ok"`
	Dups     int      `json:"dups"`
	MS       float64  `json:"ms"`
	Calls    []string `json:"calls"` // per call: the answering node, or "error"
	Missing  []int    `json:"missing"`
	Errors   []struct {
		I   int     `json:"i"`
		At  float64 `json:"at"`
		MS  float64 `json:"ms"`
		Err string  `json:"err"`
	} `json:"errors"`
}

// startStream makes from call name n times, one call every `every` ms; the result comes on
// the channel once every call got its callback.
func startStream(t testing.TB, from *node, name string, n, every, timeoutMS, delayMS int) <-chan streamResult {
	ch := make(chan streamResult, 1)
	path := fmt.Sprintf("/stream?name=%s&n=%d&every=%d&timeout=%d&delay=%d", url.QueryEscape(name), n, every, timeoutMS, delayMS)
	go func() {
		var r streamResult
		if err := from.request(path, []byte{}, &r); err != nil {
			r.Why = "request failed: " + err.Error()
		}
		ch <- r
	}()
	return ch
}

// checkStream checks that every call got exactly one callback.
func checkStream(t testing.TB, r streamResult, n int) {
	t.Helper()
	if r.Why != "done" || r.Issued != n || r.Answered != n || r.Dups != 0 || len(r.Missing) > 0 || len(r.Calls) != n {
		t.Fatalf("stream: %s: issued %d, answered %d, %d duplicate callbacks, %d calls recorded, missing %v",
			r.Why, r.Issued, r.Answered, r.Dups, len(r.Calls), r.Missing)
	}
}
