-- stream64k: a 64 KB response streamed as 16 chunks of 4 KB, each flushed to the client
-- before the next is written (res:flush's callback runs once the chunk is out: what
-- ngx.flush(true) does in the nginx version).
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
    res:write(chunk)
    res:flush(next_chunk)
  end
  next_chunk()
end)
server:start(function(err) if err then error(err) end end)
