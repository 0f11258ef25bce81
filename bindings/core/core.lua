-- Globals of every Dr.LEE worker, written in Lua where Lua is the natural place.
local select, tostring, type, error = select, tostring, type, error
local concat = table.concat
local write, logline = __drlee_print, __drlee_log
__drlee_print, __drlee_log = nil, nil

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
}
package.loaded.log = log
package.loaded.env = env

-- An error nobody receives is reported as uncaught, with a traceback.
local function uncaught(err)
  error("uncaught error: " .. tostring(err), 2)
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
