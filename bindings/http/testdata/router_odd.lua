-- The router's functions called with odd values, under pcall: each gives a clear error or
-- a sensible result, never a crash. No server: a router is also a plain function of
-- (req, res), which tables can stand in for.
local http = require "http"
local check = require "check"

local function h() end
local r = http.router()

-- http.router itself
check.raises("http.router takes no argument", http.router, 5)
check.ok(getmetatable(http:router()) == getmetatable(r), "http:router() works too")

-- Patterns that are not strings, or not paths.
for _, v in ipairs({{nil, "nil"}, {5, "number"}, {{}, "table"}, {true, "boolean"}, {h, "function"}}) do
  check.raises("bad argument #1 to 'router:get' (pattern expected, a string starting with '/', got " .. v[2] .. ")",
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
  local err = check.raises(c[2], r.get, r, c[1], h)
  check.ok(string.find(err, "router:get: bad pattern", 1, true), "names the pattern: " .. err)
  check.ok(#err < 400, "a long pattern is cut in the message")
end
-- Handlers that are not callable; callable tables are.
for _, v in ipairs({{nil, "nil"}, {5, "number"}, {"f", "string"}, {{}, "table"}}) do
  check.raises("bad argument #2 to 'router:post' (handler expected, a function, got " .. v[2] .. ")",
    r.post, r, "/x", v[1])
end
r:get("/callable", setmetatable({}, {__call = function(self, req, res) res.called = "table" end}))

-- Duplicates: the same method and shape (names of captures do not count, nor a final /).
r:get("/notes/:id", h)
check.raises("router:get: duplicate route GET /notes/:nid (already routed as /notes/:id)", r.get, r, "/notes/:nid", h)
r:get("/dup", h)
check.raises("duplicate route GET /dup/", r.get, r, "/dup/", h)
r:any("/any", h)
check.raises("duplicate route (any method) /any", r.any, r, "/any", h)
r:post("/notes/:id", h) -- another method: fine
r:get("/notes/:id/x", h) -- a longer path: fine
r:get("/files/*", h)
check.raises("duplicate route GET /files/*rest", r.get, r, "/files/*rest", h)
local err = check.raises("router:get: duplicate route", function() r:get("/dup", h) end)
check.match(err, "^[^ ]*router_odd%.lua:%d+: router:get: duplicate", "the error names the script's line")

-- A dot instead of a colon.
check.raises("router:get: call it with a colon (router:get(...)), got string for the router", r.get, "/x", h)
check.raises("router:use: call it with a colon", r.use, h)
check.raises("router:match: call it with a colon", r.match, "GET", "/")
check.raises("router:any: call it with a colon", r.any, {}, "/", h)

-- router:add
check.raises("bad argument #1 to 'router:add' (method expected, an upper-case HTTP token such as \"PROPFIND\", got \"get\")",
  r.add, r, "get", "/x", h)
check.raises("got nil)", r.add, r, nil, "/x", h)
check.raises("got \"GE T\")", r.add, r, "GE T", "/x", h)
check.raises("got \"\")", r.add, r, "", "/x", h)
check.ok(r:add("PROPFIND", "/dav", h) == r, "add returns the router")

-- router:use and router:not_found
for _, v in ipairs({{nil, "nil"}, {5, "number"}, {"x", "string"}, {{}, "table"}}) do
  check.raises("bad argument #1 to 'router:use' (middleware expected, a function(req, res, next), got " .. v[2] .. ")",
    r.use, r, v[1])
  check.raises("bad argument #1 to 'router:not_found' (handler expected, a function, got " .. v[2] .. ")",
    r.not_found, r, v[1])
end
check.ok(r:get("/chain", h):post("/chain", h) == r, "route methods chain")

-- router:match with odd paths and methods
check.raises("bad argument #1 to 'router:match' (method expected, a string, got nil)", r.match, r, nil, "/")
check.raises("bad argument #2 to 'router:match' (path expected, a string, got nil)", r.match, r, "GET", nil)
check.raises("bad argument #2 to 'router:match' (path expected, a string, got number)", r.match, r, "GET", 5)
for _, p in ipairs({"", "notes/1", "\0", "/\0/\0", "/notes/\0", string.rep("/", 10000),
    "/" .. string.rep("a/", 100000), string.rep("x", 1000000), "/notes/" .. string.rep("9", 100000)}) do
  local ok, a = pcall(r.match, r, "GET", p)
  check.ok(ok, "match " .. #p .. " bytes: " .. tostring(a))
end
check.eq(r:match("GET", ""), nil, "an empty path matches nothing")
local _, params = r:match("GET", "/notes/\0")
check.eq(params.id, "\0", "a NUL is a plain byte")
_, params = r:match("GET", "/notes/" .. string.rep("9", 100000))
check.eq(#params.id, 100000, "a long segment")
check.eq(r:match("", "/notes/1"), nil, "an empty method")
check.eq(select(2, r:match("", "/notes/1")), "GET, HEAD, POST, OPTIONS", "an empty method: 405")
check.eq(r:match("get", "/notes/1"), nil, "methods are case-sensitive")
-- The trie's depth is bounded (128 segments): the deepest pattern and a longer path.
local deep = string.rep("/:p", 64) .. "/*rest"
local names = {}
deep = deep:gsub(":p", function() names[#names + 1] = "p" .. #names; return ":" .. names[#names] end)
r:get(deep, h)
local hit, ps = r:match("GET", string.rep("/v", 64) .. string.rep("/w", 1000))
check.ok(hit == h and ps.p63 == "v" and #ps.rest == 1999, "a deep match")

-- Fields of a request: methods and getters are protected (a real request: in the tests of
-- the server); a router called with tables sets params on them.
local fake_res = {calls = {}}
for _, m in ipairs({"set_status", "set", "write", "finish"}) do
  fake_res[m] = function(self, ...) self.calls[#self.calls + 1] = m .. ":" .. table.concat({...}, "|") end
end
local req = {method = "GET", path = "/callable"}
r(req, fake_res)
check.eq(fake_res.called, "table", "a callable table as handler")
check.eq(next(req.params), nil, "a static route: empty params")
req = {method = "GET", path = "/nothing/here"}
r(req, fake_res)
check.eq(table.concat(fake_res.calls, ";"), "set_status:404;set:Content-Type|text/plain; charset=utf-8;write:Not Found;finish:",
  "404 answered through res")

check.raises("http.router: the request must have a method and a path (strings), got nil and nil", r, {}, fake_res)
check.raises("http.router: the request must have a method and a path (strings), got string and number", r,
  {method = "GET", path = 5}, fake_res)
check.raises("attempt to index", r, nil, fake_res)
check.raises("bad argument #1 to 'http.__target' (httpRequest expected, got userdata)", r, newproxy(), fake_res)

-- next() called twice raises, naming the middleware.
local m = http.router()
m:use(function(req, res, next) next(); next() end)
m:get("/", h)
err = check.raises("http.router: next() called twice by the middleware at ", m, {method = "GET", path = "/"}, fake_res)
check.ok(string.find(err, "router_odd.lua:", 1, true), "names where: " .. err)

-- create_server takes a router, or a callable table, and still checks its arguments.
check.raises("bad argument #2 to 'http.create_server' (function expected, got table)", http.create_server, ":0", {})
check.raises("bad argument #2 to 'http.create_server' (function expected, got nil)", http.create_server, ":0")
check.raises("bad argument #1 to 'http.create_server' (address must be host:port or :port)", http.create_server, "x", r)
err = check.raises("bad argument #2", function() http.create_server(":0", 5) end)
check.match(err, "^[^ ]*router_odd%.lua:%d+: bad argument #2", "create_server's error names the script's line")
check.ok(http.create_server("127.0.0.1:0", r), "a router")
check.ok(http:create_server("127.0.0.1:0", r), "a router, with a colon")
check.ok(http.create_server("127.0.0.1:0", setmetatable({}, {__call = h})), "a callable table")

print("PASS")
