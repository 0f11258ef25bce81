-- require "http" without a Go side: the router's functions under odd values (a router is
-- also a plain function of (req, res), which tables stand in for), moved from
-- bindings/http/testdata/router_odd.lua, and a server and the client in one file.
local http = require "http"
local json = require "json"
local time = require "time"
local raises = require("support").raises

local function h() end
local r = http.router()

-- http.router itself
test("router odd values: http.router itself", function(t)
  raises(t, "http.router takes no argument", http.router, 5)
  t:ok(getmetatable(http:router()) == getmetatable(r), "http:router() works too")
end)

-- Patterns that are not strings, or not paths.
test("router odd values: patterns that are not strings, or not paths", function(t)
  for _, v in ipairs({{nil, "nil"}, {5, "number"}, {{}, "table"}, {true, "boolean"}, {h, "function"}}) do
    raises(t, "bad argument #1 to 'router:get' (pattern expected, a string starting with '/', got " .. v[2] .. ")",
      r.get, r, v[1], h)
  end
  local bad = {
    {"", "it must start with '/'"},
    {"notes", "it must start with '/'"},
    {" /x", "it must start with '/'"},
    {"/a/:", "':' without a name"},
    {"/:", "':' without a name"},
    {"/a/:1d", "bad parameter name \"1d\""},
    {"/a/:a-b", "bad parameter name \"a-b\""},
    {"/a/*x/y", "a wildcard ('*x') must be the last segment"},
    {"/*/y", "a wildcard ('*') must be the last segment"},
    {"/a/*x.y", "bad wildcard name \"x.y\""},
    {"/a//b", "empty segment"},
    {"//", "empty segment"},
    {"/a/./b", "'.' segment"},
    {"/a/..", "'..' segment"},
    {"/:id/x/:id", "\"id\" is captured twice"},
    {"/:id/*id", "\"id\" is captured twice"},
    {string.rep("/a", 129), "more than 128 segments"},
    {"/" .. string.rep("x", 5000), "longer than 4096 bytes"},
  }
  for _, c in ipairs(bad) do
    local err = raises(t, c[2], r.get, r, c[1], h)
    t:ok(string.find(err, "router:get: bad pattern", 1, true), "names the pattern: " .. err)
    t:ok(#err < 400, "a long pattern is cut in the message")
  end
end)

-- Handlers that are not callable; callable tables are.
test("router odd values: handlers that are not callable", function(t)
  for _, v in ipairs({{nil, "nil"}, {5, "number"}, {"f", "string"}, {{}, "table"}}) do
    raises(t, "bad argument #2 to 'router:post' (handler expected, a function, got " .. v[2] .. ")",
      r.post, r, "/x", v[1])
  end
  r:get("/callable", setmetatable({}, {__call = function(self, req, res) res.called = "table" end}))
end)

-- Duplicates: the same method and shape (names of captures do not count, nor a final /).
test("router odd values: duplicates", function(t)
  r:get("/notes/:id", h)
  raises(t, "router:get: duplicate route GET /notes/:nid (already routed as /notes/:id)", r.get, r, "/notes/:nid", h)
  r:get("/dup", h)
  raises(t, "duplicate route GET /dup/", r.get, r, "/dup/", h)
  r:any("/any", h)
  raises(t, "duplicate route (any method) /any", r.any, r, "/any", h)
  r:post("/notes/:id", h) -- another method: fine
  r:get("/notes/:id/x", h) -- a longer path: fine
  r:get("/files/*", h)
  raises(t, "duplicate route GET /files/*rest", r.get, r, "/files/*rest", h)
  local err = raises(t, "router:get: duplicate route", function() r:get("/dup", h) end)
  t:ok(err:match("^[^ ]*http_test%.lua:%d+: router:get: duplicate"), "the error names the script's line" .. ": " .. err)
end)

-- A dot instead of a colon.
test("router odd values: a dot instead of a colon", function(t)
  raises(t, "router:get: call it with a colon (router:get(...)), got string for the router", r.get, "/x", h)
  raises(t, "router:use: call it with a colon", r.use, h)
  raises(t, "router:match: call it with a colon", r.match, "GET", "/")
  raises(t, "router:any: call it with a colon", r.any, {}, "/", h)
end)

-- router:add
test("router odd values: router:add", function(t)
  raises(t, "bad argument #1 to 'router:add' (method expected, an upper-case HTTP token such as \"PROPFIND\", got \"get\")",
    r.add, r, "get", "/x", h)
  raises(t, "got nil)", r.add, r, nil, "/x", h)
  raises(t, "got \"GE T\")", r.add, r, "GE T", "/x", h)
  raises(t, "got \"\")", r.add, r, "", "/x", h)
  t:ok(r:add("PROPFIND", "/dav", h) == r, "add returns the router")
end)

-- router:use and router:not_found
test("router odd values: router:use and router:not_found", function(t)
  for _, v in ipairs({{nil, "nil"}, {5, "number"}, {"x", "string"}, {{}, "table"}}) do
    raises(t, "bad argument #1 to 'router:use' (middleware expected, a function(req, res, next), got " .. v[2] .. ")",
      r.use, r, v[1])
    raises(t, "bad argument #1 to 'router:not_found' (handler expected, a function, got " .. v[2] .. ")",
      r.not_found, r, v[1])
  end
  t:ok(r:get("/chain", h):post("/chain", h) == r, "route methods chain")
end)

-- router:match with odd paths and methods
test("router odd values: router:match with odd paths and methods", function(t)
  raises(t, "bad argument #1 to 'router:match' (method expected, a string, got nil)", r.match, r, nil, "/")
  raises(t, "bad argument #2 to 'router:match' (path expected, a string, got nil)", r.match, r, "GET", nil)
  raises(t, "bad argument #2 to 'router:match' (path expected, a string, got number)", r.match, r, "GET", 5)
  for _, p in ipairs({"", "notes/1", "\0", "/\0/\0", "/notes/\0", string.rep("/", 10000),
      "/" .. string.rep("a/", 100000), string.rep("x", 1000000), "/notes/" .. string.rep("9", 100000)}) do
    local ok, a = pcall(r.match, r, "GET", p)
    t:ok(ok, "match " .. #p .. " bytes: " .. tostring(a))
  end
  t:eq(r:match("GET", ""), nil, "an empty path matches nothing")
  local _, params = r:match("GET", "/notes/\0")
  t:eq(params.id, "\0", "a NUL is a plain byte")
  _, params = r:match("GET", "/notes/" .. string.rep("9", 100000))
  t:eq(#params.id, 100000, "a long segment")
  t:eq(r:match("", "/notes/1"), nil, "an empty method")
  t:eq(select(2, r:match("", "/notes/1")), "GET, HEAD, POST, OPTIONS", "an empty method: 405")
  t:eq(r:match("get", "/notes/1"), nil, "methods are case-sensitive")
  -- The trie's depth is bounded (128 segments): the deepest pattern and a longer path.
  local deep = string.rep("/:p", 64) .. "/*rest"
  local names = {}
  deep = deep:gsub(":p", function() names[#names + 1] = "p" .. #names; return ":" .. names[#names] end)
  r:get(deep, h)
  local hit, ps = r:match("GET", string.rep("/v", 64) .. string.rep("/w", 1000))
  t:ok(hit == h and ps.p63 == "v" and #ps.rest == 1999, "a deep match")
end)

-- Fields of a request: methods and getters are protected (a real request: in the tests of
-- the server); a router called with tables sets params on them.
test("router odd values: a router called with tables", function(t)
  local fake_res = {calls = {}}
  for _, m in ipairs({"set_status", "set", "write", "finish"}) do
    fake_res[m] = function(self, ...) self.calls[#self.calls + 1] = m .. ":" .. table.concat({...}, "|") end
  end
  local req = {method = "GET", path = "/callable"}
  r(req, fake_res)
  t:eq(fake_res.called, "table", "a callable table as handler")
  t:eq(next(req.params), nil, "a static route: empty params")
  req = {method = "GET", path = "/nothing/here"}
  r(req, fake_res)
  t:eq(table.concat(fake_res.calls, ";"), "set_status:404;set:Content-Type|text/plain; charset=utf-8;write:Not Found;finish:",
    "404 answered through res")

  raises(t, "http.router: the request must have a method and a path (strings), got nil and nil", r, {}, fake_res)
  raises(t, "http.router: the request must have a method and a path (strings), got string and number", r,
    {method = "GET", path = 5}, fake_res)
  raises(t, "attempt to index", r, nil, fake_res)
  raises(t, "bad argument #1 to 'http.__target' (httpRequest expected, got userdata)", r, newproxy(), fake_res)
end)

-- next() called twice raises, naming the middleware.
test("router odd values: next() called twice raises", function(t)
  local m = http.router()
  m:use(function(req, res, next) next(); next() end)
  m:get("/", h)
  -- (a res the handler, which does nothing, never uses)
  local err = raises(t, "http.router: next() called twice by the middleware at ", m, {method = "GET", path = "/"}, {})
  t:ok(string.find(err, "http_test.lua:", 1, true), "names where: " .. err)
end)

-- create_server takes a router, or a callable table, and still checks its arguments.
test("router odd values: create_server takes a router or a callable table", function(t)
  raises(t, "bad argument #2 to 'http.create_server' (function expected, got table)", http.create_server, ":0", {})
  raises(t, "bad argument #2 to 'http.create_server' (function expected, got nil)", http.create_server, ":0")
  raises(t, "bad argument #1 to 'http.create_server' (address must be host:port or :port)", http.create_server, "x", r)
  local err = raises(t, "bad argument #2", function() http.create_server(":0", 5) end)
  t:ok(err:match("^[^ ]*http_test%.lua:%d+: bad argument #2"), "create_server's error names the script's line" .. ": " .. err)
  t:ok(http.create_server("127.0.0.1:0", r), "a router")
  t:ok(http:create_server("127.0.0.1:0", r), "a router, with a colon")
  t:ok(http.create_server("127.0.0.1:0", setmetatable({}, {__call = h})), "a callable table")
end)

-- A server and its client in one test file: a server on 127.0.0.1:0, requests to it with
-- the http client, in the await style (each call waits for its answer).

-- serve(t, handler): a started server on a free port and its base URL; the test stops it.
local function serve(t, handler)
  local srv = http.create_server("127.0.0.1:0", handler)
  t:ok(srv:start())
  return srv, "http://" .. srv:address()
end

-- body(t, res): the whole response body, then the response closed.
local function body(t, res)
  local b, err = readall(res)
  t:eq(err, nil, "reading the body")
  res:close()
  return b
end

test("round trip: a router's routes, params, query, status and headers", function(t)
  local router = http.router()
  router:get("/notes/:id", function(req, res)
    res:set("X-Id", req.params.id)
    res:write("note " .. req.params.id .. " " .. tostring(req.query.v))
    res:finish()
  end)
  router:post("/echo", function(req, res)
    local data = readall(req)
    res:set_status(201)
    res:set("Content-Type", req.headers["content-type"])
    res:write(req.method .. " " .. data)
    res:finish()
  end)
  local srv, base = serve(t, router)

  local res, err = http.get(base .. "/notes/42?v=x%20y")
  t:ok(res, err)
  t:eq({res.status_code, res.headers["x-id"], body(t, res)}, {200, "42", "note 42 x y"})

  res, err = http.post(base .. "/echo", {body = "a\0b" .. string.rep("z", 100000), headers = {["Content-Type"] = "application/x-test"}})
  t:ok(res, err)
  t:eq(res.status_code, 201)
  t:eq(res.headers["content-type"], "application/x-test", "a request header reaches the handler and comes back")
  t:eq(body(t, res), "POST a\0b" .. string.rep("z", 100000), "a 100 kB body with a NUL, both ways")

  res, err = http.get(base .. "/nothing/here")
  t:ok(res, err)
  t:eq({res.status_code, body(t, res)}, {404, "Not Found"}, "a path no route has")

  res, err = http.request("DELETE", base .. "/echo")
  t:ok(res, err)
  t:eq(res.status_code, 405, "a method the route has not")
  res:close()
  srv:stop()
end)

test("round trip: callbacks, res:json and req:json", function(t)
  local srv, base = serve(t, function(req, res)
    req:json(function(err, v)
      if err then res:set_status(400); res:write(err); res:finish(); return end
      res:json({got = v, n = #v.list}, 202)
    end)
  end)
  local status, doc
  local done = false
  http.post(base .. "/", {body = '{"list":[1,null,3]}'}, function(err, res)
    t:eq(err, nil)
    status = res.status_code
    readall(res, function(err2, b)
      t:eq(err2, nil)
      doc = b
      res:close()
      done = true
    end)
  end)
  while not done do time.sleep(1) end
  t:eq(status, 202)
  t:eq(json.decode(doc).n, 3)
  t:eq(json.encode(json.decode(doc).got), '{"list":[1,null,3]}', "json.null both ways")

  local res, err = http.post(base .. "/", {body = "{"})
  t:ok(res, err)
  t:eq(res.status_code, 400, "a body that is not JSON")
  t:eq(err_code(body(t, res)), "EINVAL")
  srv:stop()
end)

test("round trip: a stopped server's address refuses, ECONNREFUSED", function(t)
  local srv, base = serve(t, function(req, res) res:finish() end)
  local res, err = http.get(base .. "/")
  t:ok(res, err)
  t:eq(res.status_code, 200)
  res:close()
  srv:stop()
  time.sleep(20)
  res, err = http.get(base .. "/", {timeout = 2000})
  t:eq(res, nil)
  t:eq(err_code(err), "ECONNREFUSED", tostring(err))
end)
