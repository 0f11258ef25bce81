-- http.router(): requests to handlers by method and path (README, "Routing").
--
-- The routes are a trie of path segments: each node has its static children by segment,
-- one parameter child (":name") and one wildcard child ("*name", always a leaf). A request
-- walks it depth first, static child first, then the parameter, then the wildcard, and the
-- first node reached with a handler for the method wins: static beats parameter beats
-- wildcard at each segment, from the first segment on. Every trie node sits at one segment
-- index of the path, so the walk visits each node at most once, whatever the number of
-- routes. Paths whose patterns are all static are also kept whole in one table, so that
-- they match with a single look-up, before any walk.
--
-- In Lua rather than Go: the request's method and path are read in one crossing into Go
-- (http.__target, router.go), and matching needs no further one; the JIT compiles the
-- walk.
local http = require "http"

local type, error, pairs, ipairs, next, select, setmetatable, getmetatable, rawget, tostring =
  type, error, pairs, ipairs, next, select, setmetatable, getmetatable, rawget, tostring
local find, sub, byte, format, match = string.find, string.sub, string.byte, string.format, string.match
local concat, sort = table.concat, table.sort
local getinfo = debug.getinfo

local SLASH = 47 -- "/"

-- A pattern has at most this many segments: the search for a 405's Allow recurses once a
-- segment, so the depth of the trie bounds the Lua stack a request needs.
local maxSegments = 128

-- The methods the router names itself; router:add takes any other token.
local known = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"}
local rank = {}
for i, m in ipairs(known) do rank[m] = i end

local Router = {}
Router.__index = Router

-- target(req) is req.method, req.path in one crossing into Go (router.go), for requests;
-- a table standing in for one (a test's) has them as fields.
local target = http.__target
http.__target = nil

local function callable(v)
  if type(v) == "function" then return true end
  if type(v) ~= "table" and type(v) ~= "userdata" then return false end
  local mt = getmetatable(v)
  return type(mt) == "table" and rawget(mt, "__call") ~= nil
end

local function where(fn)
  if type(fn) ~= "function" then return tostring(fn) end
  local info = getinfo(fn, "S")
  if info.linedefined and info.linedefined > 0 then
    return info.short_src .. ":" .. info.linedefined
  end
  return info.short_src
end

-- The error levels below count the frames between error and the script's call: no API
-- function tail-calls, so that every frame counted is there.

-- self must be a router: router.get(...) with a dot would take the pattern for it.
local function check_self(self, name)
  if getmetatable(self) ~= Router then
    error(format("router:%s: call it with a colon (router:%s(...)), got %s for the router",
      name, name, type(self)), 3)
  end
end

local function fail(name, pattern, why) -- fail < parse < add < router:get < the script
  local shown = #pattern > 60 and format("%q...", sub(pattern, 1, 60)) or format("%q", pattern)
  error(format("router:%s: bad pattern %s: %s", name, shown, why), 5)
end

-- parse splits a pattern into its segments: {kind, text} with kind "s" (static), "p"
-- (":name") or "w" ("*name", last), and the names of the captures in order.
local function parse(name, pattern)
  if type(pattern) ~= "string" then
    error(format("bad argument #1 to 'router:%s' (pattern expected, a string starting with '/', got %s)",
      name, type(pattern)), 4)
  end
  if byte(pattern, 1) ~= SLASH then fail(name, pattern, "it must start with '/'") end
  local segs, names, seen = {}, {}, {}
  local len = #pattern
  if len > 4096 then fail(name, pattern, "longer than 4096 bytes") end
  if find(pattern, "//", 1, true) then
    fail(name, pattern, "empty segment ('//'): request paths never have one")
  end
  if len > 1 and byte(pattern, len) == SLASH then len = len - 1 end -- "/a/" is "/a"
  local p = 2
  while p <= len do
    local q = find(pattern, "/", p, true)
    local e = (q and q <= len) and q - 1 or len
    local seg = sub(pattern, p, e)
    local c = byte(seg, 1)
    if seg == "." or seg == ".." then
      fail(name, pattern, "'" .. seg .. "' segment: request paths are cleaned of them")
    elseif c == 58 or c == 42 then -- ":" or "*"
      local n = sub(seg, 2)
      if c == 58 and n == "" then
        fail(name, pattern, "':' without a name (write ':id')")
      end
      if n ~= "" and not match(n, "^[%a_][%w_]*$") then
        fail(name, pattern, format("bad %s name %q (letters, digits and _, not first a digit)",
          c == 58 and "parameter" or "wildcard", n))
      end
      if c == 42 then
        if e < len then fail(name, pattern, "a wildcard ('*" .. n .. "') must be the last segment") end
        if n == "" then n = "*" end
      end
      if seen[n] then fail(name, pattern, format("%q is captured twice", n)) end
      seen[n] = true
      names[#names + 1] = n
      segs[#segs + 1] = {c == 58 and "p" or "w", n}
    else
      segs[#segs + 1] = {"s", seg}
    end
    p = e + 2
  end
  if #segs > maxSegments then
    fail(name, pattern, format("more than %d segments", maxSegments))
  end
  return segs, names
end

-- add registers handler for method (nil: any method) on pattern.
local function add(self, name, method, pattern, handler)
  local segs, names = parse(name, pattern)
  if not callable(handler) then
    error(format("bad argument #2 to 'router:%s' (handler expected, a function, got %s)",
      name, type(handler)), 3)
  end
  local node, static = self._root, true
  for i = 1, #segs do
    local kind, text = segs[i][1], segs[i][2]
    if kind == "s" then
      local children = node.static
      if not children then
        children = {}
        node.static = children
      end
      local child = children[text]
      if not child then
        child = {}
        children[text] = child
      end
      node = child
    else
      static = false
      local key = kind == "p" and "param" or "wild"
      local child = node[key]
      if not child then
        child = {}
        node[key] = child
      end
      node = child
    end
  end
  local route = {handler = handler, pattern = pattern, names = names}
  local old
  if method then
    local routes = node.routes
    if not routes then
      routes = {}
      node.routes = routes
    end
    old = routes[method]
    if not old then routes[method] = route end
  else
    old = node.any
    if not old then node.any = route end
  end
  if old then
    error(format("router:%s: duplicate route %s %s (already routed as %s)",
      name, method or "(any method)", pattern, old.pattern), 3)
  end
  if static then
    local parts = {}
    for i = 1, #segs do parts[i] = segs[i][2] end
    self._static["/" .. concat(parts, "/")] = node
  end
end

for _, m in ipairs(known) do
  local name = m:lower()
  Router[name] = function(self, pattern, handler)
    check_self(self, name)
    add(self, name, m, pattern, handler)
    return self
  end
end

function Router:any(pattern, handler)
  check_self(self, "any")
  add(self, "any", nil, pattern, handler)
  return self
end

-- router:add(method, pattern, handler): a method of its own (WebDAV's PROPFIND...).
function Router:add(method, pattern, handler)
  check_self(self, "add")
  if type(method) ~= "string" or not match(method, "^[A-Z][A-Z0-9_%-]*$") then
    error(format("bad argument #1 to 'router:add' (method expected, an upper-case HTTP token such as \"PROPFIND\", got %s)",
      type(method) == "string" and format("%q", method) or type(method)), 2)
  end
  add(self, "add", method, pattern, handler)
  return self
end

-- router:use(middleware): middleware(req, res, next) runs for every request the router
-- gets, in the order they were added, before the handler; next() runs the rest.
function Router:use(mw)
  check_self(self, "use")
  if not callable(mw) then
    error(format("bad argument #1 to 'router:use' (middleware expected, a function(req, res, next), got %s)",
      type(mw)), 2)
  end
  local n = self._nmw + 1
  self._mws[n] = mw
  self._mwhere[n] = where(mw)
  self._nmw = n
  return self
end

-- router:not_found(handler): handler(req, res) answers the paths no route matches,
-- instead of a plain 404.
function Router:not_found(handler)
  check_self(self, "not_found")
  if not callable(handler) then
    error(format("bad argument #1 to 'router:not_found' (handler expected, a function, got %s)",
      type(handler)), 2)
  end
  self._not_found = handler
  return self
end

---- matching ----

local function pick(node, method)
  local routes = node.routes
  if routes then
    local r = routes[method]
    if r then return r end
    if method == "HEAD" then
      r = routes.GET
      if r then return r end
    end
  end
  return node.any
end

-- The walk's scratch (matching never yields, so one set serves every request of the
-- state): vals holds the captures in order; the backtrack stack holds, for each node
-- passed that has a parameter or a wildcard child still to try, the node, its segment's
-- bounds, the captures so far and what to try next there (1: the parameter, 2: the
-- wildcard).
local vals = {}
local bt_node, bt_p, bt_e, bt_depth, bt_next = {}, {}, {}, {}, {}

-- walk matches path[2..len] against the trie and returns the route and the number of
-- captures, or nil. A loop with an explicit stack rather than a recursion: the JIT
-- compiles it (it gives up on recursive calls).
local function walk(root, path, len, method)
  local node, p, depth, top = root, 2, 0, 0
  while true do
    local child
    if p > len then -- the path is used up here
      local r = pick(node, method)
      if r then return r, depth end
      local w = node.wild -- a wildcard matches nothing left, too
      if w then
        r = pick(w, method)
        if r then
          vals[depth + 1] = ""
          return r, depth + 1
        end
      end
    else
      local q = find(path, "/", p, true)
      local e = q and q - 1 or len
      if node.param or node.wild then
        top = top + 1
        bt_node[top], bt_p[top], bt_e[top], bt_depth[top], bt_next[top] = node, p, e, depth, 1
      end
      child = node.static
      if child then
        child = child[sub(path, p, e)]
        if child then node, p = child, e + 2 end
      end
    end
    while not child do -- back to the last node with something left to try
      if top == 0 then return nil end
      local n, bp, be, bd = bt_node[top], bt_p[top], bt_e[top], bt_depth[top]
      if bt_next[top] == 1 then
        bt_next[top] = 2
        child = n.param
        if child then
          vals[bd + 1] = sub(path, bp, be)
          node, p, depth = child, be + 2, bd + 1
        end
      end
      if not child then
        top = top - 1
        local w = n.wild
        if w then
          local r = pick(w, method)
          if r then
            vals[bd + 1] = sub(path, bp, len)
            return r, bd + 1
          end
        end
      end
    end
  end
end

-- allowed adds to set the methods of every node that path[p..len] reaches.
local function methods_of(node, set)
  if node.any then set["*"] = true end
  local routes = node.routes
  if routes then
    for m in pairs(routes) do set[m] = true end
  end
end

local function allowed(node, path, p, len, set)
  if p > len then
    methods_of(node, set)
    if node.wild then methods_of(node.wild, set) end
    return
  end
  local q = find(path, "/", p, true)
  local e = q and q - 1 or len
  local child = node.static
  if child then
    child = child[sub(path, p, e)]
    if child then allowed(child, path, e + 2, len, set) end
  end
  if node.param then allowed(node.param, path, e + 2, len, set) end
  if node.wild then methods_of(node.wild, set) end
end

local function by_rank(a, b)
  local ra, rb = rank[a] or 100, rank[b] or 100
  if ra ~= rb then return ra < rb end
  return a < b
end

-- allow_header is the Allow value for path: its methods, HEAD where GET is, OPTIONS
-- (which the router answers itself); nil when no route has the path.
local function allow_header(self, path, len)
  local set = {}
  allowed(self._root, path, 2, len, set)
  set["*"] = nil -- any method: the walk found it, so it cannot be here
  if next(set) == nil then return nil end
  if set.GET then set.HEAD = true end
  set.OPTIONS = true
  local list = {}
  for m in pairs(set) do list[#list + 1] = m end
  sort(list, by_rank)
  return concat(list, ", ")
end

-- lookup: route, params (a new table) for a match; nil, allow for a path that only other
-- methods have; nil for none.
local function lookup(self, method, path)
  local len = #path
  if byte(path, 1) ~= SLASH then return nil end
  if len > 1 and byte(path, len) == SLASH then
    path = sub(path, 1, len - 1) -- "/notes/" is "/notes"
    len = len - 1
  end
  local node = self._static[path]
  if node then
    local r = pick(node, method)
    if r then return r, {} end
  end
  local r, n = walk(self._root, path, len, method)
  if r then
    local params, names = {}, r.names
    for i = 1, n do
      params[names[i]] = vals[i]
      vals[i] = nil
    end
    return r, params
  end
  return nil, nil, allow_header(self, path, len)
end

-- router:match(method, path) -> handler, params, pattern; or nil, allow when only other
-- methods have the path (allow: "GET, HEAD, OPTIONS"); or nil.
function Router:match(method, path)
  check_self(self, "match")
  if type(method) ~= "string" then
    error(format("bad argument #1 to 'router:match' (method expected, a string, got %s)", type(method)), 2)
  end
  if type(path) ~= "string" then
    error(format("bad argument #2 to 'router:match' (path expected, a string, got %s)", type(path)), 2)
  end
  local r, params, allow = lookup(self, method, path)
  if r then return r.handler, params, r.pattern end
  return nil, allow
end

---- dispatch ----

local function answer(res, status, text, allow)
  res:set_status(status)
  if allow then res:set("Allow", allow) end
  if text then
    res:set("Content-Type", "text/plain; charset=utf-8")
    res:write(text)
  end
  res:finish()
end

-- final is the end of the chain: the route's handler, or the router's own answer.
local function final(self, req, res, method, route, allow)
  if route then return route.handler(req, res) end
  if allow then
    if method == "OPTIONS" then return answer(res, 204, nil, allow) end
    return answer(res, 405, "Method Not Allowed", allow)
  end
  local nf = self._not_found
  if nf then return nf(req, res) end
  return answer(res, 404, "Not Found")
end

-- chain runs middleware i (and, through its next, the rest), then final.
local function chain(self, req, res, method, route, allow, i)
  if i > self._nmw then return final(self, req, res, method, route, allow) end
  local called = false
  return self._mws[i](req, res, function()
    if called then
      error("http.router: next() called twice by the middleware at " .. self._mwhere[i], 2)
    end
    called = true
    return chain(self, req, res, method, route, allow, i + 1)
  end)
end

local function dispatch(self, req, res)
  local method, path
  if type(req) == "userdata" then
    method, path = target(req)
  else
    method, path = req.method, req.path
    if type(method) ~= "string" or type(path) ~= "string" then
      error(format("http.router: the request must have a method and a path (strings), got %s and %s",
        type(method), type(path)), 2)
    end
  end
  local route, params, allow = lookup(self, method, path)
  req.params = params or {}
  if self._nmw == 0 then return final(self, req, res, method, route, allow) end
  return chain(self, req, res, method, route, allow, 1)
end

Router.__call = dispatch

local handlers = setmetatable({}, {__mode = "k"}) -- router -> its handler function

function http.router(...)
  if select("#", ...) > 0 and (...) ~= http then
    error("http.router takes no argument", 2)
  end
  local self = setmetatable({
    _root = {}, _static = {}, _mws = {}, _mwhere = {}, _nmw = 0,
  }, Router)
  handlers[self] = function(req, res) return dispatch(self, req, res) end
  return self
end

-- create_server takes a router (or any callable table) as its handler.
local create_server = http.create_server
function http.create_server(addr, handler, ...)
  if addr == http then return http.create_server(handler, ...) end -- http:create_server
  if type(handler) ~= "function" and callable(handler) then
    local h = handlers[handler]
    if not h then
      local t = handler
      h = function(req, res) return t(req, res) end
    end
    handler = h
  end
  return create_server(addr, handler, ...)
end
