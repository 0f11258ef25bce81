-- Writes issued in a row without waiting land in the order they were issued, and their
-- callbacks run in that order; close waits behind them. arg[1]: how many writes.
local fs = require "fs"
local F = fs.flags
local n = tonumber(arg[1])

fs.open(__dirname__ .. "/order.txt", F.CREATE + F.WRITE_ONLY + F.TRUNC, function(err, f)
  assert(err == nil, err)
  local seen, bytes, in_order = 0, 0, true
  for i = 1, n do
    -- sizes vary, so that a write overtaking another would show
    local line = string.format("%04d %s\n", i, string.rep("x", (i * 7919) % 3000))
    f:write(line, function(err, k)
      assert(err == nil, err)
      seen = seen + 1
      if seen ~= i then in_order = false end
      bytes = bytes + k
    end)
  end
  f:close(function(err)
    print("close", err, "callbacks before close", seen, "in order", in_order, "bytes", bytes)
  end)
end)

-- The same with no callbacks at all: the order still holds.
fs.open(__dirname__ .. "/order-nocb.txt", F.CREATE + F.WRITE_ONLY + F.TRUNC, function(err, f)
  assert(err == nil, err)
  for i = 1, n do
    f:write(string.format("%04d %s\n", i, string.rep("y", (i * 7919) % 3000)))
  end
  f:close()
end)
