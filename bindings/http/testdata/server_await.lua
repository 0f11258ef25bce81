-- Routes for the await tests (await_test.go): handlers in the await style, and the life
-- of a request (a raise ends it at once, the end of a handler finishes it). arg[1] is the
-- address to listen on.
local http, fs, time, rpc = require "http", require "fs", require "time", require "rpc"

local addr = arg[1]
local base = "http://" .. addr

local function query(uri)
  local q = {}
  local s = uri:match("%?(.*)$")
  if s then
    for k, v in s:gmatch("([^&=]+)=([^&]*)") do q[k] = v end
  end
  return q
end

-- An rpc handler in the await style: it waits, then replies.
rpc.register("await.add", function(m, reply)
  time.sleep(5)
  reply(nil, m[1] + m[2])
end)
-- One that raises after an await: the caller gets the error at once.
rpc.register("await.fail", function(m, reply)
  time.sleep(5)
  error("rpc handler failed after an await")
end)

do -- in the await style: each call waits for its result
  local f = assert(fs.open("file.txt", 0x200 + 0x400 + 0x1, 420))
  assert(f:write("contents of the file"))
  assert(f:close())
end

local routes = {}

-- Reads a file, writes it, returns: the response is finished as it stands.
routes["/file"] = function(req, res)
  local body, err = fs.readfile("file.txt")
  assert(body, err)
  res:set("X-Style", "await")
  res:write(body)
end

-- Awaits and sets nothing: 200 with an empty body.
routes["/nothing"] = function(req, res)
  time.sleep(1)
end

-- Status and headers set before an await, the body after.
routes["/status"] = function(req, res)
  res:set_status(201)
  res:set("X-A", "b")
  time.sleep(2)
  res:write("created")
  res:finish()
end

-- The body, read in the await style.
routes["/echo"] = function(req, res)
  local first = req:read(3)
  local rest, err = readall(req)
  assert(rest, err)
  res:write(first .. "|" .. rest)
end

-- Raises after an await: with status and headers set, nothing written (a write before an
-- await would have started the stream).
routes["/raise-after-await"] = function(req, res)
  res:set_status(201)
  res:set("X-Must-Not", "be sent")
  time.sleep(5)
  error("raised after an await")
end

-- Callback style: raises in a callback, long after the handler returned.
routes["/raise-in-callback"] = function(req, res)
  time.timeout(5, function()
    fs.stat("file.txt", function(err, st)
      error("raised in a nested callback")
    end)
  end)
end

-- Raises in a spawned function nobody waits for... within the request: 500 at once too.
routes["/raise-in-spawn-waited"] = function(req, res)
  local h = spawn(function() time.sleep(1); error("spawned failure") end)
  local _, err = h:wait()
  res:write("handled: " .. tostring(err):match("spawned failure"))
end

-- Starts streaming, then raises: the client must see a failed response.
routes["/raise-mid-stream"] = function(req, res)
  res:write("first part;")
  time.sleep(5) -- the write went out as the first chunk
  res:write("second part;")
  time.sleep(5)
  error("raised mid-stream")
end

-- Streams in the await style, then returns: the stream is ended properly.
routes["/stream"] = function(req, res)
  for i = 1, 3 do
    assert(res:write("chunk " .. i .. ";"))
    time.sleep(2)
  end
end

-- Callback style, unfinished and unreachable: finished with a warning.
routes["/forgot-finish"] = function(req, res)
  res:write("written, never finished")
end

-- The same, with the handler's scope alive after res became unreachable, and full
-- collections meanwhile: res must still be there to be finished when the scope ends.
routes["/forgot-finish-io"] = function(req, res)
  res:write("written, never finished, then io")
  time.timeout(5, function()
    collectgarbage()
    collectgarbage()
  end)
end

-- Two upstream calls in parallel with spawn, then their bodies, awaited.
routes["/slow"] = function(req, res)
  local q = query(req.request_uri)
  time.sleep(tonumber(q.ms))
  res:write("slow " .. q.ms)
end
routes["/aggregate"] = function(req, res)
  local t0 = time.now().milliunix
  local function fetch(ms)
    local r, err = http.get(base .. "/slow?ms=" .. ms)
    if not r then return nil, err end
    local body = readall(r)
    r:close()
    return body
  end
  local all = wait_all({spawn(fetch, 60), spawn(fetch, 60)})
  local took = time.now().milliunix - t0
  res:write(all[1][1] .. "+" .. all[2][1] .. ";" .. (took < 115 and "parallel" or ("serial " .. took)))
end

-- An rpc call awaited in a handler; and one whose handler raises.
routes["/rpc"] = function(req, res)
  local sum, err = rpc.call("await.add", {2, 3})
  local none, ferr = rpc.call("await.fail", {}, {timeout = 2000})
  res:write(tostring(sum) .. ";" .. tostring(err) .. ";" .. tostring(none) .. ";" .. tostring(ferr))
end

-- Waits longer than the callback timeout: waiting is not running.
routes["/long-wait"] = function(req, res)
  time.sleep(300)
  res:write("waited")
end

-- Runs too long after an await: interrupted by the callback timeout, 500.
routes["/busy-after-await"] = function(req, res)
  time.sleep(1)
  local t = {} -- (a loop that allocates: a bare one the JIT compiles never checks the hook)
  while true do t[#t % 100 + 1] = {} end
end

-- Yields where it cannot: a clear error, not a crash.
routes["/yield-in-sort"] = function(req, res)
  local ok, err = pcall(table.sort, {3, 2, 1}, function(a, b) time.sleep(1); return a < b end)
  res:write(tostring(ok) .. ";" .. tostring(err))
end

-- Server-sent events, callback style: responses kept in a table, written from one ticker.
local clients, events = {}, 0
local ticker = time.tick(10)
local function pump()
  ticker:next_tick(function(err)
    if err then return end -- stopped at shutdown
    events = events + 1
    for r, n in pairs(clients) do
      r:write("data: " .. events .. "\n\n")
      if n >= 3 then
        clients[r] = nil
        r:finish()
      else
        clients[r] = n + 1
      end
    end
    pump()
  end)
end
pump()
routes["/sse"] = function(req, res)
  res:set("Content-Type", "text/event-stream")
  res:write(": hello\n\n")
  clients[res] = 1
  collectgarbage() -- the table keeps it: no finalizer may finish it
end

-- The registry: its size and the threads in it, after a full collection.
routes["/registry"] = function(req, res)
  collectgarbage()
  collectgarbage()
  local n, threads = 0, 0
  for _, v in pairs(debug.getregistry()) do
    n = n + 1
    if type(v) == "thread" then threads = threads + 1 end
  end
  res:write(n .. " " .. threads)
  res:finish()
end

local server = http.create_server(addr, function(req, res)
  local route = routes[req.path]
  if not route then
    res:set_status(404)
    res:finish()
    return
  end
  route(req, res)
end)
assert(server:start())
if env.worker_id == 1 then print("listening on " .. server:address()) end
-- The main chunk awaits too: the server is up before this returns.
time.sleep(1)
