-- shdict-incr: one counter that every worker shares, incremented per request; measures a
-- shared dictionary's atomic increment under load from every worker at once.
-- Usage: drlee run shdict-incr.lua PORT
local http = require "http"
local hits = require("shdict").new("hits", {max_bytes = 1024 * 1024})

local server = http.create_server("127.0.0.1:" .. arg[1], function(req, res)
  local n = hits:incr("hits", 1, 0)
  res:set("Content-Type", "text/plain")
  res:write(tostring(n))
  res:finish()
end)
server:start(function(err) if err then error(err) end end)
