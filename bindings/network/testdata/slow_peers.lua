-- Idle peers must not hold the I/O pool (4 slots here): 10 clients that connect to a Lua
-- server and never send, 10 connections dialed to a Go server that never sends, each with
-- a read waiting; then pool work (40 file reads, 10 at once per slot) must still complete.
local network = require "network"
local fs = require "fs"
local time = require "time"
local silent, addr, n = arg[1], arg[2], tonumber(arg[3])

local accepted, waiting, dialed = {}, 0, {}
local ended = 0

local function pool_work()
  local path = __dirname__ .. "/data.txt"
  assert(fs.writefile(path, "pool works"))
  local t0 = time.now().milliunix
  local handles = {}
  for i = 1, 40 do
    handles[i] = spawn(function() return assert(fs.readfile(path)) end)
  end
  for _, r in ipairs(wait_all(handles)) do
    assert(r[1] == "pool works", r.err)
  end
  print("pool work done", #handles, "waiting reads", waiting)
  -- Reads are still waiting, on both sides: close them all.
  for _, c in ipairs(accepted) do c:close() end
  for _, c in ipairs(dialed) do c:close() end
  server:stop()
end

local function read_waits(conn)
  waiting = waiting + 1
  conn:read(10, function(err, data)
    waiting = waiting - 1
    ended = ended + 1
    print("read ended", err_code(err), data)
  end)
  if waiting == 2 * n then spawn(pool_work) end
end

server = network.create_server("tcp", addr, function(conn)
  accepted[#accepted + 1] = conn
  read_waits(conn)
end)
assert(server:start())
print("listening")
for i = 1, n do
  local c = assert(network.dial("tcp", silent))
  dialed[i] = c
  read_waits(c)
end
