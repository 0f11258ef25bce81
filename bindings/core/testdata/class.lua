-- class(parent?): classes with :init, inheritance, super, is_a and metamethods.
local check = require "check"

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
check.eq(a.name, "generic")
check.eq(a:speak(), "generic says ...")
check.eq(getmetatable(a), Animal, "instance metatable")
check.eq(tostring(a), "Animal(generic)", "__tostring")
check.ok(a:is_a(Animal), "is_a own class")
check.eq(Animal.super, nil, "a root class has no super")

-- A subclass: its init calls the parent's; methods are inherited or overridden.
local Dog = class(Animal)
function Dog:init(name)
  Dog.super.init(self, name, "woof")
  self.tricks = {}
end
function Dog:kind() return "dog, an " .. Dog.super.kind(self) end
function Dog:learn(t) self.tricks[#self.tricks + 1] = t; return self end

local d = Dog("rex")
check.eq(d:speak(), "rex says woof", "inherited method")
check.eq(d:kind(), "dog, an animal", "override calling super")
check.eq(#d:learn("sit"):learn("roll").tricks, 2)
check.ok(d:is_a(Dog) and d:is_a(Animal), "is_a ancestors")
check.ok(not a:is_a(Dog), "a parent is not its child")
check.eq(Dog.super, Animal)
check.eq(tostring(d), "Animal(rex)", "metamethods inherited")
check.ok(d == Dog("rex"), "__eq inherited")

-- Three levels, and a class with no init.
local Puppy = class(Dog)
local p = Puppy("bit")
check.eq(p:speak(), "bit says woof", "grand-parent's init through the parent's")
check.ok(p:is_a(Animal) and p:is_a(Dog) and p:is_a(Puppy))
local Empty = class()
local e = Empty(1, 2, 3)
check.eq(getmetatable(e), Empty)
check.ok(not e:is_a(Animal))

-- A method added to the parent later is seen by its subclasses' instances.
function Animal:later() return "later " .. self.name end
check.eq(d:later(), "later rex")

-- Instances are independent; class fields are shared defaults.
Animal.legs = 4
local d2 = Dog("fido")
d2.legs = 3
check.eq(d.legs, 4)
check.eq(d2.legs, 3)

-- init's results are ignored; the instance is returned.
local Weird = class()
function Weird:init() return 42 end
check.eq(getmetatable(Weird()), Weird)

-- is_a on other values.
check.eq(Animal.is_a({}, Animal), false)
check.eq(Animal.is_a(nil, Animal), false)
check.eq(Animal.is_a(5, Animal), false)

-- A plain table as the parent works as a base.
local Base = {greet = function(self) return "hi " .. self.n end}
local FromPlain = class(Base)
function FromPlain:init(n) self.n = n end
check.eq(FromPlain("x"):greet(), "hi x")
check.ok(FromPlain("y"):is_a(FromPlain))

-- Errors: a parent that is not a table; an error in init reaches the caller.
check.raises("bad argument #1 to 'class' (table expected, got number)", class, 5)
check.raises("bad argument #1 to 'class' (table expected, got string)", class, "Animal")
local Failing = class()
function Failing:init() error("no way") end
check.raises("no way", Failing)

check.pass_after(0)
