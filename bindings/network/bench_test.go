package network_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/internal/drleetest"
)

// A TCP echo round trip through a Lua server, against a Go server doing the same, driven by
// the same client: connections that each write a 64-byte message and read it back, into
// reused buffers, so that allocs/op (every Go allocation in the process during the run, per
// round trip) is the server's.
//
//	go test -tags luajit -run '^$' -bench 'Echo' -benchtime 3s ./bindings/network/

// echoCallback and echoAwait are the echo server in each style, on arg[1].
const (
	echoCallback = `
local network = require "network"
network.create_server("tcp", arg[1], function(conn)
  local loop
  local function written(err)
    if err then return conn:close() end
    loop()
  end
  local function got(err, data)
    if err or data == "" then return conn:close() end
    conn:write(data, written)
  end
  loop = function() conn:read(65536, got) end
  loop()
end):start()
`
	echoAwait = `
local network = require "network"
network.create_server("tcp", arg[1], function(conn)
  while true do
    local data = conn:read(65536)
    if not data or data == "" then break end
    if not conn:write(data) then break end
  end
  conn:close()
end):start()
`
)

const echoMessage = 64

func BenchmarkEchoRoundTrip(b *testing.B) {
	for _, conns := range []int{1, 16} {
		for _, style := range []struct{ name, script string }{{"callback", echoCallback}, {"await", echoAwait}} {
			b.Run(fmt.Sprintf("server=lua/style=%s/conns=%d", style.name, conns), func(b *testing.B) {
				driveEcho(b, startEchoEngine(b, style.script), conns)
			})
		}
		b.Run(fmt.Sprintf("server=go/conns=%d", conns), func(b *testing.B) {
			driveEcho(b, startGoEcho(b), conns)
		})
	}
}

// startEchoEngine runs script on one worker until the benchmark ends and returns its
// address.
func startEchoEngine(b *testing.B, script string) string {
	b.Helper()
	path := filepath.Join(b.TempDir(), "echo.lua")
	if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
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
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			b.Fatalf("the echo server does not answer: %v\n%s", err, logs.String())
		}
	}
}

// startGoEcho is the pure-Go twin: a goroutine per connection reading into a buffer and
// writing it back.
func startGoEcho(b *testing.B) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				buf := make([]byte, 65536)
				for {
					k, err := c.Read(buf)
					if err != nil {
						return
					}
					if _, err := c.Write(buf[:k]); err != nil {
						return
					}
				}
			}()
		}
	}()
	b.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().String()
}

// driveEcho makes b.N round trips over conns connections at once.
func driveEcho(b *testing.B, addr string, conns int) {
	b.Helper()
	cs := make([]net.Conn, conns)
	for i := range cs {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		cs[i] = c
	}
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	b.ReportAllocs()
	b.ResetTimer()
	per := b.N / conns
	for i, c := range cs {
		n := per
		if i == 0 {
			n += b.N % conns
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := make([]byte, echoMessage)
			back := make([]byte, echoMessage)
			for range n {
				if _, err := c.Write(msg); err != nil {
					errs <- err
					return
				}
				if _, err := io.ReadFull(c, back); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
}
