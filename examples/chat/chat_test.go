// Package chat_test runs examples/chat/chat.lua on two drlee nodes joined as a cluster and
// checks that a message posted to one reaches a server-sent-events stream on the other.
package chat_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/drlee/drlee/internal/drleetest"
)

var drleeBin string

// TestMain builds drlee once (from the module root) for the nodes the tests start.
func TestMain(m *testing.M) { drleetest.MainWithDrlee(m, &drleeBin) }

type chatNode struct {
	name, url, cluster string
	out                drleetest.SyncBuffer
	exited             chan struct{}
}

// startNode runs chat.lua as node name; join is a cluster address or "".
func startNode(t *testing.T, name, join string) *chatNode {
	t.Helper()
	port := drleetest.FreePort(t)
	n := &chatNode{
		name:    name,
		url:     "http://127.0.0.1:" + strconv.Itoa(port),
		cluster: "127.0.0.1:" + strconv.Itoa(drleetest.FreePort(t)),
		exited:  make(chan struct{}),
	}
	args := []string{"run", "-w", "2", "--node", name, "--cluster", n.cluster}
	if join != "" {
		args = append(args, "--join", join)
	}
	args = append(args, "chat.lua", strconv.Itoa(port))
	cmd := exec.Command(drleeBin, args...)
	cmd.Stdout, cmd.Stderr = &n.out, &n.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(n.exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-n.exited
		if t.Failed() {
			t.Logf("node %s output:\n%s", name, n.out.String())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(n.url + "/")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(body), "EventSource") {
				t.Fatalf("GET / on %s: %d\n%s", name, resp.StatusCode, body)
			}
			return n
		}
		select {
		case <-n.exited:
			t.Fatalf("node %s ended:\n%s", name, n.out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s does not serve: %v", name, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type message struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Text string `json:"text"`
	Node string `json:"node"`
}

type sendResult struct {
	ID      string `json:"id"`
	Workers int    `json:"workers"`
	Streams int    `json:"streams"`
}

func send(t *testing.T, n *chatNode, name, text string) sendResult {
	t.Helper()
	resp, err := http.Post(n.url+"/send?name="+name, "text/plain", strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var r sendResult
	if resp.StatusCode != 200 || json.Unmarshal(body, &r) != nil {
		t.Fatalf("POST /send on %s: %d %s", n.name, resp.StatusCode, body)
	}
	return r
}

// A message posted on node A arrives on a stream held by node B, once.
func TestChatAcrossNodes(t *testing.T) {
	a := startNode(t, "nodeA", "")
	b := startNode(t, "nodeB", a.cluster)

	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", b.url+"/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "text/event-stream" {
		t.Fatalf("GET /events: %d, Content-Type %q", resp.StatusCode, ct)
	}
	if len(resp.TransferEncoding) == 0 || resp.TransferEncoding[0] != "chunked" {
		t.Errorf("GET /events is not streamed chunked: %v", resp.TransferEncoding)
	}

	// Read the stream: comments and "message" events.
	comments := make(chan string, 16)
	events := make(chan message, 64)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(resp.Body)
		var event, data string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, ":"):
				select {
				case comments <- line:
				default:
				}
			case strings.HasPrefix(line, "event: "):
				event = line[len("event: "):]
			case strings.HasPrefix(line, "data: "):
				data += line[len("data: "):]
			case line == "":
				if event == "message" {
					var m message
					if err := json.Unmarshal([]byte(data), &m); err != nil {
						m.Text = "undecodable event data: " + data
					}
					events <- m
				}
				event, data = "", ""
			}
		}
	}()
	select {
	case c := <-comments:
		if !strings.Contains(c, "connected to nodeB") {
			t.Errorf("first comment %q", c)
		}
	case <-ctx.Done():
		t.Fatal("no first comment on the stream")
	}

	// Node A learns about node B's handlers within a moment: until then its broadcasts
	// reach only its own 2 workers.
	deadline := time.Now().Add(15 * time.Second)
	for {
		if r := send(t, a, "warmup", "warming up"); r.Workers == 4 && r.Streams == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("node A's broadcasts do not reach node B's workers")
		}
		time.Sleep(50 * time.Millisecond)
	}

	hello := send(t, a, "alice", "hello from A, with \"quotes\"\nand a newline")
	second := send(t, a, "alice", "second")
	var got []message
	for len(got) < 2 {
		select {
		case m, ok := <-events:
			if !ok {
				t.Fatalf("the stream ended; got %+v", got)
			}
			if m.Name != "warmup" {
				got = append(got, m)
			}
		case <-ctx.Done():
			t.Fatalf("the messages did not arrive on node B's stream; got %+v", got)
		}
	}
	if got[0].ID != hello.ID || got[0].Text != "hello from A, with \"quotes\"\nand a newline" ||
		got[0].Name != "alice" || got[0].Node != "nodeA" {
		t.Errorf("first message on B: %+v, want id %s", got[0], hello.ID)
	}
	// The next event is the second message: the first came once.
	if got[1].ID != second.ID || got[1].Text != "second" {
		t.Errorf("second message on B: %+v, want id %s", got[1], second.ID)
	}
}
