-- pg-select: every request selects one row of a small table by its primary key (the
-- harness made the table at startup) and answers it as JSON, in callback style: a
-- PostgreSQL round trip, the row's conversion to Lua, and json_encode.
-- Usage: drlee run pg-select.lua PORT POSTGRES_URI MAX_CONNS
local http = require "http"
local sql = require "sql"

sql.open(arg[2], { max_conns = tonumber(arg[3]) }, function(err, db)
  if err then error(err) end
  local server = http.create_server("127.0.0.1:" .. arg[1], function(req, res)
    db:query("select id, name, qty from bench_items where id = $1", 42, function(err, rows)
      if err or #rows ~= 1 then
        res:set_status(500)
        res:write(tostring(err or "no row 42 in bench_items"))
        res:finish()
        return
      end
      res:set("Content-Type", "application/json")
      res:write(json_encode(rows[1]))
      res:finish()
    end)
  end)
  server:start(function(err) if err then error(err) end end)
end)
