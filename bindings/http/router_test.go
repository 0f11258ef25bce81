package http_test

// The router (http.router, router.lua) against a real server and a real client:
// testdata/router.lua in the callback style, testdata/router_await.lua in the await style;
// tests/lua/http_test.lua calls its functions with odd values, and testdata/router_fuzz.lua
// matches random paths against random route sets and a reference (the fuzz target of the
// router, which is in Lua: run more of it with DRLEE_ROUTER_FUZZ=rounds).
//
//	go test -tags luajit -run '^$' -bench 'Router' ./bindings/http/

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	drhttp "github.com/drlee/drlee/bindings/http"
	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/internal/drleetest"
)

// routed is what the routes of testdata/router.lua answer.
type routed struct {
	Tag, Params, Trace, Method, Path string
}

func hit(t *testing.T, c *http.Client, method, url string, hdr http.Header) (response, routed) {
	t.Helper()
	r := do(t, c, method, url, nil, hdr)
	var got routed
	if r.header.Get("Content-Type") == "application/json" && len(r.body) > 0 {
		if err := json.Unmarshal(r.body, &got); err != nil {
			t.Fatalf("%s %s: %v in %q", method, url, err, r.body)
		}
	}
	return r, got
}

func header(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

// Routes by method and path: params, wildcards, precedence, HEAD, OPTIONS, 404 and 405
// with Allow; middlewares in order, on every request, the router's own answers included.
func TestRouterRoutes(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverScript(t, "router.lua"), drleetest.Options{})
	c := newClient()
	defer c.CloseIdleConnections()

	for _, tc := range []struct {
		method, path   string
		status         int
		tag, params    string
		allow, body404 string
	}{
		{method: "GET", path: "/", status: 200, tag: "root"},
		{method: "GET", path: "/notes", status: 200, tag: "list"},
		{method: "GET", path: "/notes/", status: 200, tag: "list"}, // a final slash is ignored
		{method: "POST", path: "/notes", status: 200, tag: "create"},
		{method: "GET", path: "/notes/new", status: 200, tag: "new"}, // static beats :id
		{method: "GET", path: "/notes/42", status: 200, tag: "show", params: "id=42"},
		{method: "GET", path: "/notes/42/", status: 200, tag: "show", params: "id=42"},
		{method: "PUT", path: "/notes/42", status: 200, tag: "update", params: "id=42"},
		{method: "PATCH", path: "/notes/42", status: 200, tag: "patch", params: "id=42"},
		{method: "DELETE", path: "/notes/42", status: 200, tag: "delete", params: "id=42"},
		{method: "POST", path: "/notes/new", status: 405, allow: "GET, HEAD, PUT, DELETE, PATCH, OPTIONS"},
		{method: "GET", path: "/notes/42/comments/7", status: 200, tag: "comment", params: "cid=7,id=42"},
		{method: "GET", path: "/notes/a%20b", status: 200, tag: "show", params: "id=a b"},  // decoded
		{method: "GET", path: "/x/%2e%2e/notes/new", status: 200, tag: "new"},              // req.path is cleaned
		{method: "GET", path: "/notes//42", status: 200, tag: "show", params: "id=42"},     // and collapsed
		{method: "GET", path: "/notes/a%2Fb", status: 404},                                 // %2F is a / in req.path
		{method: "GET", path: "/files/readme", status: 200, tag: "readme"},                 // static beats *path
		{method: "GET", path: "/files/x/info", status: 200, tag: "info", params: "name=x"}, // :name beats *path
		{method: "GET", path: "/files/x/other", status: 200, tag: "file", params: "path=x/other"},
		{method: "GET", path: "/files/a/b/c.txt", status: 200, tag: "file", params: "path=a/b/c.txt"},
		{method: "GET", path: "/files/readme/x", status: 200, tag: "file", params: "path=readme/x"},
		{method: "GET", path: "/files", status: 200, tag: "file", params: "path="}, // * may match nothing
		{method: "GET", path: "/files/", status: 200, tag: "file", params: "path="},
		{method: "GET", path: "/users/9/files/a/b", status: 200, tag: "userfile", params: "rest=a/b,uid=9"},
		{method: "GET", path: "/any", status: 200, tag: "any-get"},
		{method: "POST", path: "/any", status: 200, tag: "any"},
		{method: "DELETE", path: "/any", status: 200, tag: "any"},
		{method: "OPTIONS", path: "/any", status: 200, tag: "any"},
		{method: "OPTIONS", path: "/opt", status: 200, tag: "opt"},
		{method: "GET", path: "/h", status: 200, tag: "h-get"},
		{method: "PROPFIND", path: "/dav/x/y", status: 200, tag: "propfind", params: "path=x/y"},
		{method: "GET", path: "/dav/x", status: 405, allow: "OPTIONS, PROPFIND"},
		{method: "POST", path: "/notes/42", status: 405, allow: "GET, HEAD, PUT, DELETE, PATCH, OPTIONS"},
		{method: "GET", path: "/only-post", status: 405, allow: "POST, OPTIONS"},
		{method: "OPTIONS", path: "/notes/42", status: 204, allow: "GET, HEAD, PUT, DELETE, PATCH, OPTIONS"},
		{method: "OPTIONS", path: "/files/a", status: 204, allow: "GET, HEAD, OPTIONS"},
		{method: "GET", path: "/nothing", status: 404},
		{method: "GET", path: "/notes/42/zz", status: 404},
		{method: "OPTIONS", path: "/nothing", status: 404},
		{method: "GET", path: "/sub/item/5", status: 200, tag: "sub-item", params: "n=5"},
		{method: "GET", path: "/sub/zzz", status: 404, body404: "no such sub page: /sub/zzz"},
	} {
		what := tc.method + " " + tc.path
		r, got := hit(t, c, tc.method, s.url+tc.path, nil)
		if r.status != tc.status {
			t.Errorf("%s: status %d, want %d (body %q)", what, r.status, tc.status, r.body)
			continue
		}
		if r.header.Get("X-One") != "1" {
			t.Errorf("%s: no X-One: the first middleware did not run", what)
		}
		if a := r.header.Get("Allow"); a != tc.allow {
			t.Errorf("%s: Allow %q, want %q", what, a, tc.allow)
		}
		switch {
		case tc.status == 200:
			if got.Tag != tc.tag || got.Params != tc.params || got.Method != tc.method {
				t.Errorf("%s: %+v, want tag %q params %q", what, got, tc.tag, tc.params)
			}
			if got.Trace != "one,two" {
				t.Errorf("%s: trace %q, want one,two (the middlewares in order, then the handler)", what, got.Trace)
			}
		case tc.status == 404 && tc.body404 != "":
			if string(r.body) != tc.body404 {
				t.Errorf("%s: body %q, want %q", what, r.body, tc.body404)
			}
		case tc.status == 404:
			if string(r.body) != "Not Found" {
				t.Errorf("%s: body %q, want Not Found", what, r.body)
			}
		case tc.status == 405:
			if string(r.body) != "Method Not Allowed" {
				t.Errorf("%s: body %q", what, r.body)
			}
		case tc.status == 204:
			if len(r.body) != 0 {
				t.Errorf("%s: body %q", what, r.body)
			}
		}
	}

	// HEAD: its own route where there is one, else the GET route's, without the body.
	for path, tag := range map[string]string{"/h": "h-head", "/notes/42": "show", "/files/x": "file"} {
		r := do(t, c, "HEAD", s.url+path, nil, nil)
		if r.status != 200 || r.header.Get("X-Tag") != tag || len(r.body) != 0 {
			t.Errorf("HEAD %s: %d, X-Tag %q, body %q; want 200 from %s, no body", path, r.status, r.header.Get("X-Tag"), r.body, tag)
		}
	}
	if r := do(t, c, "HEAD", s.url+"/only-post", nil, nil); r.status != 405 || r.header.Get("Allow") != "POST, OPTIONS" {
		t.Errorf("HEAD /only-post: %d, Allow %q", r.status, r.header.Get("Allow"))
	}

	// A callback-style handler answering later, with its params.
	if _, got := hit(t, c, "GET", s.url+"/later/30", nil); got.Tag != "later" || got.Params != "ms=30" {
		t.Errorf("/later/30: %+v", got)
	}

	// The request's own fields beside its getters and methods.
	r := get(t, c, s.url+"/fields")
	want := "cannot set httpRequest.path: it is a read-only field\n" +
		"cannot set httpRequest.method: it is a read-only field\n" +
		"cannot set httpRequest.headers: it is a read-only field\n" +
		"cannot set httpRequest.read: it is a method\n" +
		"cannot set httpRequest.close: it is a method\n" +
		"ann one /fields function table"
	if string(r.body) != want {
		t.Errorf("/fields:\n%s\nwant:\n%s", r.body, want)
	}
}

// Middlewares: one that answers without next (no handler runs), raises before or after
// next, or calls next twice; handlers that raise, before or after writing or in a
// callback: each raise is a 500 with the traceback in the log, unless the response was
// finished already.
func TestRouterMiddlewareAndErrors(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverScript(t, "router.lua"), drleetest.Options{})
	c := newClient()
	defer c.CloseIdleConnections()

	r := do(t, c, "GET", s.url+"/notes/42", nil, header("X-Deny", "1"))
	if r.status != 403 || string(r.body) != "denied by middleware two" || r.header.Get("X-Tag") != "" || r.header.Get("X-One") != "1" {
		t.Errorf("X-Deny: %d %q, X-Tag %q", r.status, r.body, r.header.Get("X-Tag"))
	}
	for _, tc := range []struct {
		path string
		hdr  http.Header
		log  string
	}{
		{"/notes/42", header("X-Raise-Before", "1"), "middleware two raised before next"},
		{"/partial", header("X-Raise-After", "1"), "middleware two raised after next"},
		{"/partial", header("X-Next-Twice", "1"), "next() called twice by the middleware at "},
		{"/raise", nil, "handler raised"},
		{"/raise-after-write", nil, "handler raised after a write"},
		{"/raise-later", nil, "callback raised"},
	} {
		r := do(t, c, "GET", s.url+tc.path, nil, tc.hdr)
		if r.status != 500 || strings.Contains(string(r.body), "must not be sent") || strings.Contains(string(r.body), "partial") {
			t.Errorf("GET %s %v: %d %q, want a plain 500", tc.path, tc.hdr, r.status, r.body)
		}
	}
	// A raise after the handler finished the response cannot change it: 200, and the log.
	if r, got := hit(t, c, "GET", s.url+"/notes/42", header("X-Raise-After", "1")); r.status != 200 || got.Tag != "show" {
		t.Errorf("X-Raise-After on a finished response: %d %+v", r.status, got)
	}
	res := s.stop(t)
	for _, want := range []string{
		"GET /notes/42: ", "middleware two raised before next", "GET /partial: ", "middleware two raised after next",
		"next() called twice by the middleware at ", "main.lua:39", "GET /raise: ", "handler raised",
		"handler raised after a write", "callback raised", "stack traceback",
	} {
		if !strings.Contains(res.Stderr, want) {
			t.Errorf("log lacks %q:\n%s", want, res.Stderr)
		}
	}
}

// The await style: middlewares and handlers that wait (time.sleep, fs.readfile, readall)
// in the request's coroutine; the rules of a request's life hold through the router.
func TestRouterAwait(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverScript(t, "router_await.lua"), drleetest.Options{
		Configure: func(c *engine.Config) { drhttp.Settings.Ptr(c).HandlerTimeout = 20 * time.Second },
	})
	c := newClient()
	defer c.CloseIdleConnections()

	r := get(t, c, s.url+"/note/7")
	if r.status != 200 || string(r.body) != "7: the note" || r.header.Get("X-Trace") != "timing,guard" {
		t.Errorf("/note/7: %d %q, X-Trace %q", r.status, r.body, r.header.Get("X-Trace"))
	}
	r = do(t, c, "GET", s.url+"/note/8", nil, header("X-After", "1"))
	if r.status != 200 || string(r.body) != "8: the note" || r.header.Get("X-After") != "set after next" {
		t.Errorf("/note/8 with X-After: %d %q, X-After %q", r.status, r.body, r.header.Get("X-After"))
	}
	if r := get(t, c, s.url+"/files/a/b.txt"); r.status != 200 || string(r.body) != "file a/b.txt" {
		t.Errorf("/files/a/b.txt: %d %q", r.status, r.body)
	}
	if r := do(t, c, "POST", s.url+"/echo", []byte("a body"), nil); r.status != 200 || string(r.body) != "echo a body" {
		t.Errorf("POST /echo: %d %q", r.status, r.body)
	}
	if r := do(t, c, "GET", s.url+"/note/1", nil, header("X-Deny", "1")); r.status != 401 || string(r.body) != "denied after an await" {
		t.Errorf("X-Deny: %d %q", r.status, r.body)
	}
	if r := do(t, c, "GET", s.url+"/raise", nil, header("X-Guard", "1")); r.status != 502 || string(r.body) != "caught: handler raised after an await" {
		t.Errorf("/raise behind pcall(next): %d %q", r.status, r.body)
	}
	start := time.Now()
	if r := get(t, c, s.url+"/raise"); r.status != 500 {
		t.Errorf("/raise: %d %q, want 500", r.status, r.body)
	}
	if r := do(t, c, "GET", s.url+"/note/1", nil, header("X-Raise-Mw", "1")); r.status != 500 {
		t.Errorf("X-Raise-Mw: %d %q, want 500", r.status, r.body)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the 500s took %v: a raise must end the request at once", d)
	}
	if r := get(t, c, s.url+"/nope"); r.status != 404 || string(r.body) != "Not Found" {
		t.Errorf("/nope: %d %q", r.status, r.body)
	}
	if r := do(t, c, "POST", s.url+"/note/1", nil, nil); r.status != 405 || r.header.Get("Allow") != "GET, HEAD, OPTIONS" {
		t.Errorf("POST /note/1: %d, Allow %q", r.status, r.header.Get("Allow"))
	}
	// Every request that came back through the first middleware's next waited after it.
	if r := get(t, c, s.url+"/after"); r.status != 200 || r.body[0] == '0' {
		t.Errorf("/after: %d %q: the first middleware's code after next never ran", r.status, r.body)
	}
	res := s.stop(t)
	for _, want := range []string{"GET /raise: ", "handler raised after an await", "middleware raised after an await"} {
		if !strings.Contains(res.Stderr, want) {
			t.Errorf("log lacks %q:\n%s", want, res.Stderr)
		}
	}
	if strings.Contains(res.Stderr, "WARN") {
		t.Errorf("warnings in the log:\n%s", res.Stderr)
	}
}

// The router against a reference, on random routes and paths: seeds 1 to 4 here, more with
// DRLEE_ROUTER_FUZZ=rounds (each seed that many route sets of 60 look-ups).
func TestRouterFuzz(t *testing.T) {
	t.Parallel()
	rounds := 150
	if v := os.Getenv("DRLEE_ROUTER_FUZZ"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("DRLEE_ROUTER_FUZZ=%q: %v", v, err)
		}
		rounds = n
	}
	src := serverScript(t, "router_fuzz.lua")
	for seed := 1; seed <= 4; seed++ {
		res := drleetest.Run(t, src, drleetest.Options{Args: []string{strconv.Itoa(seed), strconv.Itoa(rounds)}})
		res.MustSucceed(t)
		res.Contains(t, "PASS\n")
		t.Log(strings.TrimSpace(strings.SplitN(res.Stdout, "\n", 2)[0]))
	}
}

// routes100 builds a router of 100 routes (40 static, 40 with parameters, 20 with
// wildcards, over 10 resources) in the variable router; handler is its every handler.
const routes100 = `
local http = require "http"
router = http.router()
local resources = {"users", "notes", "posts", "files", "teams", "orgs", "items", "tags", "jobs", "logs"}
for _, r in ipairs(resources) do
  router:get("/api/v1/" .. r, handler)
  router:post("/api/v1/" .. r, handler)
  router:get("/api/v1/" .. r .. "/search", handler)
  router:get("/api/v1/" .. r .. "/count", handler)
  router:get("/api/v1/" .. r .. "/:id", handler)
  router:put("/api/v1/" .. r .. "/:id", handler)
  router:delete("/api/v1/" .. r .. "/:id", handler)
  router:get("/api/v1/" .. r .. "/:id/children/:child", handler)
  router:get("/static/" .. r .. "/*path", handler)
  router:get("/api/v1/" .. r .. "/:id/files/*path", handler)
end
`

// BenchmarkRouterMatch: router:match on a router of 100 routes, over a mix of paths
// (static, one and two parameters, wildcards, a 404, a 405), in a Lua loop; ns/op is one
// match. BenchmarkRouterMatchBaseline, its twin, looks the same paths up in a table of
// static paths (what a router of static routes alone would cost at best).
func BenchmarkRouterMatch(b *testing.B) {
	benchMatch(b, `
local paths = {
  {"GET", "/api/v1/notes"}, {"GET", "/api/v1/users/123"}, {"GET", "/api/v1/teams/9/children/x"},
  {"GET", "/static/files/css/site.css"}, {"GET", "/api/v1/jobs/search"}, {"PUT", "/api/v1/tags/7"},
  {"GET", "/api/v1/logs/3/files/a/b/c"}, {"GET", "/nope/nothing"},
}
local match = router.match
local n, found = tonumber(arg[1]), 0
for i = 1, n do
  local p = paths[i % #paths + 1]
  if match(router, p[1], p[2]) then found = found + 1 end
end
assert(found > n / 2)
print("done")
`)
}

func BenchmarkRouterMatchBaseline(b *testing.B) {
	benchMatch(b, `
local paths = {
  {"GET", "/api/v1/notes"}, {"GET", "/api/v1/users/123"}, {"GET", "/api/v1/teams/9/children/x"},
  {"GET", "/static/files/css/site.css"}, {"GET", "/api/v1/jobs/search"}, {"PUT", "/api/v1/tags/7"},
  {"GET", "/api/v1/logs/3/files/a/b/c"}, {"GET", "/nope/nothing"},
}
local static = {}
for _, p in ipairs(paths) do static[p[2]] = {[p[1]] = handler} end
local n, found = tonumber(arg[1]), 0
for i = 1, n do
  local p = paths[i % #paths + 1]
  local t = static[p[2]]
  if t and t[p[1]] then found = found + 1 end
end
assert(found > n / 2)
print("done")
`)
}

func benchMatch(b *testing.B, loop string) {
	b.ReportAllocs()
	res := drleetest.Run(b, "local function handler() end\n"+routes100+loop, drleetest.Options{Args: []string{strconv.Itoa(b.N)}})
	res.MustSucceed(b)
	res.Contains(b, "done")
}

// BenchmarkServerRouter: GET /api/v1/users/123/children/7 (two parameters) through a
// server whose handler is a router of 100 routes; router=false, its baseline twin, serves
// the same request and response from a plain handler. Requests go over keep-alive
// connections as in BenchmarkServerHello.
func BenchmarkServerRouter(b *testing.B) {
	for _, routed := range []bool{false, true} {
		b.Run(fmt.Sprintf("router=%v", routed), func(b *testing.B) {
			script := `
local function handler(req, res)
  res:set("Content-Type", "text/plain")
  res:write("hello world")
  res:finish()
end
` + routes100 + `
local h = handler
if arg[2] == "true" then h = router end
local server = http.create_server(arg[1], h)
server:start(function(err) if err then error(err) end end)
`
			addr := startBenchEngine(b, script, false, strconv.FormatBool(routed))
			driveRequests(b, addr, []byte("GET /api/v1/users/123/children/7 HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: bench\r\n\r\n"), helloBody)
		})
	}
}
