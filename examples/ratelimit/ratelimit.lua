-- A rate limiter in two layers:
--
--  1. a fixed window per node: each client may make LIMIT requests per WINDOW seconds on
--     this node, counted in a shdict that every worker of the node shares. It is the
--     first check, and a cheap one (no network): floods are turned away here.
--  2. a quota per cluster: each client may make QUOTA requests per QUOTA_WINDOW seconds
--     (a day by default) in total, whichever nodes serve them, counted in a kv bucket that
--     every node shares.
--
--   drlee run -w 4 examples/ratelimit/ratelimit.lua [PORT [LIMIT [WINDOW [QUOTA [QUOTA_WINDOW [LEASE]]]]]]
--   drlee run --cluster 127.0.0.1:6222 examples/ratelimit/ratelimit.lua 8080                       # node 1
--   drlee run --cluster 127.0.0.1:6223 --join 127.0.0.1:6222 examples/ratelimit/ratelimit.lua 8081  # node 2
--
-- (defaults: 8080, 10 requests per 60 seconds, 1000 requests per 86400 seconds, leases of
-- 10). A client is its X-API-Key header (letters, digits, _ and -, at most 128 bytes) or,
-- without one, its IP address. Admitted: 200 with X-RateLimit-Limit,
-- X-RateLimit-Remaining (this node's window) and X-Quota-Limit. Beyond the window: 429
-- "too many requests"; beyond the quota: 429 "quota exceeded"; both with Retry-After, the
-- seconds until the window or the quota window ends.
--
-- Leases. A kv round trip per request would make every request wait for the network and
-- make the bucket's counter the cluster's hot spot. So a node takes the quota in leases:
-- it adds LEASE units at a time to the client's counter in the bucket (compare-and-set,
-- never beyond QUOTA: the last lease gets what is left), then spends them from a shdict
-- counter of its own, and takes the next lease when they are used up.
--   * No over-admission: a node admits only units it leased, and the leases of all nodes
--     add up to QUOTA at most, so the cluster admits at most QUOTA per quota window.
--   * Under-admission: units leased by a node that the client no longer reaches stay
--     unspent there until the window ends: at most nodes * LEASE units of the quota, the
--     price of the batching. LEASE = 1 makes it exact, at a kv round trip per request.
--   * A node's lease counter lives in memory: a node that restarts (or evicts it, were the
--     shdict full) loses its unspent units: under-admission again.
--
-- Failures. The compare-and-set is tried at most CAS_TRIES times, with a random wait after
-- each loss (below); when other nodes win
-- each time, the request is refused with 503 and Retry-After: 1 (the bucket works, it is
-- only busy: admitting would exceed the quota exactly when the load is highest). When the
-- bucket cannot be reached at all (an error other than a conflict, or its timeout), the
-- request is admitted uncounted: fail open, so that a kv outage does not take the service
-- down; the per-node window still bounds every client's rate meanwhile, and the error is
-- logged. For a second after such a failure the node does not ask the bucket again (it
-- admits uncounted at once), so that an outage costs a request its 2 s timeout only once
-- a second, not each time. A service that sells its quota would rather fail closed: return the 503 there too.
--
-- Windows start at multiples of their length in Unix time, so every node agrees on them
-- as long as the nodes' clocks do. The bucket has one replica: the node that holds it
-- going down means failing open everywhere until it is back. With three nodes or more,
-- add replicas = 3 to the bucket's options, and the quota survives a node.
local http = require "http"
local kv = require "kv"
local shdict = require "shdict"
local time = require "time"

-- whole(i, default, min, max, name): the script's argument i as a whole number in
-- [min, max]; anything else stops the script with a message that says what was wrong.
local function whole(i, default, min, max, name)
  local s = arg[i]
  if s == nil then return default end
  local n = tonumber(s)
  if not n or n ~= math.floor(n) or n < min or n > max then
    error(string.format("%s (argument %d) must be a whole number from %d to %d, not %q", name, i, min, max, s), 0)
  end
  return n
end

local port = whole(1, 8080, 1, 65535, "PORT")
local limit = whole(2, 10, 1, 1e9, "LIMIT")
local window = whole(3, 60, 1, 86400 * 366, "WINDOW")
local quota = whole(4, 1000, 1, 1e12, "QUOTA")
local qwindow = whole(5, 86400, 1, 86400 * 366, "QUOTA_WINDOW")
local lease = whole(6, 10, 1, quota, "LEASE")
local CAS_TRIES = 5

-- A compare-and-set that lost waits a random 1 to 2^try ms before it reads again, so that
-- the workers and nodes racing for a lease stop retrying in step (in step, with more
-- racers than tries, the last one loses every time). Each worker seeds its own sequence:
-- LuaJIT's starts the same in every state.
local node_salt = 0
for c in tostring(env.node):gmatch(".") do node_salt = (node_salt * 31 + c:byte()) % 1000003 end
math.randomseed(os.time() + env.worker_id * 7919 + node_salt)

-- This node's counters. 4 MiB hold the window, lease and exhausted-flag entries of about
-- 15,000 clients at once; beyond, the least recently seen clients' entries are evicted
-- first (a lease counter's unspent units go with it, see above).
local counts = shdict.new("ratelimit", {max_bytes = 4 * 1024 * 1024})

-- The cluster's counters: one key per client and quota window, whose value is the units
-- leased so far. The ttl drops a window's counters once it is over (the ttl counts from
-- the last write, so a counter lives at least as long as its window). The main chunk
-- waits for the bucket: with --cluster, the nodes elect JetStream's leader in the first
-- seconds, so the first binding may wait that long; the requests' calls get a short
-- timeout, so that a kv outage costs a request 2 s at most before it fails open.
assert(kv.bucket("ratelimit_quota", {ttl = qwindow, timeout = 60000}))
local quotas = assert(kv.bucket("ratelimit_quota", {ttl = qwindow, timeout = 2000}))

-- client(req): who the request counts for, or nil for a malformed API key.
local function client(req)
  local key = req.headers["x-api-key"]
  if key then
    if #key == 0 or #key > 128 or not key:match("^[%w_-]+$") then return nil end
    return "key-" .. key
  end
  return "ip-" .. (req.remote_addr:match("^(.*):%d+$") or req.remote_addr)
end

-- kv keys allow letters, digits and - / _ = . only (the dots as separators): the other
-- bytes of a client (an IPv4 address's dots, an IPv6 address's colons) become =XX.
local function kv_safe(s)
  return (s:gsub("[^%w_-]", function(c) return string.format("=%02X", c:byte()) end))
end

-- take_lease(key): leases up to `lease` units from the cluster's counter key. Returns the
-- units leased (0 when the quota is used up), or nil, err when the bucket fails or the
-- compare-and-set lost CAS_TRIES times (err's code ECONFLICT).
local function take_lease(key)
  for try = 1, CAS_TRIES do
    local e, err = quotas:get(key)
    if err then return nil, err end
    local leased = e and tonumber(e.value) or 0
    local n = math.min(lease, quota - leased)
    if n <= 0 then return 0 end
    local value = string.format("%d", leased + n)
    -- create for the window's first lease, update (compare-and-set) for the others: both
    -- fail if another node wrote first, and then the loop reads again.
    local rev
    if e then
      rev, err = quotas:update(key, value, e.revision)
    else
      rev, err = quotas:create(key, value)
    end
    if rev then return n end
    local code = err_code(err)
    if code ~= "ECONFLICT" and code ~= "EEXIST" then return nil, err end
    if try < CAS_TRIES then time.sleep(math.random(1, 2 ^ try)) end
  end
  return nil, "ECONFLICT: ratelimit: the quota counter " .. key .. " changed under each of " .. CAS_TRIES .. " tries"
end

-- spend(id, qstart, now): "ok" if the client has a unit of its quota, "exceeded", or
-- "busy". The entries live until the quota window ends (ttl at least 1: now is in it).
local function spend(id, qstart, now)
  local ttl = qstart + qwindow - now
  local left_key = "left|" .. id .. "|" .. qstart
  local gone_key = "gone|" .. id .. "|" .. qstart
  -- Taking a unit first and looking after keeps the counter exact with every worker at
  -- once: incr is atomic, a get-then-set is not. The counter may go below 0 while leases
  -- are being taken; a unit that finds no lease is given back.
  local left = counts:incr(left_key, -1, 0, ttl)
  if left and left >= 0 then return "ok" end
  -- Once the cluster said the quota is used up, refuse without asking it again until the
  -- window ends: a client over its quota costs no kv round trip.
  if counts:get(gone_key) then
    counts:incr(left_key, 1, 0, ttl)
    return "exceeded"
  end
  if counts:get("kv-down") then
    counts:incr(left_key, 1, 0, ttl)
    return "ok"
  end
  local n, err = take_lease("quota." .. qstart .. "." .. kv_safe(id))
  if n and n > 0 then
    counts:incr(left_key, n, 0, ttl) -- our unit is already taken out of the n
    return "ok"
  end
  counts:incr(left_key, 1, 0, ttl) -- give the unit back
  if n == 0 then
    counts:set(gone_key, true, ttl)
    -- Another worker's lease may have come in meanwhile: one more try.
    left = counts:incr(left_key, -1, 0, ttl)
    if left and left >= 0 then return "ok" end
    counts:incr(left_key, 1, 0, ttl)
    return "exceeded"
  end
  if err_code(err) == "ECONFLICT" then return "busy" end
  -- The bucket is unreachable: admit uncounted, and for the next second do not ask it
  -- again, so that an outage does not make every request wait for its timeout.
  log.error("ratelimit: quota not counted (failing open for 1 s): " .. err)
  counts:set("kv-down", true, 1)
  return "ok"
end

local function refuse(res, status, retry_after, text)
  res:set_status(status)
  res:set("Retry-After", tostring(math.max(1, retry_after)))
  res:write(text)
  res:finish()
end

local server = http.create_server(":" .. port, function(req, res)
  res:set("Content-Type", "text/plain")
  local id = client(req)
  if not id then
    res:set_status(400)
    res:write("bad X-API-Key\n")
    return res:finish()
  end
  local now = os.time()

  -- 1. This node's window: one counter per client and window, which expires with the
  -- window (the ttl applies when incr creates the counter with init 0).
  local start = now - now % window
  local n, err = counts:incr("win|" .. id .. "|" .. start, 1, 0, window)
  if not n then
    -- "no memory" cannot happen with entries this small; fail open rather than refuse all.
    log.error("ratelimit: " .. err)
    n = 1
  end
  res:set("X-RateLimit-Limit", tostring(limit))
  if n > limit then return refuse(res, 429, start + window - now, "too many requests\n") end

  -- 2. The cluster's quota.
  local qstart = now - now % qwindow
  res:set("X-Quota-Limit", tostring(quota))
  local verdict = spend(id, qstart, now)
  if verdict == "exceeded" then return refuse(res, 429, qstart + qwindow - now, "quota exceeded\n") end
  if verdict == "busy" then return refuse(res, 503, 1, "quota busy, try again\n") end

  res:set("X-RateLimit-Remaining", tostring(limit - n))
  res:write("ok " .. n .. "/" .. limit .. "\n")
  res:finish()
end)

server:start(function(err)
  if err then error(err) end
  if env.worker_id == 1 then log.info("listening on :" .. port .. " (node " .. tostring(env.node) .. ")") end
end)
