-- A write larger than the socket takes at once (the rest waits in the writer lane) to a
-- slow Go reader, followed by more writes in order; then its sum comes back.
local network = require "network"
local check = require "check"
local conn = assert(network.dial("tcp", arg[1]))
local parts = {}
for i = 1, 8 do parts[i] = string.rep(string.char(96 + i), 1024 * 1024) end
local writes = {}
for i = 1, 8 do
  -- all issued at once, callback style: they go out in order
  conn:write(parts[i], function(err) assert(not err, err); writes[#writes + 1] = i end)
end
local sum = assert(readall(conn))
check.eq(#writes, 8, "writes done")
for i = 1, 8 do check.eq(writes[i], i, "write order") end
print("peer got", sum)
conn:close()
