-- Timeouts and failures are err, with their codes; a connection stays usable after a read
-- timeout.
local network = require "network"
local time = require "time"
local check = require "check"
local silent, stalled, closed_port = arg[1], arg[2], arg[3]

local function elapsed(t0) return time.now().milliunix - t0 end

-- read_timeout
local conn = assert(network.dial("tcp", silent, {read_timeout = 0.2}))
local t0 = time.now().milliunix
local data, err = conn:read(10)
local ms = elapsed(t0)
print("read timeout", data, err_code(err), ms >= 150 and ms < 3000)
print("read timeout text", err)
assert(conn:write("still usable"))
data, err = conn:read(10)
print("read timeout again", data, err_code(err))
assert(conn:close())

-- callback style, fractions of a second
network.dial("tcp", silent, {read_timeout = 0.05}, function(err, c)
  assert(not err, err)
  c:read(1, function(err, data)
    print("callback read timeout", err_code(err), data)
    c:close()
  end)
end)

-- write_timeout: a peer that never reads
local w = assert(network.dial("tcp", stalled, {write_timeout = 0.2}))
local big = string.rep("x", 64 * 1024 * 1024)
t0 = time.now().milliunix
local ok, werr = w:write(big)
print("write timeout", ok, err_code(werr), elapsed(t0) < 5000)
w:close()

-- refused, missing socket, bad port, unknown host
local c, e = network.dial("tcp", closed_port)
print("refused", c, err_code(e))
c, e = network.dial("unix", __dirname__ .. "/no.sock")
print("unix missing", c, err_code(e))
c, e = network.dial("tcp", "127.0.0.1:99999")
print("bad port", c, err_code(e))
c, e = network.dial("tcp", "no-such-host.invalid:80", {timeout = 5})
print("unknown host", c, err_code(e) == "ENOTFOUND" or err_code(e) == "EAI_AGAIN" or err_code(e))
network.dial("tcp", closed_port, function(err, c) print("callback refused", err_code(err), c) end)

-- server errors: the port is taken
local s1 = network.create_server("tcp", "127.0.0.1:0", function() end)
assert(s1:start())
local s2 = network.create_server("tcp", s1.addr, function() end)
-- the same kind and address share the socket: no error
print("shared start", s2:start(), s2.addr == s1.addr)
s2:stop()
s1:stop()
local taken = network.create_server("tcp", silent, function() end)
local r, terr = taken:start()
print("address in use", r, err_code(terr))
taken:start(function(err)
  print("start again after failure", err_code(err))
  local early = network.create_server("tcp", "127.0.0.1:0", function() end)
  early:start(function(err) print("stopped before listening", err_code(err), early.addr) end)
  early:stop()
end)
