package websocket_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	fws "github.com/fasthttp/websocket"
	"github.com/gorilla/websocket"
	"github.com/valyala/fasthttp"

	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/internal/drleetest"
)

// A websocket echo round trip through a Lua server, against its pure-Go twin (fasthttp's
// server with the same library, a goroutine per connection echoing), driven by the same
// gorilla clients: connections that each write a 64-byte binary message and read it back.
//
//	go test -tags luajit -run '^$' -bench 'EchoRoundTrip' -benchtime 3s ./bindings/websocket/

const echoScript = `
local websocket = require "websocket"
websocket.create_server(arg[1], function(conn)
  while true do
    local f = conn:read_frame()
    if not f or f.type == "close" then break end
    if not conn:write_frame(f.data, f.type) then break end
  end
end):start()
`

func BenchmarkEchoRoundTrip(b *testing.B) {
	for _, conns := range []int{1, 16} {
		b.Run(fmt.Sprintf("server=lua/conns=%d", conns), func(b *testing.B) {
			driveEcho(b, startEchoEngine(b), conns)
		})
		b.Run(fmt.Sprintf("server=go/conns=%d", conns), func(b *testing.B) {
			driveEcho(b, startGoEcho(b), conns)
		})
	}
}

func freeAddr(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitListening(b *testing.B, addr string) {
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("the echo server does not answer: %v", err)
		}
	}
}

func startEchoEngine(b *testing.B) string {
	b.Helper()
	path := filepath.Join(b.TempDir(), "echo.lua")
	if err := os.WriteFile(path, []byte(echoScript), 0o644); err != nil {
		b.Fatal(err)
	}
	addr := freeAddr(b)
	var logs drleetest.SyncBuffer
	e, err := engine.New(engine.Config{
		Script: path, Args: []string{addr}, Workers: 1, ShutdownTimeout: 5 * time.Second,
		Stdout: io.Discard, Stderr: &logs,
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	b.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			b.Error("engine did not stop")
		}
		if s := logs.String(); s != "" {
			b.Logf("engine log:\n%s", s)
		}
	})
	waitListening(b, addr)
	return addr
}

// startGoEcho is the twin: fasthttp's server and FastHTTPUpgrader, echoing on the hijack
// goroutine.
func startGoEcho(b *testing.B) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var up fws.FastHTTPUpgrader
	var wg sync.WaitGroup
	var mu sync.Mutex
	var open []*fws.Conn
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		_ = up.Upgrade(ctx, func(c *fws.Conn) {
			wg.Add(1)
			defer wg.Done()
			mu.Lock()
			open = append(open, c)
			mu.Unlock()
			for {
				mt, m, err := c.ReadMessage()
				if err != nil {
					return
				}
				if c.WriteMessage(mt, m) != nil {
					return
				}
			}
		})
	}}
	served := make(chan struct{})
	go func() { srv.Serve(ln); close(served) }()
	b.Cleanup(func() {
		srv.Shutdown()
		<-served
		mu.Lock()
		for _, c := range open {
			c.NetConn().Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// driveEcho runs b.N round trips over conns connections at once.
func driveEcho(b *testing.B, addr string, conns int) {
	b.Helper()
	msg := bytes.Repeat([]byte("x"), 64)
	cs := make([]*websocket.Conn, conns)
	d := &websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	for i := range cs {
		cs[i] = dialWS(b, d, "ws://"+addr+"/", nil)
	}
	defer func() {
		for _, c := range cs {
			c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""), time.Now().Add(time.Second))
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			c.ReadMessage()
			c.Close()
		}
	}()
	var left atomic.Int64
	left.Store(int64(b.N))
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for left.Add(-1) >= 0 {
				if err := c.WriteMessage(websocket.BinaryMessage, msg); err != nil {
					b.Error(err)
					return
				}
				if _, _, err := c.ReadMessage(); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
}
