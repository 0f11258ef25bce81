-- series_callback(list, cb): one after another, stops at the first error, cb(nil, last).
local check = require "check"
local time = require "time"

local log = {}
local function add(s) log[#log + 1] = s end
series_callback({
  function(cb) add("start1"); time.timeout(10, function() add("end1"); cb(nil, 1) end) end,
  function(cb) add("start2"); time.timeout(1, function() add("end2"); cb(nil, 2) end) end,
  function(cb) add("start3"); cb(nil, 3) end,
}, check.once("order", function(err, res)
  check.eq(err, nil, "err")
  check.eq(res, 3, "last result")
  check.eq(table.concat(log, ","), "start1,end1,start2,end2,start3", "order")
end))

-- It stops at the first error.
local ran = {}
series_callback({
  function(cb) ran[#ran + 1] = 1; cb(nil, "one") end,
  function(cb) ran[#ran + 1] = 2; time.timeout(1, function() cb("two failed") end) end,
  function(cb) ran[#ran + 1] = 3; cb(nil, "three") end,
}, check.once("first error", function(err, res)
  check.eq(err, "two failed", "err")
  check.eq(res, nil, "res")
  check.eq(table.concat(ran, ","), "1,2", "steps run")
end))

-- An empty list: cb(nil, nil).
series_callback({}, check.once("empty", function(err, res)
  check.eq(err, nil)
  check.eq(res, nil)
end))

-- A step calling its cb twice does not run the next step twice.
local count = 0
series_callback({
  function(cb) cb(nil, 1); cb(nil, 1) end,
  function(cb) count = count + 1; cb(nil, count) end,
}, check.once("cb twice", function(err, res) check.eq(res, 1, "runs of step 2") end))

-- Synchronous steps.
local many = {}
for i = 1, 1000 do many[i] = function(cb) cb(nil, i) end end
series_callback(many, check.once("sync", function(err, res)
  check.eq(err, nil)
  check.eq(res, 1000)
end))

-- The callback is optional.
series_callback({ function(cb) cb(nil) end })

-- The seed's example (colon form): three timeouts in sequence take three times one.
local t0 = time.now().milliunix
series_callback({
  function(cb) time:timeout(100, cb) end,
  function(cb) time:timeout(100, cb) end,
  function(cb) time:timeout(100, cb) end,
}, check.once("seed", function(err)
  local el = time.now().milliunix - t0
  check.eq(err, nil)
  check.ok(el >= 299, "three 100 ms timeouts in series took " .. el .. " ms")
end))

check.raises("bad argument #1 to 'series_callback' (table expected, got number)", series_callback, 1)
check.raises("bad argument #2 to 'series_callback' (function expected, got table)", series_callback, {}, {})

check.pass_after(700)
