package http_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/drlee/drlee/internal/drleetest"
)

// numbersScript tries every numeric argument of req and res with values that are not what
// they should be: each must raise a clear argument error (or be a documented clamp), never
// panic or be taken silently. The results are the body, "value: result" a line.
const numbersScript = `
local http = require "http"
local bad = {
  {"nan", 0/0}, {"inf", math.huge}, {"-inf", -math.huge}, {"2^63", 2^63}, {"1e300", 1e300},
  {"-1", -1}, {"0", 0}, {"0.5", 0.5}, {"200.5", 200.5}, {"99", 99}, {"1000", 1000}, {"-2^63", -2^63},
}
local server = http.create_server(arg[1], function(req, res)
  local out = {}
  local function try(what, f, ...)
    local ok, err = pcall(f, ...)
    out[#out + 1] = what .. ": " .. (ok and "ok" or tostring(err))
  end
  -- 1024 bytes read, then a size whose sum with the position overflows: the rest comes.
  req:read(1024, function(err, first)
    assert(not err, err)
    req:read(2^63 - 1024, function(err, rest)
      assert(not err, err)
      req:read(math.huge, function(err, tail)
        assert(not err, err)
        out[#out + 1] = "body: " .. #first .. " " .. #rest .. " " .. #tail
        for _, b in ipairs(bad) do -- the body is read: a read that is let through gets ""
          try("read " .. b[1], req.read, req, b[2], function() end)
          try("set_status " .. b[1], res.set_status, res, b[2])          -- the fast method, in C
          try("set_status go " .. b[1], res.set_status, res, b[2], "go") -- the Go method
        end
        res:set_status(201)
        res:write(table.concat(out, "\n"))
        res:finish()
      end)
    end)
  end)
end)
server:start(function(err) assert(not err, err) end)
`

func TestServerNumericArguments(t *testing.T) {
	t.Parallel()
	s := startServer(t, numbersScript, drleetest.Options{})
	c := newClient()
	defer c.CloseIdleConnections()
	r := do(t, c, "POST", s.url+"/", bytes.Repeat([]byte("b"), 2048), nil)
	if r.status != 201 {
		t.Fatalf("status %d, body %q", r.status, r.body)
	}
	got := map[string]string{}
	for _, l := range strings.Split(string(r.body), "\n") {
		k, v, _ := strings.Cut(l, ": ")
		got[k] = v
	}
	if want := "1024 1024 0"; got["body"] != want {
		t.Errorf("body read as %q, want %q (1024, the rest, then the end)", got["body"], want)
	}
	readOK := map[string]bool{"inf": true, "2^63": true, "1e300": true, "1000": true, "99": true}
	statusOK := map[string]bool{"1000": false, "99": false}
	for _, v := range []string{"nan", "inf", "-inf", "2^63", "1e300", "-1", "0", "0.5", "200.5", "99", "1000", "-2^63"} {
		res := got["read "+v]
		if readOK[v] {
			if res != "ok" {
				t.Errorf("req:read(%s): %q, want it taken as a size (clamped to what there is)", v, res)
			}
		} else if !strings.Contains(res, "bad argument #1 to 'httpRequest:read' (size must be") {
			t.Errorf("req:read(%s): %q, want an argument error", v, res)
		}
		for _, k := range []string{"set_status ", "set_status go "} {
			res := got[k+v]
			if statusOK[v] {
				t.Errorf("res:set_status(%s) accepted", v)
			} else if !strings.Contains(res, "bad argument #1 to 'httpResponseWriter:set_status' (status code must be an integer from 100 to 599") {
				t.Errorf("%s(%s): %q, want an argument error", strings.TrimSpace(k), v, res)
			}
		}
	}
	s.stop(t).MustSucceed(t)
}

// The client's numeric options and res:read sizes: NaN, negatives, fractions of a byte
// and options of the wrong type raise; math.huge, 0 and timeouts too long for a duration
// mean no limit; a timeout too short for a nanosecond is the shortest there is, not the
// default.
func TestClientNumericArguments(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("z", 3000))
	}))
	defer srv.Close()
	res := drleetest.Run(t, `
local http = require "http"
local url = arg[1]
local function try(what, ...)
  local ok, err = pcall(...)
  print(what .. ": " .. (ok and "ok" or tostring(err)))
end
for _, v in ipairs({{"nan", 0/0}, {"-1", -1}, {"-inf", -math.huge}, {"str", "soon"}}) do
  try("timeout " .. v[1], http.get, url, {timeout = v[2]})
end
try("follow_redirects", http.get, url, {follow_redirects = "yes"})
try("insecure", http.get, url, {insecure = 1})
try("unknown", http.get, url, {timout = 100})
try("header nan", http.get, url, {headers = {["X-N"] = 0/0}})
try("header inf", http.get, url, {headers = {["X-N"] = math.huge}})
local list = {}
for _, v in ipairs({{"inf", math.huge}, {"1e300", 1e300}, {"0", 0}, {"2^63", 2^63 / 1e6}}) do
  list[#list + 1] = function(cb)
    http.get(url, {timeout = v[2], headers = {["X-Int"] = 42}}, function(err, res)
      if err then return cb(nil, v[1] .. " " .. err) end
      readall(res, function(err, body)
        res:close()
        cb(nil, "timeout " .. v[1] .. " " .. tostring(err) .. " " .. #body)
      end)
    end)
  end
end
list[#list + 1] = function(cb)
  http.get(url, {timeout = 1e-9}, function(err) cb(nil, "tiny timeout: " .. tostring(err)) end)
end
list[#list + 1] = function(cb)
  http.get(url, function(err, res)
    assert(not err, err)
    for _, v in ipairs({{"nan", 0/0}, {"0", 0}, {"-1", -1}, {"0.5", 0.5}}) do
      try("res:read " .. v[1], res.read, res, v[2], function() end)
    end
    res:read(2^63, function(err, data)
      res:close()
      cb(nil, "res:read 2^63 " .. tostring(err) .. " " .. (#data > 0 and "data" or "none"))
    end)
  end)
end
parallel_callback(list, function(err, results)
  assert(not err, err)
  for _, r in ipairs(results) do print(r) end
end)
`, drleetest.Options{Args: []string{srv.URL}})
	res.MustSucceed(t)
	res.Contains(t,
		"timeout nan: bad argument #2 to 'http.get' (options.timeout must be a number of milliseconds, 0 or more",
		"timeout -1: bad argument #2 to 'http.get' (options.timeout must be",
		"timeout -inf: bad argument #2 to 'http.get' (options.timeout must be",
		"timeout str: bad argument #2 to 'http.get' (options.timeout must be",
		"follow_redirects: bad argument #2 to 'http.get' (options.follow_redirects must be a boolean",
		"insecure: bad argument #2 to 'http.get' (options.insecure must be a boolean",
		"unknown: bad argument #2 to 'http.get' (unknown option 'timout'",
		"header nan: bad argument #2 to 'http.get' (options.headers values must be strings or finite numbers",
		"header inf: bad argument #2 to 'http.get' (options.headers values must be strings or finite numbers",
		"timeout inf nil 3000", "timeout 1e300 nil 3000", "timeout 0 nil 3000", "timeout 2^63 nil 3000",
		"tiny timeout: ETIMEDOUT: http: GET "+srv.URL+": timeout",
		"res:read nan: bad argument #1 to 'httpResponse:read' (size must be",
		"res:read 0: bad argument #1 to 'httpResponse:read' (size must be",
		"res:read -1: bad argument #1 to 'httpResponse:read' (size must be",
		"res:read 0.5: bad argument #1 to 'httpResponse:read' (size must be",
		"res:read 2^63 nil data") // a short read (what the network had), not an error
}
