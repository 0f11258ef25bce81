-- Files that Lua collects without close() are closed. arg[1]: how many files.
local fs = require "fs"
local time = require "time"
local F = fs.flags
local n = tonumber(arg[1])
local path = __dirname__ .. "/f"

local function count_fds(cb)
  fs.read_dir("/proc/self/fd", function(err, list)
    assert(err == nil, err)
    cb(#list)
  end)
end

local function pending_writes_then_collect(done)
  -- the handle is dropped while its writes are pending: they complete, then it closes
  fs.open(__dirname__ .. "/pending", F.CREATE + F.WRITE_ONLY + F.TRUNC, function(err, f)
    assert(err == nil, err)
    local left = 50
    for i = 1, 50 do
      f:write(string.format("%02d", i), function(err)
        assert(err == nil, err)
        left = left - 1
        if left == 0 then done() end
      end)
    end
  end)
  time.timeout(0, function() collectgarbage("collect") end)
end

fs.open(path, F.CREATE + F.WRITE_ONLY, function(err, f)
  assert(err == nil, err)
  f:close(function(err)
    assert(err == nil, err)
    count_fds(function(base)
      local opened = 0
      local held = {} -- until they are counted: an incremental collection may come first
      for i = 1, n do
        fs.open(path, function(err, f)
          assert(err == nil, err)
          opened = opened + 1
          held[opened] = f
          if opened < n then return end
          count_fds(function(open_count)
            held = nil -- dropped, never closed
            collectgarbage("collect")
            collectgarbage("collect")
            count_fds(function(after)
              print("opened", open_count - base >= n, "after gc", after - base <= 2, base, open_count, after)
              pending_writes_then_collect(function()
                collectgarbage("collect")
                print("pending writes done")
              end)
            end)
          end)
        end)
      end
    end)
  end)
end)
