-- Every function of the kv module, in both styles, on one node (an embedded NATS server
-- with JetStream, in a temporary store).
local kv = require "kv"
local time = require "time"
local check = require "check"

-- Await style in the main chunk.
local b, err = kv.bucket("api", {history = 5, timeout = 5000})
check.eq(err, nil, "bucket err")
check.eq(b.name, "api", "b.name")

-- An empty bucket.
local keys = b:keys()
check.eq(type(keys), "table", "keys of an empty bucket")
check.eq(#keys, 0, "no keys")
check.eq(b:get("absent"), nil, "get of an absent key")
local v, e2 = b:get("absent")
check.eq(v, nil, "absent value")
check.eq(e2, nil, "absent is not an error")

-- put, get.
local r1 = b:put("user.1", "alice")
check.eq(r1, 1, "first revision")
local got = b:get("user.1")
check.same(got, {key = "user.1", value = "alice", revision = 1}, "get")
local r2 = b:put("user.1", "alice2")
check.eq(r2, 2, "second revision")
check.eq(b:get("user.1").value, "alice2", "put replaces")

-- create: only when absent.
local r3 = b:create("user.2", "bob")
check.eq(r3, 3, "create revision")
local nothing, cerr = b:create("user.2", "again")
check.eq(nothing, nil, "create of an existing key")
check.match(cerr, "^EEXIST: kv%.create api/user%.2: the key exists$", "create err")
check.eq(err_code(cerr), "EEXIST", "err_code")
check.eq(b:get("user.2").value, "bob", "create did not overwrite")

-- update: compare-and-set.
local stale, uerr = b:update("user.1", "x", 1)
check.eq(stale, nil, "stale update")
check.match(uerr, "^ECONFLICT: kv%.update api/user%.1: ", "stale update err")
local r4 = b:update("user.1", "alice3", 2)
check.eq(r4, 4, "update revision")
check.eq(b:get("user.1").value, "alice3", "update wrote")
local _, merr = b:update("missing", "x", 1)
check.match(merr, "^ECONFLICT:", "update of a missing key")

-- keys, sorted.
b:put("a", "1")
check.same(b:keys(), {"a", "user.1", "user.2"}, "keys")

-- delete: the key is gone, deleting again is fine, create works again after it.
check.eq(b:delete("user.2"), true, "delete")
check.eq(b:get("user.2"), nil, "deleted key")
check.eq(b:delete("user.2"), true, "delete twice")
check.eq(b:delete("never"), true, "delete of an absent key")
check.same(b:keys(), {"a", "user.1"}, "keys after delete")
local r5 = b:create("user.2", "bob2")
check.ok(r5 > r4, "create after delete")

-- Binary values: every byte value, NUL included, and an empty string.
local bytes = {}
for i = 0, 255 do bytes[#bytes + 1] = string.char(i) end
local bin = table.concat(bytes) .. "\0\0end"
b:put("bin", bin)
check.eq(b:get("bin").value, bin, "binary value")
b:put("empty", "")
check.eq(b:get("empty").value, "", "empty value")
local big = string.rep("x", 512 * 1024)
b:put("big", big)
check.eq(b:get("big").value, big, "512 KiB value")
local _, toobig = b:put("huge", string.rep("y", 2 * 1024 * 1024))
check.match(toobig, "^EMSGSIZE:", "a value over NATS's max payload")

-- Binding again: with no options an existing bucket is bound as it is; with the same
-- options it is the same bucket; with others it is an error.
local again = kv.bucket("api")
check.eq(again:get("a").value, "1", "bound again")
check.eq(kv.bucket("api", {history = 5}):get("a").value, "1", "same options")
local none, berr = kv.bucket("api", {history = 7})
check.eq(none, nil, "other options")
check.match(berr, "^EEXIST: kv%.bucket api: the bucket exists with other settings", "other options err")
local _, rerr = kv.bucket("r3", {replicas = 3})
check.match(rerr, "^ENOTSUP: kv%.bucket r3: 3 replicas need a cluster", "replicas on one node")

-- Callback style, and its order.
local order = {}
b:put("cb", "1", check.once("put cb", function(err, rev)
  check.eq(err, nil, "put cb err")
  check.eq(type(rev), "number", "put cb revision")
  order[#order + 1] = "put"
  b:get("cb", check.once("get cb", function(err, e)
    check.eq(err, nil, "get cb err")
    check.eq(e.value, "1", "get cb value")
    b:create("cb", "2", check.once("create cb", function(err)
      check.eq(err_code(err), "EEXIST", "create cb err")
      b:update("cb", "3", e.revision, check.once("update cb", function(err, rev2)
        check.eq(err, nil, "update cb err")
        check.ok(rev2 > e.revision, "update cb revision")
        b:keys(check.once("keys cb", function(err, ks)
          check.eq(err, nil, "keys cb err")
          check.ok(#ks >= 3, "keys cb")
          b:delete("cb", check.once("delete cb", function(err, ok)
            check.eq(err, nil, "delete cb err")
            check.eq(ok, true, "delete cb")
          end))
        end))
      end))
    end))
  end))
end))
kv.bucket("cbstyle", check.once("bucket cb", function(err, bb)
  check.eq(err, nil, "bucket cb err")
  check.eq(bb.name, "cbstyle", "bucket cb name")
end))
kv.bucket("cbstyle2", {ttl = 60}, check.once("bucket cb with options", function(err, bb)
  check.eq(err, nil, "bucket cb with options err")
  check.eq(bb.name, "cbstyle2", "bucket cb with options name")
end))

-- ttl: a value expires.
local short = kv.bucket("short", {ttl = 1})
short:put("k", "v")
check.eq(short:get("k").value, "v", "before expiry")
local gone = false
for _ = 1, 50 do
  time.sleep(100)
  if short:get("k") == nil then gone = true break end
end
check.ok(gone, "the value expired within 5 s of a 1 s ttl")

-- A watch: the current values first, then every change in order.
-- history 64: a watcher that falls behind (its consumer restarted, the machine loaded)
-- resumes from the stream, which keeps only history revisions of each key.
local w = kv.bucket("watched", {history = 64})
w:put("s.keep", "0")
w:put("s.gone", "x")
w:delete("s.gone")
w:put("other", "no")
local seen = {}
local watcher = w:watch("s.", function(err, c)
  check.eq(err, nil, "watch err")
  seen[#seen + 1] = c.op .. " " .. c.key .. "=" .. c.value .. "@" .. c.revision
end)
check.eq(watcher:ready(), true, "watcher ready")
check.same(seen, {"put s.keep=0@1"}, "current values (deleted key left out)")
local ra = w:put("s.a", "1")
w:put("other2", "not watched")
local rb = w:put("s.a", "2")
w:delete("s.a")
local rc = w:put("s.b", "3")
for _ = 1, 100 do
  if #seen >= 5 then break end
  time.sleep(20)
end
check.same(seen, {"put s.keep=0@1", "put s.a=1@" .. ra, "put s.a=2@" .. rb, "delete s.a=@" .. (rb + 1), "put s.b=3@" .. rc}, "changes in order")
watcher:stop()
watcher:stop() -- twice is harmless
local _, rderr = watcher:ready()
check.match(rderr, "^ECANCELED: kv.watch: the watcher was stopped", "ready after stop")
w:put("s.c", "after stop")
time.sleep(100)
check.eq(#seen, 5, "nothing after stop")

-- A prefix that is not a whole token: "ab" matches "abc" and "ab.x", not "a".
local pw = {}
local p = w:watch("ab", function(err, c) pw[#pw + 1] = c.key end)
p:ready(check.once("ready cb", function(err)
  check.eq(err, nil, "ready cb err")
  w:put("abc", "1")
  w:put("a", "1")
  w:put("ab.x", "1")
  w:put("xab", "1")
  time.timeout(300, function()
    check.same(pw, {"abc", "ab.x"}, "prefix watch")
    p:stop()
  end)
end))

-- The whole bucket: nil or "".
local all = w:watch(nil, function() end)
check.eq(all:ready(), true, "watch of every key")
all:stop()

check.pass_after(1500)
