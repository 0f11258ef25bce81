// Fuzz targets of the HTTP server (make fuzz runs each with -fuzztime; without -fuzz, go
// test runs their seed corpora as plain tests):
//
//	FuzzServerRequest        arbitrary bytes on a connection; the server keeps answering
//	FuzzServerRequestTarget  arbitrary request targets; req.path is always clean
//
// Both run against a real Dr.LEE server (the engine, a Lua handler) over real sockets on
// 127.0.0.1, one server per fuzzing process.
package http_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	drhttp "github.com/drlee/drlee/bindings/http"
	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/internal/drleetest"
)

// fuzzScript reads every field of the request, reads its body, echoes a request header
// through res:set (whose checks must hold whatever the client sent), and answers; /stream
// answers over two callbacks (streamed); /health is the probe.
const fuzzScript = `
local http = require "http"
local time = require "time"
local server = http.create_server(arg[1], function(req, res)
  if req.request_uri == "/health" then
    res:write("ok")
    res:finish()
    return
  end
  local h = req.headers
  local fields = {req.method, req.request_uri, req.path, req.url, req.remote_addr,
    tostring(h["content-type"]), tostring(h["X-ECHO"])}
  readall(req, function(err, body)
    if err then
      res:set_status(500)
      res:finish()
      return
    end
    pcall(res.set, res, "X-Echo", h["x-echo"] or "")
    res:set("X-Path", json_encode(req.path))
    if req.path == "/stream" then
      res:write(table.concat(fields, "|"))
      time.timeout(1, function()
        res:write(body)
        res:finish()
      end)
      return
    end
    res:write(table.concat(fields, "|") .. "|" .. #body)
    res:finish()
  end)
end)
server:start(function(err) assert(not err, err) end)
`

// fuzzTarget starts the server of a fuzz target (once per fuzzing process), stopped, and
// checked for script errors and internal errors, when the target's test ends.
func fuzzTarget(f *testing.F) *running {
	f.Helper()
	s := startServer(f, fuzzScript, drleetest.Options{
		Timeout: 24 * time.Hour, // as long as fuzzing lasts
		Configure: func(c *engine.Config) {
			o := drhttp.Settings.Ptr(c)
			o.ReadTimeout, o.HandlerTimeout, o.MaxBodySize = 2*time.Second, 2*time.Second, 1<<20
		},
	})
	f.Cleanup(func() {
		res := s.stop(f)
		for _, bad := range []string{"internal error", "panic", "ERROR"} {
			if strings.Contains(res.Stderr, bad) {
				f.Errorf("the server logged %q:\n%s", bad, res.Stderr)
			}
		}
	})
	return s
}

// healthy checks that a well-formed request on a new connection gets its answer.
func healthy(t *testing.T, addr string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("the server no longer accepts: %v", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("the server no longer answers: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "ok" || err != nil {
		t.Fatalf("health check: %d %q %v", resp.StatusCode, b, err)
	}
}

func fuzzSeeds() []string {
	get := "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
	return []string{
		get,
		"",
		"\r\n\r\n\r\n",
		// request smuggling: CL.TE, TE.CL, two lengths, disguised Transfer-Encodings
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGPOST / HTTP/1.1\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
		"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\tchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nX-Trailer: y\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nab\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\nab",
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\nbody",
		// huge and many headers
		"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 70<<10) + "\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("X-Many: v\r\n", 2000) + "\r\n",
		"GET /" + strings.Repeat("p", 10000) + " HTTP/1.1\r\nHost: x\r\n\r\n",
		// absolute-form targets and dot segments
		"GET http://evil.example/../../x?q=1 HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET https://user:pw@h:99999/stream HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /a/../../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /%2e%2e/%2E%2E/x HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /..%2f..%2f..%5cx HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /a/%00/b%zz%2 HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET * HTTP/1.1\r\nHost: x\r\n\r\n",
		"CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n",
		// CR, LF and NUL where they do not belong
		"GET / HTTP/1.1\r\nHost: x\r\nX-Echo: a\rSet-Cookie: evil=1\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nX-Echo: a\r\n Set-Cookie: evil=1\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nX-Echo: a\x00b\r\n\r\n",
		"GET / HTTP/1.1\nHost: x\nX-Echo: bare LF\n\n",
		"GET /\r\nX-Evil: 1 HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nX-Echo\r\n\r\n",
		"G\x00T / HTTP/1.1\r\nHost: x\r\n\r\n",
		"get / HTTP/1.1\r\nHost: x\r\n\r\n",
		strings.Repeat("A", 5000) + " / HTTP/1.1\r\nHost: x\r\n\r\n",
		// pipelined requests and garbage
		get + "\x00\xff\xfe garbage \r\n\r\n" + get,
		strings.Repeat(get, 50),
		get + "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n" + get,
		"POST /stream HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"HEAD /stream HTTP/1.1\r\nHost: x\r\n\r\n" + get,
		// other protocols and versions
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
		"GET /\r\n",
		"GET / HTTP/1.0\r\n\r\n",
		"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
		"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
	}
}

// Arbitrary bytes on a connection (sent whole, then the write side closed) never stop the
// server from answering a well-formed request on a new connection.
func FuzzServerRequest(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add([]byte(s))
	}
	s := fuzzTarget(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write(data) // the server may close first (a 400): not the point
		c.(*net.TCPConn).CloseWrite()
		io.Copy(io.Discard, c) // until the server is done with the connection
		c.Close()
		healthy(t, s.addr)
	})
}

// Any request target the server accepts gives the handler a req.path that is clean: it
// begins with "/", and holds no "." or ".." segment and no empty one (a "//"). The
// request_uri of an origin- or absolute-form target is "/path?query".
func FuzzServerRequestTarget(f *testing.F) {
	for _, s := range []string{
		"/", "/a/b?c=d", "/a/../../etc/passwd", "/%2e%2e/%2e%2e/x", "/..%2f..%2fx", "/a/./b/",
		"//a//b", "/a%3fb", "/a%00b", "/a/b/../../..", "http://h/a/../b?q", "http://h?q", "HTTPS://H",
		"/a/%2e", "/a/..", "/.", "/%2f%2f..%2f", "/a/.%2e/b", "/%252e%252e/", "*", "h:443",
	} {
		f.Add(s)
	}
	s := fuzzTarget(f)
	f.Fuzz(func(t *testing.T, target string) {
		if strings.ContainsAny(target, " \r\n") {
			t.Skip() // not one target: FuzzServerRequest covers what such bytes do
		}
		c, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", target)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("%q: %v", target, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return // refused (400): nothing reached the handler
		}
		var path string
		if err := json.Unmarshal([]byte(resp.Header.Get("X-Path")), &path); err != nil {
			t.Fatalf("%q: X-Path %q: %v", target, resp.Header.Get("X-Path"), err)
		}
		if !strings.HasPrefix(path, "/") {
			t.Errorf("%q: path %q does not begin with /", target, path)
		}
		for i, seg := range strings.Split(path, "/")[1:] {
			last := i == strings.Count(path, "/")-1
			if seg == "." || seg == ".." || (seg == "" && !last) {
				t.Errorf("%q: path %q has the segment %q", target, path, seg)
			}
		}
		fields := strings.Split(string(body), "|")
		if len(fields) < 2 {
			t.Fatalf("%q: body %q", target, body)
		}
		if uri := fields[1]; strings.Contains(target, "://") && !strings.HasPrefix(uri, "/") {
			t.Errorf("%q: request_uri %q is not /path?query", target, uri)
		}
	})
}
