-- Routes for flush_test.go: when a response goes out with Content-Length and when it
-- streams, and res:flush. arg[1] is the address to listen on.
local http = require "http"
local time = require "time"

local routes = {}

-- The seed's idiom: finish in the write's callback.
routes["/seed"] = function(req, res)
  res:set("Content-Type", "text/plain")
  res:write("hello world", function(err)
    assert(err == nil, err)
    res:finish()
  end)
end

-- Writes chained through their callbacks, then finish.
routes["/chain"] = function(req, res)
  res:write("a", function()
    res:write("b", function()
      res:set("X-Late", "yes") -- still buffered: headers may still change
      res:write("c", function() res:finish() end)
    end)
  end)
end

-- A write, then callbacks of other work done on the loop (the body already read, a
-- spawned function waited on), then finish.
routes["/other-work"] = function(req, res)
  res:write("start;")
  req:read(1024, function(err, data)
    res:write("read " .. #(data or "") .. ";")
    req:close(function()
      local h = spawn(function() return "spawned" end)
      res:write(h:wait() .. ";")
      res:finish()
    end)
  end)
end

-- A write, then the rest after a timer: the first part must not wait for it.
routes["/timer"] = function(req, res)
  res:write("first;", function() end)
  time.timeout(150, function()
    res:write("second")
    res:finish()
  end)
end

-- 32 writes of 8 KiB chained through their callbacks: past 64 KiB it streams.
routes["/big"] = function(req, res)
  local piece = string.rep("z", 8192)
  local n = 0
  local function more()
    n = n + 1
    if n > 32 then return res:finish() end
    res:write(piece, more)
  end
  more()
end

-- res:flush with no body yet: the headers go out now.
routes["/flush-headers"] = function(req, res)
  res:set("Content-Type", "text/event-stream")
  res:flush(function(err)
    assert(err == nil, err)
    time.timeout(200, function()
      res:write("data: late\n\n")
      res:finish()
    end)
  end)
end

-- res:flush after each write, its callback once the chunk is out (ngx.flush(true)).
routes["/flush-each"] = function(req, res)
  local n = 0
  local function more(err)
    assert(err == nil, err)
    n = n + 1
    if n > 3 then return res:finish() end
    res:write("part" .. n .. ";")
    res:flush(more)
  end
  more()
end

-- Await style: flush waits until the chunk is out, then returns true.
routes["/flush-await"] = function(req, res)
  res:write("a;")
  local ok, err = res:flush()
  res:write(tostring(ok) .. ";" .. tostring(err))
  res:finish()
end

-- flush after finish raises; odd callbacks raise.
routes["/flush-bad"] = function(req, res)
  local ok1, e1 = pcall(res.flush, res, 42)
  res:write("x")
  res:finish()
  local ok2, e2 = pcall(res.flush, res)
  print("flush-bad", ok1, e1, ok2, e2)
end

-- Write callbacks run in the order of their writes, those they queue after.
routes["/cb-order"] = function(req, res)
  res:write("1", function() res:write("3") end)
  res:write("2", function()
    res:write("4", function() res:finish() end)
  end)
end

-- A write callback that raises answers 500 at once.
routes["/cb-raise"] = function(req, res)
  res:write("x", function() error("boom in a write callback") end)
end

-- A read callback (the body is in memory: called right after the handler) that raises.
routes["/read-raise"] = function(req, res)
  req:read(10, function(err, data) error("boom in a read callback: " .. data) end)
end

-- A write callback that awaits: the response streams meanwhile.
routes["/cb-await"] = function(req, res)
  res:write("a", function()
    time.sleep(20)
    res:write("b")
    res:finish()
  end)
end

-- A write with a callback from a coroutine of the script's.
routes["/cb-coroutine"] = function(req, res)
  coroutine.wrap(function()
    res:write("x", function() res:finish() end)
  end)()
end

-- A stream's writes, small (recorded without a crossing into Go), large (Go's), with a
-- callback (Go's), a header set too late and the finish, in several callbacks: the body
-- is every write in the order made.
routes["/stream-mixed"] = function(req, res)
  res:write("a;")
  res:flush(function(err)
    assert(err == nil, err)
    res:write("b;")
    res:write(string.rep("B", 9000) .. ";")
    res:write("c;")
    res:write("d;", function(err2)
      assert(err2 == nil, err2)
      res:write("e;")
      time.timeout(5, function()
        res:write("f;")
        res:finish()
        local ok = pcall(res.write, res, "late")
        print("stream-mixed late write", ok)
      end)
    end)
    res:write("g;")
    local ok = pcall(res.set, res, "X-Late", "no")
    res:write(ok and "set-ok;" or "set-raised;")
  end)
end

-- What the script reads of the request once its response streams (the snapshot).
routes["/stream-req"] = function(req, res)
  res:flush(function()
    local h = req.headers
    res:write(table.concat({req.method, req.request_uri, req.path, req.url,
      tostring(req.remote_addr):match("^127%.0%.0%.1:%d+$") and "remote-ok" or tostring(req.remote_addr),
      h["x-test"] or "no x-test"}, "|"))
    res:finish()
  end)
end

-- A long chain of flushes, each from the last one's callback, to a client that reads as
-- fast: a timer set during it must fire long before the chain ends (the loop gets its
-- turns). fired at: how many flushes after it was set.
routes["/flush-chain"] = function(req, res)
  local n, fired_at = 0, nil
  local function step(err)
    assert(err == nil, err)
    n = n + 1
    if n == 100 then -- the stream is well under way: its connection goroutine waits
      time.timeout(0, function() fired_at = n - 100 end)
    end
    if n > 2000 then
      res:write("fired at " .. tostring(fired_at))
      return res:finish()
    end
    res:write("x")
    res:flush(step)
  end
  step()
end

local server = http.create_server(arg[1], function(req, res)
  local route = routes[req.path]
  if not route then
    res:set_status(404)
    return res:finish()
  end
  route(req, res)
end)
assert(server:start())
