-- An HTTP aggregator in the await style: GET /summary calls two upstream services at once
-- (spawn), waits for both (wait_all), and answers one JSON document; an upstream that
-- fails or is slow (over 500 ms) is reported in the answer, not as a failed request. The
-- upstreams are served by this same script on /upstream/..., so that it runs alone.
--   drlee run examples/aggregator.lua [port]     then: curl localhost:8080/summary
local http = require "http"
local json = require "json"
local time = require "time"

local port = arg[1] or "8080"
local base = "http://127.0.0.1:" .. port

-- The upstreams: a price (200 ms away) and a stock level (300 ms away).
local upstream = {
  ["/upstream/price"] = function() time.sleep(200); return {sku = "drlee-1", price = 42.5} end,
  ["/upstream/stock"] = function() time.sleep(300); return {sku = "drlee-1", stock = 7} end,
}

-- fetch(path): the decoded JSON of base .. path, or nil and an error.
local function fetch(path)
  local res, err = http.get(base .. path, {timeout = 2000})
  if not res then return nil, err end
  local body, rerr = readall(res)
  res:close()
  if not body then return nil, rerr end
  if res.status_code ~= 200 then return nil, "status " .. res.status_code end
  return json_decode(body)
end

local server = http.create_server(":" .. port, function(req, res)
  local serve = upstream[req.path]
  if serve then
    res:set("Content-Type", "application/json")
    res:write(json_encode(serve()))
    return -- the response is finished when the handler returns
  end
  if req.path ~= "/summary" then
    res:set_status(404)
    res:write("try /summary\n")
    res:finish() -- nothing awaited: finish says it is done
    return
  end
  local t0 = time.now().milliunix
  local got = wait_all({spawn(fetch, "/upstream/price"), spawn(fetch, "/upstream/stock")})
  local price, stock = got[1][1], got[2][1]
  local errors = setmetatable({}, json.array_mt) -- an array even when empty
  for _, g in ipairs(got) do
    if g.err then errors[#errors + 1] = tostring(g.err) end
  end
  res:set("Content-Type", "application/json")
  res:write(json.encode({
    sku = "drlee-1",
    price = price and price.price or json.null,
    stock = stock and stock.stock or json.null,
    errors = errors,
    ms = time.now().milliunix - t0, -- about 300, not 500: the calls ran at once
  }))
end)
assert(server:start())
if env.worker_id == 1 then log.info("aggregator on " .. base .. "/summary") end
