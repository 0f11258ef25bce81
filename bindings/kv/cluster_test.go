package kv_test

// Tests with real nodes as processes: a three-node cluster (each an embedded NATS server
// with JetStream, routes between them), and single nodes restarted on their --data-dir.

import (
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drlee/drlee/internal/drleetest"
)

// TestThreeNodes: a value put on one node is read on the others; compare-and-set races
// between nodes have exactly one winner; a watch on each node sees every change, in the
// same order.
func TestThreeNodes(t *testing.T) {
	t.Parallel()
	nodes := startCluster(t, "shared", 3)
	a, b, c := nodes[0], nodes[1], nodes[2]

	t.Run("put on one, read on the others", func(t *testing.T) {
		for i, from := range nodes {
			key := "from." + from.name
			value := fmt.Sprintf("value %d of %s", i, from.name)
			rev := from.must("put", value, "b", "shared", "key", key).Rev
			for _, to := range nodes {
				got := to.must("get", "", "b", "shared", "key", key)
				if got.Value != value || got.Rev != rev {
					t.Errorf("%s reads %s put by %s: %q@%d, want %q@%d", to.name, key, from.name, got.Value, got.Rev, value, rev)
				}
			}
		}
		keys := c.must("keys", "", "b", "shared").Keys
		if strings.Join(keys, ",") != "from.nodeA,from.nodeB,from.nodeC" {
			t.Errorf("keys on nodeC: %v", keys)
		}
		b.must("delete", "", "b", "shared", "key", "from.nodeA")
		if got := a.must("get", "", "b", "shared", "key", "from.nodeA"); !got.Absent {
			t.Errorf("nodeA reads a key nodeB deleted: %+v", got)
		}
	})

	t.Run("watch sees every change in order", func(t *testing.T) {
		// history = 64: every revision stays in the stream until each watcher read it (a
		// smaller history lets a lagging watcher skip replaced revisions; see watch.go).
		var ids []int
		for _, n := range nodes {
			n.must("bucket", "", "b", "watched", "replicas", "3", "history", "64")
			w := n.must("watch", "", "b", "watched", "prefix", "w.")
			if !w.OK {
				t.Fatalf("%s: watch not ready: %+v", n.name, w)
			}
			ids = append(ids, w.ID)
		}
		// Two writers on two nodes at once, each in its own order: the watchers must all
		// see the one order JetStream gave them, each writer's changes in its order.
		const each = 25
		var wg sync.WaitGroup
		for _, from := range []*node{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 1; i <= each; i++ {
					key := "w." + from.name
					if i == each {
						from.must("delete", "", "b", "watched", "key", key)
						continue
					}
					from.must("put", strconv.Itoa(i), "b", "watched", "key", key)
				}
			}()
		}
		wg.Wait()
		var logs [][]string
		for i, n := range nodes {
			var log []string
			drleetest.Eventually(t, 10*time.Second, n.name+" sees every change", func() string {
				log = n.must("watchlog", "", "id", strconv.Itoa(ids[i])).Log
				if len(log) < 2*each {
					return fmt.Sprintf("%d changes of %d: %v", len(log), 2*each, log)
				}
				return ""
			})
			logs = append(logs, log)
		}
		for i, log := range logs {
			if strings.Join(log, "\n") != strings.Join(logs[0], "\n") {
				t.Errorf("%s saw another order than %s:\n%v\n%v", nodes[i].name, a.name, log, logs[0])
			}
		}
		// In each writer's order, revisions increasing.
		last := int64(0)
		next := map[string]int{"w.nodeA": 1, "w.nodeB": 1}
		for _, line := range logs[0] {
			var op, kv string
			var rev int64
			at := strings.LastIndexByte(line, '@')
			fmt.Sscanf(line[:at], "%s %s", &op, &kv)
			rev, _ = strconv.ParseInt(line[at+1:], 10, 64)
			if rev <= last {
				t.Errorf("revision %d after %d: %s", rev, last, line)
			}
			last = rev
			key, value, _ := strings.Cut(kv, "=")
			want := next[key]
			switch {
			case want < each && (op != "put" || value != strconv.Itoa(want)):
				t.Errorf("%s: want put %d", line, want)
			case want == each && op != "delete":
				t.Errorf("%s: want the delete", line)
			case want > each:
				t.Errorf("%s: a change after the last", line)
			}
			next[key] = want + 1
		}
	})

	t.Run("compare-and-set: exactly one winner", func(t *testing.T) {
		for round := 0; round < 5; round++ {
			key := "cas." + strconv.Itoa(round)
			rev := a.must("put", "start", "b", "shared", "key", key).Rev
			results := make([]answer, len(nodes))
			var wg sync.WaitGroup
			for i, n := range nodes {
				wg.Add(1)
				go func() {
					defer wg.Done()
					results[i] = n.do("update", n.name, "b", "shared", "key", key, "rev", strconv.FormatInt(rev, 10))
				}()
			}
			wg.Wait()
			winners := 0
			winner := ""
			for i, r := range results {
				switch {
				case r.Err == "":
					winners++
					winner = nodes[i].name
				case !strings.HasPrefix(r.Err, "ECONFLICT: kv.update shared/"+key+": "):
					t.Errorf("round %d, %s: %s, want ECONFLICT", round, nodes[i].name, r.Err)
				}
			}
			if winners != 1 {
				t.Fatalf("round %d: %d winners: %+v", round, winners, results)
			}
			if got := c.must("get", "", "b", "shared", "key", key); got.Value != winner {
				t.Errorf("round %d: the value is %q, the winner %s", round, got.Value, winner)
			}
		}
		// The same race with create: one node creates, the others get EEXIST.
		results := make([]answer, len(nodes))
		var wg sync.WaitGroup
		for i, n := range nodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = n.do("create", n.name, "b", "shared", "key", "created")
			}()
		}
		wg.Wait()
		winners := 0
		for i, r := range results {
			if r.Err == "" {
				winners++
			} else if !strings.HasPrefix(r.Err, "EEXIST: ") {
				t.Errorf("create on %s: %s, want EEXIST", nodes[i].name, r.Err)
			}
		}
		if winners != 1 {
			t.Errorf("create: %d winners: %+v", winners, results)
		}
		// Counters incremented by compare-and-set on every node at once lose no increment.
		const n = 15
		var conflicts [3]int
		for i, nd := range nodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := nd.do("incr", "", "b", "shared", "key", "counter", "n", strconv.Itoa(n))
				if r.Err != "" {
					t.Errorf("incr on %s: %s", nd.name, r.Err)
				}
				conflicts[i] = r.Conflicts
			}()
		}
		wg.Wait()
		if got := b.must("get", "", "b", "shared", "key", "counter").Value; got != strconv.Itoa(3*n) {
			t.Errorf("counter %s after 3 x %d increments (conflicts retried: %v)", got, n, conflicts)
		}
	})
}

// TestReplicasSurviveKill: with three nodes and replicas = 3, a node SIGKILLed loses no put
// that was acknowledged, and the two others go on reading and writing; restarted on its
// --data-dir, the killed node has the data back and catches up with what it missed.
func TestReplicasSurviveKill(t *testing.T) {
	t.Parallel()
	dirA := t.TempDir()
	nodes := startCluster(t, "durable", 3, dirA)
	a, b, c := nodes[0], nodes[1], nodes[2]
	const count = 40
	revs := map[string]int64{}
	for i := 0; i < count; i++ {
		key := "k" + strconv.Itoa(i)
		// Through every node in turn: the puts reach the stream's leader wherever it is.
		revs[key] = nodes[i%3].must("put", "v"+strconv.Itoa(i), "b", "durable", "key", key).Rev
	}
	// Kill the node the cluster started from: it is likely the leader of the meta group.
	a.kill()
	for _, n := range []*node{b, c} {
		for i := 0; i < count; i++ {
			key := "k" + strconv.Itoa(i)
			drleetest.Eventually(t, 20*time.Second, n.name+" reads "+key+" after nodeA was killed", func() string {
				got := n.do("get", "", "b", "durable", "key", key)
				switch {
				case got.Err != "":
					return got.Err // a new stream leader is being elected
				case got.Absent || got.Value != "v"+strconv.Itoa(i) || got.Rev != revs[key]:
					// A get is served by the node's own replica (JetStream's direct get),
					// which may not have the last puts yet when it was the one replica the
					// put's quorum did not wait for: it must catch up, not lose them.
					return fmt.Sprintf("%s is %+v, want v%d@%d", key, got, i, revs[key])
				}
				return ""
			})
		}
	}
	// Two of three are a majority: writes go on.
	drleetest.Eventually(t, 20*time.Second, "nodeB writes with nodeA down", func() string {
		return b.do("put", "after", "b", "durable", "key", "after").Err
	})
	if got := c.must("get", "", "b", "durable", "key", "after"); got.Value != "after" {
		t.Errorf("nodeC reads %+v, want after", got)
	}

	// nodeA again, on its address and --data-dir, joining nodeB.
	a = startNode(t, nodeOpts{name: "nodeA", clusterAddr: a.clusterAddr, join: []*node{b}, dataDir: dirA})
	drleetest.Eventually(t, 30*time.Second, "the restarted nodeA reads what nodeB wrote while it was down", func() string {
		got := a.do("get", "", "b", "durable", "key", "after")
		if got.Err != "" {
			return got.Err
		}
		if got.Value != "after" {
			return fmt.Sprintf("%+v", got)
		}
		return ""
	})
	for i := 0; i < count; i++ {
		key := "k" + strconv.Itoa(i)
		if got := a.must("get", "", "b", "durable", "key", key); got.Value != "v"+strconv.Itoa(i) || got.Rev != revs[key] {
			t.Errorf("the restarted nodeA reads %s: %+v, want v%d@%d", key, got, i, revs[key])
		}
	}
}

// TestRestartKeepsData: a node restarted with its --data-dir has its buckets and values
// back, after SIGTERM and after SIGKILL; without --data-dir a restarted node starts empty.
func TestRestartKeepsData(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	port := 0
	n := startNode(t, nodeOpts{name: "keeper", dataDir: dir, single: true})
	port = n.port
	rev := n.must("put", "kept", "b", "store", "key", "k").Rev
	n.must("put", "second", "b", "store", "key", "k2")
	n.stop()

	n = startNode(t, nodeOpts{name: "keeper", dataDir: dir, single: true, port: port})
	if got := n.must("get", "", "b", "store", "key", "k"); got.Value != "kept" || got.Rev != rev {
		t.Errorf("after a restart: %+v, want kept@%d", got, rev)
	}
	n.must("put", "third", "b", "store", "key", "k3")
	n.kill()

	n = startNode(t, nodeOpts{name: "keeper", dataDir: dir, single: true, port: port})
	if keys := n.must("keys", "", "b", "store").Keys; strings.Join(keys, ",") != "k,k2,k3" {
		t.Errorf("after SIGKILL and a restart: keys %v, want k,k2,k3", keys)
	}
	n.stop()

	// No --data-dir: a temporary store, gone with the process.
	n = startNode(t, nodeOpts{name: "forgetful", single: true})
	n.must("put", "x", "b", "store", "key", "k")
	n.stop()
	n = startNode(t, nodeOpts{name: "forgetful", single: true})
	if got := n.must("get", "", "b", "store", "key", "k"); !got.Absent {
		t.Errorf("a node without --data-dir kept %+v", got)
	}
}

// TestDataDirNeedsEmbeddedServer: --data-dir with --nats is refused at start: JetStream's
// data is then the NATS servers'.
func TestDataDirNeedsEmbeddedServer(t *testing.T) {
	t.Parallel()
	out, err := exec.Command(drleeBin, "run", "--nats", "nats://127.0.0.1:1", "--data-dir", t.TempDir(), "testdata/node.lua", "0").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--data-dir is for the embedded NATS server") {
		t.Errorf("drlee run --nats --data-dir: %v\n%s", err, out)
	}
}
