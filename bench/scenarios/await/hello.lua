-- hello, await style: the smallest handler, written as await-style code reads (results
-- checked, no callbacks). Compare with ../hello.lua: every handler runs in a runtime
-- coroutine either way; this measures that the style itself costs nothing.
-- Usage: drlee run hello.lua PORT
local http = require "http"

local server = http.create_server("127.0.0.1:" .. arg[1], function(req, res)
  res:set("Content-Type", "text/plain")
  assert(res:write("hello world"))
  assert(res:finish())
end)
assert(server:start())
