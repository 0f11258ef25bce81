-- A router in the await style, for router_test.go: middlewares and handlers that wait
-- (time.sleep, fs.readfile) in the request's own coroutine. arg[1] is the address.
local http, time, fs = require "http", require "time", require "fs"

local note = __dirname__ .. "/note.txt" -- beside the script, in the test's directory
do
  local f = assert(fs.open(note, 0x200 + 0x400 + 0x1, 420))
  assert(f:write("the note"))
  assert(f:close())
end

local r = http.router()

-- Waits before next and after it: the handler has returned then, having waited too. What
-- it wrote without finishing streams from this await on, and is finished when the
-- request's coroutine ends.
local after = 0
r:use(function(req, res, next)
  time.sleep(2)
  req.trace = {"timing"}
  next()
  time.sleep(1)
  after = after + 1
end)

-- Catches what the rest of the chain raises, after awaits included, and answers 502
-- itself (a raise in a callback the handler started is not caught: it ends the request).
r:use(function(req, res, next)
  local t = req.trace
  t[#t + 1] = "guard"
  if req.headers["x-deny"] then
    time.sleep(1)
    res:set_status(401)
    res:write("denied after an await")
    return -- no next, no finish: the coroutine's end finishes it
  end
  if req.headers["x-raise-mw"] then
    time.sleep(1)
    error("middleware raised after an await")
  end
  if req.headers["x-after"] then -- the handler returned unfinished: headers still count
    next()
    res:set("X-After", "set after next")
    return
  end
  if req.headers["x-guard"] then
    local ok, err = pcall(next)
    if not ok then
      res:set_status(502)
      res:write("caught: " .. (tostring(err):match("handler raised after an await") or tostring(err)))
    end
    return
  end
  next()
end)

r:get("/note/:id", function(req, res)
  local body = assert(fs.readfile(note))
  time.sleep(1)
  res:set("X-Trace", table.concat(req.trace, ","))
  res:write(req.params.id .. ": " .. body)
end)

r:get("/files/*path", function(req, res)
  time.sleep(1)
  res:write("file " .. req.params.path)
  res:finish()
end)

r:post("/echo", function(req, res)
  local body = readall(req)
  res:write("echo " .. body)
end)

r:get("/after", function(req, res)
  res:write(tostring(after))
end)

r:get("/raise", function(req, res)
  time.sleep(1)
  error("handler raised after an await")
end)

-- 404 and 405 come from the router itself, after the middlewares awaited.
local server = http.create_server(arg[1], r)
assert(server:start())
