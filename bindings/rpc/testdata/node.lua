-- A cluster node for the rpc tests (cluster_test.go). Every worker registers the handlers
-- below and serves the same HTTP address, through which the Go test makes this node call
-- others and reads the outcome as JSON.
--
--   drlee run -w 2 --cluster ... --node nodeA node.lua <http port> [name,name...]
--
-- Always registered, on every worker: who.<node>, echo.<node>, raw.<node>, never.<node>,
-- twice.<node>, lazy.<node>, who.all. arg[2] adds names; a name's handler is chosen by its
-- first '.'-separated token (svc.x is a "svc" handler).
local rpc = require "rpc"
local http = require "http"
local time = require "time"

local port = assert(arg[1], "usage: node.lua <http port> [names]")
local node = env.node

local function now() return time.now().milliunix end

-- describe(v): a canonical text of a value, type-tagged, with exact numbers and hex-escaped
-- bytes, so that two values describe the same iff they are the same message.
local function describe(v)
  local t = type(v)
  if t == "number" then
    if v ~= v then return "nan" end
    if v == math.huge then return "inf" end
    if v == -math.huge then return "-inf" end
    if v == 0 and 1 / v < 0 then return "num:-0" end
    return "num:" .. string.format("%.17g", v)
  elseif t == "string" then
    return "str:\"" .. v:gsub("[^%w ]", function(c) return string.format("\\x%02x", c:byte()) end) .. "\""
  elseif t == "table" then
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys, function(a, b) return describe(a) < describe(b) end)
    local parts = {}
    for _, k in ipairs(keys) do parts[#parts + 1] = describe(k) .. "=" .. describe(v[k]) end
    return "{" .. table.concat(parts, ",") .. "}"
  end
  return t .. ":" .. tostring(v)
end

local function who(extra)
  local r = { node = node, worker_id = env.worker_id }
  for k, v in pairs(extra or {}) do r[k] = v end
  return r
end

local kinds = {
  who = function(m, reply) reply(nil, who()) end,
  -- echo: the message as this node decoded it, and its description made here.
  echo = function(m, reply) reply(nil, { value = m, seen = describe(m) }) end,
  raw = function(m, reply) reply(nil, m) end,
  -- svc: a service several nodes offer; m.delay ms of work.
  svc = function(m, reply)
    local r = who({ i = m and m.i })
    local delay = type(m) == "table" and m.delay or 0
    if delay > 0 then
      time.timeout(delay, function() reply(nil, r) end)
    else
      reply(nil, r)
    end
  end,
  never = function() end,
  twice = function(m, reply)
    reply(nil, "first")
    reply(nil, "second")
    reply("third")
  end,
  -- lazy: replies after m.ms, whether or not the caller still waits.
  lazy = function(m, reply)
    time.timeout(m.ms, function() reply(nil, "late") end)
  end,
  boom = function() error("boom on " .. node) end,
}

local function register(name)
  local kind = name:match("^[^.]+")
  rpc.register(name, assert(kinds[kind], "no handler kind for " .. name))
end

for _, k in ipairs({ "who", "echo", "raw", "never", "twice", "lazy" }) do
  register(k .. "." .. node)
end
register("who.all")
for name in (arg[2] or ""):gmatch("[^,]+") do register(name) end

-- ---- HTTP side ----

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

local function send(res, status, t)
  res:set_status(status)
  res:set("Content-Type", "application/json")
  res:write(json_encode(t))
  res:finish()
end

-- Values whose round trip /roundtrip checks.
local function cases()
  local bytes = {}
  for i = 0, 255 do bytes[#bytes + 1] = string.char(i) end
  local long = {}
  for i = 1, 1000 do long[i] = i * 3 end
  return {
    { "zero", 0 }, { "int", 42 }, { "negative int", -7 }, { "2^53", 2 ^ 53 }, { "-2^53", -2 ^ 53 },
    { "2^53-1", 2 ^ 53 - 1 }, { "2^53+2", 2 ^ 53 + 2 }, { "2^63", 2 ^ 63 }, { "2^31", 2 ^ 31 },
    { "0.5", 0.5 }, { "-1e-300", -1e-300 }, { "1e300", 1e300 }, { "pi", math.pi },
    { "5e-324", 5e-324 }, { "-0", -1 / math.huge }, { "inf", math.huge }, { "-inf", -math.huge }, { "nan", 0 / 0 },
    { "true", true }, { "false", false }, { "nil", nil },
    { "empty string", "" }, { "nul bytes", "a\0b\0" }, { "invalid utf-8", "\255\254\192\128\237\160\128" },
    { "all bytes", table.concat(bytes) }, { "long string", string.rep("x\0y", 100000) },
    { "empty table", {} },
    { "nested arrays", { { 1, 2 }, { 3, { 4, {} } }, {}, { { { "deep" } } } } },
    { "map", { a = 1, b = { c = "d", e = {} }, ["k\0"] = "\255", ["with space"] = false } },
    { "mixed", { 1, 2, 3, x = "y", [10] = 10 } },
    { "non-string keys", { [1.5] = "x", [true] = 1, [-3] = "neg", [2 ^ 53] = "big" } },
    { "long array", long },
    { "array of empties", { {}, {}, { {} } } },
  }
end

-- roundtrip(target node, cb): every case to raw.<target> and echo.<target> and back.
local function roundtrip(target, cb)
  local list, failures = {}, {}
  for _, c in ipairs(cases()) do
    local name, v = c[1], c[2]
    local want = describe(v)
    list[#list + 1] = function(done)
      rpc.call("raw." .. target, v, function(err, r)
        if err then
          failures[#failures + 1] = name .. " (raw): " .. err
        elseif describe(r) ~= want then
          failures[#failures + 1] = name .. " (raw): got " .. describe(r) .. ", want " .. want
        end
        done()
      end)
    end
    list[#list + 1] = function(done)
      rpc.call("echo." .. target, v, function(err, r)
        if err then
          failures[#failures + 1] = name .. " (echo): " .. err
        elseif type(r) ~= "table" or r.seen ~= want or describe(r.value) ~= want then
          failures[#failures + 1] = name .. " (echo): " .. describe(r) .. ", want value and seen " .. want
        end
        done()
      end)
    end
  end
  series_callback(list, function() cb(failures, #list) end)
end

-- bad(): messages that must be refused at the call, catchably.
local function bad()
  local out = {}
  local cyc = {}
  cyc.me = cyc
  local deep = { a = { b = {} } }
  deep.a.b.up = deep
  local shared = {}
  local tests = {
    ["function"] = function() rpc.call("who.all", function() end, function() end) end,
    ["nested function"] = function() rpc.call("who.all", { f = print }, function() end) end,
    ["cycle"] = function() rpc.call("who.all", cyc, function() end) end,
    ["deep cycle"] = function() rpc.broadcast("who.all", deep, function() end) end,
    ["userdata"] = function() rpc.call("who.all", { t = io.stdout }, function() end) end,
    ["coroutine"] = function() rpc.call("who.all", coroutine.create(print), function() end) end,
    -- not a cycle: the same table twice is fine
    ["shared ok"] = function() rpc.call("who.all", { shared, shared }, function() end) end,
  }
  for name, f in pairs(tests) do
    local ok, err = pcall(f)
    out[name] = { ok = ok, err = err and tostring(err) or nil }
  end
  return out
end

-- stream: n calls of name, one every `every` ms, each with `timeout`; answers when every
-- call got its callback (or a watchdog gives up), with the count of each outcome.
local function stream(q, res)
  local name, n = q.name, tonumber(q.n)
  local every, timeout, delay = tonumber(q.every) or 10, tonumber(q.timeout) or 2000, tonumber(q.delay) or 0
  local issued, answered, ok, dups = 0, 0, 0, 0
  local got, errs, calls = {}, {}, {}
  local t0 = now()
  local over = false
  local function finish(why)
    if over then return end
    over = true
    local missing = {}
    for i = 1, issued do
      if not got[i] then missing[#missing + 1] = i end
    end
    send(res, 200, {
      why = why, issued = issued, answered = answered, ok = ok, dups = dups,
      errors = #errs > 0 and errs or nil, missing = #missing > 0 and missing or nil,
      calls = calls, ms = now() - t0,
    })
  end
  local function issue()
    if over then return end
    issued = issued + 1
    local i, at = issued, now() - t0
    rpc.call(name, { i = i, delay = delay }, { timeout = timeout }, function(err, r)
      if got[i] then
        dups = dups + 1
        return
      end
      got[i] = true
      answered = answered + 1
      if err then
        errs[#errs + 1] = { i = i, at = at, ms = now() - t0 - at, err = err }
        calls[i] = "error"
      else
        ok = ok + 1
        calls[i] = r.node
      end
      if issued == n and answered == n then finish("done") end
    end)
    if issued < n then time.timeout(every, issue) end
  end
  issue()
  -- A call that never gets its callback must not hang the test: answer anyway.
  time.timeout(n * every * 3 + timeout + 5000, function() finish("watchdog") end)
end

local function route(req, res, body)
  local path = req.request_uri:match("^[^?]*")
  local q = query(req)
  if path == "/health" then
    return send(res, 200, who())
  elseif path == "/call" or path == "/broadcast" then
    local msg
    if body ~= "" then msg = json_decode(body) end
    local opts = q.timeout and { timeout = tonumber(q.timeout) } or nil
    local t0 = now()
    local f = path == "/call" and rpc.call or rpc.broadcast
    return f(q.name, msg, opts, function(err, r)
      if path == "/broadcast" and r and #r == 0 then r = nil end
      send(res, 200, { err = err, result = r, ms = now() - t0 })
    end)
  elseif path == "/roundtrip" then
    return roundtrip(q.target, function(failures, n)
      send(res, 200, { calls = n, failures = #failures > 0 and failures or nil })
    end)
  elseif path == "/bad" then
    return send(res, 200, bad())
  elseif path == "/stream" then
    return stream(q, res)
  end
  send(res, 404, { err = "no route " .. path })
end

local server = http.create_server("127.0.0.1:" .. port, function(req, res)
  readall(req, function(err, body)
    if err then return send(res, 400, { err = err }) end
    route(req, res, body)
  end)
end)
server:start(function(err)
  if err then error(err) end
  if env.worker_id == 1 then log.info("node " .. node .. " serving on " .. port) end
end)
