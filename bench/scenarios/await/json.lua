-- json, await style: the body read with readall(req) without a callback, which returns it
-- at once (it is in memory). Compare with ../json.lua.
-- Usage: drlee run json.lua PORT
local http = require "http"

local server = http.create_server("127.0.0.1:" .. arg[1], function(req, res)
  local body, err = readall(req)
  local in_ = body and json_decode(body)
  if type(in_) ~= "table" then
    res:set_status(400)
    res:write("bad request: " .. tostring(err or "not a JSON object"))
    return
  end
  res:set("Content-Type", "application/json")
  res:write(json_encode({ ok = true, id = in_.id, name = in_.name, count = #in_.tags }))
end)
assert(server:start())
