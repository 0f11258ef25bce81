-- The callback helpers of bindings/core: parallel_callback, series_callback, readall /
-- read_all, in both styles, and spawn, handle:wait and wait_all. Moved from
-- bindings/core/testdata.
local time = require "time"
local support = require "support"
local raises, onces = support.raises, support.onces

test("the helpers: wrong argument types raise bad argument", function(t)
  raises(t, "bad argument #1 to 'readall' (object with read(n, cb) expected, got number)", readall, 5)
  raises(t, "bad argument #1 to 'readall' (object with read(n, cb) expected, got boolean)", readall, true)
  raises(t, "bad argument #1 to 'readall' (object with read(n, cb) expected, got string)", readall, "text")
  raises(t, "bad argument #1 to 'parallel_callback' (table expected, got string)", parallel_callback, "x")
  raises(t, "bad argument #1 to 'series_callback' (table expected, got nil)", series_callback, nil, print)
end)


-- Results come in list order, whatever order the functions finish in.
test("parallel_callback: results in list order", function(t)
  local once, done = onces(t)
  local n = 5
  local list = {}
  for i = 1, n do
    list[i] = function(cb) time.timeout((n - i) * 5, function() cb(nil, "r" .. i) end) end
  end
  parallel_callback(list, once("order", function(err, res)
    t:eq(err, nil, "err")
    t:eq(#res, n, "#res")
    for i = 1, n do t:eq(res[i], "r" .. i, "res[" .. i .. "]") end
  end))
  done()
end)

-- The first error ends it: cb(err) once; completions after it are ignored.
test("parallel_callback: the first error ends it", function(t)
  local once, done = onces(t)
  local finished_before = 0
  parallel_callback({
    function(cb) time.timeout(30, function() cb(nil, 1) end) end,
    function(cb) time.timeout(5, function() cb("second failed") end) end,
    function(cb) time.timeout(15, function() cb("third failed too") end) end,
    function(cb) time.timeout(1, function() finished_before = finished_before + 1; cb(nil, 4) end) end,
  }, once("first error", function(err, res)
    t:eq(err, "second failed", "err")
    t:eq(res, nil, "res")
    t:eq(finished_before, 1, "completions before the error")
  end))
  done()
end)

-- A synchronous error: the functions after it are not started.
test("parallel_callback: a synchronous error stops the start of the rest", function(t)
  local once, done = onces(t)
  local started = 0
  parallel_callback({
    function(cb) started = started + 1; cb("sync error") end,
    function(cb) started = started + 1; cb(nil, 2) end,
  }, once("sync error", function(err)
    t:eq(err, "sync error")
    t:eq(started, 1, "functions started")
  end))
  done()
end)

-- Everything synchronous.
test("parallel_callback: everything synchronous", function(t)
  local once, done = onces(t)
  parallel_callback({ function(cb) cb(nil, "a") end, function(cb) cb(nil, "b") end },
    once("sync", function(err, res)
      t:eq(err, nil)
      t:eq(res, {"a", "b"})
    end))
  done()
end)

-- A function calling its cb twice counts once.
test("parallel_callback: a cb called twice counts once", function(t)
  local once, done = onces(t)
  parallel_callback({
    function(cb) cb(nil, 1); cb(nil, "again") end,
    function(cb) time.timeout(5, function() cb(nil, 2) end) end,
  }, once("cb twice", function(err, res)
    t:eq(err, nil)
    t:eq(res, {1, 2})
  end))
  done()
end)

-- nil results keep their positions.
test("parallel_callback: nil results keep their positions", function(t)
  local once, done = onces(t)
  parallel_callback({ function(cb) cb(nil, nil) end, function(cb) cb(nil, 2) end },
    once("nil result", function(err, res)
      t:eq(res[1], nil)
      t:eq(res[2], 2)
    end))
  done()
end)

-- An empty list gives cb(nil, {}), at once.
test("parallel_callback: an empty list gives cb(nil, {}) at once", function(t)
  local once, done = onces(t)
  local empty_called = false
  parallel_callback({}, once("empty", function(err, res)
    empty_called = true
    t:eq(err, nil)
    t:eq(type(res), "table")
    t:eq(next(res), nil)
  end))
  t:ok(empty_called, "empty list: cb called at once")
  done()
end)

-- The callback is optional.
test("parallel_callback: the callback is optional", function(t)
  parallel_callback({ function(cb) cb(nil, 1) end })
  parallel_callback({})
end)

-- The seed's example (colon form): three timeouts in parallel take the time of one.
test("parallel_callback: the seed example; wrong arguments", function(t)
  local once, done = onces(t)
  local t0 = time.now().milliunix
  parallel_callback({
    function(cb) time:timeout(300, cb) end,
    function(cb) time:timeout(300, cb) end,
    function(cb) time:timeout(300, cb) end,
  }, once("seed", function(err, res)
    local el = time.now().milliunix - t0
    t:eq(err, nil)
    t:eq(type(res), "table")
    t:ok(el >= 299 and el < 800, "three parallel 300 ms timeouts took " .. el .. " ms")
  end))

  raises(t, "bad argument #1 to 'parallel_callback' (table expected, got nil)", parallel_callback)
  raises(t, "bad argument #2 to 'parallel_callback' (function expected, got string)", parallel_callback, {}, "x")
  done()
end)


test("series_callback: one after another, cb(nil, last)", function(t)
  local once, done = onces(t)
  local log = {}
  local function add(s) log[#log + 1] = s end
  series_callback({
    function(cb) add("start1"); time.timeout(10, function() add("end1"); cb(nil, 1) end) end,
    function(cb) add("start2"); time.timeout(1, function() add("end2"); cb(nil, 2) end) end,
    function(cb) add("start3"); cb(nil, 3) end,
  }, once("order", function(err, res)
    t:eq(err, nil, "err")
    t:eq(res, 3, "last result")
    t:eq(table.concat(log, ","), "start1,end1,start2,end2,start3", "order")
  end))
  done()
end)

-- It stops at the first error.
test("series_callback: it stops at the first error", function(t)
  local once, done = onces(t)
  local ran = {}
  series_callback({
    function(cb) ran[#ran + 1] = 1; cb(nil, "one") end,
    function(cb) ran[#ran + 1] = 2; time.timeout(1, function() cb("two failed") end) end,
    function(cb) ran[#ran + 1] = 3; cb(nil, "three") end,
  }, once("first error", function(err, res)
    t:eq(err, "two failed", "err")
    t:eq(res, nil, "res")
    t:eq(table.concat(ran, ","), "1,2", "steps run")
  end))
  done()
end)

-- An empty list: cb(nil, nil).
test("series_callback: an empty list gives cb(nil, nil)", function(t)
  local once, done = onces(t)
  series_callback({}, once("empty", function(err, res)
    t:eq(err, nil)
    t:eq(res, nil)
  end))
  done()
end)

-- A step calling its cb twice does not run the next step twice.
test("series_callback: a step calling its cb twice", function(t)
  local once, done = onces(t)
  local count = 0
  series_callback({
    function(cb) cb(nil, 1); cb(nil, 1) end,
    function(cb) count = count + 1; cb(nil, count) end,
  }, once("cb twice", function(err, res) t:eq(res, 1, "runs of step 2") end))
  done()
end)

-- Synchronous steps.
test("series_callback: synchronous steps", function(t)
  local once, done = onces(t)
  local many = {}
  for i = 1, 1000 do many[i] = function(cb) cb(nil, i) end end
  series_callback(many, once("sync", function(err, res)
    t:eq(err, nil)
    t:eq(res, 1000)
  end))
  done()
end)

-- The callback is optional.
test("series_callback: the callback is optional", function(t)
  series_callback({ function(cb) cb(nil) end })
end)

-- The seed's example (colon form): three timeouts in sequence take three times one.
test("series_callback: the seed example; wrong arguments", function(t)
  local once, done = onces(t)
  local t0 = time.now().milliunix
  series_callback({
    function(cb) time:timeout(100, cb) end,
    function(cb) time:timeout(100, cb) end,
    function(cb) time:timeout(100, cb) end,
  }, once("seed", function(err)
    local el = time.now().milliunix - t0
    t:eq(err, nil)
    t:ok(el >= 299, "three 100 ms timeouts in series took " .. el .. " ms")
  end))

  raises(t, "bad argument #1 to 'series_callback' (table expected, got number)", series_callback, 1)
  raises(t, "bad argument #2 to 'series_callback' (function expected, got table)", series_callback, {}, {})
  done()
end)


-- A fake reader: each read returns the next chunk (a string, or {err = ...}), then "".
local function reader(chunks, async)
  local r = {reads = 0, sizes = {}}
  function r:read(n, cb)
    self.reads = self.reads + 1
    self.sizes[#self.sizes + 1] = n
    local c = chunks[self.reads]
    local function deliver()
      if c == nil then cb(nil, "")
      elseif type(c) == "table" then cb(c.err)
      else cb(nil, c) end
    end
    if async then time.timeout(0, deliver) else deliver() end
  end
  return r
end

test("readall: short reads are not the end, sync and async", function(t)
  local once, done = onces(t)
  t:eq(read_all, readall, "read_all")

  for _, async in ipairs({false, true}) do
    local r = reader({"ab", "c", "\0\255", "def"}, async)
    local name = "short reads, async=" .. tostring(async)
    readall(r, once(name, function(err, body)
      t:eq(err, nil, name)
      t:eq(body, "abc\0\255def", name)
      t:eq(r.reads, 5, name .. ": reads")
      for _, n in ipairs(r.sizes) do t:ok(type(n) == "number" and n > 0, "read size " .. tostring(n)) end
    end))
  end
  done()
end)

-- The seed's spelling.
test("read_all: the seed's spelling", function(t)
  local once, done = onces(t)
  read_all(reader({"x", "y"}, true), once("read_all", function(err, body)
    t:eq(err, nil)
    t:eq(body, "xy")
  end))
  done()
end)

-- "EOF" as the error ends it with what was read.
test("readall: EOF ends it with what was read", function(t)
  local once, done = onces(t)
  readall(reader({"x", "y", {err = "EOF"}}, true), once("EOF", function(err, body)
    t:eq(err, nil)
    t:eq(body, "xy")
  end))
  done()
end)

-- Any other error is passed on.
test("readall: any other error is passed on", function(t)
  local once, done = onces(t)
  readall(reader({"x", {err = "disk on fire"}}, true), once("error", function(err, body)
    t:eq(err, "disk on fire")
    t:eq(body, nil)
  end))
  done()
end)

-- nil data without an error is the end too.
test("readall: nil data without an error is the end", function(t)
  local once, done = onces(t)
  readall({read = function(self, n, cb) cb(nil, nil) end}, once("nil data", function(err, body)
    t:eq(err, nil)
    t:eq(body, "")
  end))
  done()
end)

-- Nothing to read.
test("readall: nothing to read", function(t)
  local once, done = onces(t)
  readall(reader({}, false), once("empty", function(err, body)
    t:eq(err, nil)
    t:eq(body, "")
  end))
  done()
end)

-- Many one-byte synchronous reads.
test("readall: many one-byte synchronous reads", function(t)
  local once, done = onces(t)
  local chunks = {}
  for i = 1, 1000 do chunks[i] = string.char(i % 256) end
  readall(reader(chunks, false), once("many sync", function(err, body)
    t:eq(err, nil)
    t:eq(body, table.concat(chunks))
  end))
  done()
end)

-- A reader that calls back twice for every read: each read counts once, and readall calls
-- back once with each chunk once (it used to call back twice, and read on twice).
test("readall: a reader that calls back twice", function(t)
  local once, done = onces(t)
  for _, async in ipairs({false, true}) do
    local chunks, reads = {"a", "b", "c"}, 0
    local twice = {read = function(self, n, cb)
      reads = reads + 1
      local c = chunks[reads] or ""
      local function deliver() cb(nil, c); cb(nil, c .. "again") end
      if async then time.timeout(0, deliver) else deliver() end
    end}
    local name = "reader calls back twice, async=" .. tostring(async)
    readall(twice, once(name, function(err, body)
      t:eq(err, nil, name)
      t:eq(body, "abc", name)
      t:eq(reads, 4, name .. ": reads")
    end))
  end
  -- Same with errors: one error, one callback.
  readall({read = function(self, n, cb) cb("first"); cb("second"); cb(nil, "") end},
    once("error twice", function(err, body) t:eq(err, "first") end))
  done()
end)

-- The callback is optional (no error: nothing reported).
test("readall: the callback is optional; wrong arguments", function(t)
  readall(reader({"a"}, true))

  raises(t, "bad argument #1 to 'readall' (object with read(n, cb) expected, got nil)", readall)
  raises(t, "bad argument #1 to 'readall' (object with read(n, cb) expected, got table)", readall, {})
  raises(t, "bad argument #2 to 'readall' (function expected, got number)", readall, reader({}), 5)
end)

-- Callbacks called synchronously, many times in a row, must not grow the Lua stack without
-- bound: a reader whose data is already buffered (or a list of cached lookups) completes
-- each step at once. 50k steps overflowed LuaJIT's stack when each step recursed.
test("synchronous callbacks 50000 times in a row do not grow the stack", function(t)
  local once, done = onces(t)
  local N = 50000

  local steps = {}
  for i = 1, N do steps[i] = function(cb) cb(nil, i) end end
  series_callback(steps, once("series", function(err, res)
    t:eq(err, nil, "series err")
    t:eq(res, N, "series result")
  end))

  parallel_callback(steps, once("parallel", function(err, res)
    t:eq(err, nil, "parallel err")
    t:eq(#res, N, "parallel results")
  end))

  local reads = 0
  local buffered = {read = function(self, n, cb)
    reads = reads + 1
    if reads > N then cb(nil, "") else cb(nil, "x") end
  end}
  readall(buffered, once("readall", function(err, body)
    t:eq(err, nil, "readall err")
    t:eq(#body, N, "readall body")
  end))
  done()
end)


local function later(ms, err, result)
  return function(cb) time.timeout(ms, function() cb(err, result) end) end
end

-- parallel_callback without cb: the results in list order, or nil and the first error.
test("await: parallel_callback without cb", function(t)
  local results, err = parallel_callback({later(20, nil, "a"), later(5, nil, "b"), function(cb) cb(nil, "c") end})
  t:eq(err, nil, "parallel err")
  t:eq(results, {"a", "b", "c"}, "parallel results")
  t:eq({parallel_callback({})}, {{}}, "parallel of nothing")
  results, err = parallel_callback({later(20, nil, "a"), later(5, "second failed")})
  t:eq(results, nil)
  t:eq(err, "second failed", "parallel error")
end)

-- series_callback without cb: the last result, or nil and the error.
test("await: series_callback without cb", function(t)
  local order = {}
  local function step(name, e)
    return function(cb)
      time.timeout(1, function()
        order[#order + 1] = name
        cb(e, name)
      end)
    end
  end
  t:eq(series_callback({step("one"), step("two"), step("three")}), "three", "series result")
  t:eq(table.concat(order, ","), "one,two,three", "series order")
  local r, e = series_callback({step("x"), step("y", "y failed"), step("never")})
  t:eq(r, nil)
  t:eq(e, "y failed", "series error")
  t:eq(table.concat(order, ","), "one,two,three,x,y", "series stops at the error")
end)

-- readall without cb, on a reader that calls back at once and one that calls back later.
test("await: readall without cb", function(t)
  local function reader(chunks, async)
    local i = 0
    return {read = function(self, n, cb)
      i = i + 1
      local v = chunks[i]
      if async then time.timeout(1, function() cb(nil, v) end) else cb(nil, v) end
    end}
  end
  t:eq(readall(reader({"ab", "cd", ""})), "abcd", "readall sync reader")
  t:eq(readall(reader({"x", "y", "z"}, true)), "xyz", "readall async reader")
  r, e = readall({read = function(self, n, cb) time.timeout(1, function() cb("disk on fire") end) end})
  t:eq(r, nil)
  t:eq(e, "disk on fire", "readall error")
end)

-- spawn: runs on the next turn, concurrently; wait returns the function's results.
test("await: spawn and handle:wait", function(t)
  local started = false
  local h = spawn(function(a, b)
    started = true
    time.sleep(10)
    return a + b, "sum"
  end, 2, 3)
  t:eq(started, false, "spawn starts on the loop's next turn")
  local sum, what = h:wait()
  t:eq(sum, 5, "spawned result")
  t:eq(what, "sum", "second result")
  t:eq(select("#", h:wait()), 2, "a second wait gives the same results")
end)

-- Arguments are passed as they are (the same table, not a copy), nils included.
test("await: spawn passes its arguments as they are", function(t)
  local shared = {}
  local n = spawn(function(t, x, y, z)
    t.touched = true
    return select("#", x, y, z), y
  end, shared, nil, "y", nil)
  local count, y = n:wait()
  t:eq(shared.touched, true, "same table")
  t:eq(count, 3, "nil arguments kept")
  t:eq(y, "y")
end)

-- An error comes back as nil, err, the error value as raised.
test("await: a spawned error comes back as nil, err", function(t)
  local bad = spawn(function() time.sleep(1); error({code = 42}) end)
  local nothing, eobj = bad:wait()
  t:eq(nothing, nil)
  t:eq(type(eobj), "table", "error value kept")
  t:eq(eobj.code, 42)
  local _, emsg = spawn(function() error("plain failure") end):wait()
  t:ok(string.find(emsg, "%.lua:%d+: plain failure"), "error message: " .. tostring(emsg))
end)

-- Fan-out: spawned functions run concurrently (20 ms each, not 100 ms in all).
test("await: spawned functions run concurrently; wait_all", function(t)
  local t0 = time.now().milliunix
  local hs = {}
  for i = 1, 5 do
    hs[i] = spawn(function() time.sleep(20); return i * 10 end)
  end
  hs[6] = spawn(function() time.sleep(5); error("six failed") end)
  local all = wait_all(hs)
  local took = time.now().milliunix - t0
  t:ok(took < 90, "concurrent: took " .. took .. " ms")
  for i = 1, 5 do t:eq(all[i], {i * 10}, "wait_all " .. i) end
  t:eq(all[6][1], nil)
  t:ok(string.find(all[6].err, "six failed", 1, true), "wait_all error")
  t:eq(wait_all({}), {}, "wait_all of nothing")
end)

-- Several waiters on one handle, and spawns inside spawns.
test("await: several waiters on one handle, spawns inside spawns", function(t)
  local slow = spawn(function() time.sleep(10); return "slow" end)
  local w1 = spawn(function() return slow:wait() end)
  local w2 = spawn(function() return slow:wait() end)
  t:eq(wait_all({w1, w2}), {{"slow"}, {"slow"}}, "two waiters")
  local nested = spawn(function()
    local inner = spawn(function() time.sleep(1); return "inner" end)
    return "outer+" .. inner:wait()
  end)
  t:eq(nested:wait(), "outer+inner", "nested spawn")
end)

-- Awaits in callbacks work the same.
test("await: awaits in callbacks work the same", function(t)
  local once, done = onces(t)
  time.timeout(1, once("await in a callback", function()
    local got = parallel_callback({later(1, nil, 1), later(2, nil, 2)})
    t:eq(got, {1, 2}, "parallel in a callback")
    t:eq(spawn(function() return "cb" end):wait(), "cb", "spawn in a callback")
  end))
  time.sleep(20)
  done()
end)

-- In a coroutine of the script's own nothing can suspend: the helpers keep their callback
-- meaning, and wait raises a clear error.
test("await: in a script coroutine the helpers keep their callback meaning", function(t)
  coroutine.wrap(function()
    local seen
    parallel_callback({later(1, nil, "co")}, function(e2, res) seen = res end)
    t:eq(seen, nil, "callback style in a script coroutine")
    local ok, werr = pcall(function() return spawn(function() end):wait() end)
    t:eq(ok, false)
    t:ok(string.find(tostring(werr), "cannot wait here", 1, true), "wait in a script coroutine: " .. tostring(werr))
  end)()
end)

-- Wrong arguments.
test("await: wrong arguments", function(t)
  local h = spawn(function() end)
  raises(t, "bad argument #1 to 'spawn' (function expected, got nil)", spawn)
  raises(t, "bad argument #1 to 'wait_all' (table expected, got string)", wait_all, "x")
  raises(t, "bad argument #1 to 'wait_all' (handle expected at index 2, got number)", wait_all, {h, 5})
  raises(t, "calling 'handle:wait' on bad self", h.wait, {})
end)
