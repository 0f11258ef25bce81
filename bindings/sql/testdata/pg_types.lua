-- Every type PostgreSQL gives back, and every kind of parameter, both ways.
local sql = require "sql"
local time = require "time"
local json = require "json"
local C = require "check"
local eq = C.eq

local db = assert(sql.open(arg[1]))
assert(db:exec([[
  drop table if exists types;
  create table types (
    id serial primary key, i2 smallint, i4 integer, i8 bigint, f4 real, f8 double precision,
    num numeric, t text, vc varchar(10), b bytea, ok boolean, ts timestamptz, tsn timestamp,
    d date, j json, jb jsonb, u uuid, iv interval, arr int[], tarr text[]
  )]]))

local bin = C.allbytes()
local now = time.now()
local r = assert(db:exec([[insert into types (i2, i4, i8, f4, f8, num, t, vc, b, ok, ts, tsn, d, j, jb, u, iv, arr, tarr)
  values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)]],
  -32768, 2147483647, 9007199254740992, 1.5, 0.1, "12345678901234567890.000000001", "héllo\\n'", "short",
  bin, true, now, now, "2024-02-29", '{"a":[1,null,"x"],"n":null}', '[1,2.5,{"k":true}]',
  "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "1 day 02:00:00", "{1,2,NULL}", '{"a","b c"}'))
eq("rows_affected", r.rows_affected, 1)
eq("last_insert_id", r.last_insert_id, nil)

local rows = assert(db:query("select * from types"))
eq("rows", #rows, 1)
eq("rows are an array", getmetatable(rows), json.array_mt)
local row = rows[1]
eq("i2", row.i2, -32768)
eq("i4", row.i4, 2147483647)
eq("i8", row.i8, 9007199254740992)
eq("f4", row.f4, 1.5)
eq("f8", row.f8, 0.1)
eq("num", row.num, "12345678901234567890.000000001")
eq("t", row.t, "héllo\\n'")
eq("vc", row.vc, "short")
eq("bytea", row.b, bin)
eq("bool", row.ok, true)
eq("ts is a Timestamp", getmetatable(row.ts), time.Timestamp)
eq("ts", row.ts.milliunix, now.milliunix)
eq("tsn", type(row.tsn.milliunix), "number")
eq("date", row.d, "2024-02-29")
eq("json", row.j.a[1], 1)
eq("json null in array", row.j.a[2], json.null)
eq("json array length", #row.j.a, 3)
eq("json null member", row.j.n, json.null)
eq("jsonb", row.jb[3].k, true)
eq("jsonb float", row.jb[2], 2.5)
eq("uuid", row.u, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")
eq("interval", row.iv, "1 day 02:00:00")
eq("int[]", #row.arr, 3)
eq("int[] 2", row.arr[2], 2)
eq("int[] NULL", row.arr[3], json.null)
eq("text[]", row.tarr[2], "b c")
eq("id", row.id, 1)

-- Big integers: exact up to 2^53, decimal strings beyond.
local big = assert(db:query("select 9007199254740993::int8 as a, (-9223372036854775808)::int8 as b, $1::int8 as c, $2::int8 as d",
  "9223372036854775807", 2^53))[1]
eq("2^53+1", big.a, "9007199254740993")
eq("min int8", big.b, "-9223372036854775808")
eq("max int8 from a string", big.c, "9223372036854775807")
eq("2^53", big.d, 9007199254740992)

-- NULLs: every column present, as json.null (sql.null).
assert(db:exec("insert into types (t) values ($1)", nil))
assert(db:exec("insert into types (t, b) values ($1, $2)", json.null, sql.null))
local nulls = assert(db:query("select * from types where id > 1 order by id"))
eq("null rows", #nulls, 2)
eq("sql.null is json.null", sql.null, json.null)
for _, n in ipairs(nulls) do
  eq("null i8", n.i8, sql.null)
  eq("null t", n.t, sql.null)
  eq("null b", n.b, sql.null)
  eq("null ts", n.ts, sql.null)
end

-- Parameters of each kind into each type.
local p = assert(db:query([[select $1::int4 as i, $2::float8 as f, $3::text as t, $4::bool as b, $5::numeric as n,
  $6::float8 as fi, $7::text as ti, $8::timestamptz as ts, $9::bytea as by, $10::jsonb as jb, $11::uuid as u,
  $12::float8 as nan, $13::int8 as neg]],
  42, 2.25, "x", false, 10, 3, 7, now, "\0\1\255", '{"z":1}', "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", 0/0, -1))[1]
eq("int param", p.i, 42)
eq("float param", p.f, 2.25)
eq("text param", p.t, "x")
eq("bool param", p.b, false)
eq("numeric param", p.n, "10")
eq("integer into float8", p.fi, 3)
eq("integer into text", p.ti, "7")
eq("timestamp param", p.ts.milliunix, now.milliunix)
eq("bytes into bytea", p.by, "\0\1\255")
eq("string into jsonb", p.jb.z, 1)
eq("string into uuid", p.u, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")
eq("NaN", p.nan ~= p.nan, true)
eq("negative", p.neg, -1)

-- Binary with backslashes and the text of bytea's escapes stays bytes.
local esc = "\\x41\\\\000"
eq("bytea escapes", assert(db:query("select $1::bytea as b", esc))[1].b, esc)

-- Empty result: an empty array.
local none = assert(db:query("select * from types where id < 0"))
eq("no rows", #none, 0)
eq("no rows encodes as []", json.encode(none), "[]")

-- exec's rows_affected.
eq("update", assert(db:exec("update types set t = 'y' where id > 1")).rows_affected, 2)
eq("delete", assert(db:exec("delete from types where id = $1", 99)).rows_affected, 0)

db:close()
print("PASS")
