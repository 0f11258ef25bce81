-- The Lua API fuzz test (run by TestLuaAPIFuzz): every function and method of every
-- Dr.LEE module, called with odd values under pcall, also from coroutines and from __gc
-- finalizers, with callbacks that count how often they run. The process must survive,
-- every callback must run at most once, and nothing may reach the log as an internal
-- error. arg[1] is a free 127.0.0.1 address for a server of our own.
--
-- Functions and methods are found by walking the modules and the objects' metatables, so a
-- new function is fuzzed without being listed here; `plausible` only gives the arguments
-- that get a call past its first checks (a path, a URL, a callback).
local fs, http, time, rpc = require "fs", require "http", require "time", require "rpc"
local addr = assert(arg[1], "usage: apifuzz.lua 127.0.0.1:port")
local url = "http://" .. addr .. "/"

local stats = {calls = 0, raised = 0, callbacks = 0, twice = 0}

-- A callback that counts its runs; a second run of the same one is a defect.
local function counted(name)
  local runs = 0
  return function(...)
    runs = runs + 1
    stats.callbacks = stats.callbacks + 1
    if runs == 2 then
      stats.twice = stats.twice + 1
      print("CALLED TWICE: " .. name)
    end
  end
end
local CB = {} -- marks a callback slot in a plausible argument list

local cyclic = {}
cyclic.self = cyclic
local deep = {}
do
  local t = deep
  for _ = 1, 300 do t[1] = {}; t = t[1] end
end
local big = string.rep("\255x", 2^19)

-- The odd values: a list with holes (nil), so it is walked by index up to n.
local odd = {
  n = 44,
  -- (Huge counts first: a read of 2^63 - 1024 must come while part of a body is unread.)
  nil, true, false, 2^63 - 1024, 2^62, 2^63, -2^63, 2^53, 2^32 + 5, 2^31, 0, -0.0, -1, 0.5, 1.5, 1e300, -1e300, math.huge,
  -math.huge, 0/0, "", "x", "\0\255\n\r", big, "inf", "nan", "-1", "1e309", "GET /EVIL",
  {}, {1, 2, 3}, {a = {b = {}}, [1.5] = true}, cyclic, deep,
  function() error("a callback that raises") end, print,
  coroutine.create(function() end), newproxy(), newproxy(true), time.now(), {read = 5},
  require("json").null, require("json").empty_array, setmetatable({}, require("json").array_mt),
}

-- Objects of every class, filled in as they are made (see the phases at the end).
local objects = {}

-- Arguments that get a call past its first checks. A function not listed gets the default.
local plausible = {
  ["fs.open"] = {"fuzz.tmp", 0x200 + 0x2, 420, CB},
  ["fs.remove"] = {"fuzz-gone.tmp", CB},
  ["fs.remove_all"] = {"fuzz-gone-dir", CB},
  ["fs.stat"] = {"fuzz.tmp", CB},
  ["fs.read_dir"] = {".", CB},
  ["fs.mkdir"] = {"fuzz-dir", CB},
  ["fs.mkdir_all"] = {"fuzz-dir/a/b", CB},
  ["fs.readfile"] = {"fuzz.tmp", CB},
  ["http.get"] = {url, {timeout = 2000}, CB},
  ["http.post"] = {url, {body = "x", timeout = 2000}, CB},
  ["http.put"] = {url, {timeout = 2000}, CB},
  ["http.delete"] = {url, {timeout = 2000}, CB},
  ["http.patch"] = {url, {timeout = 2000}, CB},
  ["http.request"] = {"GET", url, {timeout = 2000}, CB},
  ["http.create_server"] = {"127.0.0.1:0", function(req, res) res:finish() end},
  ["time.timeout"] = {1, CB},
  ["time.sleep"] = {1},
  ["time.tick"] = {50},
  ["time.now"] = {},
  ["rpc.register"] = {"fuzzreg", function(m, reply) reply(nil, m) end},
  ["rpc.call"] = {"fuzzreg", {1}, {timeout = 200}, CB},
  ["rpc.broadcast"] = {"fuzzreg", {1}, {timeout = 200}, CB},
  ["json_encode"] = {{1, "a"}},
  ["json_decode"] = {'[1,"a",{"b":null}]'},
  ["json.encode"] = {{1, "a", {b = true}}, {indent = 2, sort_keys = true}},
  ["json.decode"] = {'[1,"a",{"b":null}]', {max_depth = 10}},
  ["uuid"] = {},
  ["parallel_callback"] = {{function(cb) cb(nil, 1) end}, CB},
  ["series_callback"] = {{function(cb) cb(nil, 1) end}, CB},
  ["readall"] = {{read = function(self, n, cb) cb(nil, "") end}, CB},
  ["spawn"] = {function(...) return ... end, 1},
  ["wait_all"] = {{}},
  ["read_all"] = {{read = function(self, n, cb) cb(nil, "") end}, CB},
  -- methods, by name
  [":read"] = {4096, CB},
  [":write"] = {"data", CB},
  [":close"] = {CB},
  [":finish"] = {CB},
  [":start"] = {CB},
  [":next_tick"] = {CB},
  [":set_status"] = {201},
  [":set"] = {"X-Fuzz", "v"},
  [":get"] = {"X-Fuzz"},
  [":format"] = {"2006-01-02"},
}
local default = {"x", 1, CB, CB}

-- Never fuzzed: they would flood stdout or stderr with the big values, and are plain Lua.
local skip = {print = true, ["log.debug"] = true, ["log.info"] = true, ["log.warn"] = true, ["log.error"] = true}

local function fill(list, name)
  local args = {}
  for i = 1, #list do
    args[i] = list[i] == CB and counted(name .. " #" .. i) or list[i]
  end
  return args
end

-- One call under pcall: in a runtime thread of its own (spawn: a call without its
-- callback awaits there, maybe for ever, as time.timeout(1e300) does, and the fuzz goes
-- on), in a coroutine of the script's own (where it does not wait: the only way the main
-- chunk and the callbacks below can call everything and still get to the end), or from a
-- __gc finalizer (which runs later, inside whatever allocation triggers the collection).
local how = 0
local function try(name, f, n, args)
  stats.calls = stats.calls + 1
  how = how + 1
  if how % 17 == 0 then
    local p = newproxy(true)
    getmetatable(p).__gc = function() pcall(f, unpack(args, 1, n)) end
  elseif how % 3 == 0 then
    spawn(function()
      local ok = pcall(f, unpack(args, 1, n))
      if not ok then stats.raised = stats.raised + 1 end
    end)
  else
    local co = coroutine.wrap(function() return pcall(f, unpack(args, 1, n)) end)
    local ok = co()
    if not ok then stats.raised = stats.raised + 1 end
  end
end

-- Every odd value at every position of the plausible arguments (and one past them).
local function fuzz(name, f, base, self)
  local off = self and 1 or 0
  local width = #base + 1
  for pos = 1, width do
    for i = 1, odd.n do
      local args = fill(base, name)
      if self then table.insert(args, 1, self) end
      args[pos + off] = odd[i]
      try(name, f, math.max(#base, pos) + off, args)
    end
  end
  -- And with no arguments, and with only nils.
  try(name, f, off, self and {self} or {})
  try(name, f, 4 + off, self and {self} or {})
end

local function fuzzModule(prefix, mod)
  local names = {}
  for k, v in pairs(mod) do
    if type(v) == "function" and type(k) == "string" then names[#names + 1] = k end
  end
  table.sort(names)
  for _, k in ipairs(names) do
    local name = prefix .. k
    if not skip[name] then fuzz(name, mod[k], plausible[name] or default) end
  end
end

-- The methods of an object: its metatable's __index is the methods table, or a C closure
-- whose first two upvalues are the methods and the getters (cgo's clua_index).
local function methodsOf(obj)
  local mt = debug.getmetatable(obj)
  local out = {}
  if type(mt) ~= "table" then return out end
  local idx = rawget(mt, "__index")
  local tables = {}
  if type(idx) == "table" then
    tables[1] = idx
  elseif type(idx) == "function" then
    for u = 1, 2 do
      local _, v = debug.getupvalue(idx, u)
      if type(v) == "table" then tables[#tables + 1] = v end
    end
  end
  for _, t in ipairs(tables) do
    for k, v in pairs(t) do
      if type(v) == "function" then out[#out + 1] = {k, v} end
    end
  end
  for _, mm in ipairs({"__tostring", "__call", "__gc"}) do
    if type(rawget(mt, mm)) == "function" and mm ~= "__gc" then out[#out + 1] = {mm, rawget(mt, mm)} end
  end
  table.sort(out, function(a, b) return a[1] < b[1] end)
  return out
end

local function fuzzObject(class, obj)
  local methods = methodsOf(obj)
  local names = {}
  for i, m in ipairs(methods) do names[i] = m[1] end
  print("fuzzing " .. class .. ": " .. table.concat(names, " "))
  for _, m in ipairs(methods) do
    local name, f = class .. ":" .. m[1], m[2]
    local base = plausible[":" .. m[1]] or {}
    fuzz(name, f, base, obj)
    -- A bad self: nothing, odd values, and every object of another class.
    for i = 1, odd.n do try(name, f, 1 + #base, {odd[i], unpack(fill(base, name))}) end
    for other, o in pairs(objects) do
      if other ~= class then try(name, f, 1 + #base, {o, unpack(fill(base, name))}) end
    end
  end
end

local function fuzzAllObjects(which)
  local classes = {}
  for class in pairs(objects) do classes[#classes + 1] = class end
  table.sort(classes)
  for _, class in ipairs(classes) do
    if which == nil or which[class] then fuzzObject(class, objects[class]) end
  end
end

local function done()
  collectgarbage()
  collectgarbage()
  print(string.format("FUZZ DONE calls=%d raised=%d callbacks=%d twice=%d",
    stats.calls, stats.raised, stats.callbacks, stats.twice))
end

-- Phase 1: the module functions, plain and under a collector that runs finalizers at
-- almost every allocation.
fuzzModule("fs.", fs)
fuzzModule("time.", time)
fuzzModule("rpc.", rpc)
fuzzModule("http.", http)
if package.loaded.json then fuzzModule("json.", package.loaded.json) end
local globals = {}
for _, k in ipairs({"json_encode", "json_decode", "uuid", "parallel_callback", "series_callback", "readall", "read_all", "spawn", "wait_all"}) do
  globals[k] = _G[k]
end
fuzzModule("", globals)
collectgarbage("setpause", 1)
collectgarbage("setstepmul", 100000)
fuzzModule("time.", time)
fuzzModule("", globals)
collectgarbage("setpause", 200)
collectgarbage("setstepmul", 200)

-- Phase 2: objects of every class, open and then closed.
objects.timer = time.timeout(1e9, function() end)
objects.ticker = time.tick(1e9)
objects.timestamp = time.now()
objects.handle = spawn(function() return 1 end)
objects.router = http.router()
local server = http.create_server(addr, function(req, res)
  objects.httpRequest, objects.httpResponseWriter = req, res
  -- Part of the body read first, so that reads with huge counts start past 0.
  req:read(1024, function()
    -- The request first, the response only once the reads' completions have run: a write
    -- would start streaming, which moves the unread body elsewhere.
    fuzzAllObjects({httpRequest = true})
    time.timeout(100, function()
      fuzzAllObjects({httpResponseWriter = true})
      pcall(res.finish, res)
    end)
  end)
end)
objects.httpServer = server

rpc.register("fuzzobj", function(m, reply)
  objects.rpcReply = reply
  fuzzAllObjects({rpcReply = true})
  reply(nil, "ok")
end)

fs.open("fuzz-obj.tmp", 0x200 + 0x2, 420, function(err, file)
  assert(not err, err)
  objects.file = file
  server:start(function(err)
    assert(not err, err)
    http.post(url, {body = string.rep("b", 4096), timeout = 5000}, function(err, resp)
      assert(not err, err)
      objects.httpResponse = resp
      -- (Its answer is whatever the fuzzed reply sent first.)
      rpc.call("fuzzobj", {1}, {timeout = 5000}, function()
        fuzzAllObjects()
        -- Closed, stopped and finished objects: the same calls again.
        pcall(file.close, file)
        pcall(resp.close, resp)
        pcall(objects.ticker.stop, objects.ticker)
        pcall(objects.timer.cancel, objects.timer)
        fuzzAllObjects()
        pcall(server.stop, server)
        -- Callbacks still in flight get a second to arrive.
        time.timeout(1000, done)
      end)
    end)
  end)
end)
