-- 1000 connections at once across 2 workers: both workers start a server on the same
-- address (port 0: they share one socket, and one port), each dials half the connections
-- to it, each connection sends a message of its own and reads it back whole. The server
-- side prints a line per connection served; the client side a line per worker.
local network = require "network"
local N = tonumber(arg[1])
local id = env.worker_id

local served = 0
local server = network.create_server("tcp", "127.0.0.1:0", function(conn)
  local got = 0
  local function loop()
    conn:read(65536, function(err, data)
      assert(not err, err)
      if data == "" then
        served = served + 1
        print("served", id, got)
        conn:close()
        return
      end
      got = got + #data
      conn:write(data, function(err)
        assert(not err, err)
        loop()
      end)
    end)
  end
  loop()
end)

local function message(i)
  local head = string.format("[%d:%d]", id, i)
  return head .. string.rep(string.char(65 + i % 26), (i * 37) % 5000)
end

assert(server:start())
print("addr", id, server.addr)
local handles = {}
for i = 1, N do
  handles[i] = spawn(function()
    local conn = assert(network.dial("tcp", server.addr))
    local msg = message(i)
    assert(conn:write(msg))
    local parts, n = {}, 0
    while n < #msg do
      local data = assert(conn:read(65536))
      assert(data ~= "", "early end")
      parts[#parts + 1] = data
      n = n + #data
    end
    assert(conn:close())
    local back = table.concat(parts)
    if back ~= msg then error("connection " .. i .. ": got " .. #back .. " bytes, not the " .. #msg .. " sent") end
    return #msg
  end)
end
local ok, bytes = 0, 0
for _, r in ipairs(wait_all(handles)) do
  if r.err then error(r.err) end
  ok = ok + 1
  bytes = bytes + r[1]
end
print("clients", id, ok, bytes)
-- Every connection dialed from here was accepted (it echoed): stopping leaves what the
-- other worker's clients still dial to the other worker's endpoint.
server:stop()
