-- SQLite: types, errors, transactions, timeouts. arg[1]: a directory for the files.
local sql = require "sql"
local time = require "time"
local json = require "json"
local C = require "check"
local eq, code = C.eq, C.code

local db = assert(sql.open("sqlite:" .. arg[1] .. "/test.db", {max_conns = 2}))
assert(db:exec([[
  create table t (id integer primary key, i integer, f real, s text, b blob, ok boolean,
    ts timestamp, j json, u text unique);
  create table child (id integer primary key, parent integer references t(id))]]))

local bin = C.allbytes()
local now = time.now()
local r = assert(db:exec("insert into t (i, f, s, b, ok, ts, j) values (?, ?, ?, ?, ?, ?, ?)",
  2^60, 0.5, "héllo", bin, true, now, '{"a":[1,null]}'))
eq("rows_affected", r.rows_affected, 1)
eq("last_insert_id", r.last_insert_id, 1)
local row = assert(db:query("select * from t"))[1]
eq("2^60: exact, as a string", row.i, "1152921504606846976")
eq("float", row.f, 0.5)
eq("text", row.s, "héllo")
eq("blob", row.b, bin)
eq("boolean", row.ok, true)
eq("timestamp", row.ts.milliunix, now.milliunix)
eq("json", row.j.a[2], json.null)
eq("null", row.u, sql.null)
-- Text with a NUL (valid UTF-8) stays whole.
assert(db:exec("insert into t (s) values (?)", "a\0b"))
eq("NUL in text", assert(db:query("select s from t where id = 2"))[1].s, "a\0b")
-- Exact integers.
local big = assert(db:query("select 9007199254740993 as a, 9007199254740992 as b, -5 as c, ? as d", "x"))[1]
eq("big", big.a, "9007199254740993")
eq("2^53", big.b, 9007199254740992)
eq("neg", big.c, -5)

-- Errors: constraints get PostgreSQL's SQLSTATE.
assert(db:exec("update t set u = 'x' where id = 1"))
local _, err = db:exec("insert into t (u) values ('x')")
code("unique", err, "ESQL")
eq("unique sqlstate", sql.sqlstate(err), "23505")
local _, err = db:exec("insert into child (parent) values (999)")
eq("foreign key", sql.sqlstate(err), "23503")
local _, err = db:query("selec 1")
eq("syntax", sql.sqlstate(err), "SQLITE_ERROR")

-- Transactions.
local tx = assert(db:begin())
assert(tx:exec("insert into t (s) values ('in tx')"))
assert(tx:commit())
eq("committed", #assert(db:query("select * from t where s = 'in tx'")), 1)
local tx = assert(db:begin())
assert(tx:exec("insert into t (s) values ('rolled')"))
assert(tx:rollback())
eq("rolled back", #assert(db:query("select * from t where s = 'rolled'")), 0)

-- Statement timeout: a query that counts for ever, interrupted.
local slow = assert(sql.open("sqlite:" .. arg[1] .. "/test.db", {statement_timeout = 100}))
local _, err = slow:query("with recursive c(x) as (select 1 union all select x + 1 from c) select count(*) from c")
code("timeout", err, "ETIMEDOUT")
slow:close()

-- :memory: is one connection: its tables are there for every query.
local mem = assert(sql.open("sqlite::memory:", {max_conns = 8}))
assert(mem:exec("create table m (x)"))
local hs = {}
for i = 1, 10 do hs[i] = spawn(function() return assert(mem:exec("insert into m values (?)", i)).rows_affected end) end
for _, h in ipairs(wait_all(hs)) do eq("memory insert", h[1], 1) end
eq("memory count", assert(mem:query("select count(*) as n from m"))[1].n, 10)
mem:close()

-- Concurrent writers on a file: WAL and the busy timeout serialise them.
local hs = {}
for i = 1, 20 do
  hs[i] = spawn(function()
    local tx = assert(db:begin())
    assert(tx:exec("insert into t (s) values (?)", "w" .. i))
    return assert(tx:commit())
  end)
end
for _, h in ipairs(wait_all(hs)) do eq("writer", h[1], true) end
eq("writers", assert(db:query("select count(*) as n from t where s like 'w%'"))[1].n, 20)

-- Bad URIs.
local _, err = sql.open("mysql://x")
code("scheme", err, "EINVAL")
local _, err = sql.open("sqlite:")
code("no path", err, "EINVAL")
local _, err = sql.open("sqlite:" .. arg[1] .. "/no/such/dir/x.db")
code("missing directory", err, "ESQL")

db:close()
print("PASS")
