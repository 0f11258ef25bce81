-- The two nodes of BenchmarkRPCRoundTrip (rpc_test.go).
--
--   drlee run -w 1 --cluster ... pingpong.lua <http port> serve   registers bench.echo
--   drlee run -w 1 --cluster ... pingpong.lua <http port>         the caller
--
-- GET /run?n=N&c=C makes C chains of sequential rpc.call("bench.echo", i), N calls in all,
-- and answers once the last one came back (500 with the first error).
local rpc = require "rpc"
local http = require "http"

local port, role = arg[1], arg[2]

if role == "serve" then
  rpc.register("bench.echo", function(m, reply) reply(nil, m) end)
end

local function run(n, c, cb)
  if n == 0 then return cb(nil) end
  local left, chains, failed = n, c, nil
  local function step(i)
    rpc.call("bench.echo", i, function(err, r)
      if err or r ~= i then failed = failed or (err or "wrong answer") end
      if left > 0 and not failed then
        left = left - 1
        return step(left)
      end
      chains = chains - 1
      if chains == 0 then cb(failed) end
    end)
  end
  for _ = 1, c do
    if left == 0 then
      chains = chains - 1
    else
      left = left - 1
      step(left)
    end
  end
end

http.create_server("127.0.0.1:" .. port, function(req, res)
  local n = tonumber(req.request_uri:match("[?&]n=(%d+)")) or 1
  local c = tonumber(req.request_uri:match("[?&]c=(%d+)")) or 1
  run(n, c, function(err)
    res:set_status(err and 500 or 200)
    res:write(err or "ok")
    res:finish()
  end)
end):start(function(err) if err then error(err) end end)
