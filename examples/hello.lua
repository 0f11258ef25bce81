-- The hello-world server: every worker serves the same address (one shared listener).
--   drlee run examples/hello.lua            listens on :8080
--   drlee run examples/hello.lua 9000       listens on :9000
local http = require "http"

local addr = ":" .. (arg[1] or "8080")
local server = http.create_server(addr, function(req, res)
  res:set("Content-Type", "text/plain")
  res:write("hello world")
  res:finish()
end)

server:start(function(err)
  if err then error(err) end
  if env.worker_id == 1 then log.info("listening on " .. addr) end
end)
