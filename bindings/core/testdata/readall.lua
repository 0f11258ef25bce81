-- readall(reader, cb) / read_all: reads until a read returns no data (or "EOF"); a short
-- read is not the end.
local check = require "check"
local time = require "time"

-- A fake reader: each read returns the next chunk (a string, or {err = ...}), then "".
local function reader(chunks, async)
  local r = {reads = 0, sizes = {}}
  function r:read(n, cb)
    self.reads = self.reads + 1
    self.sizes[#self.sizes + 1] = n
    local c = chunks[self.reads]
    local function deliver()
      if c == nil then cb(nil, "")
      elseif type(c) == "table" then cb(c.err)
      else cb(nil, c) end
    end
    if async then time.timeout(0, deliver) else deliver() end
  end
  return r
end

check.eq(read_all, readall, "read_all")

for _, async in ipairs({false, true}) do
  local r = reader({"ab", "c", "\0\255", "def"}, async)
  local name = "short reads, async=" .. tostring(async)
  readall(r, check.once(name, function(err, body)
    check.eq(err, nil, name)
    check.eq(body, "abc\0\255def", name)
    check.eq(r.reads, 5, name .. ": reads")
    for _, n in ipairs(r.sizes) do check.ok(type(n) == "number" and n > 0, "read size " .. tostring(n)) end
  end))
end

-- The seed's spelling.
read_all(reader({"x", "y"}, true), check.once("read_all", function(err, body)
  check.eq(err, nil)
  check.eq(body, "xy")
end))

-- "EOF" as the error ends it with what was read.
readall(reader({"x", "y", {err = "EOF"}}, true), check.once("EOF", function(err, body)
  check.eq(err, nil)
  check.eq(body, "xy")
end))

-- Any other error is passed on.
readall(reader({"x", {err = "disk on fire"}}, true), check.once("error", function(err, body)
  check.eq(err, "disk on fire")
  check.eq(body, nil)
end))

-- nil data without an error is the end too.
readall({read = function(self, n, cb) cb(nil, nil) end}, check.once("nil data", function(err, body)
  check.eq(err, nil)
  check.eq(body, "")
end))

-- Nothing to read.
readall(reader({}, false), check.once("empty", function(err, body)
  check.eq(err, nil)
  check.eq(body, "")
end))

-- Many one-byte synchronous reads.
local chunks = {}
for i = 1, 1000 do chunks[i] = string.char(i % 256) end
readall(reader(chunks, false), check.once("many sync", function(err, body)
  check.eq(err, nil)
  check.eq(body, table.concat(chunks))
end))

-- A reader that calls back twice for every read: each read counts once, and readall calls
-- back once with each chunk once (it used to call back twice, and read on twice).
for _, async in ipairs({false, true}) do
  local chunks, reads = {"a", "b", "c"}, 0
  local twice = {read = function(self, n, cb)
    reads = reads + 1
    local c = chunks[reads] or ""
    local function deliver() cb(nil, c); cb(nil, c .. "again") end
    if async then time.timeout(0, deliver) else deliver() end
  end}
  local name = "reader calls back twice, async=" .. tostring(async)
  readall(twice, check.once(name, function(err, body)
    check.eq(err, nil, name)
    check.eq(body, "abc", name)
    check.eq(reads, 4, name .. ": reads")
  end))
end
-- Same with errors: one error, one callback.
readall({read = function(self, n, cb) cb("first"); cb("second"); cb(nil, "") end},
  check.once("error twice", function(err, body) check.eq(err, "first") end))

-- The callback is optional (no error: nothing reported).
readall(reader({"a"}, true))

check.raises("bad argument #1 to 'readall' (object with read(n, cb) expected, got nil)", readall)
check.raises("bad argument #1 to 'readall' (object with read(n, cb) expected, got table)", readall, {})
check.raises("bad argument #2 to 'readall' (function expected, got number)", readall, reader({}), 5)

check.pass_after(200)
