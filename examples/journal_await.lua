-- journal.lua in the await style: the same journal (a timestamped line every 100 ms, five
-- of them, then the file read back, its directory listed, everything removed), written as
-- straight-line code. Each call without a callback waits for its result on the worker's
-- loop, which goes on serving everything else meanwhile.
--   drlee run -w 1 examples/journal_await.lua [dir]
local fs = require "fs"
local time = require "time"

local dir = (arg[1] or os.getenv("TMPDIR") or "/tmp") .. "/drlee-journal-" .. env.worker_id
local path = dir .. "/journal.txt"

assert(fs.mkdir_all(dir))
local file = assert(fs.open(path, fs.flags.WRITE_ONLY + fs.flags.CREATE + fs.flags.TRUNC))
local ticker = time.tick(100)
for line = 1, 5 do
  local now = assert(ticker:next_tick())
  assert(file:write(string.format("%d %s\n", line, now:format("15:04:05.000"))))
end
ticker:stop()
assert(file:close())

local f = assert(fs.open(path))
local body = assert(readall(f))
f:close()
print((body:gsub("\n$", "")))

for _, e in ipairs(assert(fs.read_dir(dir))) do
  print(e.name, e.size .. " bytes", "modified " .. tostring(e.timestamp))
end
assert(fs.remove_all(dir))
print("done")
