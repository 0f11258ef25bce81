-- The nodes of the benchmarks in rpc_test.go.
--
--   drlee run -w 1 --cluster ... pingpong.lua <http port> serve   registers bench.echo and bench.bcast
--   drlee run -w 1 --cluster ... pingpong.lua <http port> bcast   registers bench.bcast only
--   drlee run -w 1 --cluster ... pingpong.lua <http port>         the caller
--
-- GET /run?op=call&n=N&c=C makes C chains of sequential rpc.call("bench.echo", i), N calls
-- in all; op=bcast&want=K makes rpc.broadcast("bench.bcast", i) instead and checks that K
-- handlers answered each. It answers once the last one came back, with the median time of
-- one call in microseconds (timed with clock_gettime through the FFI: time.now() has
-- millisecond precision), or 500 with the first error.
local rpc = require "rpc"
local http = require "http"
local ffi = require "ffi"

ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } drlee_bench_timespec;
int clock_gettime(int clk, drlee_bench_timespec *ts);
]]
local ts = ffi.new("drlee_bench_timespec")
local function now_us()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1e6 + tonumber(ts.tv_nsec) / 1e3
end

local port, role = arg[1], arg[2]

if role == "serve" then
  rpc.register("bench.echo", function(m, reply) reply(nil, m) end)
end
if role == "serve" or role == "bcast" then
  rpc.register("bench.bcast", function(m, reply) reply(nil, m) end)
end

local function run(op, n, c, want, cb)
  if n == 0 then return cb(nil, 0) end
  local left, chains, failed = n, c, nil
  local times = {}
  local function step(i)
    local t0 = now_us()
    local function done(err, r)
      times[#times + 1] = now_us() - t0
      if op == "bcast" then
        if not err and #r ~= want then err = "broadcast got " .. #r .. " replies, want " .. want end
        if not err then
          for _, rep in ipairs(r) do
            if rep.error or rep.result ~= i then err = rep.error or "wrong answer"; break end
          end
        end
      elseif not err and r ~= i then
        err = "wrong answer"
      end
      if err then failed = failed or err end
      if left > 0 and not failed then
        left = left - 1
        return step(left)
      end
      chains = chains - 1
      if chains == 0 then
        table.sort(times)
        cb(failed, times[math.floor(#times / 2) + 1])
      end
    end
    if op == "bcast" then
      rpc.broadcast("bench.bcast", i, done)
    else
      rpc.call("bench.echo", i, done)
    end
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
  local uri = req.request_uri
  local op = uri:match("[?&]op=(%a+)") or "call"
  local n = tonumber(uri:match("[?&]n=(%d+)")) or 1
  local c = tonumber(uri:match("[?&]c=(%d+)")) or 1
  local want = tonumber(uri:match("[?&]want=(%d+)")) or 1
  run(op, n, c, want, function(err, p50)
    res:set_status(err and 500 or 200)
    res:write(err or string.format("%.1f", p50))
    res:finish()
  end)
end):start(function(err) if err then error(err) end end)
