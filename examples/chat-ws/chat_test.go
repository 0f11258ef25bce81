// Package chatws_test runs examples/chat-ws/chat.lua on two drlee nodes joined as a
// cluster, with real websocket (gorilla) and TCP clients: what a line client says on one
// node reaches a websocket in the same room on the other, and the other way round, and
// nothing reaches another room.
package chatws_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/drlee/drlee/internal/drleetest"
)

var drleeBin string

// TestMain builds drlee once (from the module root) for the nodes the tests start.
func TestMain(m *testing.M) { drleetest.MainWithDrlee(m, &drleeBin) }

type chatNode struct {
	name, http, tcp, cluster string
	out                      drleetest.SyncBuffer
	exited                   chan struct{}
}

// startNode runs chat.lua as node name; join is a cluster address or "".
func startNode(t *testing.T, name, join string) *chatNode {
	t.Helper()
	hp, tp := drleetest.FreePort(t), drleetest.FreePort(t)
	n := &chatNode{
		name:    name,
		http:    "127.0.0.1:" + strconv.Itoa(hp),
		tcp:     "127.0.0.1:" + strconv.Itoa(tp),
		cluster: "127.0.0.1:" + strconv.Itoa(drleetest.FreePort(t)),
		exited:  make(chan struct{}),
	}
	args := []string{"run", "-w", "2", "--node", name, "--cluster", n.cluster}
	if join != "" {
		args = append(args, "--join", join)
	}
	args = append(args, "chat.lua", strconv.Itoa(hp), strconv.Itoa(tp))
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
		resp, err := http.Get("http://" + n.http + "/")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(body), "new WebSocket") {
				t.Fatalf("GET / on %s: %d\n%s", name, resp.StatusCode, body)
			}
			if c, err := net.Dial("tcp", n.tcp); err == nil {
				c.Close()
				return n
			}
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
	Room, Name, Text, Node string
}

// wsClient joins room on n as name; what it receives comes on the channel.
func wsClient(t *testing.T, n *chatNode, room, name string) (*websocket.Conn, <-chan message) {
	t.Helper()
	c, resp, err := websocket.DefaultDialer.Dial("ws://"+n.http+"/ws?room="+room+"&name="+name, nil)
	if err != nil {
		t.Fatalf("websocket to %s: %v", n.name, err)
	}
	resp.Body.Close()
	t.Cleanup(func() { c.Close() })
	ch := make(chan message, 100)
	go func() {
		defer close(ch)
		for {
			_, data, err := c.ReadMessage()
			if err != nil {
				return
			}
			var m message
			if json.Unmarshal(data, &m) != nil {
				m.Text = "undecodable: " + string(data)
			}
			ch <- m
		}
	}()
	return c, ch
}

// tcpClient is a line client of n, in room as name; its lines come on the channel.
func tcpClient(t *testing.T, n *chatNode, room, name string) (net.Conn, <-chan string) {
	t.Helper()
	c, err := net.Dial("tcp", n.tcp)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ch := make(chan string, 100)
	sc := bufio.NewScanner(c)
	if !sc.Scan() || !strings.HasPrefix(sc.Text(), "welcome to lobby on "+n.name) {
		t.Fatalf("tcp welcome: %q", sc.Text())
	}
	io.WriteString(c, "/join "+room+"\n/name "+name+"\n")
	for _, want := range []string{"joined " + room, "you are " + name} {
		if !sc.Scan() || sc.Text() != want {
			t.Fatalf("tcp client: %q, want %q", sc.Text(), want)
		}
	}
	go func() {
		defer close(ch)
		for sc.Scan() {
			ch <- sc.Text()
		}
	}()
	return c, ch
}

func TestChatAcrossNodes(t *testing.T) {
	a := startNode(t, "nodeA", "")
	b := startNode(t, "nodeB", a.cluster)

	ws, wsGot := wsClient(t, b, "r1", "alice")
	other, otherGot := wsClient(t, a, "r2", "carol")
	tc, tcpGot := tcpClient(t, a, "r1", "bob")

	// The cluster forms: bob says warm-up lines until alice, on the other node, hears one.
	deadline := time.After(20 * time.Second)
warm:
	for i := 0; ; i++ {
		io.WriteString(tc, "warmup "+strconv.Itoa(i)+"\n")
		select {
		case m := <-wsGot:
			if strings.HasPrefix(m.Text, "warmup") {
				break warm
			}
		case <-time.After(200 * time.Millisecond):
		case <-deadline:
			t.Fatal("node A's broadcasts do not reach node B")
		}
	}
	drain := func() {
		for {
			select {
			case <-wsGot:
			case <-tcpGot:
			case <-time.After(300 * time.Millisecond):
				return
			}
		}
	}
	drain()

	// bob (tcp, node A) -> alice (websocket, node B); bob hears himself too.
	io.WriteString(tc, "hello from tcp\n")
	select {
	case m := <-wsGot:
		if m != (message{Room: "r1", Name: "bob", Text: "hello from tcp", Node: "nodeA"}) {
			t.Errorf("alice got %+v", m)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("alice did not hear bob")
	}
	// alice -> bob, with UTF-8.
	ws.WriteMessage(websocket.TextMessage, []byte("héllo from the web"))
	deadlineLine := time.After(10 * time.Second)
	for got := false; !got; {
		select {
		case l := <-tcpGot:
			if l == "r1 alice@nodeB: héllo from the web" {
				got = true
			} else if !strings.Contains(l, "hello from tcp") {
				t.Errorf("bob got %q", l)
			}
		case <-deadlineLine:
			t.Fatal("bob did not hear alice")
		}
	}
	// carol, in r2, heard none of it: the first thing she hears is her own line.
	other.WriteMessage(websocket.TextMessage, []byte("only r2"))
	select {
	case m := <-otherGot:
		if m != (message{Room: "r2", Name: "carol", Text: "only r2", Node: "nodeA"}) {
			t.Errorf("carol got %+v first", m)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("carol did not hear herself")
	}
	// A plain GET of /ws is no handshake.
	resp, err := http.Get("http://" + a.http + "/ws")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("GET /ws: %d, want 400", resp.StatusCode)
	}
}
