-- parallel_callback(list, cb): results in list order, the first error ends it, cb exactly
-- once, an empty list gives cb(nil, {}).
local check = require "check"
local time = require "time"

-- Results come in list order, whatever order the functions finish in.
local n = 5
local list = {}
for i = 1, n do
  list[i] = function(cb) time.timeout((n - i) * 5, function() cb(nil, "r" .. i) end) end
end
parallel_callback(list, check.once("order", function(err, res)
  check.eq(err, nil, "err")
  check.eq(#res, n, "#res")
  for i = 1, n do check.eq(res[i], "r" .. i, "res[" .. i .. "]") end
end))

-- The first error ends it: cb(err) once; completions after it are ignored.
local finished_before = 0
parallel_callback({
  function(cb) time.timeout(30, function() cb(nil, 1) end) end,
  function(cb) time.timeout(5, function() cb("second failed") end) end,
  function(cb) time.timeout(15, function() cb("third failed too") end) end,
  function(cb) time.timeout(1, function() finished_before = finished_before + 1; cb(nil, 4) end) end,
}, check.once("first error", function(err, res)
  check.eq(err, "second failed", "err")
  check.eq(res, nil, "res")
  check.eq(finished_before, 1, "completions before the error")
end))

-- A synchronous error: the functions after it are not started.
local started = 0
parallel_callback({
  function(cb) started = started + 1; cb("sync error") end,
  function(cb) started = started + 1; cb(nil, 2) end,
}, check.once("sync error", function(err)
  check.eq(err, "sync error")
  check.eq(started, 1, "functions started")
end))

-- Everything synchronous.
parallel_callback({ function(cb) cb(nil, "a") end, function(cb) cb(nil, "b") end },
  check.once("sync", function(err, res)
    check.eq(err, nil)
    check.same(res, {"a", "b"})
  end))

-- A function calling its cb twice counts once.
parallel_callback({
  function(cb) cb(nil, 1); cb(nil, "again") end,
  function(cb) time.timeout(5, function() cb(nil, 2) end) end,
}, check.once("cb twice", function(err, res)
  check.eq(err, nil)
  check.same(res, {1, 2})
end))

-- nil results keep their positions.
parallel_callback({ function(cb) cb(nil, nil) end, function(cb) cb(nil, 2) end },
  check.once("nil result", function(err, res)
    check.eq(res[1], nil)
    check.eq(res[2], 2)
  end))

-- An empty list gives cb(nil, {}), at once.
local empty_called = false
parallel_callback({}, check.once("empty", function(err, res)
  empty_called = true
  check.eq(err, nil)
  check.eq(type(res), "table")
  check.eq(next(res), nil)
end))
check.ok(empty_called, "empty list: cb called at once")

-- The callback is optional.
parallel_callback({ function(cb) cb(nil, 1) end })
parallel_callback({})

-- The seed's example (colon form): three timeouts in parallel take the time of one.
local t0 = time.now().milliunix
parallel_callback({
  function(cb) time:timeout(300, cb) end,
  function(cb) time:timeout(300, cb) end,
  function(cb) time:timeout(300, cb) end,
}, check.once("seed", function(err, res)
  local el = time.now().milliunix - t0
  check.eq(err, nil)
  check.eq(type(res), "table")
  check.ok(el >= 299 and el < 800, "three parallel 300 ms timeouts took " .. el .. " ms")
end))

check.raises("bad argument #1 to 'parallel_callback' (table expected, got nil)", parallel_callback)
check.raises("bad argument #2 to 'parallel_callback' (function expected, got string)", parallel_callback, {}, "x")

check.pass_after(500)
