package http_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	_ "github.com/drlee/drlee/bindings" // every module, as drlee links them
	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/internal/drleetest"
)

// The request path of examples/hello.lua, through the engine, against a plain fasthttp
// server answering the same response, driven by the same client: keep-alive connections
// that write a fixed request and read the response into a reused buffer, so that the
// client allocates nothing and "server-allocs/op" (every Go allocation in the process
// during the run, per request) is the server's.
//
//	go test -tags luajit -run '^$' -bench 'Hello' -benchtime 3s ./bindings/http/

// helloScript is examples/hello.lua with the address as arg[1] and no log line.
const helloScript = `
local http = require "http"
local server = http.create_server(arg[1], function(req, res)
  res:set("Content-Type", "text/plain")
  res:write("hello world")
  res:finish()
end)
server:start(function(err)
  if err then error(err) end
end)
`

const benchWorkers = 2

// benchParallelism times GOMAXPROCS is the number of keep-alive connections driving the
// server (RunParallel goroutines).
const benchParallelism = 4

func BenchmarkServerHello(b *testing.B) {
	for _, lock := range []bool{false, true} {
		b.Run(fmt.Sprintf("lock=%v", lock), func(b *testing.B) {
			addr := startHelloEngine(b, lock)
			driveHello(b, addr)
		})
	}
}

func BenchmarkRawFasthttpHello(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &fasthttp.Server{
		Name: "drlee",
		Handler: func(ctx *fasthttp.RequestCtx) {
			ctx.SetContentType("text/plain")
			ctx.WriteString("hello world")
		},
	}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Shutdown() })
	driveHello(b, ln.Addr().String())
}

// startHelloEngine runs the hello script with benchWorkers workers until the benchmark
// ends, and returns the address it serves.
func startHelloEngine(b *testing.B, lock bool) string {
	b.Helper()
	return startBenchEngine(b, helloScript, lock)
}

// startBenchEngine runs script with benchWorkers workers until the benchmark ends, with
// arg[1] the address it is to serve, which it returns, and args after it.
func startBenchEngine(b *testing.B, script string, lock bool, args ...string) string {
	b.Helper()
	path := filepath.Join(b.TempDir(), "bench.lua")
	if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
		b.Fatal(err)
	}
	addr := freeAddr(b)
	var logs drleetest.SyncBuffer // the engine's log lines
	e, err := engine.New(engine.Config{
		Script: path, Args: append([]string{addr}, args...), Workers: benchWorkers, LockThreads: lock,
		ShutdownTimeout: 5 * time.Second, Stdout: io.Discard, Stderr: &logs,
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
	})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return addr
		}
		select {
		case err := <-done:
			b.Fatalf("engine ended: %v\n%s", err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			b.Fatalf("no server on %s", addr)
		}
	}
}

var helloRequest = []byte("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: bench\r\n\r\n")

// driveHello sends hello requests on keep-alive connections from b.RunParallel and checks
// every response; it reports the process's allocations per request as server-allocs/op.
func driveHello(b *testing.B, addr string) { driveRequests(b, addr, helloRequest, helloBody) }

// driveRequests is driveHello with another request, and another body to check (nil: any).
func driveRequests(b *testing.B, addr string, req, body []byte) {
	b.Helper()
	driveConns(b, addr, func(c net.Conn) roundTripper {
		return &helloConn{c: c, buf: make([]byte, 4096), req: req, body: body}
	})
}

// A roundTripper sends a request on its connection and reads and checks the response,
// allocating nothing.
type roundTripper interface{ roundTrip() error }

// driveConns runs round trips on keep-alive connections to addr, one per b.RunParallel
// goroutine, after one checked outside the measurement; it reports the process's
// allocations per round trip as server-allocs/op (the client allocates nothing, so they
// are the server's).
func driveConns(b *testing.B, addr string, newConn func(net.Conn) roundTripper) {
	b.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	if err := newConn(c).roundTrip(); err != nil {
		b.Fatal(err)
	}
	c.Close()

	b.ReportAllocs()
	b.SetParallelism(benchParallelism)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		rt := newConn(c)
		for pb.Next() {
			if err := rt.roundTrip(); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N), "server-allocs/op")
}

// helloConn is one keep-alive client connection that sends req and expects a 200 with
// Content-Length and body (nil: any body).
type helloConn struct {
	c         net.Conn
	buf       []byte
	req, body []byte
}

var (
	errBadResponse = errors.New("bad hello response")
	crlfcrlf       = []byte("\r\n\r\n")
	contentLength  = []byte("\r\nContent-Length: ")
	status200      = []byte("HTTP/1.1 200 OK\r\n")
	helloBody      = []byte("hello world")
)

func (h *helloConn) roundTrip() error {
	if _, err := h.c.Write(h.req); err != nil {
		return err
	}
	n, end, want := 0, -1, -1
	for want < 0 || n < want {
		if n == len(h.buf) {
			return h.bad(n)
		}
		m, err := h.c.Read(h.buf[n:])
		if err != nil {
			return err
		}
		n += m
		if end < 0 {
			if end = bytes.Index(h.buf[:n], crlfcrlf); end < 0 {
				continue
			}
			i := bytes.Index(h.buf[:end], contentLength)
			if i < 0 {
				return h.bad(n)
			}
			cl := 0
			for _, d := range h.buf[i+len(contentLength) : end] {
				if d < '0' || d > '9' {
					break
				}
				cl = cl*10 + int(d-'0')
			}
			want = end + 4 + cl
		}
	}
	if n != want || !bytes.HasPrefix(h.buf, status200) || (h.body != nil && !bytes.Equal(h.buf[end+4:n], h.body)) {
		return h.bad(n)
	}
	return nil
}

func (h *helloConn) bad(n int) error {
	return fmt.Errorf("%w: %q", errBadResponse, h.buf[:n])
}
