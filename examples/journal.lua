-- A journal: every 100 ms a timer appends a timestamped line to a file; after five lines
-- the script reads the file back, lists its directory, and cleans up. It shows fs, timers,
-- series_callback and readall working together, and ends by itself.
--   drlee run -w 1 examples/journal.lua [dir]
local fs = require "fs"
local time = require "time"

local dir = (arg[1] or os.getenv("TMPDIR") or "/tmp") .. "/drlee-journal-" .. env.worker_id
local path = dir .. "/journal.txt"

local function check(err)
  if err then error(err, 2) end
end

fs.mkdir_all(dir, function(err)
  check(err)
  local flags = fs.flags.WRITE_ONLY + fs.flags.CREATE + fs.flags.TRUNC
  fs.open(path, flags, function(err, file)
    check(err)
    local ticker = time.tick(100)
    local lines = 0
    local function on_tick(err, now)
      if err then return end -- the ticker was stopped
      lines = lines + 1
      file:write(string.format("%d %s\n", lines, now:format("15:04:05.000")))
      if lines < 5 then
        ticker:next_tick(on_tick)
        return
      end
      ticker:stop()
      series_callback({
        function(cb) file:close(cb) end,
        function(cb)
          fs.open(path, function(err, f)
            if err then return cb(err) end
            readall(f, function(err, body)
              f:close()
              cb(err, body)
            end)
          end)
        end,
      }, function(err, body)
        check(err)
        print((body:gsub("\n$", "")))
        fs.read_dir(dir, function(err, entries)
          check(err)
          for _, e in ipairs(entries) do
            print(e.name, e.size .. " bytes", "modified " .. tostring(e.timestamp))
          end
          fs.remove_all(dir, function(err)
            check(err)
            print("done")
          end)
        end)
      end)
    end
    ticker:next_tick(on_tick)
  end)
end)
