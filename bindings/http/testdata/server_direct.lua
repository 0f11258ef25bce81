-- Streams for the direct-write tests (direct_test.go). arg[1] is the address to listen on.
-- Every route streams q.n chunks; chunk i is q.size bytes of the letter ("a" + i % 26)
-- preceded by "<i>:", so that a lost, doubled or reordered byte shows.
local http = require "http"

local failed_writes = 0 -- write or flush callbacks that got an error

local function chunk(i, size)
  local head = i .. ":"
  return head .. string.rep(string.char(97 + i % 26), size - #head)
end

local function query(uri)
  local q = {}
  for k, v in (uri:match("%?(.*)$") or ""):gmatch("([^&=]+)=([^&]*)") do q[k] = v end
  return q
end

local routes = {}

-- write(data, cb) per chunk, the next chunk in the callback.
routes["/write-cb"] = function(req, res, q)
  local n, size, i = tonumber(q.n), tonumber(q.size), 0
  local function step(err)
    if err then failed_writes = failed_writes + 1 return end
    i = i + 1
    if i > n then return res:finish() end
    res:write(chunk(i, size), step)
  end
  res:flush(step)
end

-- write(data) then flush(cb) per chunk, as bench/scenarios/stream64k.lua; with q.empty,
-- an empty write before each chunk (a zero-length chunk would end the body early).
routes["/write-flush"] = function(req, res, q)
  local n, size, i = tonumber(q.n), tonumber(q.size), 0
  local function step(err)
    if err then failed_writes = failed_writes + 1 return end
    i = i + 1
    if i > n then return res:finish() end
    if q.empty then res:write("") end
    res:write(chunk(i, size))
    res:flush(step)
  end
  step()
end

-- The same in the await style.
routes["/await"] = function(req, res, q)
  local n, size = tonumber(q.n), tonumber(q.size)
  for i = 1, n do
    local ok, err = res:write(chunk(i, size))
    if ok then ok, err = res:flush() end
    if not ok then
      failed_writes = failed_writes + 1
      return
    end
  end
end

routes["/failed"] = function(req, res)
  res:write(tostring(failed_writes))
  res:finish()
end

local server = http.create_server(arg[1], function(req, res)
  local route = routes[req.path]
  if not route then
    res:set_status(404)
    return res:finish()
  end
  route(req, res, query(req.request_uri))
end)
server:start(function(err) if err then error(err) end end)
