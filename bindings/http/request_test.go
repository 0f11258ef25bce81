package http_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drlee/drlee/internal/drleetest"
)

// rawRequest sends raw on a new connection and reads one response.
func rawRequest(t testing.TB, addr, raw string) *http.Response {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%q: %v", raw, err)
	}
	return resp
}

// req.request_uri is the request target as sent, "/path?query", also when the client sent
// the absolute form (as to a proxy); req.path is the path decoded, with its dot segments
// removed and never above "/", and without the query.
func TestServerRequestPath(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverScript(t, "server_routes.lua"), drleetest.Options{})
	for _, tc := range []struct{ target, path, uri string }{
		{"/plain?x=1", "/plain", "/plain?x=1"},
		{"/a/../../etc/passwd", "/etc/passwd", "/a/../../etc/passwd"},
		{"/%2e%2e/%2E%2E/x", "/x", "/%2e%2e/%2E%2E/x"},
		{"/..%2f..%2fx", "/x", "/..%2f..%2fx"},
		{"/a/./b/?q=/../", "/a/b/", "/a/./b/?q=/../"},
		{"/a/b/../../..", "/", "/a/b/../../.."},
		{"/a/%2e%2e", "/", "/a/%2e%2e"},
		{"//a//b", "/a/b", "//a//b"},
		{"/a%3fb?c=d", "/a?b", "/a%3fb?c=d"},
		{"/%E2%82%AC%20x", "/€ x", "/%E2%82%AC%20x"},
		{"/a+b", "/a+b", "/a+b"},
		{"http://example.org/echo/../b?q=1", "/b", "/echo/../b?q=1"},
		{"http://example.org?q=1", "/", "/?q=1"},
		{"http://example.org", "/", "/"},
		{"HTTPS://user@EXAMPLE.org:8443/x?y", "/x", "/x?y"},
	} {
		resp := rawRequest(t, s.addr, "GET "+tc.target+" HTTP/1.1\r\nHost: x\r\nX-Route: /path\r\nConnection: close\r\n\r\n")
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var got struct {
			Path       string `json:"path"`
			RequestURI string `json:"request_uri"`
		}
		if resp.StatusCode != 200 || json.Unmarshal(b, &got) != nil {
			t.Errorf("%s: %d %q", tc.target, resp.StatusCode, b)
			continue
		}
		if got.Path != tc.path || got.RequestURI != tc.uri {
			t.Errorf("%s: path %q, request_uri %q; want %q, %q", tc.target, got.Path, got.RequestURI, tc.path, tc.uri)
		}
	}
	// The absolute form is routed by its path, as the origin form is.
	resp := rawRequest(t, s.addr, "GET http://example.org/echo?x=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	resp.Body.Close()
	if got := resp.Header.Get("X-URI"); resp.StatusCode != 200 || got != "/echo?x=1" {
		t.Errorf("absolute form: %d, request_uri %q, want 200 and /echo?x=1", resp.StatusCode, got)
	}
	s.stop(t).MustSucceed(t)
}

// Once a response streams, req.path and req.request_uri are still there (the request is a
// snapshot then).
func TestServerRequestPathWhileStreaming(t *testing.T) {
	t.Parallel()
	s := startServer(t, `
local http = require "http"
local time = require "time"
local server = http.create_server(arg[1], function(req, res)
  res:write("start;")
  time.timeout(10, function()
    res:write(req.path .. ";" .. req.request_uri)
    res:finish()
  end)
end)
server:start(function(err) assert(not err, err) end)
`, drleetest.Options{})
	resp := rawRequest(t, s.addr, "GET http://h/a/%2e%2e/b?q HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := "start;/b;/a/%2e%2e/b?q"; string(b) != want || len(resp.TransferEncoding) == 0 {
		t.Errorf("streamed %q (%q), want %q, chunked", b, resp.TransferEncoding, want)
	}
}

// res:set refuses header names that are not tokens and values with control characters (CR,
// LF, NUL...), with a Lua error, in the fast methods and in Go: a script cannot split a
// response, whatever it copies into a header.
func TestServerResponseHeaderInjection(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverScript(t, "server_routes.lua"), drleetest.Options{})
	c, err := net.DialTimeout("tcp", s.addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "GET /inject HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	raw, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	head, body, _ := strings.Cut(string(raw), "\r\n\r\n")
	if !strings.HasPrefix(head, "HTTP/1.1 200 ") {
		t.Fatalf("response %q", raw)
	}
	if strings.Contains(strings.ToLower(head), "evil") || strings.Contains(head, "\x00") {
		t.Errorf("a refused header reached the response head:\n%q", head)
	}
	for _, h := range []string{"X-Tab: a\tb\r\n", "X-Utf8: été\r\n"} {
		if !strings.Contains(head+"\r\n", h) {
			t.Errorf("head lacks %q:\n%q", h, head)
		}
	}
	lines := strings.Split(body, "\n")
	if len(lines) != 22 {
		t.Fatalf("%d results, want 22 (11 bad headers, two ways):\n%s", len(lines), body)
	}
	for i, l := range lines {
		want := "header value must not contain control characters"
		if i >= 10 {
			want = "header name must be an HTTP token"
		}
		if !strings.HasPrefix(l, "bad argument #") || !strings.Contains(l, "'httpResponseWriter:set'") || !strings.Contains(l, want) {
			t.Errorf("result %d: %q, want a bad argument error saying %q", i+1, l, want)
		}
	}
}

// The client refuses a method that is not an HTTP token ("GET /EVIL" would send
// "GET /EVIL /p HTTP/1.1") and header names or values that would inject headers, with a
// Lua argument error; nothing reaches the server but the request that was well formed.
func TestClientRefusesInjection(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.RequestURI)
		mu.Unlock()
	}))
	defer srv.Close()
	res := drleetest.Run(t, `
local http = require "http"
local url = arg[1] .. "/p"
local function try(...)
  local ok, err = pcall(...)
  print(ok and "sent" or err)
end
try(http.request, "GET /EVIL", url)
try(http.request, "GET\r\nX-Evil: 1\r\n", url)
try(http.request, "G\0ET", url)
try(http.request, "GÉT", url)
try(http.get, url, {headers = {["X-A"] = "a\r\nX-Evil: 1"}})
try(http.get, url, {headers = {["X-A"] = {"ok", "a\nX-Evil: 1"}}})
try(http.get, url, {headers = {["X-A"] = "a\0b"}})
try(http.get, url, {headers = {["X-A\r\nX-Evil"] = "1"}})
try(http.get, url, {headers = {["X A"] = "1"}})
try(http.get, url, {headers = {[""] = "1"}})
http.request("purge", url .. "?ok", {headers = {["X-Ok"] = "tab\tand é"}}, function(err, res)
  assert(not err, err)
  print("status", res.status_code)
  res:close()
end)
`, drleetest.Options{Args: []string{srv.URL}})
	res.MustSucceed(t)
	res.Contains(t,
		"bad argument #1 to 'http.request' (method must be an HTTP token",
		"bad argument #2 to 'http.get' (options.headers: header value must not contain control characters",
		"bad argument #2 to 'http.get' (options.headers: header name must be an HTTP token",
		"status\t200")
	if n := strings.Count(res.Stdout, "bad argument"); n != 10 {
		t.Errorf("%d argument errors, want 10:\n%s", n, res.Stdout)
	}
	if strings.Contains(res.Stdout, "sent") {
		t.Errorf("a malformed request was sent:\n%s", res.Stdout)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 1 || seen[0] != "PURGE /p?ok" {
		t.Errorf("the server saw %q, want only the well-formed PURGE", seen)
	}
}
