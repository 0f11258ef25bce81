-- Two workers increment one key 50,000 times each, in batches on timers so that both loops
-- run at once; the last to finish checks the exact total.
local shdict = require "shdict"
local time = require "time"

local d = shdict.new("workers", {max_bytes = 1024 * 1024})
local each, batch = 50000, 500
-- Both workers get the same dictionary: one of them wins the add.
d:add("first", env.worker_id)
local done = 0
local function run()
  for i = 1, batch do
    assert(d:incr("hits", 1, 0))
    d:set("w" .. env.worker_id, i)
    assert(d:get("w" .. env.worker_id) == i)
  end
  done = done + batch
  if done < each then
    time.timeout(0, run)
    return
  end
  if d:incr("finished", 1, 0) == env.workers then
    local total = d:get("hits")
    assert(total == env.workers * each, "total " .. tostring(total))
    local first = d:get("first")
    assert(first == 1 or first == 2, "first " .. tostring(first))
    print("PASS " .. total)
  end
end
time.timeout(0, run)
