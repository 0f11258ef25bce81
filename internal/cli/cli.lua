-- The hooks of drlee's commands (run -e, run -, --check, repl, test), in every worker. The
-- Go functions are taken as locals and their globals removed; when no command needs them
-- (a plain `drlee run script.lua`), this chunk stops at once and adds nothing.
local mode_of, set_hooks, fatal, ready, report, add_test, record, skipped =
  __drlee_cli_mode, __drlee_cli_hooks, __drlee_cli_fatal, __drlee_cli_ready,
  __drlee_cli_report, __drlee_cli_add_test, __drlee_cli_record, __drlee_cli_skip
__drlee_cli_mode, __drlee_cli_hooks, __drlee_cli_fatal, __drlee_cli_ready = nil, nil, nil, nil
__drlee_cli_report, __drlee_cli_add_test, __drlee_cli_record, __drlee_cli_skip = nil, nil, nil, nil

local mode, name = mode_of()
if mode == "" then return end

local type, tostring, select, pairs, ipairs, error, load, xpcall, pcall, unpack, rawget =
  type, tostring, select, pairs, ipairs, error, load, xpcall, pcall, unpack, rawget
local traceback, getinfo = debug.traceback, debug.getinfo
local concat, sort, format = table.concat, table.sort, string.format

-- Code given with -e or on stdin: its name is where env.script and arg[0] say it came from.
if name ~= "" then
  env.script, arg[0] = name, name
end

-- run_source(code, chunkname, check, args...): the code of -e or stdin as a main chunk, in a
-- runtime thread (so it may wait). With check, only compiled.
local function run_source(code, chunk, check, ...)
  local f, err = load(code, chunk)
  if not f then return fatal(err) end
  if check then return end
  local ok, e = xpcall(f, traceback, ...)
  if not ok then fatal(tostring(e)) end
end

-- The REPL. A line that does not compile for want of more (its error ends in '<eof>', as
-- lua.c decides) is kept and the next line appended.
local pending_src
local function incomplete(err)
  return err:sub(-7) == "'<eof>'"
end
local function show_results(ok, ...)
  if not ok then
    report(tostring((...)))
  elseif select("#", ...) > 0 then
    print(...)
  end
end
local function repl_line(line)
  local src = pending_src and (pending_src .. "\n" .. line) or line
  if src:sub(1, 1) == "=" then src = "return " .. src:sub(2) end
  local f = load("return " .. src, "=stdin")
  local err
  if not f then
    f, err = load(src, "=stdin")
  end
  if not f then
    if incomplete(err) then
      pending_src = src
      return ready(true)
    end
    pending_src = nil
    report(err)
    return ready(false)
  end
  pending_src = nil
  show_results(xpcall(f, traceback))
  return ready(false)
end

-- drlee test. ----------------------------------------------------------------------------

-- An assertion that failed has recorded its failure; it stops the test with this error,
-- which the runner knows not to report again.
local STOP = "drlee test: stop (not an error)"

local tests = {}

local function where(level)
  local info = getinfo(level + 1, "Sl")
  if not info then return "?" end
  return info.short_src .. ":" .. (info.currentline or 0)
end

-- show: a value as Lua source, keys sorted, cycles and depth cut short.
local show
local function key_text(k)
  if type(k) == "string" and k:match("^[%a_][%w_]*$") then return k end
  if type(k) == "string" then return "[" .. show(k) .. "]" end
  return "[" .. tostring(k) .. "]"
end
local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  sort(keys, function(a, b)
    local ta, tb = type(a), type(b)
    if ta ~= tb then return ta < tb end
    if ta == "number" or ta == "string" then return a < b end
    return tostring(a) < tostring(b)
  end)
  return keys
end
function show(v, depth, seen)
  if type(v) == "string" then
    if #v > 80 then return format("%q", v:sub(1, 60)) .. "... (" .. #v .. " bytes)" end
    return format("%q", v)
  end
  if type(v) ~= "table" then return tostring(v) end
  depth, seen = depth or 0, seen or {}
  if seen[v] then return "<cycle>" end
  if depth >= 4 then return "{...}" end
  seen[v] = true
  local parts, n = {}, #v
  for i = 1, n do
    parts[#parts + 1] = show(v[i], depth + 1, seen)
  end
  for _, k in ipairs(sorted_keys(v)) do
    if not (type(k) == "number" and k >= 1 and k <= n and k % 1 == 0) then
      parts[#parts + 1] = key_text(k) .. " = " .. show(v[k], depth + 1, seen)
    end
    if #parts > 50 then parts[#parts + 1] = "..."; break end
  end
  seen[v] = nil
  return "{" .. concat(parts, ", ") .. "}"
end

-- diff: nil when a and b are deeply equal, else the path of the first difference (keys
-- sorted) and the two values there.
local function path_of(path, k)
  if type(k) == "string" and k:match("^[%a_][%w_]*$") then return path .. "." .. k end
  return path .. "[" .. (type(k) == "string" and show(k) or tostring(k)) .. "]"
end
local function diff(a, b, path, seen)
  if a == b then return nil end
  if a ~= a and b ~= b then return nil end -- NaN is NaN
  if type(a) ~= "table" or type(b) ~= "table" then return path, a, b end
  seen = seen or {}
  if seen[a] == b then return nil end
  seen[a] = b
  for _, k in ipairs(sorted_keys(a)) do
    local p, x, y = diff(rawget(a, k), rawget(b, k), path_of(path, k), seen)
    if p then return p, x, y end
  end
  for _, k in ipairs(sorted_keys(b)) do
    if rawget(a, k) == nil then return path_of(path, k), nil, rawget(b, k) end
  end
  return nil
end

local T = {}
T.__index = T

-- failure records a failed assertion at the test's line (level: the assertion's caller)
-- and stops the test.
local function failure(t, msg, extra)
  if extra ~= nil then msg = tostring(extra) .. ": " .. msg end
  record(t.id, where(3), msg)
  error(STOP, 0)
end

function T:eq(got, want, msg)
  local p, x, y = diff(got, want, "")
  if p == nil then return end
  local m
  if p == "" then
    m = "got " .. show(got) .. ", want " .. show(want)
  else
    m = "differ at " .. p .. ": got " .. show(x) .. ", want " .. show(y) ..
      "\ngot:  " .. show(got) .. "\nwant: " .. show(want)
  end
  failure(self, m, msg)
end

function T:ok(v, msg)
  if v then return v end
  failure(self, "expected a true value, got " .. show(v), msg)
end

function T:fail(msg)
  failure(self, tostring(msg == nil and "failed" or msg))
end

function T:raises(fn, pattern, msg)
  if type(fn) ~= "function" then
    error("bad argument #1 to 'raises' (function expected, got " .. type(fn) .. ")", 2)
  end
  local ok, err = pcall(fn)
  if ok then failure(self, "expected an error, none was raised", msg) end
  if pattern ~= nil and not tostring(err):find(pattern) then
    failure(self, "the error " .. show(tostring(err)) .. " does not match " .. show(tostring(pattern)), msg)
  end
  return err
end

-- t:raises_text(fn, text, msg?): raises, with text anywhere in the error, taken as it is
-- (no Lua pattern: error messages are full of ( . - that a pattern would read).
function T:raises_text(fn, text, msg)
  if type(fn) ~= "function" then
    error("bad argument #1 to 'raises_text' (function expected, got " .. type(fn) .. ")", 2)
  end
  if type(text) ~= "string" then
    error("bad argument #2 to 'raises_text' (string expected, got " .. type(text) .. ")", 2)
  end
  local ok, err = pcall(fn)
  if ok then failure(self, "expected an error, none was raised", msg) end
  if not tostring(err):find(text, 1, true) then
    failure(self, "the error " .. show(tostring(err)) .. " does not contain " .. show(text), msg)
  end
  return err
end

function T:skip(msg)
  skipped(self.id, tostring(msg == nil and "skipped" or msg))
  error(STOP, 0)
end

-- test(name, fn): declares a test; the runner runs them in order once the main chunk ran.
if mode == "test" then
  function test(tname, fn)
    if type(tname) ~= "string" then
      error("bad argument #1 to 'test' (string expected, got " .. type(tname) .. ")", 2)
    end
    if type(fn) ~= "function" then
      error("bad argument #2 to 'test' (function expected, got " .. type(fn) .. ")", 2)
    end
    local id = add_test(tname, where(2))
    tests[id] = fn
  end
end

local function run_test(id)
  local fn = tests[id]
  tests[id] = nil -- each runs once; its closure may be collected after
  fn(setmetatable({id = id}, T))
end

-- collect: a full collection, so that what a test dropped (a closed response) is gone
-- before the runner counts what it left open; twice, for what finalizers freed.
local function collect()
  collectgarbage()
  collectgarbage()
end

set_hooks(run_source, repl_line, run_test, collect, STOP)
