-- A rate limiter: each client IP may make LIMIT requests per fixed window of WINDOW
-- seconds, counted in a shdict that every worker shares, so the limit holds whichever
-- worker a request reaches.
--   drlee run -w 4 examples/ratelimit/ratelimit.lua [PORT [LIMIT [WINDOW]]]
-- (defaults: 8080, 10 requests, 60 seconds). Within the limit: 200 with
-- X-RateLimit-Limit and X-RateLimit-Remaining; beyond: 429 with Retry-After.
local http = require "http"
local shdict = require "shdict"

local addr = ":" .. (arg[1] or "8080")
local limit = tonumber(arg[2] or "10")
local window = tonumber(arg[3] or "60")

-- 1 MiB holds about 10,000 clients' counters (key, number and 64 bytes of overhead
-- each); beyond, the least recently seen clients' counters are evicted first.
local counts = shdict.new("ratelimit", {max_bytes = 1024 * 1024})

local server = http.create_server(addr, function(req, res)
  local ip = req.remote_addr:match("^(.*):%d+$") or req.remote_addr
  local now = os.time()
  local start = now - now % window
  -- One counter per client and window; it expires with its window, so nothing needs
  -- cleaning up. The ttl applies when incr creates the counter (init 0).
  local n, err = counts:incr(ip .. "|" .. start, 1, 0, window)
  if not n then
    -- "no memory" cannot happen with keys this small; fail open rather than refuse all.
    log.error("ratelimit: " .. err)
    n = 1
  end
  res:set("Content-Type", "text/plain")
  res:set("X-RateLimit-Limit", tostring(limit))
  if n > limit then
    res:set_status(429)
    res:set("Retry-After", tostring(start + window - now))
    res:write("too many requests\n")
  else
    res:set("X-RateLimit-Remaining", tostring(limit - n))
    res:write("ok " .. n .. "/" .. limit .. "\n")
  end
  res:finish()
end)

server:start(function(err)
  if err then error(err) end
  if env.worker_id == 1 then log.info("listening on " .. addr) end
end)
