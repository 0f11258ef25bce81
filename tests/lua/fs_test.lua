-- require "fs", what needs no Go fixture: wrong arguments of every function and method
-- (moved from bindings/fs/testdata/args.lua, whose Go test compared the printed errors)
-- and odd values for the functions added later (additions_args.lua). Each test works in a
-- directory of its own under fs.tmpdir(), removed at its end.
local fs = require "fs"
local time = require "time"
local support = require "support"
local raises = support.raises
local F = fs.flags

test("wrong arguments of fs's functions raise the standard messages", function(t)
  support.with_dir(t, function(dir)
    raises(t, "bad argument #1 to 'fs.open' (string expected, got nil)", fs.open, nil) -- open nil
    raises(t, "bad argument #1 to 'fs.open' (string expected, got table)", fs.open, {}) -- open table
    raises(t, "bad argument #2 to 'fs.open' (number expected, got string)", fs.open, dir .. "/x", "rw") -- open flag string
    raises(t, "bad argument #2 to 'fs.open' (number has no integer representation)", fs.open, dir .. "/x", 1.5) -- open flag fraction
    raises(t, "bad argument #2 to 'fs.open' (unknown flags 0x4)", fs.open, dir .. "/x", 0x4) -- open unknown flag
    raises(t, "bad argument #2 to 'fs.open' (unknown flags 0x10000)", fs.open, dir .. "/x", 0x10000 + F.CREATE) -- open unknown flags
    raises(t, "bad argument #2 to 'fs.open' (WRITE_ONLY and READ_WRITE together)", fs.open, dir .. "/x", F.WRITE_ONLY + F.READ_WRITE) -- open wronly+rdwr
    raises(t, "bad argument #2 to 'fs.open' (invalid flags -1)", fs.open, dir .. "/x", -1) -- open negative flag
    raises(t, "bad argument #3 to 'fs.open' (invalid mode \"rw\" (a number 0 to 4095 (0o7777), or a string of octal digits such as \"0644\", \"644\" or \"0o644\"))", fs.open, dir .. "/x", F.CREATE, "rw") -- open mode string
    raises(t, "bad argument #3 to 'fs.open' (invalid mode 65536 (a number 0 to 4095 (0o7777), or a string of octal digits such as \"0644\", \"644\" or \"0o644\"))", fs.open, dir .. "/x", F.CREATE, 0x10000) -- open bad mode
    raises(t, "bad argument #4 to 'fs.open' (function expected, got number)", fs.open, dir .. "/x", F.READ_ONLY, 420, 5) -- open cb number
    raises(t, "bad argument #4 to 'fs.open' (function expected, got string)", fs.open, dir .. "/x", "0", "0", "x") -- open cb string
    raises(t, "bad argument #1 to 'fs.stat' (string expected, got no value)", fs.stat) -- stat nil
    raises(t, "bad argument #2 to 'fs.stat' (function expected, got boolean)", fs.stat, dir, true) -- stat cb
    raises(t, "bad argument #1 to 'fs.remove' (string expected, got nil)", fs.remove, nil) -- remove nil
    raises(t, "bad argument #1 to 'fs.remove_all' (string expected, got boolean)", fs.remove_all, false) -- remove_all nil
    raises(t, "bad argument #1 to 'fs.read_dir' (string expected, got nil)", fs.read_dir, nil) -- read_dir nil
    raises(t, "bad argument #1 to 'fs.mkdir' (string expected, got nil)", fs.mkdir, nil) -- mkdir nil
    raises(t, "bad argument #1 to 'fs.mkdir_all' (string expected, got nil)", fs.mkdir_all, nil) -- mkdir_all nil
    raises(t, "bad argument #1 to 'fs.readfile' (string expected, got nil)", fs.readfile, nil) -- readfile nil
    raises(t, "bad argument #1 to 'fs.open' (string expected, got nil)", function() return fs:open(nil) end) -- colon open nil
    -- Nothing was created by the calls that raised.
    t:eq(err_code(select(2, fs.stat(dir .. "/x"))), "ENOENT", "x was not made")
  end)
end)

test("wrong arguments of a file's methods raise, also once it is closed", function(t)
  support.with_dir(t, function(dir)
    local f = t:ok(fs.open(dir .. "/f", F.CREATE + F.READ_WRITE))
    local closed = false
    raises(t, "bad argument #1 to 'file:read' (number expected, got string)", f.read, f, "x") -- read string
    raises(t, "bad argument #1 to 'file:read' (number expected, got no value)", f.read, f) -- read nil
    raises(t, "bad argument #1 to 'file:read' (non-negative count expected)", f.read, f, -1) -- read negative
    raises(t, "bad argument #2 to 'file:read' (function expected, got table)", f.read, f, 1, {}) -- read cb
    raises(t, "bad argument #1 to 'file:write' (string expected, got nil)", f.write, f, nil) -- write nil
    raises(t, "bad argument #1 to 'file:write' (string expected, got table)", f.write, f, {}) -- write table
    raises(t, "bad argument #2 to 'file:write' (function expected, got string)", f.write, f, "x", "y") -- write cb
    raises(t, "bad argument #1 to 'file:close' (function expected, got number)", f.close, f, 1) -- close cb
    raises(t, "calling 'file:read' on bad self (file expected, got nil)", f.read, nil, 1) -- read on nil
    raises(t, "calling 'file:read' on bad self (file expected, got table)", f.read, {}, 1) -- read on other
    raises(t, "calling 'file:read' on bad self (file expected, got table)", f.read, fs, 1) -- read on module
    f:close(function(err)
      t:eq(err, nil, "close")
    closed = true
      raises(t, "calling 'file:read' on bad self (file is closed)", f.read, f, 1) -- read closed
      raises(t, "calling 'file:write' on bad self (file is closed)", f.write, f, "x") -- write closed
      raises(t, "calling 'file:close' on bad self (file is closed)", f.close, f) -- close closed
    end)
    -- a closed handle raises at once, even while its close is pending
    raises(t, "calling 'file:write' on bad self (file is closed)", f.write, f, "x") -- write after close
    -- the close's callback has run before the directory goes
    while not closed do time.sleep(1) end
  end)
end)

-- The functions added to fs, called with odd values under pcall: each raises a clear
-- argument error (or gives a sensible result), never a crash, and creates nothing.
local nan, huge = 0 / 0, math.huge
local cyclic = {}
cyclic.self = cyclic
local co = coroutine.create(function() end)

local function bad(n, fname, msg)
  return "bad argument #" .. n .. " to 'fs." .. fname .. "' (" .. msg
end

-- Modes: every function that takes one refuses the same odd values the same way.
local function bad_modes(t, handle, fname, n, call)
  raises(t, bad(n, fname, "invalid mode -1 ("), call, -1)
  raises(t, bad(n, fname, "invalid mode 4096 ("), call, 4096)
  raises(t, bad(n, fname, "invalid mode 65536 ("), call, 0x10000)
  raises(t, bad(n, fname, "invalid mode 1e+300 ("), call, 1e300)
  raises(t, bad(n, fname, "invalid mode -1e+300 ("), call, -1e300)
  raises(t, bad(n, fname, "number has no integer representation"), call, nan)
  raises(t, bad(n, fname, "number has no integer representation"), call, huge)
  raises(t, bad(n, fname, "number has no integer representation"), call, -huge)
  raises(t, bad(n, fname, "number has no integer representation"), call, 1.5)
  raises(t, bad(n, fname, "number has no integer representation"), call, -0.5)
  for _, s in ipairs({"", "rw", "0o", "0x1a4", " 644", "644 ", "-644", "+644", "8", "0o8", "1e3", "6.4", "0o0o7", "o644"}) do
    raises(t, bad(n, fname, string.format("invalid mode %q (", s)), call, s)
  end
  raises(t, bad(n, fname, 'invalid mode "17777" (more than 0o7777'), call, "17777")
  raises(t, bad(n, fname, 'invalid mode "0o10000" (more than 0o7777'), call, "0o10000")
  raises(t, bad(n, fname, "invalid mode (a string of 100 bytes"), call, string.rep("0", 100))
  raises(t, bad(n, fname, "invalid mode (a string of 1000000 bytes"), call, string.rep("7", 1000000))
  raises(t, bad(n, fname, "number or string expected, got table"), call, {})
  raises(t, bad(n, fname, "number or string expected, got boolean"), call, true)
  raises(t, bad(n, fname, "number or string expected, got thread"), call, co)
  raises(t, bad(n, fname, "number or string expected, got userdata"), call, handle)
  -- the hint says what a mode may be, and why strings
  local err = raises(t, bad(n, fname, "invalid mode"), call, "rw")
  t:ok(string.find(err, 'a string of octal digits such as "0644"', 1, true), "hint in " .. err)
end

-- fixture(t, dir): the path nothing may create (dir/x) and an open file for the odd values.
local function fixture(t, dir)
  return dir .. "/x", t:ok(fs.open(dir .. "/handle", F.CREATE + F.WRITE_ONLY))
end

-- nothing_made(t, p, handle): closes handle and checks that the calls that raised made
-- nothing at p.
local function nothing_made(t, p, handle)
  t:eq(handle:close(), true, "close")
  local st, e = fs.stat(p)
  t:eq(st, nil, "x was not made")
  t:eq(err_code(e), "ENOENT", "x: " .. tostring(e))
end

test("odd modes: open, mkdir, mkdir_all and chmod refuse the same values", function(t)
  support.with_dir(t, function(dir)
    local p, handle = fixture(t, dir)
    bad_modes(t, handle, "open", 3, function(m) return fs.open(p, F.CREATE + F.WRITE_ONLY, m) end)
    bad_modes(t, handle, "mkdir", 2, function(m) return fs.mkdir(p, m) end)
    bad_modes(t, handle, "mkdir_all", 2, function(m) return fs.mkdir_all(p .. "/y", m) end)
    bad_modes(t, handle, "chmod", 2, function(m) return fs.chmod(p, m) end)
    nothing_made(t, p, handle)
  end)
end)

test("odd values: fs.writefile and its options", function(t)
  support.with_dir(t, function(dir)
    local p, handle = fixture(t, dir)
    raises(t, bad(1, "writefile", "string expected, got nil"), fs.writefile, nil, "x")
    raises(t, bad(1, "writefile", "string expected, got table"), fs.writefile, {}, "x")
    raises(t, bad(1, "writefile", "string expected, got thread"), fs.writefile, co, "x")
    raises(t, bad(2, "writefile", "string expected, got no value"), fs.writefile, p)
    raises(t, bad(2, "writefile", "string expected, got nil"), fs.writefile, p, nil)
    raises(t, bad(2, "writefile", "string expected, got table"), fs.writefile, p, {})
    raises(t, bad(2, "writefile", "string expected, got boolean"), fs.writefile, p, false)
    raises(t, bad(2, "writefile", "string expected, got userdata"), fs.writefile, p, handle)
    raises(t, bad(2, "writefile", "string expected, got function"), fs.writefile, p, print)
    raises(t, bad(3, "writefile", "table expected, got number"), fs.writefile, p, "x", 5)
    raises(t, bad(3, "writefile", "table expected, got string"), fs.writefile, p, "x", "atomic")
    raises(t, bad(3, "writefile", "table expected, got boolean"), fs.writefile, p, "x", true)
    raises(t, bad(4, "writefile", "function expected, got number"), fs.writefile, p, "x", {}, 5)
    raises(t, bad(4, "writefile", "function expected, got string"), fs.writefile, p, "x", nil, "cb")
    raises(t, bad(4, "writefile", "function expected, got table"), fs.writefile, p, "x", {atomic = true}, {})
    local function opt(want, o) raises(t, bad(3, "writefile", want), fs.writefile, p, "x", o) end
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
    local err = raises(t, bad(3, "writefile", "unknown option"), fs.writefile, p, "x", {[long] = true})
    t:ok(#err < 300, "a long option name is cut in the error: " .. err)
    -- an empty options table is no options (and nil options before a callback too)
    t:eq(fs.writefile(dir .. "/empty-options", "ok", {}), 2, "empty options")
    nothing_made(t, p, handle)
  end)
end)

test("odd values: fs.rename", function(t)
  support.with_dir(t, function(dir)
    local p, handle = fixture(t, dir)
    raises(t, bad(1, "rename", "string expected, got nil"), fs.rename, nil, p)
    raises(t, bad(1, "rename", "string expected, got table"), fs.rename, {}, p)
    raises(t, bad(2, "rename", "string expected, got no value"), fs.rename, p)
    raises(t, bad(2, "rename", "string expected, got boolean"), fs.rename, p, true)
    raises(t, bad(3, "rename", "function expected, got number"), fs.rename, p, p, 1)
    raises(t, bad(3, "rename", "function expected, got table"), fs.rename, p, p, {})
    nothing_made(t, p, handle)
  end)
end)

test("odd values: fs.mkdir and fs.mkdir_all", function(t)
  support.with_dir(t, function(dir)
    local p, handle = fixture(t, dir)
    raises(t, bad(1, "mkdir", "string expected, got nil"), fs.mkdir, nil)
    raises(t, bad(1, "mkdir", "string expected, got table"), fs.mkdir, {}, "0700")
    raises(t, bad(3, "mkdir", "function expected, got number"), fs.mkdir, p, "0700", 5)
    raises(t, bad(3, "mkdir", "function expected, got string"), fs.mkdir, p, nil, "cb")
    raises(t, bad(1, "mkdir_all", "string expected, got nil"), fs.mkdir_all, nil)
    raises(t, bad(3, "mkdir_all", "function expected, got boolean"), fs.mkdir_all, p, 448, true)
    raises(t, bad(1, "mkdir", "string expected, got nil"), function() return fs:mkdir(nil) end)
    nothing_made(t, p, handle)
  end)
end)

test("odd values: fs.chmod", function(t)
  support.with_dir(t, function(dir)
    local p, handle = fixture(t, dir)
    raises(t, bad(1, "chmod", "string expected, got nil"), fs.chmod, nil, "0644")
    raises(t, bad(2, "chmod", "number or string expected, got no value"), fs.chmod, p)
    raises(t, bad(2, "chmod", "number or string expected, got nil"), fs.chmod, p, nil)
    raises(t, bad(3, "chmod", "function expected, got table"), fs.chmod, p, "0644", {})
    -- (elsewhere a function where the mode goes is the callback)
    raises(t, bad(2, "chmod", "number or string expected, got function"), fs.chmod, p, print)
    raises(t, bad(2, "chmod", "invalid mode -1"), function() return fs:chmod(p, -1) end)
    nothing_made(t, p, handle)
  end)
end)

test("odd values: fs.lstat, fs.readlink, fs.tmpdir", function(t)
  support.with_dir(t, function(dir)
    local p, handle = fixture(t, dir)
    raises(t, bad(1, "lstat", "string expected, got nil"), fs.lstat, nil)
    raises(t, bad(1, "lstat", "string expected, got table"), fs.lstat, {})
    raises(t, bad(2, "lstat", "function expected, got boolean"), fs.lstat, p, true)
    raises(t, bad(1, "readlink", "string expected, got no value"), fs.readlink)
    raises(t, bad(1, "readlink", "string expected, got userdata"), fs.readlink, handle)
    raises(t, bad(2, "readlink", "function expected, got number"), fs.readlink, p, 1)
    t:eq(type(fs.tmpdir(nil, 1, {}, nan)), "string", "tmpdir ignores arguments")
    nothing_made(t, p, handle)
  end)
end)

test("odd but valid: long paths, numbers as paths and data, modes as strings", function(t)
  support.with_dir(t, function(dir)
    local p, handle = fixture(t, dir)
    -- A path that is too long is an I/O error, not a raise.
    local very_long = dir .. "/" .. string.rep("a", 1000000)
    for _, o in ipairs({{}, {atomic = true}, {append = true}}) do
      local n, e = fs.writefile(very_long, "x", o)
      t:eq(n, nil, "very long path")
      t:ok(type(e) == "string" and string.find(e, "file name too long", 1, true), "very long path: " .. tostring(e))
    end
    -- A long file name that is still valid: the atomic write's temporary name stays valid too.
    local name255 = dir .. "/" .. string.rep("n", 255)
    t:eq(fs.writefile(name255, "long", {atomic = true}), 4, "a 255-byte name, atomic")
    t:eq(fs.readfile(name255), "long", "255-byte name content")
    -- Numbers as paths and data are strings, as Lua converts them.
    t:eq(fs.writefile(dir .. "/" .. 7, 1e300), #tostring(1e300), "number data")
    t:eq(fs.readfile(dir .. "/7"), tostring(1e300), "number data content")
    -- A mode given as a numeric string is octal, not the decimal number Lua would convert.
    t:eq(fs.mkdir(dir .. "/m", "700"), true, "mode 700 as a string")
    t:eq(fs.stat(dir .. "/m").mode, 448, "\"700\" is octal")
    t:eq(fs.mkdir(dir .. "/m0", 0), true, "mode 0")
    t:eq(fs.stat(dir .. "/m0").mode_string, "0000", "mode 0 applied")
    nothing_made(t, p, handle)
  end)
end)

-- errors.lua: I/O failures call back with err (the code, then Go's text), never raise.
test("I/O failures: cb(err) with the code and the Go error text", function(t)
  local call = support.call
  support.with_dir(t, function(dir)
    local missing = dir .. "/missing/file.txt"
    local function eq(what, want, fn) t:eq(call(fn), want, what) end
    eq("stat missing", "ENOENT: stat " .. missing .. ": no such file or directory",
      function(cb) fs.stat(missing, cb) end)
    eq("open missing", "ENOENT: open " .. missing .. ": no such file or directory",
      function(cb) fs.open(missing, cb) end)
    eq("open missing rw", "ENOENT: open " .. missing .. ": no such file or directory",
      function(cb) fs.open(missing, F.READ_WRITE, cb) end)
    eq("readfile missing", "ENOENT: open " .. missing .. ": no such file or directory",
      function(cb) fs.readfile(missing, cb) end)
    eq("readfile dir", "EISDIR: read " .. dir .. ": is a directory",
      function(cb) fs.readfile(dir, cb) end)
    eq("remove missing", "ENOENT: remove " .. missing .. ": no such file or directory",
      function(cb) fs.remove(missing, cb) end)
    eq("read_dir missing", "ENOENT: open " .. missing .. ": no such file or directory",
      function(cb) fs.read_dir(missing, cb) end)
    eq("mkdir no parent", "ENOENT: mkdir " .. dir .. "/no/parent: no such file or directory",
      function(cb) fs.mkdir(dir .. "/no/parent", cb) end)
    t:eq(call(function(cb) fs.mkdir(dir .. "/d", cb) end), nil, "mkdir d")
    eq("mkdir existing", "EEXIST: mkdir " .. dir .. "/d: file exists",
      function(cb) fs.mkdir(dir .. "/d", cb) end)
    local err, f = call(function(cb) fs.open(dir .. "/d/f", F.CREATE + F.WRITE_ONLY, cb) end)
    t:eq(err, nil, "create d/f")
    t:eq(call(function(cb) f:close(cb) end), nil, "close d/f")
    eq("remove non-empty dir", "ENOTEMPTY: remove " .. dir .. "/d: directory not empty",
      function(cb) fs.remove(dir .. "/d", cb) end)
    eq("mkdir_all under a file", "ENOTDIR: mkdir " .. dir .. "/d/f: not a directory",
      function(cb) fs.mkdir_all(dir .. "/d/f/g", cb) end)
    eq("excl existing", "EEXIST: open " .. dir .. "/d/f: file exists",
      function(cb) fs.open(dir .. "/d/f", F.CREATE + F.EXCL + F.WRITE_ONLY, cb) end)
    -- A handle used against its mode, and a directory, which opens but does not read.
    for _, c in ipairs({
      {"write read-only", dir .. "/d/f", F.READ_ONLY, function(h, cb) h:write("x", cb) end,
        "EBADF: write " .. dir .. "/d/f: bad file descriptor"},
      {"read write-only", dir .. "/d/f", F.WRITE_ONLY, function(h, cb) h:read(10, cb) end,
        "EBADF: read " .. dir .. "/d/f: bad file descriptor"},
      {"read a directory", dir .. "/d", F.READ_ONLY, function(h, cb) h:read(10, cb) end,
        "EISDIR: read " .. dir .. "/d: is a directory"},
    }) do
      local oerr, h = call(function(cb) fs.open(c[2], c[3], cb) end)
      t:eq(oerr, nil, c[1] .. ": open")
      eq(c[1], c[5], function(cb) c[4](h, cb) end)
      t:eq(call(function(cb) h:close(cb) end), nil, c[1] .. ": close")
    end
  end)
end)

-- basic.lua: every fs function's happy path, one step after another, in the callback style.
test("every fs function's happy path, with callbacks", function(t)
  local call = support.call
  t:eq(F, {APPEND = 0x8, CREATE = 0x200, EXCL = 0x800, READ_ONLY = 0x0, READ_WRITE = 0x2,
    SYNC = 0x80, TRUNC = 0x400, WRITE_ONLY = 0x1}, "fs.flags")
  support.with_dir(t, function(top)
    local dir = top .. "/work"
    local a = dir .. "/a.txt"
    local function ok(what, fn)
      local err, v = call(fn)
      t:eq(err, nil, what)
      return v
    end
    local function stat(p)
      local st = ok("stat " .. p, function(cb) fs.stat(p, cb) end)
      return {name = st.name, isdir = st.isdir, mode = string.format("%o", st.mode), size = st.size}
    end
    ok("mkdir", function(cb) fs.mkdir(dir, cb) end)

    local f = ok("open", function(cb) fs.open(a, F.CREATE + F.WRITE_ONLY + F.TRUNC, cb) end)
    t:eq({type(f), tostring(f)}, {"userdata", "file (" .. a .. ")"}, "open")
    local wrote = {}
    f:write("hello ", function(err, n) t:eq(err, nil); wrote[#wrote + 1] = n end)
    f:write("world", function(err, n) t:eq(err, nil); wrote[#wrote + 1] = n end)
    t:eq(call(function(cb) f:close(cb) end), nil, "close")
    t:eq(wrote, {6, 5}, "writes, in order, before the close")
    t:eq(tostring(f), "file (closed)", "after close")

    local before = time.now().milliunix
    t:eq(stat(a), {name = "a.txt", isdir = false, mode = "644", size = 11}, "stat")
    local st = ok("stat", function(cb) fs.stat(a, cb) end)
    t:eq(getmetatable(st.timestamp), time.Timestamp, "timestamp")
    t:eq(type(st.timestamp.year), "number")
    t:ok(math.abs(st.timestamp.milliunix - before) < 60000, "timestamp is now")
    t:ok(#tostring(st.timestamp) > 0)
    t:eq(ok("readfile", function(cb) fs.readfile(a, cb) end), "hello world", "readfile")

    f = ok("open", function(cb) fs.open(a, cb) end) -- READ_ONLY by default
    local reads = {}
    local function rec(name) return function(err, data) reads[#reads + 1] = {name, err, data} end end
    f:read(5, rec("read"))
    f:read(100, rec("read"))
    f:read(100, rec("read at end"))
    f:read(0, rec("read 0"))
    t:eq(call(function(cb) f:close(cb) end), nil, "close")
    t:eq(reads, {{"read", nil, "hello"}, {"read", nil, " world"}, {"read at end", nil, ""}, {"read 0", nil, ""}})

    f = ok("open append", function(cb) fs.open(a, F.APPEND + F.WRITE_ONLY, cb) end)
    f:write("!", function(err) t:eq(err, nil) end)
    t:eq(call(function(cb) f:close(cb) end), nil, "close")
    t:eq(ok("readfile", function(cb) fs.readfile(a, cb) end), "hello world!", "append")

    f = ok("open read_write", function(cb) fs.open(a, F.READ_WRITE, cb) end)
    local rw
    f:write("J", function(err) t:eq(err, nil) end)
    f:read(4, function(err, data) rw = {err, data} end)
    t:eq(call(function(cb) f:close(cb) end), nil, "close")
    t:eq(rw, {nil, "ello"}, "read_write")
    t:eq(ok("readfile", function(cb) fs.readfile(a, cb) end), "Jello world!", "read_write file")

    -- mode applies with CREATE (the umask may clear bits; 0600 survives any usual umask)
    f = ok("open private", function(cb)
      fs.open(dir .. "/private", F.CREATE + F.WRITE_ONLY + F.EXCL + F.SYNC, tonumber("600", 8), cb)
    end)
    t:eq(call(function(cb) f:close(cb) end), nil, "close")
    t:eq(stat(dir .. "/private"), {name = "private", isdir = false, mode = "600", size = 0}, "mode")

    f = ok("open trunc", function(cb) fs.open(a, F.WRITE_ONLY + F.TRUNC, cb) end)
    t:eq(call(function(cb) f:close(cb) end), nil, "close")
    t:eq(stat(a), {name = "a.txt", isdir = false, mode = "644", size = 0}, "trunc")

    ok("mkdir_all", function(cb) fs.mkdir_all(dir .. "/x/y/z", cb) end)
    ok("mkdir_all existing: no error", function(cb) fs.mkdir_all(dir .. "/x/y/z", cb) end)
    local z = stat(dir .. "/x/y/z")
    t:eq({z.name, z.isdir}, {"z", true}, "mkdir_all")

    f = ok("open colon form", function(cb) fs:open(dir .. "/b.txt", F.CREATE + F.WRITE_ONLY, cb) end)
    f:write("bb", function(err) t:eq(err, nil) end)
    t:eq(call(function(cb) f:close(cb) end), nil, "close")
    local list = ok("read_dir", function(cb) fs.read_dir(dir, cb) end)
    local got = {}
    for i, e in ipairs(list) do
      got[i] = {e.name, e.isdir, e.isdir or e.size, getmetatable(e.timestamp) == time.Timestamp}
    end
    t:eq(got, {{"a.txt", false, 0, true}, {"b.txt", false, 2, true}, {"private", false, 0, true},
      {"x", true, true, true}}, "read_dir")
    t:eq(ok("readfile b.txt", function(cb) fs.readfile(dir .. "/b.txt", cb) end), "bb", "b.txt")

    ok("remove", function(cb) fs.remove(a, cb) end)
    local err, gone = call(function(cb) fs.stat(a, cb) end)
    t:eq({err_code(err), gone}, {"ENOENT", nil}, "removed")
    ok("remove_all", function(cb) fs.remove_all(dir .. "/x", cb) end)
    err, gone = call(function(cb) fs.stat(dir .. "/x", cb) end)
    t:eq({err_code(err), gone}, {"ENOENT", nil}, "removed all")

    -- no callback anywhere, outside a thread that can wait: the operations still happen
    coroutine.wrap(function()
      fs.open(dir .. "/touched", F.CREATE + F.WRITE_ONLY)
      fs.mkdir(dir .. "/nocb")
    end)()
    time.sleep(50)
    t:eq(stat(dir .. "/touched").size, 0, "touched")
    t:eq(stat(dir .. "/nocb").isdir, true, "nocb")
  end)
end)
