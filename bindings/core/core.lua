-- Globals of every Dr.LEE worker, written in Lua where Lua is the natural place.
local select, tostring, type, error, pairs, rawget = select, tostring, type, error, pairs, rawget
local concat = table.concat
local write, logline, fail = __drlee_print, __drlee_log, __drlee_fail
local new_waiter, can_await, start_thread, report_uncaught =
  __drlee_waiter, __drlee_can_await, __drlee_spawn, __drlee_uncaught
__drlee_print, __drlee_log, __drlee_fail = nil, nil, nil
__drlee_waiter, __drlee_can_await, __drlee_spawn, __drlee_uncaught = nil, nil, nil, nil
local setmetatable, getmetatable, unpack, xpcall, newproxy = setmetatable, getmetatable, unpack, xpcall, newproxy
local traceback = debug.traceback

-- require: modules next to the script first.
if __dirname__ then
  package.path = __dirname__ .. "/?.lua;" .. __dirname__ .. "/?/init.lua;" .. package.path
end

-- print: tostring of each argument, tab-separated, written as one line.
function print(...)
  local n = select("#", ...)
  if n == 1 then
    write(tostring((...)))
    return
  end
  local parts = {}
  for i = 1, n do
    parts[i] = tostring((select(i, ...)))
  end
  write(concat(parts, "\t"))
end

local function format_message(...)
  local n = select("#", ...)
  local parts = {}
  for i = 1, n do
    parts[i] = tostring((select(i, ...)))
  end
  return concat(parts, " ")
end

log = {
  debug = function(...) logline("DEBUG", format_message(...)) end,
  info = function(...) logline("INFO", format_message(...)) end,
  warn = function(...) logline("WARN", format_message(...)) end,
  error = function(...) logline("ERROR", format_message(...)) end,
  -- fatal: the line (whatever --log-level), then the engine shuts down as on SIGTERM and
  -- drlee run exits 1 once that is over. It returns: the code after it runs on until the
  -- shutdown ends it (`return log.fatal(...)` stops a function there).
  fatal = function(...)
    logline("FATAL", format_message(...))
    fail()
  end,
}
package.loaded.log = log
package.loaded.env = env

-- The original Dr.LEE's bit operations: LuaJIT's own (any number of arguments, 32-bit
-- results, as bit.bor has them).
bit_or, bit_and, bit_xor = bit.bor, bit.band, bit.bxor

-- class(parent?): a class table. Calling it makes an instance and runs its :init(...)
-- with the call's arguments; methods are looked up in the class, then in parent and its
-- parents; cls.super is parent; obj:is_a(cls) is true for obj's class and its ancestors.
-- The metamethods a class defines (__tostring, __eq, __add, ...) are its instances'; a
-- subclass starts with those its parent has when it is made.
local function is_a(obj, cls)
  local c = getmetatable(obj)
  while type(c) == "table" do
    if c == cls then return true end
    c = rawget(c, "super")
  end
  return false
end

local function new_instance(cls, ...)
  local obj = setmetatable({}, cls)
  local init = cls.init
  if init ~= nil then init(obj, ...) end
  return obj
end

function class(parent)
  if parent ~= nil and type(parent) ~= "table" then
    error("bad argument #1 to 'class' (table expected, got " .. type(parent) .. ")", 2)
  end
  local cls = {}
  if parent ~= nil then
    for k, v in pairs(parent) do
      if type(k) == "string" and k:sub(1, 2) == "__" and k ~= "__index" then cls[k] = v end
    end
  end
  cls.__index = cls
  cls.super = parent
  if parent == nil or parent.is_a == nil then cls.is_a = is_a end
  return setmetatable(cls, {__index = parent, __call = new_instance})
end

-- An error nobody receives is reported as uncaught, with a traceback.
local function uncaught(err)
  error("uncaught error: " .. tostring(err), 2)
end

-- await_result(f, x): the await form of a helper f(x, cb): starts it with a callback of
-- its own and suspends the calling runtime thread until it is called; then returns the
-- result, or nil and the error. The first call of the callback counts.
local function await_result(f, x)
  local w, called, e, r = new_waiter(), false, nil, nil
  f(x, function(err, result)
    if called then return end
    called, e, r = true, err, result
    w:wake()
  end)
  w:wait()
  if e ~= nil then return nil, e end
  return r
end

local function check_list(name, list, cb)
  if type(list) ~= "table" then
    error("bad argument #1 to '" .. name .. "' (table expected, got " .. type(list) .. ")", 3)
  end
  if cb ~= nil and type(cb) ~= "function" then
    error("bad argument #2 to '" .. name .. "' (function expected, got " .. type(cb) .. ")", 3)
  end
end

-- parallel_callback(list, cb): starts every function of list at once; cb(nil, results)
-- with the results in list order once all succeeded, or cb(err) at the first error.
-- cb is called exactly once.
function parallel_callback(list, cb)
  check_list("parallel_callback", list, cb)
  if cb == nil and can_await() then return await_result(parallel_callback, list) end
  local n = #list
  local results = {}
  if n == 0 then
    if cb then cb(nil, results) end
    return
  end
  local remaining, finished = n, false
  for i = 1, n do
    local called = false
    list[i](function(err, result)
      if finished or called then return end
      called = true
      if err ~= nil then
        finished = true
        if cb then cb(err) else uncaught(err) end
        return
      end
      results[i] = result
      remaining = remaining - 1
      if remaining == 0 then
        finished = true
        if cb then cb(nil, results) end
      end
    end)
    if finished then return end
  end
end

-- series_callback(list, cb): runs the functions one after another; stops at the first
-- error (cb(err)); otherwise cb(nil, result of the last one).
function series_callback(list, cb)
  check_list("series_callback", list, cb)
  if cb == nil and can_await() then return await_result(series_callback, list) end
  local n = #list
  local i = 0
  -- A step that calls back at once continues the loop below instead of recursing, so
  -- that any number of synchronous steps runs in constant stack.
  local function run(result)
    while true do
      i = i + 1
      if i > n then
        if cb then cb(nil, result) end
        return
      end
      local called, inside, again = false, true, false
      list[i](function(e, r)
        if called then return end
        called = true
        if e ~= nil then
          if cb then cb(e) else uncaught(e) end
          return
        end
        result = r
        if inside then again = true else run(r) end
      end)
      inside = false
      if not again then return end
    end
  end
  run(nil)
end

-- readall(reader, cb): reads until a read returns no data (or "EOF"); cb(nil, body).
-- A short read is not the end.
local CHUNK = 65536
function readall(reader, cb)
  local t = type(reader)
  if (t ~= "table" and t ~= "userdata") or type(reader.read) ~= "function" then
    error("bad argument #1 to 'readall' (object with read(n, cb) expected, got " .. type(reader) .. ")", 2)
  end
  if cb ~= nil and type(cb) ~= "function" then
    error("bad argument #2 to 'readall' (function expected, got " .. type(cb) .. ")", 2)
  end
  -- A runtime reader that holds all it will give (an HTTP request's body) hands it over in
  -- one call, as the reads below would: cb(nil, body), or body when awaited.
  local whole = t == "userdata" and (cb ~= nil or can_await()) and reader.__readall
  if whole then return whole(reader, cb) end
  if cb == nil and can_await() then
    if t == "userdata" then
      -- One of the runtime's readers (a request, a response, a file): its read without a
      -- callback awaits by itself, and returns at once what is in memory already.
      local parts, n = {}, 0
      while true do
        local data, err = reader:read(CHUNK)
        if data == nil then
          if err == "EOF" then break end
          return nil, err
        end
        if #data == 0 then break end
        n = n + 1
        parts[n] = data
      end
      return concat(parts)
    end
    return await_result(readall, reader)
  end
  local parts, n = {}, 0
  -- A reader that calls back twice for one read (a buggy one) must not make readall call
  -- cb twice or read on in two places: every read's callback counts once.
  local function step()
    while true do
      local inside, again, called = true, false, false
      reader:read(CHUNK, function(err, data)
        if called then return end
        called = true
        if err == "EOF" or (err == nil and (data == nil or #data == 0)) then
          if cb then cb(nil, concat(parts)) end
          return
        end
        if err ~= nil then
          if cb then cb(err) else uncaught(err) end
          return
        end
        n = n + 1
        parts[n] = data
        if inside then again = true else step() end
      end)
      inside = false
      if not again then return end
    end
  end
  step()
end
read_all = readall

-- spawn(fn, ...): fn(...) in a runtime coroutine of its own, started on the loop's next
-- turn; the handle's wait() suspends until it ends and returns its results, or nil and
-- the error it raised. An error nobody waits for is reported as uncaught once the handle
-- is collected. wait_all(handles): waits for each, in order, and returns a list of
-- {result..., err = error}.
local Handle = {}
Handle.__index = Handle

local function collected(h)
  local r = h.res
  if r and not r[1] and not h.seen then
    report_uncaught("uncaught error in a spawned function (its handle was never waited for): " .. tostring(h.trace or r[2]))
  end
end

function spawn(fn, ...)
  if type(fn) ~= "function" then
    error("bad argument #1 to 'spawn' (function expected, got " .. type(fn) .. ")", 2)
  end
  local n, args = select("#", ...), {...}
  local h = setmetatable({}, Handle)
  -- A userdata whose __gc tells of an error never waited for (tables have no __gc here).
  local sentinel = newproxy(true)
  getmetatable(sentinel).__gc = function() collected(h) end
  h.sentinel = sentinel
  local function on_error(e)
    h.trace = traceback(tostring(e), 2)
    return e
  end
  start_thread(function()
    local r = {n = 0}
    local function keep(...)
      r.n = select("#", ...)
      for i = 1, r.n do r[i] = (select(i, ...)) end
    end
    keep(xpcall(fn, on_error, unpack(args, 1, n)))
    h.res = r
    local ws = h.waiters
    h.waiters = nil
    if ws then
      for i = 1, #ws do ws[i]:wake() end
    end
  end)
  return h
end

-- finished waits for h to end (if it has not) and returns its record {ok, results...}.
local function finished(h)
  h.seen = true
  if not h.res then
    local w = new_waiter()
    local ws = h.waiters
    if not ws then
      ws = {}
      h.waiters = ws
    end
    ws[#ws + 1] = w
    w:wait()
  end
  return h.res
end

function Handle.wait(h)
  if getmetatable(h) ~= Handle then
    error("calling 'handle:wait' on bad self (handle expected, got " .. type(h) .. ")", 2)
  end
  local r = finished(h)
  if r[1] then return unpack(r, 2, r.n) end
  return nil, r[2]
end

function wait_all(handles)
  if type(handles) ~= "table" then
    error("bad argument #1 to 'wait_all' (table expected, got " .. type(handles) .. ")", 2)
  end
  for i = 1, #handles do
    if getmetatable(handles[i]) ~= Handle then
      error("bad argument #1 to 'wait_all' (handle expected at index " .. i .. ", got " .. type(handles[i]) .. ")", 2)
    end
  end
  local out = {}
  for i = 1, #handles do
    local r = finished(handles[i])
    if r[1] then
      out[i] = {unpack(r, 2, r.n)}
    else
      out[i] = {err = r[2]}
    end
  end
  return out
end
