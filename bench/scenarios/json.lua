-- json: read a small POSTed JSON body, decode it, encode an answer object.
-- Usage: drlee run json.lua PORT
local http = require "http"

local server = http.create_server("127.0.0.1:" .. arg[1], function(req, res)
  readall(req, function(err, body)
    local in_ = not err and json_decode(body)
    if type(in_) ~= "table" then
      res:set_status(400)
      res:write("bad request: " .. tostring(err or "not a JSON object"))
      res:finish()
      return
    end
    res:set("Content-Type", "application/json")
    res:write(json_encode({ ok = true, id = in_.id, name = in_.name, count = #in_.tags }))
    res:finish()
  end)
end)
server:start(function(err) if err then error(err) end end)
