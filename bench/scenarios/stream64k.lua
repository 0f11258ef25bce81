-- stream64k: a 64 KB response streamed as 16 chunks of 4 KB; each write's
-- callback (run once the chunk is sent) writes the next, so the response spans
-- several callbacks and goes out chunked.
-- Usage: drlee run stream64k.lua PORT
local http = require "http"

local chunk = string.rep("x", 4096)
local chunks = 16

local server = http.create_server("127.0.0.1:" .. arg[1], function(req, res)
  res:set("Content-Type", "application/octet-stream")
  local n = 0
  local function next_chunk(err)
    if err then return end -- the client went away; nothing left to send to
    n = n + 1
    if n > chunks then
      res:finish()
      return
    end
    res:write(chunk, next_chunk)
  end
  next_chunk()
end)
server:start(function(err) if err then error(err) end end)
