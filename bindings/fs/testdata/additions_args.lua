-- The functions added to fs, called with odd values under pcall: each raises a clear
-- argument error (or gives a sensible result), never a crash, and creates nothing.
local fs = require "fs"
local check = require "check"
local F = fs.flags
local dir = __dirname__
local p = dir .. "/x"
local nan, huge = 0 / 0, math.huge
local cyclic = {}
cyclic.self = cyclic
local co = coroutine.create(function() end)
local handle = assert(fs.open(dir .. "/handle", F.CREATE + F.WRITE_ONLY))

local function raises(want, f, ...)
  check.raises(want, f, ...)
end

local function bad(n, fname, msg)
  return "bad argument #" .. n .. " to 'fs." .. fname .. "' (" .. msg
end

-- Modes: every function that takes one refuses the same odd values the same way.
local function bad_modes(fname, n, call)
  raises(bad(n, fname, "invalid mode -1 ("), call, -1)
  raises(bad(n, fname, "invalid mode 4096 ("), call, 4096)
  raises(bad(n, fname, "invalid mode 65536 ("), call, 0x10000)
  raises(bad(n, fname, "invalid mode 1e+300 ("), call, 1e300)
  raises(bad(n, fname, "invalid mode -1e+300 ("), call, -1e300)
  raises(bad(n, fname, "number has no integer representation"), call, nan)
  raises(bad(n, fname, "number has no integer representation"), call, huge)
  raises(bad(n, fname, "number has no integer representation"), call, -huge)
  raises(bad(n, fname, "number has no integer representation"), call, 1.5)
  raises(bad(n, fname, "number has no integer representation"), call, -0.5)
  for _, s in ipairs({"", "rw", "0o", "0x1a4", " 644", "644 ", "-644", "+644", "8", "0o8", "1e3", "6.4", "0o0o7", "o644"}) do
    raises(bad(n, fname, string.format("invalid mode %q (", s)), call, s)
  end
  raises(bad(n, fname, 'invalid mode "17777" (more than 0o7777'), call, "17777")
  raises(bad(n, fname, 'invalid mode "0o10000" (more than 0o7777'), call, "0o10000")
  raises(bad(n, fname, "invalid mode (a string of 100 bytes"), call, string.rep("0", 100))
  raises(bad(n, fname, "invalid mode (a string of 1000000 bytes"), call, string.rep("7", 1000000))
  raises(bad(n, fname, "number or string expected, got table"), call, {})
  raises(bad(n, fname, "number or string expected, got boolean"), call, true)
  raises(bad(n, fname, "number or string expected, got thread"), call, co)
  raises(bad(n, fname, "number or string expected, got userdata"), call, handle)
  -- the hint says what a mode may be, and why strings
  local err = check.raises(bad(n, fname, "invalid mode"), call, "rw")
  check.ok(string.find(err, 'a string of octal digits such as "0644"', 1, true), "hint in " .. err)
end

bad_modes("open", 3, function(m) return fs.open(p, F.CREATE + F.WRITE_ONLY, m) end)
bad_modes("mkdir", 2, function(m) return fs.mkdir(p, m) end)
bad_modes("mkdir_all", 2, function(m) return fs.mkdir_all(p .. "/y", m) end)
bad_modes("chmod", 2, function(m) return fs.chmod(p, m) end)

-------------------------------------------------------------------------- writefile
raises(bad(1, "writefile", "string expected, got nil"), fs.writefile, nil, "x")
raises(bad(1, "writefile", "string expected, got table"), fs.writefile, {}, "x")
raises(bad(1, "writefile", "string expected, got thread"), fs.writefile, co, "x")
raises(bad(2, "writefile", "string expected, got no value"), fs.writefile, p)
raises(bad(2, "writefile", "string expected, got nil"), fs.writefile, p, nil)
raises(bad(2, "writefile", "string expected, got table"), fs.writefile, p, {})
raises(bad(2, "writefile", "string expected, got boolean"), fs.writefile, p, false)
raises(bad(2, "writefile", "string expected, got userdata"), fs.writefile, p, handle)
raises(bad(2, "writefile", "string expected, got function"), fs.writefile, p, print)
raises(bad(3, "writefile", "table expected, got number"), fs.writefile, p, "x", 5)
raises(bad(3, "writefile", "table expected, got string"), fs.writefile, p, "x", "atomic")
raises(bad(3, "writefile", "table expected, got boolean"), fs.writefile, p, "x", true)
raises(bad(4, "writefile", "function expected, got number"), fs.writefile, p, "x", {}, 5)
raises(bad(4, "writefile", "function expected, got string"), fs.writefile, p, "x", nil, "cb")
raises(bad(4, "writefile", "function expected, got table"), fs.writefile, p, "x", {atomic = true}, {})
local function opt(want, o) raises(bad(3, "writefile", want), fs.writefile, p, "x", o) end
opt("options.atomic and options.append exclude each other", {atomic = true, append = true})
opt("options.atomic and options.exclusive exclude each other", {atomic = true, exclusive = true})
opt("options.atomic must be a boolean", {atomic = 1})
opt("options.atomic must be a boolean", {atomic = "true"})
opt("options.append must be a boolean", {append = "yes"})
opt("options.exclusive must be a boolean", {exclusive = {}})
opt("options.mode: invalid mode -1 (", {mode = -1})
opt("options.mode: number has no integer representation", {mode = nan})
opt("options.mode: number has no integer representation", {mode = huge})
opt("options.mode: invalid mode 1e+300 (", {mode = 1e300})
opt("options.mode: number has no integer representation", {mode = 1.5})
opt('options.mode: invalid mode "rw" (', {mode = "rw"})
opt('options.mode: invalid mode "" (', {mode = ""})
opt('options.mode: invalid mode "17777" (more than 0o7777', {mode = "17777"})
opt("options.mode: invalid mode (a string of 100 bytes", {mode = string.rep("0", 100)})
opt("options.mode: invalid mode (a number 0 to 4095", {mode = true})
opt("options.mode: invalid mode (a number 0 to 4095", {mode = {}})
opt('unknown option "bogus" (atomic, append, exclusive, mode)', {bogus = 1})
opt('unknown option "Atomic"', {Atomic = true})
opt("unknown option [2.5]", {[2.5] = true})
opt("unknown option [1]", {true, atomic = true})
opt("options must be a table of name = value", {true})
opt("cannot encode a function value", {mode = print})
opt("cannot encode a table: cycle", cyclic)
local long = string.rep("k", 100)
local err = check.raises(bad(3, "writefile", "unknown option"), fs.writefile, p, "x", {[long] = true})
check.ok(#err < 300, "a long option name is cut in the error: " .. err)
-- an empty options table is no options (and nil options before a callback too)
check.eq(fs.writefile(dir .. "/empty-options", "ok", {}), 2, "empty options")

-------------------------------------------------------------------------- rename
raises(bad(1, "rename", "string expected, got nil"), fs.rename, nil, p)
raises(bad(1, "rename", "string expected, got table"), fs.rename, {}, p)
raises(bad(2, "rename", "string expected, got no value"), fs.rename, p)
raises(bad(2, "rename", "string expected, got boolean"), fs.rename, p, true)
raises(bad(3, "rename", "function expected, got number"), fs.rename, p, p, 1)
raises(bad(3, "rename", "function expected, got table"), fs.rename, p, p, {})

-------------------------------------------------------------------------- mkdir, mkdir_all
raises(bad(1, "mkdir", "string expected, got nil"), fs.mkdir, nil)
raises(bad(1, "mkdir", "string expected, got table"), fs.mkdir, {}, "0700")
raises(bad(3, "mkdir", "function expected, got number"), fs.mkdir, p, "0700", 5)
raises(bad(3, "mkdir", "function expected, got string"), fs.mkdir, p, nil, "cb")
raises(bad(1, "mkdir_all", "string expected, got nil"), fs.mkdir_all, nil)
raises(bad(3, "mkdir_all", "function expected, got boolean"), fs.mkdir_all, p, 448, true)
raises(bad(1, "mkdir", "string expected, got nil"), function() return fs:mkdir(nil) end)

-------------------------------------------------------------------------- chmod
raises(bad(1, "chmod", "string expected, got nil"), fs.chmod, nil, "0644")
raises(bad(2, "chmod", "number or string expected, got no value"), fs.chmod, p)
raises(bad(2, "chmod", "number or string expected, got nil"), fs.chmod, p, nil)
raises(bad(3, "chmod", "function expected, got table"), fs.chmod, p, "0644", {})
-- (elsewhere a function where the mode goes is the callback)
raises(bad(2, "chmod", "number or string expected, got function"), fs.chmod, p, print)
raises(bad(2, "chmod", "invalid mode -1"), function() return fs:chmod(p, -1) end)

-------------------------------------------------------------------------- lstat, readlink, tmpdir
raises(bad(1, "lstat", "string expected, got nil"), fs.lstat, nil)
raises(bad(1, "lstat", "string expected, got table"), fs.lstat, {})
raises(bad(2, "lstat", "function expected, got boolean"), fs.lstat, p, true)
raises(bad(1, "readlink", "string expected, got no value"), fs.readlink)
raises(bad(1, "readlink", "string expected, got userdata"), fs.readlink, handle)
raises(bad(2, "readlink", "function expected, got number"), fs.readlink, p, 1)
check.eq(type(fs.tmpdir(nil, 1, {}, nan)), "string", "tmpdir ignores arguments")

-------------------------------------------------------------------------- odd but valid
-- A path that is too long is an I/O error, not a raise.
local very_long = dir .. "/" .. string.rep("a", 1000000)
for _, o in ipairs({{}, {atomic = true}, {append = true}}) do
  local n, e = fs.writefile(very_long, "x", o)
  check.eq(n, nil, "very long path")
  check.ok(type(e) == "string" and string.find(e, "file name too long", 1, true), "very long path: " .. tostring(e))
end
-- A long file name that is still valid: the atomic write's temporary name stays valid too.
local name255 = dir .. "/" .. string.rep("n", 255)
check.eq(fs.writefile(name255, "long", {atomic = true}), 4, "a 255-byte name, atomic")
check.eq(fs.readfile(name255), "long", "255-byte name content")
-- Numbers as paths and data are strings, as Lua converts them.
check.eq(fs.writefile(dir .. "/" .. 7, 1e300), #tostring(1e300), "number data")
check.eq(fs.readfile(dir .. "/7"), tostring(1e300), "number data content")
-- A mode given as a numeric string is octal, not the decimal number Lua would convert.
check.eq(fs.mkdir(dir .. "/m", "700"), true, "mode 700 as a string")
check.eq(fs.stat(dir .. "/m").mode, 448, "\"700\" is octal")
check.eq(fs.mkdir(dir .. "/m0", 0), true, "mode 0")
check.eq(fs.stat(dir .. "/m0").mode_string, "0000", "mode 0 applied")

handle:close()
-- nothing was made by the calls that raised
local st, e = fs.stat(p)
check.eq(st, nil, "x was not made")
check.ok(string.find(e, "no such file or directory", 1, true), "x: " .. tostring(e))
print("PASS")
