-- An HTTP session store on kv: the sessions live in a bucket that every worker of every
-- node shares, so a client's next request may land anywhere (behind a load balancer,
-- after a node restarts) and still find its session.
--
--   drlee run -w 2 examples/session-store/session-store.lua 8080
--   drlee run --cluster 127.0.0.1:6222 examples/session-store/session-store.lua 8080        # node 1
--   drlee run --cluster 127.0.0.1:6223 --join 127.0.0.1:6222 ... session-store.lua 8081     # node 2
--
--   POST /login  {"user": "ada"}   -> {"sid": ...} and the cookie sid
--   GET  /me                       -> {"user": "ada", "visits": n, "node": ...}; 401 without a session
--   POST /logout                   -> 204; the session is gone
--
-- /me counts the visits with compare-and-set (b:update), so that two requests of one
-- client at once, on two workers or two nodes, count two visits, never one.
local http = require "http"
local kv = require "kv"

local port = tonumber(arg[1] or "8080")
local ttl = tonumber(arg[2] or "1800") -- seconds a session lives after its last write

-- Await style: the main chunk waits for the bucket (created by the first worker to get
-- there, bound by the others).
local sessions = assert(kv.bucket("sessions", {ttl = ttl}))

local function key(sid) return "s." .. sid end

-- session(req): the session's record and revision, or nil.
local function session(req)
  local sid = req:cookie("sid")
  if not sid or not sid:match("^[%x-]+$") then return nil end
  local e, err = sessions:get(key(sid))
  if err then error(err) end
  if not e then return nil end
  return sid, json_decode(e.value), e.revision
end

local router = http.router()

router:post("/login", function(req, res)
  local body = req:json()
  if type(body) ~= "table" or type(body.user) ~= "string" or body.user == "" then
    return res:json({error = "user expected"}, 400)
  end
  local sid = uuid()
  -- create, not put: a session id is never reused, even by a collision.
  local _, err = sessions:create(key(sid), json_encode({user = body.user, visits = 0}))
  if err then return res:json({error = err}, 500) end
  res:set_cookie("sid", sid, {http_only = true, same_site = "Lax", max_age = ttl})
  res:json({sid = sid})
end)

router:get("/me", function(req, res)
  -- Read, change, write back if nobody wrote in between; else read again.
  for _ = 1, 100 do
    local sid, s, rev = session(req)
    if not sid then return res:json({error = "no session"}, 401) end
    s.visits = s.visits + 1
    local _, err = sessions:update(key(sid), json_encode(s), rev)
    if not err then
      return res:json({user = s.user, visits = s.visits, node = env.node, worker = env.worker_id})
    end
    if err_code(err) ~= "ECONFLICT" then return res:json({error = err}, 500) end
  end
  res:json({error = "too many concurrent updates"}, 503)
end)

router:post("/logout", function(req, res)
  local sid = session(req)
  if sid then sessions:delete(key(sid)) end
  res:set_cookie("sid", "", {max_age = 0})
  res:set_status(204)
  res:finish()
end)

local server = http.create_server("127.0.0.1:" .. port, router)
server:start(function(err)
  if err then error(err) end
  if env.worker_id == 1 then log.info("session store on http://127.0.0.1:" .. port) end
end)
