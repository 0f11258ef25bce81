-- udp: a Lua echo server (handler(err, packet), server:send_to), a Lua client (dial: one
-- datagram per write and per read), a Go client.
local network = require "network"
local check = require "check"
local go_addr, go_packets = arg[1], tonumber(arg[2])

local got = 0
local server
server = network.create_server("udp", go_addr, function(err, packet)
  assert(not err, err)
  check.eq(type(packet.data), "string")
  check.match(packet.addr, "^127%.0%.0%.1:%d+$", "packet.addr")
  if packet.data == "quit" then
    got = got + 1
    if got == 2 then server:stop() end
    return
  end
  server:send_to(packet.addr, packet.data, function(err) assert(not err, err) end)
end)
assert(server:start())
check.eq(server.kind, "udp")

local all = {}
for i = 0, 255 do all[#all + 1] = string.char(i) end
all = table.concat(all)

local conn = assert(network.dial("udp", server.addr, {read_timeout = 5}))
check.eq(conn.kind, "udp")
for i = 1, 20 do
  local msg = i .. ":" .. all:rep(i)
  assert(conn:write(msg))
  local back = assert(conn:read(65536))
  check.eq(back, msg, "datagram " .. i)
end
-- a read shorter than the datagram gets its start
assert(conn:write("0123456789"))
check.eq(assert(conn:read(4)), "0123", "cut datagram")
-- send_to by name, to the client's own address
local port = conn.local_addr:match(":(%d+)$")
assert(server:send_to("localhost:" .. port, "by name"))
check.eq(assert(conn:read(100)), "by name")
assert(server:send_to(conn.local_addr, all))
check.eq(assert(conn:read(1000)), all)
-- an empty datagram
assert(conn:write(""))
check.eq(assert(conn:read(100)), "", "empty datagram")
-- send_to errors
local s, e = server:send_to("[::1]:9", "x")
print("v6 from a v4 socket", s, err_code(e))
assert(conn:write("quit"))
conn:close()
print("lua udp ok")
