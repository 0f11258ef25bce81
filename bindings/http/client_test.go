package http_test

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mccutchen/go-httpbin/v2/httpbin"

	"github.com/drlee/drlee/internal/drleetest"
)

// The client's Lua API against go-httpbin, a widely used server no one here wrote, started
// on 127.0.0.1 by the test.
func httpbinServers(t *testing.T) (plain, tls string) {
	t.Helper()
	h := httpbin.New()
	p := httptest.NewServer(h)
	s := httptest.NewTLSServer(h)
	t.Cleanup(p.Close)
	t.Cleanup(s.Close)
	return p.URL, s.URL
}

func TestClientAgainstHTTPBin(t *testing.T) {
	t.Parallel()
	plain, tls := httpbinServers(t)
	res := drleetest.Run(t, `
local http = require "http"
local base, tlsbase = arg[1], arg[2]

local function get_body(res, cb)
  readall(res, function(err, body)
    assert(err == nil, err)
    res:close()
    cb(body)
  end)
end

series_callback({
  -- every method reaches the server with its body and headers
  function(done)
    local methods = {"get", "post", "put", "delete", "patch"}
    local list = {}
    for i, m in ipairs(methods) do
      list[i] = function(cb)
        http[m](base .. "/anything/x?y=1", {body = (m ~= "get") and ("body-" .. m) or nil,
            headers = {["X-Test"] = "v-" .. m, ["Content-Type"] = "text/plain"}}, function(err, res)
          assert(err == nil, err)
          get_body(res, function(body)
            local doc = json_decode(body)
            cb(nil, doc.method .. " " .. (doc.data or "") .. " " .. doc.headers["X-Test"][1])
          end)
        end)
      end
    end
    parallel_callback(list, function(err, results)
      assert(err == nil, err)
      for _, r in ipairs(results) do print("method", r) end
      done()
    end)
  end,
  -- http.request with any method, and the response's fields
  function(done)
    http.request("GET", base .. "/status/418", nil, function(err, res)
      assert(err == nil, err)
      print("status", res.status_code, res.status)
      res:close(done)
    end)
  end,
  function(done)
    http.get(base .. "/response-headers?X-Multi=a&X-Multi=b", function(err, res)
      assert(err == nil, err)
      print("headers", res.headers["x-multi"], res.headers["X-MULTI"])
      res:close(done)
    end)
  end,
  -- redirects: only with follow_redirects
  function(done)
    http.get(base .. "/redirect/2", function(err, res)
      assert(err == nil, err)
      print("redirect off", res.status_code, res.headers["location"])
      res:close()
      http.get(base .. "/redirect/2", {follow_redirects = true}, function(err, res)
        assert(err == nil, err)
        print("redirect on", res.status_code)
        res:close(done)
      end)
    end)
  end,
  -- a body that arrives slowly in chunks, read whole by readall
  function(done)
    http.get(base .. "/drip?numbytes=20&duration=1&delay=0", function(err, res)
      assert(err == nil, err)
      get_body(res, function(body) print("drip", #body) done() end)
    end)
  end,
  function(done)
    http.get(base .. "/stream-bytes/200000?chunk_size=7000", function(err, res)
      assert(err == nil, err)
      get_body(res, function(body) print("stream-bytes", #body) done() end)
    end)
  end,
  -- gzip comes through raw, as sent
  function(done)
    http.get(base .. "/gzip", function(err, res)
      assert(err == nil, err)
      get_body(res, function(body)
        print("gzip", res.headers["content-encoding"], body:byte(1), body:byte(2))
        done()
      end)
    end)
  end,
  -- timeouts, refused connections and DNS failures are cb(err)
  function(done)
    http.get(base .. "/delay/3", {timeout = 200}, function(err, res)
      print("timeout err", err ~= nil, err and err:find("timeout") ~= nil)
      done()
    end)
  end,
  function(done)
    http.get("http://127.0.0.1:1/", function(err) print("refused", err ~= nil) done() end)
  end,
  function(done)
    http.get("http://nonexistent.invalid/", function(err) print("dns", err ~= nil) done() end)
  end,
  -- TLS: a self-signed server needs insecure
  function(done)
    http.get(tlsbase .. "/get", function(err)
      print("tls verify fails", err ~= nil)
      http.get(tlsbase .. "/get", {insecure = true}, function(err, res)
        assert(err == nil, err)
        print("tls insecure", res.status_code)
        res:close(done)
      end)
    end)
  end,
}, function(err) assert(err == nil, err) print("all done") end)
`, drleetest.Options{Args: []string{plain, tls}})
	res.MustSucceed(t)
	res.Contains(t,
		"method\tGET  v-get", "method\tPOST body-post v-post", "method\tPUT body-put v-put",
		"method\tDELETE body-delete v-delete", "method\tPATCH body-patch v-patch",
		"status\t418\t418 I'm a teapot",
		"headers\ta, b\ta, b",
		"redirect off\t302\t/relative-redirect/1", "redirect on\t200",
		"drip\t20", "stream-bytes\t200000",
		"gzip\tgzip\t31\t139",
		"timeout err\ttrue\ttrue", "refused\ttrue", "dns\ttrue",
		"tls verify fails\ttrue", "tls insecure\t200",
		"all done")
}

func TestClientArgumentErrors(t *testing.T) {
	t.Parallel()
	res := drleetest.Run(t, `
local http = require "http"
print(select(2, pcall(http.get, nil)))
print(select(2, pcall(http.get, "http://x/", 5)))
print(select(2, pcall(http.request)))
print(select(2, pcall(http.get, "http://x/", {timeout = "soon"})))
`)
	res.MustSucceed(t)
	res.Contains(t,
		"bad argument #1 to 'http.get' (string expected, got nil)",
		"bad argument #2 to 'http.get' (table expected, got number)",
		"bad argument #1 to 'http.request' (string expected, got no value)",
		"options.timeout must be a number of milliseconds")
	if strings.Contains(res.Stderr, "panic") {
		t.Fatal(res.Stderr)
	}
}

// A script that starts a server, makes requests to it with its own client, stops it, and
// exits by itself: nothing keeps the worker alive once the server stopped and the
// requests were answered.
func TestServerAndClientInOneScript(t *testing.T) {
	t.Parallel()
	res := drleetest.Run(t, `
local http = require "http"
local server = http.create_server("127.0.0.1:0", function(req, res)
  readall(req, function(err, body)
    res:set("X-Echo", req.method .. " " .. body)
    res:write("hello " .. req.request_uri)
    res:finish()
  end)
end)
server:start(function(err)
  assert(not err, err)
  local base = "http://" .. server:address()
  local list = {}
  for i = 1, 20 do
    list[i] = function(cb)
      http.post(base .. "/n/" .. i, {body = tostring(i)}, function(err, res)
        if err then return cb(err) end
        readall(res, function(err, body)
          res:close()
          cb(err, res.headers["x-echo"] .. "|" .. body)
        end)
      end)
    end
  end
  parallel_callback(list, function(err, results)
    assert(not err, err)
    print(results[1], results[20], #results)
    server:stop()
  end)
end)
`, drleetest.Options{Workers: 2, Timeout: 20 * time.Second})
	res.MustSucceed(t)
	res.Contains(t, "POST 1|hello /n/1\tPOST 20|hello /n/20\t20")
}
