-- A cluster node for the kv tests (cluster_test.go), driven over HTTP: every route does
-- one kv operation (await style) and answers JSON.
--
--   drlee run -w 1 --cluster ... --node nodeA [--data-dir DIR] node.lua <http port>
local kv = require "kv"
local http = require "http"

local port = assert(arg[1], "usage: node.lua <http port>")

local function unescape(s)
  s = s:gsub("+", " ")
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

local function query(req)
  local q = {}
  local qs = req.request_uri:match("%?(.*)$") or ""
  for k, v in qs:gmatch("([^&=]+)=?([^&]*)") do q[unescape(k)] = unescape(v) end
  return q
end

local function send(res, t)
  res:set("Content-Type", "application/json")
  res:write(json_encode(t))
  res:finish()
end

-- buckets bound on this worker, by name.
local buckets = {}
local function bucket(q)
  local b = buckets[q.b]
  if b then return b end
  local opts = { timeout = 15000 }
  if q.replicas then opts.replicas = tonumber(q.replicas) end
  if q.history then opts.history = tonumber(q.history) end
  local err
  b, err = kv.bucket(q.b, opts)
  if not b then return nil, err end
  buckets[q.b] = b
  return b
end

-- watch logs, by id: one line per change, "op key=value@revision".
local watches, nwatches = {}, 0

local routes = {}
function routes.health() return { node = env.node } end
function routes.bucket(q, b) return { ok = true } end
function routes.put(q, b, body)
  local rev, err = b:put(q.key, body)
  return { rev = rev, err = err }
end
function routes.get(q, b)
  local e, err = b:get(q.key)
  if err then return { err = err } end
  if not e then return { absent = true } end
  return { value = e.value, rev = e.revision }
end
function routes.create(q, b, body)
  local rev, err = b:create(q.key, body)
  return { rev = rev, err = err }
end
function routes.update(q, b, body)
  local rev, err = b:update(q.key, body, tonumber(q.rev))
  return { rev = rev, err = err }
end
function routes.delete(q, b)
  local ok, err = b:delete(q.key)
  return { ok = ok, err = err }
end
function routes.keys(q, b)
  local ks, err = b:keys()
  return { keys = ks, err = err }
end
-- incr: n increments of a counter by compare-and-set, retried on ECONFLICT.
function routes.incr(q, b)
  local conflicts = 0
  for _ = 1, tonumber(q.n) do
    while true do
      local e, err = b:get(q.key)
      if err then return { err = err } end
      local rev
      if e then
        rev, err = b:update(q.key, tostring(tonumber(e.value) + 1), e.revision)
      else
        rev, err = b:create(q.key, "1")
      end
      if rev then break end
      local code = err_code(err)
      if code ~= "ECONFLICT" and code ~= "EEXIST" then return { err = err } end
      conflicts = conflicts + 1
    end
  end
  return { conflicts = conflicts }
end
function routes.watch(q, b)
  nwatches = nwatches + 1
  local id = nwatches
  local log = {}
  watches[id] = log
  local w = b:watch(q.prefix or "", function(err, c)
    if err then log[#log + 1] = "error " .. err return end
    log[#log + 1] = c.op .. " " .. c.key .. "=" .. c.value .. "@" .. c.revision
  end)
  local ok, err = w:ready()
  return { id = id, ok = ok, err = err }
end
function routes.watchlog(q)
  return { log = watches[tonumber(q.id)] or {} }
end

local server = http.create_server("127.0.0.1:" .. port, function(req, res)
  local body = readall(req)
  local path = req.request_uri:match("^/([^?]*)")
  local q = query(req)
  local f = routes[path]
  if not f then
    res:set_status(404)
    return send(res, { err = "no route " .. path })
  end
  local b, err
  if q.b then
    b, err = bucket(q)
    if not b then return send(res, { err = err }) end
  end
  send(res, f(q, b, body))
end)
server:start(function(err)
  if err then error(err) end
  log.info("node " .. env.node .. " serving on " .. port)
end)
