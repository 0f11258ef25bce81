-- cpu: a loop the JIT compiles (same numbers as bench/scenario.CPUSum).
-- Usage: drlee run cpu.lua PORT
local http = require "http"

local function work()
  local s = 0
  for i = 1, 10000 do
    s = (s + i * i) % 1000003
  end
  return s
end

local server = http.create_server("127.0.0.1:" .. arg[1], function(req, res)
  res:set("Content-Type", "text/plain")
  res:write(tostring(work()))
  res:finish()
end)
server:start(function(err) if err then error(err) end end)
