package http_test

import (
	"fmt"
	"testing"
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
			addr := startBenchEngine(b, helperQueryScript, false, style)
			driveRequests(b, addr, []byte("GET /search?a=1&b=two&c=3 HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: bench\r\n\r\n"), []byte("two"))
		})
	}
}

func BenchmarkHelperJSON(b *testing.B) {
	for _, style := range []string{"encode", "res_json"} {
		b.Run("style="+style, func(b *testing.B) {
			addr := startBenchEngine(b, helperJSONScript, false, style)
			driveRequests(b, addr, []byte("GET /api HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: bench\r\n\r\n"), nil)
		})
	}
}

// readallScript answers a POST with its body, read with the readall global (which takes
// it in one call, req:__readall) or, as readall did before, with req:read in chunks until
// a read gives "" (reads): the twin; await is readall without a callback.
const readallScript = `
local http = require "http"
local style = arg[2]
local function reads(req, cb)
  local parts = {}
  local function step()
    req:read(65536, function(err, data)
      if err or #data == 0 then return cb(err, table.concat(parts)) end
      parts[#parts + 1] = data
      step()
    end)
  end
  step()
end
local read = style == "readall" and readall or reads
http.create_server(arg[1], function(req, res)
  if style == "await" then
    res:write(readall(req))
    return
  end
  read(req, function(err, body)
    res:write(body)
    res:finish()
  end)
end):start()
`

func BenchmarkHelperReadAll(b *testing.B) {
	body := `{"name":"drlee","id":42,"tags":["a","b","c"],"score":3.5}`
	req := []byte(fmt.Sprintf("POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: bench\r\nContent-Length: %d\r\n\r\n%s", len(body), body))
	for _, style := range []string{"reads", "readall", "await"} {
		b.Run("style="+style, func(b *testing.B) {
			addr := startBenchEngine(b, readallScript, false, style)
			driveRequests(b, addr, req, []byte(body))
		})
	}
}
