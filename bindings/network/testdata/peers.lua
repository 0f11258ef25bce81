-- Lua beside peers that are not Lua: a Lua echo server for Go clients (binary data), a
-- Lua client of a Go echo server (all 256 byte values), and one of a Go server that sends
-- 256 KiB of every byte value and closes.
local network = require "network"
local check = require "check"
local go_echo, lua_addr, go_sends, go_clients = arg[1], arg[2], arg[3], tonumber(arg[4])

local all = {}
for i = 0, 255 do all[#all + 1] = string.char(i) end
all = table.concat(all)

local served = 0
local server
server = network.create_server("tcp", lua_addr, function(conn)
  print("go client", conn.remote_addr ~= nil)
  while true do
    local data = assert(conn:read(4096))
    if data == "" then break end
    assert(conn:write(data))
  end
  assert(conn:close())
  served = served + 1
  if served == go_clients then server:stop() end
end)
assert(server:start())

local conn = assert(network.dial("tcp", go_echo))
local msg = all:rep(64)
assert(conn:write(msg))
local back = {}
local n = 0
while n < #msg do
  local d = assert(conn:read(1000))
  back[#back + 1] = d
  n = n + #d
end
check.eq(table.concat(back), msg, "echo of every byte value")
conn:close()
print("binary echo ok", #msg)

local from = assert(network.dial("tcp", go_sends))
local body = assert(readall(from))
check.eq(#body, 256 * 1024, "length")
check.eq(body, all:rep(1024), "what the Go server sent")
check.eq(from:read(10), "", "read at the end")
check.eq(from:read(10), "", "read at the end, again")
from:close()
print("received from go ok", #body)
