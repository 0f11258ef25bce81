-- The load tests of the await style (await_test.go). arg[1] is the address to listen on.
--   /hold?until=ms  waits until the Unix time ms, then answers "worker peak": peak is the
--                   most requests this worker had waiting at once.
--   /r              awaits a spawned function that awaits a timer; answers "ok".
--   /registry       "worker refs threads": the registry's size and the threads in it,
--                   after a full collection.
local http, time = require "http", require "time"

local waiting, peak = 0, 0

local routes = {}
routes["/hold"] = function(req, res)
  local untl = tonumber(req.request_uri:match("until=(%d+)"))
  waiting = waiting + 1
  if waiting > peak then peak = waiting end
  local ms = untl - time.now().milliunix
  if ms > 0 then time.sleep(ms) end
  waiting = waiting - 1
  res:write(env.worker_id .. " " .. peak)
end

routes["/r"] = function(req, res)
  local v = spawn(function()
    time.sleep(0)
    return "ok"
  end):wait()
  res:write(v)
end

routes["/registry"] = function(req, res)
  collectgarbage()
  collectgarbage()
  local n, threads = 0, 0
  for _, v in pairs(debug.getregistry()) do
    n = n + 1
    if type(v) == "thread" then threads = threads + 1 end
  end
  res:write(env.worker_id .. " " .. n .. " " .. threads)
  res:finish()
end

local server = http.create_server(arg[1], function(req, res)
  local route = routes[req.path]
  if route then
    route(req, res)
  else
    res:set_status(404)
    res:finish()
  end
end)
assert(server:start())
print("listening " .. env.worker_id)
