-- The Lua side of the sql module: its NULL and a reader of SQLSTATEs.
local sql = require "sql"
local type, match = type, string.match

-- sql.null: what a NULL column is, and the same value as json.null (a NULL lightuserdata).
sql.null = sql.__null()
sql.__null = nil

-- sql.sqlstate(err): the SQLSTATE of an ESQL error ("23505"; SQLite's other errors give
-- "SQLITE_BUSY" and the like), nil for any other value.
function sql.sqlstate(err)
  if type(err) ~= "string" then return nil end
  return match(err, "^ESQL: ([%w_]+)") or match(err, "^EBUSY: (SQLITE_[%w_]+)")
end
