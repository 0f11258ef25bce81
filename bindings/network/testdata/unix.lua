-- unix sockets: a Lua echo server in the test's directory, a Lua client and a Go client;
-- the socket file goes when the server stops.
local network = require "network"
local fs = require "fs"
local check = require "check"
local path = __dirname__ .. "/echo.sock"
local clients = 0

local server
server = network.create_server("unix", path, function(conn)
  check.eq(conn.kind, "unix")
  while true do
    local d = assert(conn:read(65536))
    if d == "" then break end
    assert(conn:write(d))
  end
  conn:close()
  clients = clients + 1
  if clients == 2 then
    server:stop()
    local st, err = fs.stat(path)
    print("socket removed", st, err_code(err))
  end
end)
assert(server:start())
check.eq(server.addr, path)
local st = assert(fs.stat(path))
print("socket file", st.type)
print("ready")

local conn = assert(network.dial("unix", path))
check.eq(conn.remote_addr, path)
local msg = string.rep("unix\0", 50000)
assert(conn:write(msg))
local n, parts = 0, {}
while n < #msg do
  local d = assert(conn:read(65536))
  parts[#parts + 1] = d
  n = n + #d
end
check.eq(table.concat(parts), msg)
conn:close()
print("lua unix ok")
