-- The await forms of the helpers, spawn, handle:wait() and wait_all, in the main chunk (a
-- runtime thread) and in callbacks.
local check = require "check"
local time = require "time"

local function later(ms, err, result)
  return function(cb) time.timeout(ms, function() cb(err, result) end) end
end

-- parallel_callback without cb: the results in list order, or nil and the first error.
local results, err = parallel_callback({later(20, nil, "a"), later(5, nil, "b"), function(cb) cb(nil, "c") end})
check.eq(err, nil, "parallel err")
check.same(results, {"a", "b", "c"}, "parallel results")
check.same({parallel_callback({})}, {{}}, "parallel of nothing")
results, err = parallel_callback({later(20, nil, "a"), later(5, "second failed")})
check.eq(results, nil)
check.eq(err, "second failed", "parallel error")

-- series_callback without cb: the last result, or nil and the error.
local order = {}
local function step(name, e)
  return function(cb)
    time.timeout(1, function()
      order[#order + 1] = name
      cb(e, name)
    end)
  end
end
check.eq(series_callback({step("one"), step("two"), step("three")}), "three", "series result")
check.eq(table.concat(order, ","), "one,two,three", "series order")
local r, e = series_callback({step("x"), step("y", "y failed"), step("never")})
check.eq(r, nil)
check.eq(e, "y failed", "series error")
check.eq(table.concat(order, ","), "one,two,three,x,y", "series stops at the error")

-- readall without cb, on a reader that calls back at once and one that calls back later.
local function reader(chunks, async)
  local i = 0
  return {read = function(self, n, cb)
    i = i + 1
    local v = chunks[i]
    if async then time.timeout(1, function() cb(nil, v) end) else cb(nil, v) end
  end}
end
check.eq(readall(reader({"ab", "cd", ""})), "abcd", "readall sync reader")
check.eq(readall(reader({"x", "y", "z"}, true)), "xyz", "readall async reader")
r, e = readall({read = function(self, n, cb) time.timeout(1, function() cb("disk on fire") end) end})
check.eq(r, nil)
check.eq(e, "disk on fire", "readall error")

-- spawn: runs on the next turn, concurrently; wait returns the function's results.
local started = false
local h = spawn(function(a, b)
  started = true
  time.sleep(10)
  return a + b, "sum"
end, 2, 3)
check.eq(started, false, "spawn starts on the loop's next turn")
local sum, what = h:wait()
check.eq(sum, 5, "spawned result")
check.eq(what, "sum", "second result")
check.eq(select("#", h:wait()), 2, "a second wait gives the same results")

-- Arguments are passed as they are (the same table, not a copy), nils included.
local shared = {}
local n = spawn(function(t, x, y, z)
  t.touched = true
  return select("#", x, y, z), y
end, shared, nil, "y", nil)
local count, y = n:wait()
check.eq(shared.touched, true, "same table")
check.eq(count, 3, "nil arguments kept")
check.eq(y, "y")

-- An error comes back as nil, err, the error value as raised.
local bad = spawn(function() time.sleep(1); error({code = 42}) end)
local nothing, eobj = bad:wait()
check.eq(nothing, nil)
check.eq(type(eobj), "table", "error value kept")
check.eq(eobj.code, 42)
local _, emsg = spawn(function() error("plain failure") end):wait()
check.ok(string.find(emsg, "%.lua:%d+: plain failure"), "error message: " .. tostring(emsg))

-- Fan-out: spawned functions run concurrently (20 ms each, not 100 ms in all).
local t0 = time.now().milliunix
local hs = {}
for i = 1, 5 do
  hs[i] = spawn(function() time.sleep(20); return i * 10 end)
end
hs[6] = spawn(function() time.sleep(5); error("six failed") end)
local all = wait_all(hs)
local took = time.now().milliunix - t0
check.ok(took < 90, "concurrent: took " .. took .. " ms")
for i = 1, 5 do check.same(all[i], {i * 10}, "wait_all " .. i) end
check.eq(all[6][1], nil)
check.ok(string.find(all[6].err, "six failed", 1, true), "wait_all error")
check.same(wait_all({}), {}, "wait_all of nothing")

-- Several waiters on one handle, and spawns inside spawns.
local slow = spawn(function() time.sleep(10); return "slow" end)
local w1 = spawn(function() return slow:wait() end)
local w2 = spawn(function() return slow:wait() end)
check.same(wait_all({w1, w2}), {{"slow"}, {"slow"}}, "two waiters")
local nested = spawn(function()
  local inner = spawn(function() time.sleep(1); return "inner" end)
  return "outer+" .. inner:wait()
end)
check.eq(nested:wait(), "outer+inner", "nested spawn")

-- Awaits in callbacks work the same.
time.timeout(1, check.once("await in a callback", function()
  local got = parallel_callback({later(1, nil, 1), later(2, nil, 2)})
  check.same(got, {1, 2}, "parallel in a callback")
  check.eq(spawn(function() return "cb" end):wait(), "cb", "spawn in a callback")
end))
time.sleep(20)

-- In a coroutine of the script's own nothing can suspend: the helpers keep their callback
-- meaning, and wait raises a clear error.
coroutine.wrap(function()
  local seen
  parallel_callback({later(1, nil, "co")}, function(e2, res) seen = res end)
  check.eq(seen, nil, "callback style in a script coroutine")
  local ok, werr = pcall(function() return spawn(function() end):wait() end)
  check.eq(ok, false)
  check.ok(string.find(tostring(werr), "cannot wait here", 1, true), "wait in a script coroutine: " .. tostring(werr))
end)()

-- Wrong arguments.
check.raises("bad argument #1 to 'spawn' (function expected, got nil)", spawn)
check.raises("bad argument #1 to 'wait_all' (table expected, got string)", wait_all, "x")
check.raises("bad argument #1 to 'wait_all' (handle expected at index 2, got number)", wait_all, {h, 5})
check.raises("calling 'handle:wait' on bad self", h.wait, {})

check.pass_after(10)
