-- Errors, timeouts, transactions, the pool's bound, and both styles, on PostgreSQL.
-- arg[1]: the server's URI; arg[2]: a URI where nothing listens.
local sql = require "sql"
local C = require "check"
local eq, code = C.eq, C.code

local db = assert(sql.open(arg[1], {max_conns = 2, statement_timeout = 1000}))
assert(db:exec("drop table if exists kv; create table kv (k text primary key, v int not null)"))

-- A unique violation: ESQL with its SQLSTATE.
assert(db:exec("insert into kv values ($1, $2)", "a", 1))
local r, err = db:exec("insert into kv values ($1, $2)", "a", 2)
eq("dup result", r, nil)
code("dup", err, "ESQL")
eq("dup sqlstate", sql.sqlstate(err), "23505")
assert(err:find("^ESQL: 23505 duplicate key"), err)
local _, err = db:exec("insert into kv values ($1, $2)", "b", nil)
eq("not null", sql.sqlstate(err), "23502")
local _, err = db:query("selec 1")
eq("syntax", sql.sqlstate(err), "42601")
eq("sqlstate of nil", sql.sqlstate(nil), nil)
eq("sqlstate of another error", sql.sqlstate("ETIMEDOUT: x"), nil)

-- Statement timeout: pg_sleep(5) with 100 ms.
local short = assert(sql.open(arg[1], {statement_timeout = 100}))
local t0 = os.clock()
local started = require("time").now().milliunix
local rows, err = short:query("select pg_sleep(5)")
local took = require("time").now().milliunix - started
eq("timeout rows", rows, nil)
code("timeout", err, "ETIMEDOUT")
assert(took < 3000, "the timeout took " .. took .. " ms")
-- The db works after a timeout.
eq("after timeout", assert(short:query("select 1 as one"))[1].one, 1)
short:close()

-- Refused connection.
local nodb, err = sql.open(arg[2])
eq("refused db", nodb, nil)
code("refused", err, "ECONNREFUSED")

-- Transactions: commit, rollback, an error inside, and a tx that is never ended.
local tx = assert(db:begin())
assert(tx:exec("insert into kv values ($1, $2)", "c", 3))
eq("inside the tx", assert(tx:query("select v from kv where k = 'c'"))[1].v, 3)
eq("commit", tx:commit(), true)
eq("committed", #assert(db:query("select * from kv where k = 'c'")), 1)
local ok, err = pcall(tx.query, tx, "select 1")
eq("tx closed after commit", ok, false)
assert(err:find("sql.tx is closed"), err)

local tx = assert(db:begin())
assert(tx:exec("insert into kv values ($1, $2)", "d", 4))
eq("rollback", tx:rollback(), true)
eq("rolled back", #assert(db:query("select * from kv where k = 'd'")), 0)

local tx = assert(db:begin())
local _, err = tx:exec("insert into kv values ($1, $2)", "a", 9)
eq("error in tx", sql.sqlstate(err), "23505")
local _, err = tx:query("select 1")
eq("aborted tx", sql.sqlstate(err), "25P02")
local ok, err = tx:commit()
code("commit of an aborted tx", err or "ESQL: rolled back", "ESQL")
eq("aborted tx left nothing", #assert(db:query("select * from kv where v = 9")), 0)

-- Callback style, the same calls.
local done = 0
db:query("select $1::int + 1 as n", 41, function(err, rows)
  assert(not err, err)
  eq("callback query", rows[1].n, 42)
  db:exec("update kv set v = v + 1 where k = $1", "a", function(err, r)
    assert(not err, err)
    eq("callback exec", r.rows_affected, 1)
    db:begin(function(err, tx)
      assert(not err, err)
      tx:exec("insert into kv values ('e', 5)", function(err)
        assert(not err, err)
        tx:commit(function(err)
          assert(not err, err)
          done = done + 1
        end)
      end)
    end)
  end)
end)
while done == 0 do require("time").sleep(5) end
eq("callback tx committed", #assert(db:query("select * from kv where k = 'e'")), 1)

-- The pool's bound: max_conns = 2. Two transactions hold both connections; a query then
-- waits in the queue until one ends, or until its statement timeout.
local t1, t2 = assert(db:begin()), assert(db:begin())
local rows, err = db:query("select 1")
code("pool exhausted: waits, then times out", err, "ETIMEDOUT")
assert(err:find("waiting for a connection"), err)
local got
db:query("select 2 as two", function(err, rows) got = err or rows[1].two end)
require("time").sleep(50)
eq("still waiting", got, nil)
assert(t1:rollback())
require("time").sleep(100)
eq("ran once a connection came back", got, 2)
assert(t2:commit())
-- Many at once: all served, at most 2 at a time.
local handles = {}
for i = 1, 20 do
  handles[i] = spawn(function() return assert(db:query("select $1::int as i, pg_sleep(0.01)", i))[1].i end)
end
for i, r in ipairs(wait_all(handles)) do eq("concurrent " .. i, r[1], i) end
local conns = assert(db:query("select count(*) as n from pg_stat_activity where backend_type = 'client backend' and datname = current_database()"))[1].n
assert(conns <= 2 + 1, "connections: " .. conns) -- the db's 2 and none leaked

-- Killed mid-query: the backend serving a query is terminated (as a crash of that
-- server process, or an administrator, would): the query fails with its SQLSTATE
-- (57P01, admin shutdown), and the db dials a new connection for the next one.
do
  local victim = assert(sql.open(arg[1], {max_conns = 1}))
  local h = spawn(function() return victim:query("select pg_sleep(5) as killed_mid_query") end)
  local killed = 0
  for _ = 1, 50 do
    require("time").sleep(50)
    killed = #assert(db:query("select pg_terminate_backend(pid) from pg_stat_activity where query like $1 and pid <> pg_backend_pid()", "%as killed_mid_query"))
    if killed > 0 then break end
  end
  eq("backends terminated", killed, 1)
  local r = wait_all({h})[1]
  eq("killed query rows", r[1], nil)
  assert(r[2], "a killed query must fail")
  eq("killed query sqlstate", sql.sqlstate(r[2]), "57P01")
  eq("after the kill", assert(victim:query("select 7 as seven"))[1].seven, 7)
  victim:close()
end

-- A transaction dropped without commit is rolled back when collected.
do
  local tx = assert(db:begin())
  assert(tx:exec("insert into kv values ('lost', 1)"))
end
collectgarbage(); collectgarbage()
require("time").sleep(100)
eq("dropped tx rolled back", #assert(db:query("select * from kv where k = 'lost'")), 0)

-- A transaction left open when the worker ends: rolled back (checked by the Go test).
local open_tx = assert(db:begin())
assert(open_tx:exec("insert into kv values ('at_end', 1)"))
_G.keep = open_tx

db:close()
local ok, err = pcall(db.query, db, "select 1")
eq("query after close", ok, false)
print("PASS")
