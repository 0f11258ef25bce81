-- Odd values under pcall, for every function: each raises a clear argument error (or, for
-- what is data rather than a mistake, calls back with an error), never crashes.
local sql = require "sql"
local json = require "json"
local C = require "check"
local eq = C.eq

local odd = {nil, true, 0, -1, 1.5, 0/0, math.huge, -math.huge, 2^63, "", "x", {}, {1}, {a = 1},
  print, coroutine.create(print), json.null, json.empty_array, io.stdout}
local n = 19

local function raises(name, want, fn, ...)
  local ok, err = pcall(fn, ...)
  if ok then error(name .. ": did not raise", 2) end
  if want and not tostring(err):find(want, 1, true) then error(name .. ": " .. tostring(err), 2) end
end

-- sql.open: the URI must be a string, the options a table of known names in range.
raises("open nil", "string expected, got nil", sql.open, nil)
raises("open table", "string expected, got table", sql.open, {})
raises("open function", "string expected", sql.open, print)
raises("open options number", "table or function expected", sql.open, "sqlite::memory:", 5)
raises("open cb", "function expected", sql.open, "sqlite::memory:", {}, 5)
raises("unknown option", "unknown option 'max_con'", sql.open, "sqlite::memory:", {max_con = 1})
raises("max_conns 0", "option 'max_conns' must be an integer from 1 to 1000", sql.open, "sqlite::memory:", {max_conns = 0})
raises("max_conns 1.5", "max_conns", sql.open, "sqlite::memory:", {max_conns = 1.5})
raises("max_conns NaN", "max_conns", sql.open, "sqlite::memory:", {max_conns = 0/0})
raises("max_conns huge", "max_conns", sql.open, "sqlite::memory:", {max_conns = math.huge})
raises("max_conns string", "max_conns", sql.open, "sqlite::memory:", {max_conns = "2"})
raises("statement_timeout negative", "statement_timeout", sql.open, "sqlite::memory:", {statement_timeout = -1})
raises("statement_timeout inf", "statement_timeout", sql.open, "sqlite::memory:", {statement_timeout = math.huge})
raises("connect_timeout 0", "connect_timeout", sql.open, "sqlite::memory:", {connect_timeout = 0})
raises("max_queue -1", "max_queue", sql.open, "sqlite::memory:", {max_queue = -1})
raises("options array", "options must be a table of named options", sql.open, "sqlite::memory:", {1})
for i = 1, n do
  local v = odd[i]
  if type(v) ~= "string" and type(v) ~= "number" then
    raises("open odd " .. i, "bad argument #1", sql.open, v)
  end
end
-- Data, not mistakes: a URI of another scheme calls back with EINVAL.
local db, err = sql.open("0")
eq("open number-ish", err_code(err), "EINVAL")

local db = assert(sql.open("sqlite::memory:", {max_conns = 1, statement_timeout = 0, max_queue = 0}))
assert(db:exec("create table t (x)"))
-- Methods on something else.
raises("query self", "sql.db expected", db.query, nil, "select 1")
raises("query self table", "sql.db expected", db.query, {}, "select 1")
raises("exec self", "sql.db expected", db.exec, 5, "select 1")
raises("begin self", "sql.db expected", db.begin, "x")
raises("close self", "sql.db expected", db.close, print)
-- SQL text.
raises("query nil", "string expected, got no value", db.query, db)
raises("query table", "string expected, got table", db.query, db, {})
raises("exec nil", "string expected", db.exec, db, nil)
raises("exec bool", "string expected", db.exec, db, true)
-- Parameters: every odd value.
for i = 1, n do
  local v = odd[i]
  local t = type(v)
  if t == "table" or t == "thread" or t == "userdata" and v ~= json.null or t == "function" then
    raises("query param " .. i, "SQL parameter", db.query, db, "select ?", v, 1)
    raises("exec param " .. i, "SQL parameter", db.exec, db, "insert into t values (?)", 1, v, 2)
  else
    local rows, err = db:query("select ? as v", v)
    assert(rows, err)
  end
end
raises("timestamp out of range", "milliunix must be an integer", db.query, db, "select ?", {milliunix = 1e300})
raises("timestamp fraction", "milliunix must be an integer", db.query, db, "select ?", {milliunix = 1.5})
raises("timestamp NaN", "milliunix", db.query, db, "select ?", {milliunix = 0/0})
raises("empty_array", "json.empty_array", db.query, db, "select ?", json.empty_array)
-- A non-function last argument is a parameter; a count that does not match is the
-- driver's business (SQLite ignores extra ones, a missing one is an error), never a raise.
db:query("select 1", 1, 2)
local rows, err = db:query("select ?")
assert(not rows and err, "a missing parameter")
raises("begin cb", "function expected", db.begin, db, 5)
raises("begin cb table", "function expected", db.begin, db, {})

-- Transactions.
local tx = assert(db:begin())
raises("tx query self", "sql.tx expected", tx.query, db, "select 1")
raises("tx exec nil", "string expected", tx.exec, tx, nil)
raises("tx query param", "SQL parameter", tx.query, tx, "select ?", {})
raises("tx commit cb", "function expected", tx.commit, tx, 5)
raises("tx rollback cb", "function expected", tx.rollback, tx, "x")
raises("tx commit self", "sql.tx expected", tx.commit, nil)
raises("tx rollback self", "sql.tx expected", tx.rollback, db)
eq("tostring tx", tostring(tx), "sql.tx")
assert(tx:rollback())
eq("tostring tx closed", tostring(tx), "sql.tx (closed)")
raises("commit after rollback", "sql.tx is closed", tx.commit, tx)
raises("rollback twice", "sql.tx is closed", tx.rollback, tx)
raises("exec after rollback", "sql.tx is closed", tx.exec, tx, "select 1")

-- sqlstate never raises.
for i = 1, n do eq("sqlstate odd " .. i, sql.sqlstate(odd[i]), nil) end
eq("sqlstate", sql.sqlstate("ESQL: 23505 dup"), "23505")

eq("tostring db", tostring(db), "sql.db (sqlite)")
eq("close", db:close(), true)
eq("tostring closed", tostring(db), "sql.db (closed)")
raises("close twice", "sql.db is closed", db.close, db)
raises("query after close", "sql.db is closed", db.query, db, "select 1")
raises("begin after close", "sql.db is closed", db.begin, db)
print("PASS")
