package network_test

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/internal/drleetest"
	"github.com/drlee/drlee/internal/testcert"
)

// goServer is a Go TCP (or unix, or TLS) server for the Lua side to dial: serve runs on
// a goroutine per connection. It closes, with the connections it holds, at the test's end.
type goServer struct {
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns []net.Conn
}

func newGoServer(t *testing.T, ln net.Listener, serve func(net.Conn)) *goServer {
	t.Helper()
	s := &goServer{ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for _, c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

func listenTCP(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// echo copies what it reads back, until the end.
func echo(c net.Conn) {
	io.Copy(c, c)
	c.Close()
}

// silent reads and drops, never writing, until the connection closes.
func silent(c net.Conn) {
	io.Copy(io.Discard, c)
	c.Close()
}

// background runs testdata/name on its own goroutine; the result comes on the channel.
func background(t *testing.T, name string, o drleetest.Options) <-chan drleetest.Result {
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

// dialRetry dials addr until it answers (the script's server starting), or fails the test.
func dialRetry(t *testing.T, network, addr string) net.Conn {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		c, err := net.Dial(network, addr)
		if err == nil {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("dial %s: %v", addr, err)
		}
	}
}

// TestSlowPeersDoNotHoldThePool: with an I/O pool of 4, 10 idle clients of a Lua server and
// 10 idle servers of Lua clients each have a read waiting, and pool work still completes.
func TestSlowPeersDoNotHoldThePool(t *testing.T) {
	t.Parallel()
	const n = 10
	gs := newGoServer(t, listenTCP(t), silent)
	addr := "127.0.0.1:" + strconv.Itoa(drleetest.FreePort(t))
	ch := background(t, "slow_peers.lua", drleetest.Options{
		PoolSize: 4, Args: []string{gs.ln.Addr().String(), addr, strconv.Itoa(n)}, Timeout: 20 * time.Second,
	})
	var clients []net.Conn
	for range n {
		c := dialRetry(t, "tcp", addr)
		defer c.Close()
		clients = append(clients, c)
	}
	res := <-ch
	res.MustSucceed(t)
	res.Contains(t, "pool work done\t40\twaiting reads\t20\n")
	if got := strings.Count(res.Stdout, "read ended\tECLOSED\tnil\n"); got != 2*n {
		t.Errorf("%d reads ended with ECLOSED, want %d\n%s", got, 2*n, res.Stdout)
	}
	// The Lua server closed its side of each idle client.
	for _, c := range clients {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if k, err := c.Read(make([]byte, 1)); err != io.EOF {
			t.Errorf("idle client: read %d, %v; want EOF", k, err)
		}
	}
}

func selfSigned(t *testing.T) (tls.Certificate, []byte) {
	cert, certPEM, _ := testcert.SelfSigned(t)
	return cert, certPEM
}

// TestTLSDial: a Go TLS server with a self-signed certificate, dialed from Lua.
func TestTLSDial(t *testing.T) {
	t.Parallel()
	cert, certPEM := selfSigned(t)
	_, otherPEM := selfSigned(t)
	ln := tls.NewListener(listenTCP(t), &tls.Config{Certificates: []tls.Certificate{cert}})
	gs := newGoServer(t, ln, echo)
	quiet := newGoServer(t, listenTCP(t), silent)
	res := run(t, "tls.lua", drleetest.Options{
		Args:  []string{gs.ln.Addr().String(), quiet.ln.Addr().String()},
		Files: map[string]string{"ca.pem": string(certPEM), "other.pem": string(otherPEM)},
	})
	res.MustSucceed(t)
	res.Contains(t,
		"ca pem\tok\n", "ca file\tok\n", "ca localhost\tok\n", "server_name\tok\n", "insecure\tok\n",
		"no ca\tETLS\t", "no ca table\tETLS\t", "certificate signed by unknown authority",
		"wrong name\tETLS\t", "wrong name file\tETLS\t", "other ca file\tETLS\t", "missing ca file\tENOENT\t", "not pem file\tEINVAL\t",
		"handshake timeout\tETIMEDOUT\t", "callback\tnil\tcb\n", "closed\tnil\n",
		"tls read timeout\tnil\tETIMEDOUT\n", "tls after timeout\tafter\n")
}

// TestGoPeers: Lua and Go on either side of a connection, with binary data.
func TestGoPeers(t *testing.T) {
	t.Parallel()
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	goEcho := newGoServer(t, listenTCP(t), echo)
	goSends := newGoServer(t, listenTCP(t), func(c net.Conn) {
		c.Write(bytes.Repeat(all, 1024))
		c.Close()
	})
	const clients = 3
	luaAddr := "127.0.0.1:" + strconv.Itoa(drleetest.FreePort(t))
	ch := background(t, "peers.lua", drleetest.Options{Args: []string{
		goEcho.ln.Addr().String(), luaAddr, goSends.ln.Addr().String(), strconv.Itoa(clients),
	}})
	var wg sync.WaitGroup
	for i := range clients {
		c := dialRetry(t, "tcp", luaAddr)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			msg := bytes.Repeat(all, 100*(i+1))
			go c.Write(msg)
			back := make([]byte, len(msg))
			if _, err := io.ReadFull(c, back); err != nil || !bytes.Equal(back, msg) {
				t.Errorf("go client %d: echo differs (%v)", i, err)
			}
			c.(*net.TCPConn).CloseWrite()
			if k, err := c.Read(make([]byte, 1)); err != io.EOF {
				t.Errorf("go client %d: after the echo, read %d, %v; want EOF", i, k, err)
			}
		}()
	}
	wg.Wait()
	res := <-ch
	res.MustSucceed(t)
	res.Contains(t, "binary echo ok\t16384\n", "received from go ok\t262144\n")
	if got := strings.Count(res.Stdout, "go client\ttrue\n"); got != clients {
		t.Errorf("%d go clients served, want %d", got, clients)
	}
}

// TestErrors: timeouts, refused connections, missing sockets, taken addresses.
func TestErrors(t *testing.T) {
	t.Parallel()
	quiet := newGoServer(t, listenTCP(t), silent)
	stalled := newGoServer(t, listenTCP(t), func(c net.Conn) {}) // never reads; closed at the end
	res := run(t, "errors.lua", drleetest.Options{Args: []string{
		quiet.ln.Addr().String(), stalled.ln.Addr().String(), "127.0.0.1:" + strconv.Itoa(drleetest.FreePort(t)),
	}})
	res.MustSucceed(t)
	res.Contains(t,
		"read timeout\tnil\tETIMEDOUT\ttrue\n",
		"read timeout text\tETIMEDOUT: network: read timed out (read_timeout 0.2 s) on tcp 127.0.0.1:",
		"read timeout again\tnil\tETIMEDOUT\n",
		"callback read timeout\tETIMEDOUT\tnil\n",
		"write timeout\tnil\tETIMEDOUT\ttrue\n",
		"refused\tnil\tECONNREFUSED\n", "callback refused\tECONNREFUSED\tnil\n",
		"unix missing\tnil\tENOENT\n",
		"bad port\tnil\tEINVAL\n",
		"unknown host\tnil\ttrue\n",
		"shared start\ttrue\ttrue\n",
		"address in use\tnil\tEADDRINUSE\n",
		"start again after failure\tEADDRINUSE\n",
		"stopped before listening\tECANCELED\tnil\n",
	)
}

// TestUDP: a Lua udp echo server for a Lua client and a Go one.
func TestUDP(t *testing.T) {
	t.Parallel()
	addr := "127.0.0.1:" + strconv.Itoa(freeUDPPort(t))
	ch := background(t, "udp.lua", drleetest.Options{Args: []string{addr, "1"}})
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 2048)
	for deadline := time.Now().Add(10 * time.Second); ; {
		// Until the server is up, datagrams are lost: send again.
		c.Write([]byte("from go \x00\xff"))
		c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		k, err := c.Read(buf)
		if err == nil {
			if string(buf[:k]) != "from go \x00\xff" {
				t.Fatalf("go client got %q", buf[:k])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no echo: %v", err)
		}
	}
	c.Write([]byte("quit"))
	res := <-ch
	res.MustSucceed(t)
	res.Contains(t, "lua udp ok\n", "v6 from a v4 socket\tnil\tEINVAL\n")
}

func freeUDPPort(t *testing.T) int {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	return pc.LocalAddr().(*net.UDPAddr).Port
}

// TestUnix: a Lua echo server on a unix socket in a temporary directory.
func TestUnix(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ch := background(t, "unix.lua", drleetest.Options{Dir: dir})
	path := dir + "/echo.sock"
	c := dialRetry(t, "unix", path)
	msg := bytes.Repeat([]byte("go\x00\xff"), 10000)
	go c.Write(msg)
	back := make([]byte, len(msg))
	if _, err := io.ReadFull(c, back); err != nil || !bytes.Equal(back, msg) {
		t.Errorf("go client: echo differs (%v)", err)
	}
	c.Close()
	res := <-ch
	res.MustSucceed(t)
	res.Contains(t, "socket file\tsocket\n", "lua unix ok\n", "socket removed\tnil\tENOENT\n")
}

var _ = engine.ErrorCodes

// TestLargeWrites: 8 MiB written in 8 calls at once to a peer that reads slowly arrive
// whole and in order.
func TestLargeWrites(t *testing.T) {
	t.Parallel()
	gs := newGoServer(t, listenTCP(t), func(c net.Conn) {
		defer c.Close()
		var got []byte
		buf := make([]byte, 64<<10)
		for len(got) < 8<<20 {
			k, err := c.Read(buf)
			if err != nil {
				return
			}
			got = append(got, buf[:k]...)
			if len(got) < 1<<20 {
				time.Sleep(time.Millisecond) // slow at first: the writes pile up
			}
		}
		var want []byte
		for i := 1; i <= 8; i++ {
			want = append(want, bytes.Repeat([]byte{byte(96 + i)}, 1<<20)...)
		}
		if bytes.Equal(got, want) {
			c.Write([]byte("all in order"))
		} else {
			c.Write([]byte("garbled"))
		}
	})
	res := run(t, "large.lua", drleetest.Options{Args: []string{gs.ln.Addr().String()}})
	res.MustSucceed(t)
	res.Contains(t, "peer got\tall in order\n")
}
