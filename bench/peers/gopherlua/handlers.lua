-- The bench scenarios for the gopher-lua peer: the same work as
-- bench/scenarios/*.lua, in the shape an inline fasthttp handler calls:
-- handlers.NAME(method, body, write) returns the response body.
-- Go provides json_decode, json_encode and sleep_ms (which blocks the calling
-- goroutine: gopher-lua has no event loop of its own).
local handlers = {}

function handlers.hello(method, body)
  return "hello world"
end

-- No callbacks here: the same work as hello.
handlers["hello-cb"] = handlers.hello

function handlers.json(method, body)
  local in_ = json_decode(body)
  return json_encode({ ok = true, id = in_.id, name = in_.name, count = #in_.tags })
end

function handlers.timer(method, body)
  sleep_ms(1)
  return "ok"
end

function handlers.cpu(method, body)
  local s = 0
  for i = 1, 10000 do
    s = (s + i * i) % 1000003
  end
  return tostring(s)
end

local chunk = string.rep("x", 4096)

-- write sends one chunk and returns once it is flushed to the connection.
function handlers.stream64k(method, body, write)
  for i = 1, 16 do
    write(chunk)
  end
end

return handlers
