-- check: the assertions of the Lua test scripts the bindings' Go tests drive (testdata/*.lua);
-- the pure-Lua tests are in tests/lua, on drlee test's t:eq, t:ok and t:raises.
--
--   local check = require "check"
--   check.eq(got, want, "what")
--   check.raises("bad argument #1", f, args...)
--   local cb = check.once("name")      -- a callback that must be called exactly once
--   check.pass_after(ms)               -- then verify every once() and print "PASS"
local time = require "time"

local check = {}

local function show(v)
  if type(v) == "string" then return string.format("%q", v) end
  return tostring(v)
end
check.show = show

function check.eq(got, want, what)
  if got ~= want then
    error((what or "value") .. ": got " .. show(got) .. ", want " .. show(want), 2)
  end
end

function check.ok(cond, what)
  if not cond then error("check failed: " .. (what or "?"), 2) end
end

function check.match(s, pattern, what)
  if type(s) ~= "string" or not s:match(pattern) then
    error((what or "value") .. ": " .. show(s) .. " does not match " .. show(pattern), 2)
  end
end

-- raises(want, f, ...): f(...) raises an error whose message contains want (plain text).
function check.raises(want, f, ...)
  local ok, err = pcall(f, ...)
  if ok then error("no error, want one containing " .. show(want), 2) end
  if not string.find(tostring(err), want, 1, true) then
    error("error " .. show(err) .. ", want one containing " .. show(want), 2)
  end
  return err
end

-- same(a, b): deep equality of tables.
local function same(a, b, path)
  if type(a) ~= type(b) then
    return false, path .. ": " .. type(a) .. " vs " .. type(b)
  end
  if type(a) ~= "table" then
    if a == b or (a ~= a and b ~= b) then return true end
    return false, path .. ": " .. show(a) .. " vs " .. show(b)
  end
  for k, v in pairs(a) do
    local ok, why = same(v, b[k], path .. "." .. tostring(k))
    if not ok then return false, why end
  end
  for k in pairs(b) do
    if a[k] == nil then return false, path .. ": extra key " .. tostring(k) end
  end
  return true
end

function check.same(got, want, what)
  local ok, why = same(got, want, what or "value")
  if not ok then error(why, 2) end
end

local onces = {}

-- once(name, fn): a callback that must be called exactly once (checked by pass_after).
function check.once(name, fn)
  local rec = {name = name, n = 0}
  onces[#onces + 1] = rec
  return function(...)
    rec.n = rec.n + 1
    if rec.n > 1 then error(name .. ": called " .. rec.n .. " times", 2) end
    if fn then return fn(...) end
  end
end

-- pass_after(ms): after ms, every once() callback must have run exactly once; then PASS.
function check.pass_after(ms)
  time.timeout(ms, function()
    for _, rec in ipairs(onces) do
      if rec.n ~= 1 then error(rec.name .. ": called " .. rec.n .. " times, want once") end
    end
    print("PASS")
  end)
end

return check
