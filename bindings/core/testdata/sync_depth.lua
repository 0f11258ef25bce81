-- Callbacks called synchronously, many times in a row, must not grow the Lua stack without
-- bound: a reader whose data is already buffered (or a list of cached lookups) completes
-- each step at once. 50k steps overflowed LuaJIT's stack when each step recursed.
local check = require "check"
local N = 50000

local steps = {}
for i = 1, N do steps[i] = function(cb) cb(nil, i) end end
series_callback(steps, check.once("series", function(err, res)
  check.eq(err, nil, "series err")
  check.eq(res, N, "series result")
end))

parallel_callback(steps, check.once("parallel", function(err, res)
  check.eq(err, nil, "parallel err")
  check.eq(#res, N, "parallel results")
end))

local reads = 0
local buffered = {read = function(self, n, cb)
  reads = reads + 1
  if reads > N then cb(nil, "") else cb(nil, "x") end
end}
readall(buffered, check.once("readall", function(err, body)
  check.eq(err, nil, "readall err")
  check.eq(#body, N, "readall body")
end))

check.pass_after(100)
