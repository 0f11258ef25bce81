-- The globals of bindings/core: bit_or / bit_and / bit_xor, uuid, err_code and class.
-- Moved from bindings/core/testdata (print, require and __dirname__ stay there: their Go
-- test reads the exact output and makes the modules).
local time = require "time"
local support = require "support"
local raises, show, onces = support.raises, support.show, support.onces

-- bit_or, bit_and, bit_xor: the original Dr.LEE's names for LuaJIT's bit.bor, bit.band
-- and bit.bxor.
local fs = require "fs"

test("bit_or, bit_and, bit_xor are LuaJIT's bit functions", function(t)
  t:eq(bit_or, bit.bor)
  t:eq(bit_and, bit.band)
  t:eq(bit_xor, bit.bxor)
  t:eq(bit_or(0x1, 0x200), 0x201)
  t:eq(bit_or(fs.flags.CREATE, fs.flags.WRITE_ONLY, fs.flags.TRUNC), 0x601, "fs flags, three at once")
  t:eq(bit_and(0xff, 0x0f), 0x0f)
  t:eq(bit_xor(0xff, 0x0f), 0xf0)
  t:eq(bit_and(0x601, fs.flags.CREATE), fs.flags.CREATE)
  -- 32-bit results, as LuaJIT's.
  t:eq(bit_or(0x80000000, 0), -0x80000000)
  t:eq(bit_xor(-1, 0), -1)
  raises(t, "number expected, got string", bit_or, "x", 1)
  raises(t, "number expected, got nil", bit_and, 1, nil)
  raises(t, "number expected, got table", bit_xor, {}, 1)
end)

test("uuid() gives 1000 distinct version-4 UUIDs", function(t)
  local seen = {}
  for i = 1, 1000 do
    local id = uuid()
    t:ok(id:match("^%x%x%x%x%x%x%x%x%-%x%x%x%x%-4%x%x%x%-[89ab]%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$"), "uuid " .. id)
    t:ok(not seen[id], "uuid repeated: " .. id)
    seen[id] = true
  end
end)

-- err_code(err): the code an error string starts with; nil for no error; EUNKNOWN for
-- anything else. It never raises, whatever it is given.

test("err_code of coded strings", function(t)
  t:eq(err_code("ENOENT: open /x: no such file or directory"), "ENOENT")
  t:eq(err_code("ETIMEDOUT"), "ETIMEDOUT", "a code alone")
  t:eq(err_code("EAI_AGAIN: lookup x: server misbehaving"), "EAI_AGAIN")
  t:eq(err_code("EUNKNOWN: oops"), "EUNKNOWN")
end)

-- Strings without a code: a script's own errors, and look-alikes.
test("err_code of strings without a code", function(t)
  for _, s in ipairs({"", "oops", "EOF", "ERROR: disk full", "enoent: x", "ENOENT : x",
      "ENOENTX: x", " ENOENT: x", "main.lua:3: ENOENT: x", "E", string.rep("E", 1000),
      "ENOENT\0: x", "\0"}) do
    t:eq(err_code(s), "EUNKNOWN", "err_code(" .. show(s) .. ")")
  end
end)

-- No error: nil, absent, false; one result either way.
test("err_code of no error", function(t)
  t:eq(err_code(nil), nil)
  t:eq(err_code(), nil)
  t:eq(err_code(false), nil)
  t:eq(select("#", err_code(nil)), 1, "results for nil")
  t:eq(select("#", err_code("ENOENT")), 1, "results for a string")
end)

-- Odd values: EUNKNOWN, never a raise.
test("err_code of odd values", function(t)
  local co = coroutine.create(function() end)
  for label, v in pairs({
    ["true"] = true, number = 404, zero = 0, nan = 0 / 0, inf = math.huge, ninf = -math.huge,
    table = {}, coded_table = {code = "ENOENT"}, ["function"] = print, coroutine = co,
    userdata = newproxy(), file = io.stderr, lightuserdata = require("json").null,
  }) do
    local ok, code = pcall(err_code, v)
    t:eq(ok, true, "err_code(" .. label .. ") raised: " .. tostring(code))
    t:eq(code, "EUNKNOWN", "err_code(" .. label .. ")")
  end
  -- A table with __tostring is still not a string.
  t:eq(err_code(setmetatable({}, {__tostring = function() return "ENOENT: x" end})), "EUNKNOWN")
  -- Extra arguments are ignored.
  t:eq(err_code("EPIPE: x", "ENOENT"), "EPIPE")
end)

-- Long strings: only the start counts.
test("err_code of long strings", function(t)
  local long = "ENOENT: " .. string.rep("x", 8 * 1024 * 1024)
  t:eq(err_code(long), "ENOENT", "8 MiB error")
  t:eq(err_code(string.rep("x", 8 * 1024 * 1024)), "EUNKNOWN", "8 MiB without a code")
  t:eq(err_code(string.rep("ENOENT", 100)), "EUNKNOWN", "a run of capitals")
end)

-- Every documented code reads back.
test("every documented code reads back", function(t)
  for _, c in ipairs({"ENOENT", "EEXIST", "ENOTDIR", "EISDIR", "ENOTEMPTY", "EACCES", "EPERM",
      "ENOSPC", "EMFILE", "EBADF", "EPIPE", "ECONNRESET", "ECONNREFUSED", "EADDRINUSE",
      "EHOSTUNREACH", "ETIMEDOUT", "EMSGSIZE", "ECLOSED", "ECANCELED", "ENOTFOUND", "EINVAL",
      "EPROTO", "ETLS", "EBUSY", "ENOHANDLER", "EHANDLER", "EINTERNAL"}) do
    t:eq(err_code(c .. ": text"), c)
  end
end)

-- A script's own error in the same form is read the same way, also through the helpers.
test("err_code of a script's own coded error, through the helpers", function(t)
  local once, done = onces(t)
  parallel_callback({function(cb) cb("EBUSY: try later") end}, once("parallel", function(err)
    t:eq(err_code(err), "EBUSY")
  end))
  local _, err = parallel_callback({function(cb) cb("ECANCELED: stopped") end})
  t:eq(err_code(err), "ECANCELED", "awaited helper")
  done()
end)

-- class(parent?): classes with :init, inheritance, super, is_a and metamethods.

test("class: init, inheritance, super, is_a and metamethods", function(t)
  local Animal = class()
  function Animal:init(name, sound)
    self.name = name
    self.sound = sound or "..."
  end
  function Animal:speak() return self.name .. " says " .. self.sound end
  function Animal:kind() return "animal" end
  Animal.__tostring = function(self) return "Animal(" .. self.name .. ")" end
  Animal.__eq = function(a, b) return a.name == b.name end

  local a = Animal("generic")
  t:eq(a.name, "generic")
  t:eq(a:speak(), "generic says ...")
  t:eq(getmetatable(a), Animal, "instance metatable")
  t:eq(tostring(a), "Animal(generic)", "__tostring")
  t:ok(a:is_a(Animal), "is_a own class")
  t:eq(Animal.super, nil, "a root class has no super")

  -- A subclass: its init calls the parent's; methods are inherited or overridden.
  local Dog = class(Animal)
  function Dog:init(name)
    Dog.super.init(self, name, "woof")
    self.tricks = {}
  end
  function Dog:kind() return "dog, an " .. Dog.super.kind(self) end
  function Dog:learn(t) self.tricks[#self.tricks + 1] = t; return self end

  local d = Dog("rex")
  t:eq(d:speak(), "rex says woof", "inherited method")
  t:eq(d:kind(), "dog, an animal", "override calling super")
  t:eq(#d:learn("sit"):learn("roll").tricks, 2)
  t:ok(d:is_a(Dog) and d:is_a(Animal), "is_a ancestors")
  t:ok(not a:is_a(Dog), "a parent is not its child")
  t:eq(Dog.super, Animal)
  t:eq(tostring(d), "Animal(rex)", "metamethods inherited")
  t:ok(d == Dog("rex"), "__eq inherited")

  -- Three levels, and a class with no init.
  local Puppy = class(Dog)
  local p = Puppy("bit")
  t:eq(p:speak(), "bit says woof", "grand-parent's init through the parent's")
  t:ok(p:is_a(Animal) and p:is_a(Dog) and p:is_a(Puppy))
  local Empty = class()
  local e = Empty(1, 2, 3)
  t:eq(getmetatable(e), Empty)
  t:ok(not e:is_a(Animal))

  -- A method added to the parent later is seen by its subclasses' instances.
  function Animal:later() return "later " .. self.name end
  t:eq(d:later(), "later rex")

  -- Instances are independent; class fields are shared defaults.
  Animal.legs = 4
  local d2 = Dog("fido")
  d2.legs = 3
  t:eq(d.legs, 4)
  t:eq(d2.legs, 3)

  -- init's results are ignored; the instance is returned.
  local Weird = class()
  function Weird:init() return 42 end
  t:eq(getmetatable(Weird()), Weird)

  -- is_a on other values.
  t:eq(Animal.is_a({}, Animal), false)
  t:eq(Animal.is_a(nil, Animal), false)
  t:eq(Animal.is_a(5, Animal), false)

  -- A plain table as the parent works as a base.
  local Base = {greet = function(self) return "hi " .. self.n end}
  local FromPlain = class(Base)
  function FromPlain:init(n) self.n = n end
  t:eq(FromPlain("x"):greet(), "hi x")
  t:ok(FromPlain("y"):is_a(FromPlain))

  -- Errors: a parent that is not a table; an error in init reaches the caller.
  raises(t, "bad argument #1 to 'class' (table expected, got number)", class, 5)
  raises(t, "bad argument #1 to 'class' (table expected, got string)", class, "Animal")
  local Failing = class()
  function Failing:init() error("no way") end
  raises(t, "no way", Failing)
end)
