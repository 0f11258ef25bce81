package kv_test

// The harness of the multi-process tests: nodes started as separate drlee processes on
// 127.0.0.1 (testdata/node.lua), driven over HTTP.

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
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/drlee/drlee/internal/drleetest"
)

// node is one drlee process running testdata/node.lua.
type node struct {
	t           testing.TB
	name        string
	clusterAddr string
	dataDir     string
	port        int // HTTP
	url         string
	cmd         *exec.Cmd
	stdout      drleetest.SyncBuffer
	stderr      drleetest.SyncBuffer
	exited      chan struct{}
}

type nodeOpts struct {
	name        string
	clusterAddr string // "": a free port
	join        []*node
	dataDir     string // --data-dir; "": none (a temporary store)
	port        int    // HTTP; 0: a free port
	single      bool   // no --cluster at all
}

var client = &http.Client{Timeout: 60 * time.Second}

// startNode starts a node and waits until it serves HTTP. It is killed at the end of the
// test, and its output is logged if the test failed.
func startNode(t testing.TB, o nodeOpts) *node {
	t.Helper()
	n := &node{t: t, name: o.name, dataDir: o.dataDir, port: o.port, exited: make(chan struct{})}
	if n.port == 0 {
		n.port = drleetest.FreePort(t)
	}
	n.url = "http://127.0.0.1:" + strconv.Itoa(n.port)
	args := []string{"run", "-w", "1", "--node", o.name, "--shutdown-timeout", "5s"}
	if !o.single {
		n.clusterAddr = o.clusterAddr
		if n.clusterAddr == "" {
			n.clusterAddr = "127.0.0.1:" + strconv.Itoa(drleetest.FreePort(t))
		}
		args = append(args, "--cluster", n.clusterAddr)
		var peers []string
		for _, p := range o.join {
			peers = append(peers, p.clusterAddr)
		}
		if len(peers) > 0 {
			args = append(args, "--join", strings.Join(peers, ","))
		}
	}
	if o.dataDir != "" {
		args = append(args, "--data-dir", o.dataDir)
	}
	args = append(args, filepath.Join("testdata", "node.lua"), strconv.Itoa(n.port))
	n.cmd = exec.Command(drleeBin, args...)
	n.cmd.Stdout, n.cmd.Stderr = &n.stdout, &n.stderr
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = n.cmd.Wait()
		close(n.exited)
	}()
	t.Cleanup(func() {
		n.kill()
		if t.Failed() {
			t.Logf("node %s stdout:\n%s\nnode %s stderr:\n%s", n.name, n.stdout.String(), n.name, n.stderr.String())
		}
	})
	n.ready()
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

// stop sends SIGTERM and waits for the process to end.
func (n *node) stop() {
	n.t.Helper()
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.exited:
	case <-time.After(15 * time.Second):
		n.t.Fatalf("node %s did not end after SIGTERM", n.name)
	}
}

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
			n.t.Fatalf("node %s ended before serving\nstderr:\n%s", n.name, n.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("node %s does not serve %s: %v\nstderr:\n%s", n.name, n.url, err, n.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// answer is what node.lua's routes answer.
type answer struct {
	Err       string   `json:"err"`
	Rev       int64    `json:"rev"`
	Value     string   `json:"value"`
	Absent    bool     `json:"absent"`
	OK        bool     `json:"ok"`
	Keys      []string `json:"keys"`
	ID        int      `json:"id"`
	Log       []string `json:"log"`
	Conflicts int      `json:"conflicts"`
}

// do runs route on n with the query parameters kv (name, value, ...) and body as the value;
// a transport failure is an answer with Err set.
func (n *node) do(route, body string, kv ...string) answer {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	resp, err := client.Post(n.url+"/"+route+"?"+q.Encode(), "application/octet-stream", bytes.NewReader([]byte(body)))
	if err != nil {
		return answer{Err: "transport: " + err.Error()}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{Err: "transport: " + err.Error()}
	}
	var a answer
	if resp.StatusCode != 200 {
		return answer{Err: fmt.Sprintf("transport: %s: %s", resp.Status, b)}
	}
	if err := json.Unmarshal(b, &a); err != nil {
		return answer{Err: fmt.Sprintf("transport: %v: %s", err, b)}
	}
	return a
}

// must is do that fails the test on an error.
func (n *node) must(route, body string, kv ...string) answer {
	n.t.Helper()
	a := n.do(route, body, kv...)
	if a.Err != "" {
		n.t.Fatalf("node %s: %s %v: %s", n.name, route, kv, a.Err)
	}
	return a
}

// startCluster starts three nodes, B and C joining A, and waits until each has bound
// bucket (with replicas): JetStream has its leader then.
// With dataDirs, the nodes keep their data in them (--data-dir).
func startCluster(t *testing.T, bucket string, replicas int, dataDirs ...string) []*node {
	t.Helper()
	dir := func(i int) string {
		if i < len(dataDirs) {
			return dataDirs[i]
		}
		return ""
	}
	a := startNode(t, nodeOpts{name: "nodeA", dataDir: dir(0)})
	b := startNode(t, nodeOpts{name: "nodeB", join: []*node{a}, dataDir: dir(1)})
	c := startNode(t, nodeOpts{name: "nodeC", join: []*node{a}, dataDir: dir(2)})
	nodes := []*node{a, b, c}
	// At once on all three: a node joins the cluster on its script's first kv (or rpc)
	// call, and the bucket's replicas need the three.
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			deadline := time.Now().Add(30 * time.Second)
			for {
				err := n.do("bucket", "", "b", bucket, "replicas", strconv.Itoa(replicas)).Err
				if err == "" {
					return
				}
				if time.Now().After(deadline) {
					t.Errorf("%s binds %s: still not after 30s: %s", n.name, bucket, err)
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return nodes
}
