-- support: what the tests of tests/lua share, on top of drlee test's t:eq, t:ok and
-- t:raises. Not a test file (its name does not end in _test.lua): the tests require it.
local time = require "time"

local support = {}

-- raises(t, want, f, ...): f(...) raises an error whose message contains want, as plain
-- text (t:raises takes a Lua pattern; these messages are full of "(", "." and "-").
function support.raises(t, want, f, ...)
  local n, args = select("#", ...), {...}
  return t:raises(function() return f(unpack(args, 1, n)) end,
    (want:gsub("[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0")))
end

-- show(v): v for a message, strings quoted.
function support.show(v)
  if type(v) == "string" then return string.format("%q", v) end
  return tostring(v)
end

-- onces(t): once(name, fn) makes a callback that must be called exactly once; done()
-- waits until each was called (the test fails at its timeout if one never is), a moment
-- more for a second call, and checks they ran once each.
function support.onces(t)
  local recs = {}
  local function once(name, fn)
    local rec = {name = name, n = 0}
    recs[#recs + 1] = rec
    return function(...)
      rec.n = rec.n + 1
      if rec.n > 1 then t:fail(name .. ": called " .. rec.n .. " times") end
      if fn then return fn(...) end
    end
  end
  local function done()
    local waiting = true
    while waiting do
      waiting = false
      for _, rec in ipairs(recs) do
        if rec.n == 0 then waiting = true end
      end
      if waiting then time.sleep(5) end
    end
    time.sleep(20)
    for _, rec in ipairs(recs) do t:eq(rec.n, 1, rec.name .. ": calls") end
  end
  return once, done
end

-- call(fn): calls fn(cb), waits until cb is called (in the caller's thread: a test's),
-- and returns what cb got. For the tests of the callback style that read best in order.
function support.call(fn)
  local got
  fn(function(...) got = {n = select("#", ...), ...} end)
  while not got do time.sleep(1) end
  return unpack(got, 1, got.n)
end

-- with_dir(t, fn): fn(dir) with dir a new empty directory of the test's own (under
-- fs.tmpdir()), removed with what is in it when fn returns or fails.
function support.with_dir(t, fn)
  local fs = require "fs"
  local dir = fs.tmpdir() .. "/drlee-luatests-" .. uuid()
  t:ok(fs.mkdir(dir, "0700"))
  local ok, err = pcall(fn, dir)
  local removed, rerr = fs.remove_all(dir)
  if not ok then error(err, 0) end -- a failed assertion or a raise, as it was
  t:ok(removed, rerr)
end

return support
