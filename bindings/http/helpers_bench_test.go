package http_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/internal/drleetest"
)

// The hot paths of the helpers, each beside the way a script did it before (its twin),
// through the engine and real sockets as BenchmarkServerHello is:
//
//	go test -tags luajit -run '^$' -bench 'Helper' -benchmem ./bindings/http/
//
// BenchmarkHelperQuery: a query of three fields read with req.query (go), parsed in Lua
// with string.gmatch as scripts did (lua), or not read at all (none: what the getter
// costs is the difference). BenchmarkHelperJSON: a small table answered with res:json
// (res_json) or with res:set, res:write(json.encode(v)) and res:finish (encode).

const helperQueryScript = `
local http = require "http"
local style = arg[2]
local gmatch = string.gmatch
local function lua_query(uri)
  local q = {}
  local s = uri:match("%?(.*)$")
  if s then
    for k, v in gmatch(s, "([^&=]+)=([^&]*)") do q[k] = v end
  end
  return q
end
local handlers = {
  none = function(req, res)
    res:write("two")
    res:finish()
  end,
  lua = function(req, res)
    local q = lua_query(req.request_uri)
    res:write(q.b)
    res:finish()
  end,
  go = function(req, res)
    local q = req.query
    res:write(q.b)
    res:finish()
  end,
}
http.create_server(arg[1], handlers[style]):start()
`

const helperJSONScript = `
local http = require "http"
local json = require "json"
local style = arg[2]
local v = {ok = true, items = {1, 2, 3}, name = "drlee"}
local handlers = {
  encode = function(req, res)
    res:set("Content-Type", "application/json")
    res:write(json.encode(v))
    res:finish()
  end,
  res_json = function(req, res)
    res:json(v)
  end,
}
http.create_server(arg[1], handlers[style]):start()
`

func BenchmarkHelperQuery(b *testing.B) {
	for _, style := range []string{"none", "lua", "go"} {
		b.Run("style="+style, func(b *testing.B) {
			addr := startHelperBench(b, helperQueryScript, style)
			driveHelper(b, addr, []byte("GET /search?a=1&b=two&c=3 HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: bench\r\n\r\n"), []byte("two"))
		})
	}
}

func BenchmarkHelperJSON(b *testing.B) {
	for _, style := range []string{"encode", "res_json"} {
		b.Run("style="+style, func(b *testing.B) {
			addr := startHelperBench(b, helperJSONScript, style)
			driveHelper(b, addr, []byte("GET /api HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: bench\r\n\r\n"), nil)
		})
	}
}

// startHelperBench runs script with arg[1] = a free address and arg[2] = style, with
// benchWorkers workers, until the benchmark ends.
func startHelperBench(b *testing.B, script, style string) string {
	b.Helper()
	path := filepath.Join(b.TempDir(), "bench.lua")
	if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
		b.Fatal(err)
	}
	addr := freeAddr(b)
	var logs drleetest.SyncBuffer
	e, err := engine.New(engine.Config{
		Script: path, Args: []string{addr, style}, Workers: benchWorkers,
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
		if c, err := net.Dial("tcp", addr); err == nil {
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

// driveHelper is driveHello with another request, and another body to check (nil: any
// 200 response).
func driveHelper(b *testing.B, addr string, req, body []byte) {
	b.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	hc := &helperConn{c: c, buf: make([]byte, 4096), req: req, body: body}
	if err := hc.roundTrip(); err != nil {
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
		hc := &helperConn{c: c, buf: make([]byte, 4096), req: req, body: body}
		for pb.Next() {
			if err := hc.roundTrip(); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N), "server-allocs/op")
}

// helperConn is helloConn with a request and a body of its own; a round trip allocates
// nothing.
type helperConn struct {
	c         net.Conn
	buf       []byte
	req, body []byte
}

func (h *helperConn) roundTrip() error {
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

func (h *helperConn) bad(n int) error {
	return fmt.Errorf("%w: %q", errBadResponse, h.buf[:n])
}
