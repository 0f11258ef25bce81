-- arg[1]: URI, arg[2]: primary-key selects to run one after another (await style).
local sql = require "sql"
local db = assert(sql.open(arg[1]))
local n = tonumber(arg[2])
for i = 1, n do
  local rows = assert(db:query("select id, name from bench where id = $1", i % 100 + 1))
  if rows[1].id ~= i % 100 + 1 then error("wrong row") end
end
db:close()
print("PASS")
