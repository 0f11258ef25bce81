-- pg-select, await style: sql.open and db:query without callbacks, each suspending its
-- coroutine until the result. Compare with ../pg-select.lua.
-- Usage: drlee run pg-select.lua PORT POSTGRES_URI MAX_CONNS
local http = require "http"
local sql = require "sql"

local db = assert(sql.open(arg[2], { max_conns = tonumber(arg[3]) }))

local server = http.create_server("127.0.0.1:" .. arg[1], function(req, res)
  local rows, err = db:query("select id, name, qty from bench_items where id = $1", 42)
  if not rows or #rows ~= 1 then
    res:set_status(500)
    res:write(tostring(err or "no row 42 in bench_items"))
    return
  end
  res:set("Content-Type", "application/json")
  res:write(json_encode(rows[1]))
end)
assert(server:start())
