package websocket_test

import (
	"bytes"
	"crypto/tls"
	"embed"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/internal/drleetest"
	"github.com/drlee/drlee/internal/testcert"
)

//go:embed testdata/*.lua
var scripts embed.FS

func script(t testing.TB, name string) string {
	t.Helper()
	b, err := scripts.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func checkLua(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("../core/testdata/check.lua")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func run(t testing.TB, name string, o drleetest.Options) drleetest.Result {
	t.Helper()
	if o.Files == nil {
		o.Files = map[string]string{}
	}
	o.Files["check.lua"] = checkLua(t)
	return drleetest.Run(t, script(t, name), o)
}

func background(t testing.TB, name string, o drleetest.Options) <-chan drleetest.Result {
	t.Helper()
	if o.Files == nil {
		o.Files = map[string]string{}
	}
	o.Files["check.lua"] = checkLua(t)
	src := script(t, name)
	ch := make(chan drleetest.Result, 1)
	go func() { ch <- drleetest.Run(t, src, o) }()
	return ch
}

// dialWS dials a websocket until the script's server answers, or fails the test.
func dialWS(t testing.TB, d *websocket.Dialer, url string, h http.Header) *websocket.Conn {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		c, resp, err := d.Dial(url, h)
		if resp != nil && resp.Body != nil {
			resp.Body.Close()
		}
		if err == nil {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("dial %s: %v", url, err)
		}
	}
}

func allBytes() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

func closeCode(err error) int {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return -1
}

// TestLuaServerGorillaClients: gorilla clients of a Lua server: text and binary (every
// byte value), a fragmented message, a ping answered, a message over max_message, the
// close handshake from either side, a client that vanishes.
func TestLuaServerGorillaClients(t *testing.T) {
	t.Parallel()
	addr := "127.0.0.1:" + strconv.Itoa(drleetest.FreePort(t))
	const conns = 5
	ch := background(t, "server.lua", drleetest.Options{Args: []string{addr, strconv.Itoa(conns)}})
	base := "ws://" + addr
	d := &websocket.Dialer{HandshakeTimeout: 5 * time.Second}

	// Echo, then the client closes with 4001.
	h := http.Header{"X-Test": {"yes"}}
	c := dialWS(t, d, base+"/echo?name=gorilla", h)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if err := c.WriteMessage(websocket.TextMessage, []byte("héllo")); err != nil {
		t.Fatal(err)
	}
	if mt, m, err := c.ReadMessage(); err != nil || mt != websocket.TextMessage || string(m) != "héllo" {
		t.Fatalf("text echo: %d %q %v", mt, m, err)
	}
	bin := bytes.Repeat(allBytes(), 16)
	c.WriteMessage(websocket.BinaryMessage, bin)
	if mt, m, err := c.ReadMessage(); err != nil || mt != websocket.BinaryMessage || !bytes.Equal(m, bin) {
		t.Fatalf("binary echo: %d %d bytes %v", mt, len(m), err)
	}
	// A fragmented message: NextWriter with a 4 KiB buffer sends 30 KB in several frames.
	w, err := c.NextWriter(websocket.BinaryMessage)
	if err != nil {
		t.Fatal(err)
	}
	var frag []byte
	for i := range 30 {
		part := bytes.Repeat([]byte{byte(i)}, 1000)
		frag = append(frag, part...)
		w.Write(part)
	}
	w.Close()
	if _, m, err := c.ReadMessage(); err != nil || !bytes.Equal(m, frag) {
		t.Fatalf("fragmented echo: %d bytes %v", len(m), err)
	}
	// A ping: the pong comes before the echo of the message sent after it.
	pong := make(chan string, 1)
	c.SetPongHandler(func(s string) error { pong <- s; return nil })
	c.WriteControl(websocket.PingMessage, []byte("ping?"), time.Now().Add(time.Second))
	c.WriteMessage(websocket.TextMessage, []byte("after ping"))
	if _, m, err := c.ReadMessage(); err != nil || string(m) != "after ping" {
		t.Fatalf("after ping: %q %v", m, err)
	}
	select {
	case s := <-pong:
		if s != "ping?" {
			t.Errorf("pong %q", s)
		}
	default:
		t.Error("no pong before the echo")
	}
	c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4001, "client bye"), time.Now().Add(time.Second))
	if _, _, err := c.ReadMessage(); closeCode(err) != 4001 {
		t.Errorf("close answer: %v, want 4001", err)
	}
	c.Close()

	// The server closes with 4002.
	c = dialWS(t, d, base+"/close", nil)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, m, err := c.ReadMessage(); err != nil || string(m) != "bye soon" {
		t.Fatalf("before the close: %q %v", m, err)
	}
	if _, _, err := c.ReadMessage(); closeCode(err) != 4002 || !strings.Contains(err.Error(), "server bye") {
		t.Errorf("server close: %v, want 4002 server bye", err)
	}
	c.Close()

	// Over max_message: 1009.
	c = dialWS(t, d, base+"/limit", nil)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	c.WriteMessage(websocket.BinaryMessage, make([]byte, 200000))
	if _, _, err := c.ReadMessage(); closeCode(err) != websocket.CloseMessageTooBig {
		t.Errorf("over the limit: %v, want 1009", err)
	}
	c.Close()

	// The client vanishes: the socket closes with no close frame.
	c = dialWS(t, d, base+"/echo", nil)
	c.NetConn().Close()

	// A plain HTTP request gets 426.
	resp, err := http.Get("http://" + addr + "/echo")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired {
		t.Errorf("plain GET: %d, want 426", resp.StatusCode)
	}
	// A fifth connection that only closes, so that the server stops.
	c = dialWS(t, d, base+"/echo", nil)
	c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	c.ReadMessage()
	c.Close()

	res := <-ch
	res.MustSucceed(t)
	res.Contains(t, "hello\tgorilla\tyes\n", "closed by peer\t4001\tclient bye\n",
		"read after peer close\tnil\tECLOSED: websocket: the connection is closed: the peer closed it (4001 client bye)\n",
		"close after peer close\ttrue\n", "server close\ttrue\n", "write after close\tnil\tECLOSED",
		"limit\tnil\tEMSGSIZE: ", "echo read error\tECONNRESET: websocket: the peer closed the connection without a close frame (1006)\n",
		"closed by peer\t1000\t\n")
}

func selfSigned(t *testing.T) (tls.Certificate, []byte) {
	cert, certPEM, _ := testcert.SelfSigned(t)
	return cert, certPEM
}

// gorillaServer is the Go side of TestLuaDialsGorilla: it echoes, and on cue sends a
// fragmented message, closes with 4004, or vanishes. What it saw goes to events.
func gorillaServer(t *testing.T, events chan<- string) http.Handler {
	up := websocket.Upgrader{WriteBufferSize: 1024}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/echo" {
			http.NotFound(w, r)
			return
		}
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		if r.Header.Get("X-Test") != "" {
			events <- "header " + r.Header.Get("X-Test")
		}
		for {
			mt, m, err := c.ReadMessage()
			if err != nil {
				if code := closeCode(err); code > 0 {
					events <- "closed " + strconv.Itoa(code) + " " + err.(*websocket.CloseError).Text
				}
				return
			}
			switch string(m) {
			case "fragments please":
				w, _ := c.NextWriter(websocket.TextMessage)
				for range 3000 {
					w.Write([]byte("0123456789"))
				}
				w.Close()
				continue
			case "close me":
				c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4004, "go bye"), time.Now().Add(time.Second))
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				_, _, err := c.ReadMessage()
				events <- "answer " + strconv.Itoa(closeCode(err))
				return
			case "vanish":
				return
			}
			c.WriteMessage(mt, m)
		}
	})
}

// TestLuaDialsGorilla: Lua clients of gorilla servers, ws:// and wss:// (a test CA).
func TestLuaDialsGorilla(t *testing.T) {
	t.Parallel()
	events := make(chan string, 100)
	plain := httptest.NewServer(gorillaServer(t, events))
	defer plain.Close()
	cert, certPEM := selfSigned(t)
	secure := httptest.NewUnstartedServer(gorillaServer(t, events))
	secure.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	secure.StartTLS()
	defer secure.Close()
	secure.Config.ErrorLog = nil
	mute, err := net.Listen("tcp", "127.0.0.1:0") // accepts (the backlog does), never answers
	if err != nil {
		t.Fatal(err)
	}
	defer mute.Close()
	res := run(t, "dial.lua", drleetest.Options{
		Args: []string{"ws" + strings.TrimPrefix(plain.URL, "http"), "wss" + strings.TrimPrefix(secure.URL, "https"),
			mute.Addr().String()},
		Files: map[string]string{"ca.pem": string(certPEM)},
	})
	res.MustSucceed(t)
	res.Contains(t, "text echo\ttext\thello\n", "binary echo\tbinary\ttrue\t1024\n", "fragmented\ttext\t30000\ttrue\n",
		"close\ttrue\n", "close again\tnil\tECLOSED", "server closed\tclose\t4004\tgo bye\n", "read after\tnil\tECLOSED",
		"close after server close\ttrue\n", "vanished\tnil\tECONNRESET", "not found\tnil\tEPROTO: websocket: ", "HTTP 404",
		"refused\tnil\tECONNREFUSED", "callback echo\tnil\tcb\n", "callback close\tnil\n", "wss echo\tsecure\n",
		"wss ca file ok\n", "wss no ca\tnil\tETLS", "wss wrong name file\tETLS\n", "wss missing ca file\tENOENT\n", "wss insecure ok\n", "read timeout\tnil\tETIMEDOUT", "after timeout\tnil\tETIMEDOUT",
		"client limit\tnil\tEMSGSIZE: websocket: a message from ", "handshake timeout\tnil\tETIMEDOUT: websocket: no connection to ")
	var got []string
	for _, want := range []string{"header yes", "closed 4003 client bye", "answer 4004", "closed 1009 "} {
		found := false
		for deadline := time.After(5 * time.Second); !found; {
			for _, g := range got {
				found = found || g == want
			}
			if found {
				break
			}
			select {
			case e := <-events:
				got = append(got, e)
			case <-deadline:
				t.Fatalf("the Go server saw %q; want %q in it", got, want)
			}
		}
	}
}

// TestUpgradeInHTTPServer: websocket.upgrade in a handler of the http module, with a
// gorilla client; a request that is no handshake gets 400 and the script EPROTO; the
// same server goes on answering plain requests.
func TestUpgradeInHTTPServer(t *testing.T) {
	t.Parallel()
	addr := "127.0.0.1:" + strconv.Itoa(drleetest.FreePort(t))
	ch := background(t, "upgrade.lua", drleetest.Options{Args: []string{addr}})
	d := &websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	c := dialWS(t, d, "ws://"+addr+"/ws", nil)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	bin := bytes.Repeat(allBytes(), 3)
	for i := range 3 {
		c.WriteMessage(websocket.BinaryMessage, bin[:100*(i+1)])
		if mt, m, err := c.ReadMessage(); err != nil || mt != websocket.BinaryMessage || !bytes.Equal(m, bin[:100*(i+1)]) {
			t.Fatalf("echo %d: %d %d bytes %v", i, mt, len(m), err)
		}
	}
	// Over this upgrade's max_message (1000): 1009.
	c.WriteMessage(websocket.BinaryMessage, make([]byte, 2000))
	if _, _, err := c.ReadMessage(); closeCode(err) != websocket.CloseMessageTooBig {
		t.Errorf("over the limit: %v, want 1009", err)
	}
	c.Close()

	c = dialWS(t, d, "ws://"+addr+"/cb", nil)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, m, err := c.ReadMessage(); err != nil || string(m) != "from callback" {
		t.Errorf("callback upgrade: %q %v", m, err)
	}
	if _, _, err := c.ReadMessage(); closeCode(err) != 1000 {
		t.Errorf("callback upgrade close: %v", err)
	}
	c.Close()

	for _, p := range []string{"/ws", "/plain"} {
		resp, err := http.Get("http://" + addr + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := map[string]int{"/ws": 400, "/plain": 200}[p]
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", p, resp.StatusCode, want)
		}
	}
	resp, err := http.Get("http://" + addr + "/stop")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	res := <-ch
	res.MustSucceed(t)
	res.Contains(t, "upgraded\ttrue\n", "write after upgrade\tfalse\t", "upgrade read error\tEMSGSIZE",
		"callback upgrade closed\tnil\n", "upgrade failed\tEPROTO: websocket: ", "write after failed upgrade\tfalse\t")
}

// TestArguments: odd values for every function, under pcall.
func TestArguments(t *testing.T) {
	t.Parallel()
	res := run(t, "args.lua", drleetest.Options{})
	res.MustSucceed(t)
	res.Contains(t, "bad address\t", "PASS\n")
	t.Log(res.Stdout)
}

// TestManyConnections: 200 gorilla clients at once over 2 workers sharing one socket, each
// echoing 5 messages of its own: nothing lost, every connection served once, both
// workers serve.
func TestManyConnections(t *testing.T) {
	t.Parallel()
	const clients, msgs = 200, 5
	addr := "127.0.0.1:" + strconv.Itoa(drleetest.FreePort(t))
	started := make(chan *engine.Engine, 1)
	ch := background(t, "many.lua", drleetest.Options{Workers: 2, Args: []string{addr}, Timeout: 60 * time.Second,
		Started: func(e *engine.Engine) { started <- e }})
	e := <-started
	d := &websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	probe := dialWS(t, d, "ws://"+addr+"/", nil) // the server is up
	probe.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""))
	probe.SetReadDeadline(time.Now().Add(10 * time.Second))
	probe.ReadMessage()
	probe.Close()
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, _, err := d.Dial("ws://"+addr+"/", nil)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			c.SetReadDeadline(time.Now().Add(30 * time.Second))
			for j := range msgs {
				m := bytes.Repeat([]byte(fmt.Sprintf("[%d:%d]", i, j)), 1+(i*j)%300)
				if err := c.WriteMessage(websocket.BinaryMessage, m); err != nil {
					errs <- err
					return
				}
				if _, back, err := c.ReadMessage(); err != nil || !bytes.Equal(back, m) {
					errs <- fmt.Errorf("client %d message %d: echo differs (%v)", i, j, err)
					return
				}
			}
			c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""))
			if _, _, err := c.ReadMessage(); closeCode(err) != 1000 {
				errs <- fmt.Errorf("client %d: close answer %v", i, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// Each served line is printed before the close answer goes out, so all are in.
	e.Shutdown()
	res := <-ch
	res.MustSucceed(t)
	served := map[string]int{}
	for _, line := range strings.Split(res.Stdout, "\n") {
		f := strings.Split(line, "\t")
		if len(f) == 3 && f[0] == "served" && f[2] == strconv.Itoa(msgs) {
			served[f[1]]++
		}
	}
	if served["1"]+served["2"] != clients { // the probe's line says 0 messages
		t.Errorf("served with %d messages by worker: %v; want %d in all\n%s", msgs, served, clients, res.Stderr)
	}
	if served["1"] == 0 || served["2"] == 0 {
		t.Errorf("served by worker: %v; want both", served)
	}
	t.Logf("served by worker: %v", served)
}

// TestShutdownAndCollection: at shutdown a served connection and a dialed one get a close
// frame with 1001 and the read waiting on the first ends with ECLOSED; a connection Lua
// collected unclosed gets 1001 too.
func TestShutdownAndCollection(t *testing.T) {
	t.Parallel()
	events := make(chan string, 10)
	up := websocket.Upgrader{}
	gs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		_, _, err = c.ReadMessage()
		events <- "go server saw " + strconv.Itoa(closeCode(err))
	}))
	defer gs.Close()
	addr := "127.0.0.1:" + strconv.Itoa(drleetest.FreePort(t))
	started := make(chan *engine.Engine, 1)
	ch := background(t, "life.lua", drleetest.Options{Args: []string{"ws" + strings.TrimPrefix(gs.URL, "http"), addr},
		Started: func(e *engine.Engine) { started <- e }})
	e := <-started
	// The collected one closes first.
	select {
	case ev := <-events:
		if ev != "go server saw 1001" {
			t.Errorf("collected connection: %s, want 1001", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the collected connection was not closed")
	}
	d := &websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	c := dialWS(t, d, "ws://"+addr+"/", nil)
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	c.WriteMessage(websocket.TextMessage, []byte("hi"))
	if _, m, err := c.ReadMessage(); err != nil || string(m) != "hi" {
		t.Fatalf("echo: %q %v", m, err)
	}
	e.Shutdown()
	_, _, err := c.ReadMessage()
	if closeCode(err) != websocket.CloseGoingAway || !strings.Contains(err.Error(), "shutting down") {
		t.Errorf("at shutdown the client got %v, want 1001 shutting down", err)
	}
	res := <-ch
	res.MustSucceed(t)
	res.Contains(t, "ready\n", "read ended\tECLOSED: websocket: the connection is closed: the engine is shutting down\n")
	select {
	case ev := <-events:
		if ev != "go server saw 1001" {
			t.Errorf("kept connection: %s, want 1001", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the kept connection was not closed")
	}
}

// TestWorkerEndClosesConnections: a script that returns with a dialed connection kept in a
// global (nothing pending on it) ends, and the Go server is told 1001.
func TestWorkerEndClosesConnections(t *testing.T) {
	t.Parallel()
	events := make(chan string, 1)
	up := websocket.Upgrader{}
	gs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		_, _, err = c.ReadMessage()
		events <- strconv.Itoa(closeCode(err))
	}))
	defer gs.Close()
	res := drleetest.Run(t, `
local websocket = require "websocket"
kept = assert(websocket.dial(arg[1]))
print("dialed")
`, drleetest.Options{Args: []string{"ws" + strings.TrimPrefix(gs.URL, "http")}})
	res.MustSucceed(t)
	res.Contains(t, "dialed\n")
	select {
	case code := <-events:
		if code != "1001" {
			t.Errorf("the Go server saw close code %s, want 1001", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the connection was not closed when the script ended")
	}
}
