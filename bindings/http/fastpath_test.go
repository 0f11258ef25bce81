package http_test

import (
	"io"
	stdhttp "net/http"
	"strings"
	"testing"
	"time"

	"github.com/drlee/drlee/internal/drleetest"
)

// The response's set_status, set, write and finish record into a C buffer, in any
// callback, until the response is finished or streams; they fall back to Go for anything
// else. These cases mix the two paths, in the handler and in later callbacks, and check
// that the response is what Lua asked for, in the order it asked.
const fastPathScript = `
local http = require "http"
local time = require "time"
local stale, held
local server = http.create_server(arg[1], function(req, res)
  local uri = req.request_uri
  if uri == "/mixed" then
    res:set_status(201)                       -- C
    res:set("X-A", "1")                       -- C
    print("get", res:get("X-A"))              -- Go (takes the buffer over first)
    res:write("one,")                         -- C
    res:write("two,", function() end)         -- Go, with a callback
    res:set("Content-Type", "text/x-test")    -- C again
    res:write("three")                        -- C
    res:finish()                              -- C
  elseif uri == "/after-finish" then
    res:write("body")
    res:finish()
    print("write after finish", pcall(res.write, res, "more"))
    print("set after finish", pcall(res.set, res, "X-B", "2"))
    print("method still readable", req.method)
  elseif uri == "/keep" then
    stale = res
    res:write("kept")
    res:finish()
  elseif uri == "/stale" then
    -- the object of an earlier, finished request must not reach this one's buffer
    print("stale write", pcall(stale.write, stale, "intruder"))
    res:write("fresh")
    res:finish()
  elseif uri == "/later" then
    res:set("X-Early", "yes")                 -- C, in the first call
    time.timeout(10, function()
      res:write("later")                      -- C, in a later callback
      res:finish()
    end)
  elseif uri == "/later-mixed" then
    time.timeout(5, function()
      res:set_status(202)                     -- C
      res:set("X-L", "l")                     -- C
      print("later get", res:get("X-L"))      -- Go (takes the buffer over first)
      res:write("a")                          -- C
      res:write("b", function() end)          -- Go, with a callback
      res:write("c")                          -- C
      res:finish()                            -- C
    end)
  elseif uri == "/later-headers" then
    time.timeout(5, function()
      res:set("X-First", "1")                 -- C, a callback that only sets a header
      time.timeout(5, function()
        res:write("done")
        res:finish()
      end)
    end)
  elseif uri == "/later-stream" then
    time.timeout(5, function()
      res:write("x")                          -- C: written, not finished: streams
      time.timeout(30, function()
        res:write("y")                        -- Go: streaming
        res:finish()
      end)
    end)
  elseif uri == "/hold" then
    held = res                                -- answered by /release's handler
  elseif uri == "/release" then
    held:set("X-Held", "h")                   -- C, on another request's buffer
    held:write("held")
    held:finish()
    res:write("released")
    res:finish()
  elseif uri == "/bad" then
    print("bad status", pcall(res.set_status, res, 42))
    print("bad header", pcall(res.set, res, "X-N", {}))
    res:finish()
  end
end)
server:start(function(err) assert(not err, err) end)
`

func TestResponseFastPath(t *testing.T) {
	t.Parallel()
	s := startServer(t, fastPathScript, drleetest.Options{})
	c := newClient()
	defer c.CloseIdleConnections()

	r := get(t, c, s.url+"/mixed")
	wantStatus(t, r, 201)
	if string(r.body) != "one,two,three" || r.header.Get("X-A") != "1" || r.header.Get("Content-Type") != "text/x-test" {
		t.Errorf("/mixed: body %q, X-A %q, Content-Type %q", r.body, r.header.Get("X-A"), r.header.Get("Content-Type"))
	}
	if r.header.Get("Content-Length") != "13" {
		t.Errorf("/mixed was not sent with Content-Length: %v", r.header)
	}

	r = get(t, c, s.url+"/after-finish")
	wantStatus(t, r, 200)
	if string(r.body) != "body" {
		t.Errorf("/after-finish body %q", r.body)
	}

	wantStatus(t, get(t, c, s.url+"/keep"), 200)
	r = get(t, c, s.url+"/stale")
	if string(r.body) != "fresh" {
		t.Errorf("/stale body %q: a finished request's object wrote into a new one", r.body)
	}

	r = get(t, c, s.url+"/later")
	if string(r.body) != "later" || r.header.Get("X-Early") != "yes" {
		t.Errorf("/later: body %q, X-Early %q", r.body, r.header.Get("X-Early"))
	}

	wantStatus(t, get(t, c, s.url+"/bad"), 200)

	r = get(t, c, s.url+"/later-mixed")
	wantStatus(t, r, 202)
	if string(r.body) != "abc" || r.header.Get("X-L") != "l" || r.header.Get("Content-Length") != "3" {
		t.Errorf("/later-mixed: body %q, headers %v", r.body, r.header)
	}
	r = get(t, c, s.url+"/later-headers")
	if string(r.body) != "done" || r.header.Get("X-First") != "1" {
		t.Errorf("/later-headers: body %q, headers %v", r.body, r.header)
	}
	r = get(t, c, s.url+"/later-stream")
	if string(r.body) != "xy" || r.header.Get("Content-Length") != "" {
		t.Errorf("/later-stream: body %q, headers %v (want a chunked stream)", r.body, r.header)
	}

	heldc := make(chan response, 1)
	go func() { heldc <- get(t, newClient(), s.url+"/hold") }()
	time.Sleep(100 * time.Millisecond) // /hold's handler has run
	r = get(t, c, s.url+"/release")
	if string(r.body) != "released" {
		t.Errorf("/release body %q", r.body)
	}
	r = <-heldc
	if string(r.body) != "held" || r.header.Get("X-Held") != "h" {
		t.Errorf("/hold: body %q, headers %v", r.body, r.header)
	}

	res := s.stop(t)
	res.Contains(t, "get\t1", "later get\tl",
		"write after finish\tfalse", "http: write after finish",
		"set after finish\tfalse", "http: header set after finish",
		"method still readable\tGET",
		"stale write\tfalse", "httpResponseWriter is closed",
		"bad status\tfalse", "status code must be an integer from 100 to 599, got 42",
		"bad header\tfalse", "bad argument #2 to 'httpResponseWriter:set' (string expected, got table)")
	if strings.Contains(res.Stderr, "internal error") {
		t.Fatal(res.Stderr)
	}
}

// TestFastSetChecksEveryByte: the C fast path of res:set checks header values eight bytes
// at a time; a control character anywhere (in a word or in the tail) must still be refused
// exactly as the Go method refuses it, and a tab or a space accepted.
func TestFastSetChecksEveryByte(t *testing.T) {
	t.Parallel()
	srv := startServer(t, `
local http = require "http"
http.create_server(arg[1], function(req, res)
  local bad, good = 0, 0
  for _, c in ipairs({"\t", " ", "\r", "\n", "\0", "\31", "\127", "\128", "\255"}) do
    for len = 1, 20 do
      for at = 1, len do
        local v = string.rep("a", at - 1) .. c .. string.rep("a", len - at)
        local ok = pcall(res.set, res, "X-T", v)
        local want = c == "\t" or c == " " or c == "\128" or c == "\255"
        if ok ~= want then bad = bad + 1; print("wrong", string.byte(c), len, at, ok) else good = good + 1 end
      end
    end
  end
  res:write(bad .. "/" .. good)
  res:finish()
end):start()
`, drleetest.Options{})
	resp, err := stdhttp.Get(srv.url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "0/1890" {
		t.Fatalf("wrong verdicts/right ones: %s\n%s", body, srv.stop(t).Stdout)
	}
}
