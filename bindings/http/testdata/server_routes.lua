-- Routes for the server tests (server_test.go). arg[1] is the address to listen on.
local http = require "http"
local time = require "time"

local addr = arg[1] or "127.0.0.1:0"
local handled = 0      -- handler invocations on this worker
local stream_errors = 0 -- write callbacks of abandoned streams that got an error
local late_cbs = 0      -- callbacks of writes and finishes after a stream was abandoned
local write_cbs = 0    -- res:write callbacks that fired
local finish_cbs = 0   -- res:finish callbacks that fired

local function query(uri)
  local q = {}
  local s = uri:match("%?(.*)$")
  if s then
    for k, v in s:gmatch("([^&=]+)=([^&]*)") do q[k] = v end
  end
  return q
end

local function headers_out(res)
  res:set("X-Worker", tostring(env.worker_id))
end

local routes = {}

-- Request fields, as headers (HEAD has no body) and as a JSON body.
routes["/echo"] = function(req, res, q)
  local h = req.headers
  readall(req, function(err, body)
    assert(err == nil, err)
    headers_out(res)
    res:set("X-Method", req.method)
    res:set("X-URI", req.request_uri)
    res:set("X-URL", req.url)
    res:set("X-Remote", req.remote_addr)
    res:set("X-Body-Len", tostring(#body))
    res:write(json_encode({
      method = req.method,
      request_uri = req.request_uri,
      url = req.url,
      remote_addr = req.remote_addr,
      foo = h["X-Foo"] or "",
      foo_lower = h["x-foo"] or "",
      foo_upper = h["X-FOO"] or "",
      multi = h["X-Multi"] or "",
      host = h["Host"] or "",
      body = body,
    }))
    res:finish()
  end)
end

-- Response headers: set before and after set_status, read back with get.
routes["/headers"] = function(req, res, q)
  res:set("X-Before", "before")
  res:set_status(201)
  res:set("X-After", "after")
  res:set("Content-Type", "text/x-test")
  res:set("X-Replaced", "one")
  res:set("X-Replaced", "two")
  res:write(json_encode({
    got = res:get("X-Before") or "nil",
    got_lower = res:get("x-after") or "nil",
    got_missing = res:get("X-Missing") == nil,
    got_replaced = res:get("X-Replaced") or "nil",
  }))
  res:finish()
end

-- Body streamed with req:read(n) for n = q.n: echoes it back, with the chunk count and the
-- largest chunk in headers.
routes["/read"] = function(req, res, q)
  local n = tonumber(q.n or "7")
  local parts, max = {}, 0
  local function step()
    req:read(n, function(err, data)
      assert(err == nil, err)
      if data == nil or #data == 0 then
        res:set("X-Chunks", tostring(#parts))
        res:set("X-Max-Chunk", tostring(max))
        res:write(table.concat(parts))
        res:finish()
        return
      end
      if #data > max then max = #data end
      parts[#parts + 1] = data
      step()
    end)
  end
  step()
end

-- Body read with readall and echoed back.
routes["/readall"] = function(req, res, q)
  readall(req, function(err, body)
    assert(err == nil, err)
    headers_out(res)
    res:write(body)
    res:finish()
  end)
end

-- Writes spanning several callbacks: "a", 300 ms later "b".
routes["/stream"] = function(req, res, q)
  res:set("Content-Type", "text/plain")
  res:write("a")
  time.timeout(tonumber(q.ms or "300"), function()
    res:write("b")
    res:finish()
  end)
end

-- A handler that never returns (a loop that allocates, which the guard can interrupt).
routes["/runaway"] = function(req, res, q)
  local t = {}
  while true do t[#t % 100 + 1] = {} end
end

-- q.n bytes written and finished in one callback (sent with Content-Length).
routes["/big"] = function(req, res, q)
  res:write(string.rep("x", tonumber(q.n or "1048576")))
  res:finish()
end

-- Written and finished in one callback.
routes["/oneshot"] = function(req, res, q)
  res:set("Content-Type", "text/plain")
  res:write("hello ")
  res:write("world")
  res:finish()
end

-- Write callbacks: buffered write, then (in its callback, now streaming) another write with
-- a callback, then finish with a callback.
routes["/writecb"] = function(req, res, q)
  res:write("first;", function(err)
    write_cbs = write_cbs + 1
    res:write("second:" .. tostring(err) .. ";", function(err2)
      write_cbs = write_cbs + 1
      res:write("third:" .. tostring(err2))
      res:finish(function(err3)
        finish_cbs = finish_cbs + 1
        print("finish cb: " .. tostring(err3))
      end)
    end)
  end)
end

-- Write and finish callbacks in one tick (Content-Length path).
routes["/writecb-oneshot"] = function(req, res, q)
  res:write("x", function(err) write_cbs = write_cbs + 1 end)
  res:finish(function(err) finish_cbs = finish_cbs + 1 end)
end

routes["/stats"] = function(req, res, q)
  res:write(json_encode({ handled = handled, write_cbs = write_cbs, finish_cbs = finish_cbs,
    stream_errors = stream_errors, late_cbs = late_cbs }))
  res:finish()
end

-- A handler that raises.
routes["/error"] = function(req, res, q)
  error("boom in handler")
end

-- A handler that raises after a write.
routes["/error-after-write"] = function(req, res, q)
  res:write("partial output that must not be sent")
  error("boom after write")
end

-- A handler that never finishes; later it tries to write to the abandoned response.
routes["/hang"] = function(req, res, q)
  time.timeout(tonumber(q.late or "600"), function()
    local ok, err = pcall(res.write, res, "late")
    print("late write: " .. tostring(ok) .. " " .. tostring(err))
  end)
end

-- Blocks the loop for q.ms milliseconds, then answers.
-- (Wall-clock time: os.clock is the CPU time of the whole process.)
routes["/busy"] = function(req, res, q)
  local stop = time.now().milliunix + tonumber(q.ms or "200")
  while time.now().milliunix < stop do end
  headers_out(res)
  res:write("busy done")
  res:finish()
end

-- Answers after q.ms milliseconds, without blocking the loop.
routes["/slow"] = function(req, res, q)
  time.timeout(tonumber(q.ms or "500"), function()
    headers_out(res)
    res:write("slow done " .. (q.id or ""))
    res:finish()
  end)
end

-- Identifies the request and the worker: body = uri .. "|" .. request body.
routes["/worker"] = function(req, res, q)
  readall(req, function(err, body)
    assert(err == nil, err)
    headers_out(res)
    res:write(req.request_uri .. "|" .. body)
    res:finish()
  end)
end

-- Starts streaming, then reads the body in a later callback (the request is no longer
-- held by the connection then): "start;" .. method .. ";" .. X-Foo .. ";" .. body. With
-- q.pre, reads q.pre bytes before streaming starts.
routes["/stream-echo"] = function(req, res, q)
  local pre = ""
  local function rest()
    res:write("start;")
    time.timeout(20, function()
      readall(req, function(err, body)
        assert(err == nil, err)
        res:write(req.method .. ";" .. tostring(req.headers["x-foo"]) .. ";" .. req.request_uri .. ";" .. pre .. body)
        res:finish()
      end)
    end)
  end
  if q.pre then
    req:read(tonumber(q.pre), function(err, data)
      assert(err == nil, err)
      pre = data
      rest()
    end)
  else
    rest()
  end
end

-- Streams a chunk every 20 ms until a write fails (the client went away) or q.n chunks.
routes["/stream-forever"] = function(req, res, q)
  local n, max = 0, tonumber(q.n or "1000000")
  local function step()
    n = n + 1
    if n > max then
      res:finish()
      return
    end
    res:write("chunk " .. n .. "\n", function(err)
      if err then
        print("stream write error: " .. tostring(err))
        res:finish(function(ferr) print("stream finish: " .. tostring(ferr)) end)
        return
      end
      time.timeout(20, step)
    end)
  end
  step()
end

-- Streams a chunk every 20 ms until a write fails, and then gives up on the response
-- without finishing it: the stream must end by itself. With q.late, a write and a finish
-- follow 30 ms after the error (each callback must get the error, once), and the request
-- is read in the error's callback (still there: the stream ends after it).
routes["/stream-abandon"] = function(req, res, q)
  local n = 0
  local function step()
    n = n + 1
    res:write("chunk " .. n .. "\n", function(err)
      if not err then
        time.timeout(20, step)
        return
      end
      stream_errors = stream_errors + 1
      print("abandoned stream: " .. tostring(err) .. " at " .. req.path)
      if q.late then
        time.timeout(30, function()
          res:write("late", function(err)
            late_cbs = late_cbs + 1
            print("late write: " .. tostring(err))
          end)
          res:finish(function(err)
            late_cbs = late_cbs + 1
            print("late finish: " .. tostring(err))
          end)
          local v = res:get("X-Nothing")
          print("late get: " .. tostring(v))
        end)
      end
    end)
  end
  step()
end

-- Streams 1 MB chunks, the next one from each write's callback, until a write fails or
-- q.n chunks went out.
routes["/stream-big"] = function(req, res, q)
  local chunk = string.rep("y", 1048576)
  local n, max = 0, tonumber(q.n or "1000")
  local function step()
    n = n + 1
    res:write(chunk, function(err)
      if err then
        print("stream-big write error after " .. n .. " chunks: " .. tostring(err))
        res:finish()
      elseif n >= max then
        res:finish()
      else
        step()
      end
    end)
  end
  step()
end

-- Answers in one callback, then keeps that callback busy for q.after ms.
routes["/finish-then-busy"] = function(req, res, q)
  res:write("done")
  res:finish()
  local stop = time.now().milliunix + tonumber(q.after or "30")
  while time.now().milliunix < stop do end
end

-- Writes, keeps the callback busy for q.ms ms, then finishes in the same callback: the
-- response must go out with Content-Length.
routes["/write-busy-finish"] = function(req, res, q)
  res:write("one ")
  local stop = time.now().milliunix + tonumber(q.ms or "30")
  while time.now().milliunix < stop do end
  res:write("callback")
  res:finish()
end

-- Writes 1..q.n in order, "i," each: several per callback, over several callbacks, some
-- with write callbacks.
routes["/stream-many"] = function(req, res, q)
  local n, i = tonumber(q.n or "1000"), 0
  local function step()
    for _ = 1, 7 do
      i = i + 1
      if i > n then
        res:finish()
        return
      end
      if i % 3 == 0 then
        res:write(i .. ",", function(err) assert(err == nil, err) end)
      else
        res:write(i .. ",")
      end
    end
    if i % 2 == 0 then time.timeout(0, step) else res:write("", step) end
  end
  step()
end

-- Uses req after res:finish (logging a request once answered is common).
routes["/req-after-finish"] = function(req, res, q)
  res:write("ok")
  res:finish()
  print("answered " .. req.method .. " " .. req.request_uri)
end

-- req.path (decoded, dot segments removed) beside req.request_uri (as sent), as JSON. The
-- router takes this route for any path when the request says X-Route: /path.
routes["/path"] = function(req, res, q)
  res:write(json_encode({path = req.path, request_uri = req.request_uri}))
  res:finish()
end

-- Header names and values that would split the response: each must raise, both in the
-- fast methods (in C) and in the Go method they fall back to (a fourth argument sends the
-- call there). The errors are the body, one a line; harmless values go out as set.
routes["/inject"] = function(req, res, q)
  local bad = {
    {"X-A", "a\r\nSet-Cookie: evil=1"}, {"X-A", "a\nSet-Cookie: evil=1"}, {"X-A", "a\rb"},
    {"X-A", "a\0b"}, {"X-A", "a\127b"}, {"X-B\r\nSet-Cookie", "evil=1"}, {"X B", "v"},
    {"X:B", "v"}, {"", "v"}, {"X\0", "v"}, {"X-\195\169", "v"},
  }
  local out = {}
  for _, h in ipairs(bad) do
    out[#out + 1] = tostring(select(2, pcall(res.set, res, h[1], h[2])))
    out[#out + 1] = tostring(select(2, pcall(res.set, res, h[1], h[2], "to Go")))
  end
  res:set("X-Tab", "a\tb")
  res:set("X-Utf8", "\195\169t\195\169")
  res:write(table.concat(out, "\n"))
  res:finish()
end

local server
-- Stops the server while other requests are in flight.
routes["/stop"] = function(req, res, q)
  server:stop()
  res:write("stopping")
  res:finish()
end

server = http.create_server(addr, function(req, res)
  handled = handled + 1
  local uri = req.request_uri
  local path = uri:match("^[^?]*")
  local route = routes[req.headers["x-route"] or path]
  if not route then
    res:set_status(404)
    res:write("no route " .. path)
    res:finish()
    return
  end
  route(req, res, query(uri))
end)

server:start(function(err)
  if err then
    print("start error: " .. tostring(err))
    return
  end
  if env.worker_id == 1 then print("listening on " .. server:address()) end
end)
