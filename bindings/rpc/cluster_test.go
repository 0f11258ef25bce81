package rpc_test

// End-to-end tests: drlee nodes as separate processes forming a cluster on 127.0.0.1.

import (
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/drlee/drlee/internal/drleetest"
)

// startCluster starts nodes named names, the first alone and the others joining it, each
// registering extra[name], and waits until they serve HTTP.
func startCluster(t *testing.T, names []string, extra map[string][]string) []*node {
	t.Helper()
	var nodes []*node
	for i, name := range names {
		o := nodeOpts{name: name, names: extra[name]}
		if i > 0 {
			o.join = nodes[:1]
		}
		nodes = append(nodes, startNode(t, o))
	}
	for _, n := range nodes {
		n.ready()
	}
	return nodes
}

// Three nodes: calls between every pair, broadcasts reaching every worker of every node,
// and the errors of calls (no handler, timeout, bad messages), across nodes.
func TestThreeNodes(t *testing.T) {
	t.Parallel()
	nodes := startCluster(t, []string{"nodeA", "nodeB", "nodeC"}, nil)
	a, b, c := nodes[0], nodes[1], nodes[2]

	t.Run("calls", func(t *testing.T) {
		for _, from := range nodes {
			for _, to := range nodes {
				if from == to {
					continue
				}
				w := reaches(t, from, "who."+to.name)
				if w.Node != to.name || w.WorkerID < 1 || w.WorkerID > 2 {
					t.Errorf("%s calling who.%s: answered by %+v", from.name, to.name, w)
				}
			}
		}
	})

	t.Run("broadcast", func(t *testing.T) {
		want := wantHandlers(nodes, 2)
		for _, from := range nodes {
			var last bcastResult
			drleetest.Eventually(t, 10*time.Second, "broadcast from "+from.name, func() string {
				last = from.broadcast("who.all", `{"hello":1}`, 2000)
				if last.Err != "" {
					return last.Err
				}
				if got := handlerSet(last.Replies); !sameSet(got, want) {
					return "replies from " + strings.Join(keys(got), " ")
				}
				return ""
			})
			for _, r := range last.Replies {
				if r.Error != "" || r.Result == nil || r.Result.Node != r.Node || r.Result.WorkerID != r.WorkerID {
					t.Errorf("broadcast from %s: reply %+v (result %+v)", from.name, r, r.Result)
				}
			}
			// Every node answered in full: no waiting for the timeout.
			if last.MS > 1000 {
				t.Errorf("broadcast from %s took %v ms", from.name, last.MS)
			}
		}
	})

	t.Run("no handler", func(t *testing.T) {
		r := a.call("nobody.serves.this", `[1]`, 5000)
		if r.Err != "ENOHANDLER: no handler for 'nobody.serves.this'" {
			t.Fatalf("call with no handler: %+v", r)
		}
		if r.MS > 500 {
			t.Errorf("no handler took %v ms, want an immediate error", r.MS)
		}
		br := a.broadcast("nobody.serves.this", `[1]`, 5000)
		if br.Err != "" || len(br.Replies) != 0 || br.MS > 500 {
			t.Errorf("broadcast with no handler: %+v", br)
		}
	})

	t.Run("timeout", func(t *testing.T) {
		r := a.call("never."+b.name, `"hi"`, 300)
		if !strings.Contains(r.Err, "timed out") || !strings.Contains(r.Err, "never."+b.name) {
			t.Fatalf("call of a handler that never replies: %+v", r)
		}
		if r.MS < 290 || r.MS > 2000 {
			t.Errorf("timeout 300 ms took %v ms", r.MS)
		}
		// A broadcast waits for the timeout, and lists no reply from those handlers.
		br := a.broadcast("never."+c.name, `"hi"`, 300)
		if br.Err != "" || len(br.Replies) != 0 || br.MS < 290 || br.MS > 2000 {
			t.Errorf("broadcast to handlers that never reply: %+v", br)
		}
	})

	t.Run("bad messages", func(t *testing.T) {
		var got map[string]struct {
			OK  bool   `json:"ok"`
			Err string `json:"err"`
		}
		a.mustRequest("/bad", nil, &got)
		want := map[string]string{
			"function":        "cannot encode a function value",
			"nested function": "cannot encode a function value",
			"cycle":           "cycle",
			"deep cycle":      "cycle",
			"userdata":        "cannot encode a userdata value",
			"coroutine":       "cannot encode a thread value",
		}
		for name, sub := range want {
			r, ok := got[name]
			if !ok || r.OK || !strings.Contains(r.Err, sub) || !strings.Contains(r.Err, "bad argument #2") {
				t.Errorf("%s: pcall gave ok=%v err=%q, want an error containing %q", name, r.OK, r.Err, sub)
			}
		}
		if r := got["shared ok"]; !r.OK {
			t.Errorf("a table referenced twice (not a cycle) was refused: %q", r.Err)
		}
	})

	t.Run("round trip", func(t *testing.T) {
		for _, p := range [][2]*node{{a, b}, {c, a}} {
			var r struct {
				Calls    int      `json:"calls"`
				Failures []string `json:"failures"`
			}
			p[0].mustRequest("/roundtrip?target="+p[1].name, nil, &r)
			if r.Calls < 60 {
				t.Errorf("%s -> %s: only %d calls", p[0].name, p[1].name, r.Calls)
			}
			for _, f := range r.Failures {
				t.Errorf("%s -> %s: %s", p[0].name, p[1].name, f)
			}
		}
	})

	t.Run("reply twice", func(t *testing.T) {
		r := a.call("twice."+b.name, "", 2000)
		if r.Err != "" || string(r.Result) != `"first"` {
			t.Fatalf("call of a handler that replies three times: %+v", r)
		}
		line := "reply to 'twice." + b.name + "' ignored"
		drleetest.Eventually(t, 5*time.Second, "warning on "+b.name, func() string {
			if countLines(b.stderr.String(), line) == 0 {
				return "no warning yet"
			}
			return ""
		})
		time.Sleep(100 * time.Millisecond) // a second warning would follow within microseconds
		if k := countLines(b.stderr.String(), line); k != 1 {
			t.Errorf("%d warnings %q, want 1", k, line)
		}
		// The node goes on serving.
		if w := reaches(t, a, "who."+b.name); w.Node != b.name {
			t.Errorf("after replying twice: %+v", w)
		}
	})

	// The issue: "Replying twice, or after the caller timed out, is harmless and logged once."
	t.Run("reply after timeout", func(t *testing.T) {
		r := a.call("lazy."+c.name, `{"ms":300}`, 100)
		if !strings.Contains(r.Err, "timed out") {
			t.Fatalf("call of a late handler: %+v", r)
		}
		line := "reply to 'lazy." + c.name + "' ignored"
		drleetest.Eventually(t, 5*time.Second, "warning on "+c.name+" for a reply after the caller timed out", func() string {
			if countLines(c.stderr.String(), line) == 0 {
				return "no warning"
			}
			return ""
		})
		if w := reaches(t, a, "who."+c.name); w.Node != c.name {
			t.Errorf("after a late reply: %+v", w)
		}
	})
}

func keys(m map[string]int) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// waitServed waits until a broadcast from `from` to name reaches every worker of nodes.
func waitServed(t *testing.T, from *node, name string, nodes ...*node) {
	t.Helper()
	want := wantHandlers(nodes, 2)
	drleetest.Eventually(t, 15*time.Second, name+" served by every node, seen from "+from.name, func() string {
		r := from.broadcast(name, `{"i":0}`, 2000)
		if got := handlerSet(r.Replies); !sameSet(got, want) {
			return "replies from " + strings.Join(keys(got), " ")
		}
		return ""
	})
}

// countBy counts the stream's calls per outcome.
func countBy(calls []string) map[string]int {
	m := map[string]int{}
	for _, c := range calls {
		m[c]++
	}
	return m
}

// A node killed with SIGKILL during a steady stream of calls to a method two nodes serve:
// every call gets exactly one callback, the only errors are calls in flight to the dead
// node at that instant, and calls go on succeeding on the other node.
func TestNodeKilled(t *testing.T) {
	t.Parallel()
	nodes := startCluster(t, []string{"caller", "stay", "victim"},
		map[string][]string{"stay": {"svc.k"}, "victim": {"svc.k"}})
	caller, stay, victim := nodes[0], nodes[1], nodes[2]
	waitServed(t, caller, "svc.k", stay, victim)

	const n = 300
	done := startStream(t, caller, "svc.k", n, 10, 1000, 20)
	time.Sleep(time.Second) // about a third of the stream
	victim.kill()
	var r streamResult
	select {
	case r = <-done:
	case <-time.After(45 * time.Second):
		t.Fatal("the stream did not end")
	}
	checkStream(t, r, n)
	by := countBy(r.Calls)
	t.Logf("stream of %d calls in %v ms: %v", n, r.MS, by)
	if by[victim.name] == 0 || by[stay.name] == 0 {
		t.Fatalf("calls were not shared before the kill: %v", by)
	}
	for _, e := range r.Errors {
		t.Logf("call %d, issued at %v ms, failed after %v ms: %s", e.I, e.At, e.MS, e.Err)
	}
	if len(r.Errors) > 5 {
		t.Errorf("%d errors, want at most a few at the kill instant: %+v", len(r.Errors), r.Errors)
	}
	last := 0 // the last call the victim answered
	for i, c := range r.Calls {
		if c == victim.name {
			last = i
		}
	}
	for _, e := range r.Errors {
		if e.I < last-20 || e.I > last+20 {
			t.Errorf("error far from the kill (last answer of %s: call %d): %+v", victim.name, last+1, e)
		}
	}
	tail := r.Calls[min(last+21, n):]
	if len(tail) < 50 {
		t.Fatalf("only %d calls after the kill (last answer of %s: call %d)", len(tail), victim.name, last+1)
	}
	for i, c := range tail {
		if c != stay.name {
			t.Fatalf("call %d after the kill: %s", last+22+i, c)
		}
	}
}

// A node stopped with SIGTERM during a steady stream of calls to a method another node
// serves too: it unregisters first, answers what it was handed, and not one call fails.
func TestNodeStopped(t *testing.T) {
	t.Parallel()
	nodes := startCluster(t, []string{"caller", "stay", "leaver"},
		map[string][]string{"stay": {"svc.t"}, "leaver": {"svc.t"}})
	caller, stay, leaver := nodes[0], nodes[1], nodes[2]
	waitServed(t, caller, "svc.t", stay, leaver)

	const n = 300
	done := startStream(t, caller, "svc.t", n, 10, 2000, 20)
	time.Sleep(time.Second)
	code, ok := leaver.stop(syscall.SIGTERM, 15*time.Second)
	if !ok {
		t.Fatalf("%s did not end within 15 s of SIGTERM", leaver.name)
	}
	if code != 0 {
		t.Errorf("%s exited %d after SIGTERM", leaver.name, code)
	}
	var r streamResult
	select {
	case r = <-done:
	case <-time.After(45 * time.Second):
		t.Fatal("the stream did not end")
	}
	checkStream(t, r, n)
	by := countBy(r.Calls)
	t.Logf("stream of %d calls in %v ms: %v", n, r.MS, by)
	if len(r.Errors) > 0 {
		t.Errorf("%d calls failed, want none: %+v", len(r.Errors), r.Errors)
	}
	if by[leaver.name] == 0 || by[stay.name] < 50 {
		t.Errorf("calls were not shared, or did not move: %v", by)
	}
	last := 0
	for i, c := range r.Calls {
		if c == leaver.name {
			last = i
		}
	}
	if n-last < 50 {
		t.Errorf("%s answered call %d of %d: the stream did not outlast it", leaver.name, last+1, n)
	}
}

// A node that joins late (through another member than the caller's) becomes reachable.
func TestNodeJoinsLate(t *testing.T) {
	t.Parallel()
	nodes := startCluster(t, []string{"first", "second"}, nil)
	a, b := nodes[0], nodes[1]
	reaches(t, a, "who."+b.name)
	if r := a.call("who.late", "", 2000); r.Err != "ENOHANDLER: no handler for 'who.late'" {
		t.Fatalf("before the late node: %+v", r)
	}
	late := startNode(t, nodeOpts{name: "late", join: []*node{b}})
	late.ready()
	if w := reaches(t, a, "who.late"); w.Node != "late" {
		t.Errorf("who.late answered by %+v", w)
	}
	if w := reaches(t, late, "who."+a.name); w.Node != a.name {
		t.Errorf("from the late node: %+v", w)
	}
	waitServed(t, a, "who.all", a, b, late)
}

// --nats: two drlee processes call each other through a real nats-server, embedding none.
func TestExternalNATS(t *testing.T) {
	t.Parallel()
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		if _, err := os.Stat("/usr/sbin/nats-server"); err != nil {
			t.Skip("nats-server is not installed (Debian: apt-get install nats-server); --nats untested")
		}
		bin = "/usr/sbin/nats-server"
	}
	port := drleetest.FreePort(t)
	srv := exec.Command(bin, "-a", "127.0.0.1", "-p", strconv.Itoa(port))
	var out drleetest.SyncBuffer
	srv.Stdout, srv.Stderr = &out, &out
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { srv.Wait(); close(exited) }()
	t.Cleanup(func() {
		srv.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("nats-server output:\n%s", out.String())
		}
	})
	addr := "127.0.0.1:" + strconv.Itoa(port)
	drleetest.Eventually(t, 10*time.Second, "nats-server listening", func() string {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return err.Error()
		}
		c.Close()
		return ""
	})

	url := "nats://" + addr
	x := startNode(t, nodeOpts{name: "natsX", nats: url})
	y := startNode(t, nodeOpts{name: "natsY", nats: url})
	x.ready()
	y.ready()
	if w := reaches(t, x, "who.natsY"); w.Node != "natsY" {
		t.Errorf("natsX -> who.natsY: %+v", w)
	}
	if w := reaches(t, y, "who.natsX"); w.Node != "natsX" {
		t.Errorf("natsY -> who.natsX: %+v", w)
	}
	waitServed(t, x, "who.all", x, y)
	r := x.call("echo.natsY", `{"a":[1,2.5,"s"]}`, 2000)
	var echo struct {
		Value any `json:"value"`
	}
	if err := json.Unmarshal(r.Result, &echo); err != nil || r.Err != "" {
		t.Fatalf("echo through nats-server: %+v (%v)", r, err)
	}
	if b, _ := json.Marshal(echo.Value); string(b) != `{"a":[1,2.5,"s"]}` {
		t.Errorf("echo through nats-server: %s", b)
	}
}
