-- fs.writefile, rename, mkdir's mode, chmod, lstat, readlink, tmpdir and modes as strings:
-- first in the await style (the main chunk runs in a runtime coroutine), then in the callback
-- style. The Go test made "target.txt", a symbolic link "link" to it and a dangling link
-- "dangling" to "missing-target.txt". Errors are matched by a part of their text.
local fs = require "fs"
local check = require "check"
local F = fs.flags
local dir = __dirname__

local function has(s, want, what)
  if type(s) ~= "string" or not string.find(s, want, 1, true) then
    error((what or "error") .. ": " .. check.show(s) .. " lacks " .. check.show(want), 2)
  end
end

local function read(p)
  local data, err = fs.readfile(p)
  assert(data, err)
  return data
end

local function mode_of(p)
  local st, err = fs.stat(p)
  assert(st, err)
  return st.mode_string
end

-- The mode a new file gets by default, with this process's umask: fs.open's (0644).
local f = assert(fs.open(dir .. "/opened", F.CREATE + F.WRITE_ONLY))
check.eq(f:close(), true, "close")
local default_mode = mode_of(dir .. "/opened")

---------------------------------------------------------------------------- writefile
local p = dir .. "/w.txt"
check.eq(fs.writefile(p, "hello"), 5, "writefile bytes")
check.eq(read(p), "hello", "writefile content")
check.eq(mode_of(p), default_mode, "writefile default mode")
check.eq(fs.writefile(p, "hi"), 2, "rewrite bytes")
check.eq(read(p), "hi", "writefile truncates")
check.eq(fs.writefile(p, ""), 0, "empty")
check.eq(read(p), "", "empty content")
check.eq(fs:writefile(p, "colon"), 5, "colon form")

local bin = "\0\1\2\255" .. string.rep("xyz", 100000) .. "\0"
check.eq(fs.writefile(dir .. "/bin.dat", bin), #bin, "binary bytes")
check.eq(read(dir .. "/bin.dat"), bin, "binary content")
check.eq(fs.writefile(dir .. "/num.txt", 42), 2, "a number is written as its text, as Lua converts it")
check.eq(read(dir .. "/num.txt"), "42", "number content")

local ap = dir .. "/append.txt"
check.eq(fs.writefile(ap, "a", {append = true}), 1, "append creates")
check.eq(fs.writefile(ap, "bc", {append = true, mode = "0600"}), 2, "append")
check.eq(read(ap), "abc", "appended")
check.eq(fs.writefile(ap, "d", {append = false}), 1, "append = false truncates")
check.eq(read(ap), "d", "append = false content")

local ex = dir .. "/excl.txt"
check.eq(fs.writefile(ex, "first", {exclusive = true}), 5, "exclusive creates")
local n, err = fs.writefile(ex, "second", {exclusive = true})
check.eq(n, nil, "exclusive on an existing file")
has(err, "file exists", "exclusive error")
check.eq(read(ex), "first", "exclusive left the file alone")
check.eq(fs.writefile(dir .. "/excl2.txt", "x", {exclusive = true, append = true}), 1, "exclusive append")
check.eq(fs.writefile(dir .. "/m600", "x", {mode = "0600"}), 1, "mode on create")
check.eq(mode_of(dir .. "/m600"), "0600", "mode string applied")
check.eq(fs.writefile(dir .. "/m600n", "x", {mode = tonumber("600", 8)}), 1, "mode number")
check.eq(mode_of(dir .. "/m600n"), "0600", "mode number applied")
check.eq(fs.writefile(dir .. "/m600", "y", {mode = "0644"}), 1, "mode on an existing file")
check.eq(mode_of(dir .. "/m600"), "0600", "a plain write keeps an existing file's mode")

-- atomic
local at = dir .. "/atomic.txt"
check.eq(fs.writefile(at, "v1", {atomic = true}), 2, "atomic creates")
check.eq(read(at), "v1", "atomic content")
check.eq(mode_of(at), default_mode, "atomic default mode")
check.eq(fs.chmod(at, "0751"), true, "chmod")
check.eq(fs.writefile(at, "version 2", {atomic = true}), 9, "atomic replaces")
check.eq(read(at), "version 2", "atomic replaced")
check.eq(mode_of(at), "0751", "atomic keeps the replaced file's permissions")
check.eq(fs.writefile(at, "v3", {atomic = true, mode = "0o600"}), 2, "atomic with mode")
check.eq(mode_of(at), "0600", "atomic mode given")
check.eq(fs.writefile(at, bin, {atomic = true}), #bin, "atomic binary")
check.eq(read(at), bin, "atomic binary content")
check.eq(fs.writefile(at, "", {atomic = true}), 0, "atomic empty")
check.eq(read(at), "", "atomic empty content")

check.eq(fs.writefile(dir .. "/link", "via link", {atomic = true}), 8, "atomic through a link")
check.eq(read(dir .. "/target.txt"), "via link", "the link's target was replaced")
check.eq(assert(fs.lstat(dir .. "/link")).type, "symlink", "the link stays a link")
check.eq(fs.writefile(dir .. "/dangling", "made", {atomic = true}), 4, "atomic through a dangling link")
check.eq(read(dir .. "/missing-target.txt"), "made", "the dangling link's target was made")
check.eq(assert(fs.lstat(dir .. "/dangling")).issymlink, true, "the dangling link stays a link")

check.eq(fs.mkdir(dir .. "/sub"), true, "mkdir sub")
n, err = fs.writefile(dir .. "/sub", "x", {atomic = true})
check.eq(n, nil, "atomic over a directory")
has(err, "is a directory")
n, err = fs.writefile("/dev/null", "x", {atomic = true})
check.eq(n, nil, "atomic over a device")
has(err, "not a regular file")
n, err = fs.writefile(dir .. "/no/such/dir/f", "x", {atomic = true})
check.eq(n, nil, "atomic into a missing directory")
has(err, "no such file or directory")
has(err, dir .. "/no/such/dir/f", "the error names the path, not the temporary file")
n, err = fs.writefile(dir .. "/sub/", "x", {atomic = true})
check.eq(n, nil, "atomic to a name ending in /")
has(err, "is a directory")
n, err = fs.writefile("", "x", {atomic = true})
check.eq(n, nil, "atomic to an empty path")
n, err = fs.writefile(dir .. "/no/such/dir/f", "x")
check.eq(n, nil, "plain write into a missing directory")
has(err, "no such file or directory")
for _, st in ipairs(assert(fs.read_dir(dir))) do
  check.ok(not st.name:find("tmp", 1, true), "a temporary file was left behind: " .. st.name)
end

---------------------------------------------------------------------------- rename
check.eq(fs.writefile(dir .. "/old.txt", "moved"), 5, "old")
check.eq(fs.rename(dir .. "/old.txt", dir .. "/new.txt"), true, "rename")
check.eq(read(dir .. "/new.txt"), "moved", "renamed content")
local st
st, err = fs.stat(dir .. "/old.txt")
check.eq(st, nil, "old name gone")
has(err, "no such file or directory")
local ok
ok, err = fs.rename(dir .. "/old.txt", dir .. "/other.txt")
check.eq(ok, nil, "rename missing")
has(err, "no such file or directory")
check.eq(fs.writefile(dir .. "/over.txt", "replaced"), 8, "over")
check.eq(fs.rename(dir .. "/new.txt", dir .. "/over.txt"), true, "rename over a file")
check.eq(read(dir .. "/over.txt"), "moved", "rename replaced the file")

---------------------------------------------------------------------------- mkdir modes
check.eq(fs.mkdir(dir .. "/d700", "0700"), true, "mkdir mode string")
check.eq(mode_of(dir .. "/d700"), "0700", "mkdir mode applied")
check.eq(fs.mkdir(dir .. "/d700n", 448), true, "mkdir mode number (0o700)")
check.eq(mode_of(dir .. "/d700n"), "0700", "mkdir number applied")
check.eq(fs.mkdir(dir .. "/dnil", nil), true, "mkdir nil mode")
check.eq(fs.mkdir(dir .. "/dplain"), true, "mkdir without mode")
check.eq(assert(fs.stat(dir .. "/dplain")).type, "dir", "mkdir made a directory")
check.eq(fs.mkdir_all(dir .. "/t1/t2/t3", "0o700"), true, "mkdir_all mode")
for _, q in ipairs({"/t1", "/t1/t2", "/t1/t2/t3"}) do
  check.eq(mode_of(dir .. q), "0700", "mkdir_all mode of " .. q)
end
check.eq(fs.mkdir_all(dir .. "/t1/t2/t3", "0700"), true, "mkdir_all existing")
check.eq(fs.mkdir_all(dir .. "/u1/u2"), true, "mkdir_all without mode")
ok, err = fs.mkdir(dir .. "/d700", "0700")
check.eq(ok, nil, "mkdir existing")
has(err, "file exists")

---------------------------------------------------------------------------- chmod and modes
local cm = dir .. "/chmod.txt"
check.eq(fs.writefile(cm, "c"), 1, "chmod file")
-- The mistake behind the string form: 644 in Lua is decimal, which is 0o1204.
check.eq(fs.chmod(cm, 644), true, "chmod decimal 644")
st = assert(fs.stat(cm))
check.eq(st.mode, 644, "stat's mode is the number given")
check.eq(st.mode_string, "1204", "mode_string shows what 644 really is")
check.eq(fs.chmod(cm, "0644"), true, "chmod 0644")
st = assert(fs.stat(cm))
check.eq(st.mode, 420, "0644 is 420")
check.eq(st.mode_string, "0644", "0644 as a string")
check.eq(fs.chmod(cm, "640"), true, "chmod 640")
check.eq(mode_of(cm), "0640", "640 without a leading 0")
check.eq(fs.chmod(cm, "0O600"), true, "chmod 0O600")
check.eq(mode_of(cm), "0600", "0O prefix")
check.eq(fs.chmod(cm, "00000"), true, "chmod zeros")
check.eq(mode_of(cm), "0000", "mode 0")
check.eq(fs.chmod(cm, "0o4755"), true, "chmod setuid")
check.eq(assert(fs.stat(cm)).mode, tonumber("4755", 8), "setuid mode")
check.eq(mode_of(cm), "4755", "setuid mode_string")
check.eq(fs.chmod(cm, tonumber("644", 8)), true, "chmod tonumber")
check.eq(mode_of(cm), "0644", "tonumber(s, 8)")
ok, err = fs.chmod(dir .. "/missing", "0644")
check.eq(ok, nil, "chmod missing")
has(err, "no such file or directory")

local om = dir .. "/open-mode"
local g = assert(fs.open(om, F.CREATE + F.WRITE_ONLY + F.EXCL, "0600"))
g:close()
check.eq(mode_of(om), "0600", "fs.open mode string")
g = assert(fs.open(om .. "2", F.CREATE + F.WRITE_ONLY, "0o600"))
g:close()
check.eq(mode_of(om .. "2"), "0600", "fs.open mode 0o string")

---------------------------------------------------------------------------- lstat, readlink
st = assert(fs.lstat(dir .. "/link"))
check.eq(st.type, "symlink", "lstat type")
check.eq(st.issymlink, true, "lstat issymlink")
check.eq(st.isdir, false, "lstat isdir")
check.eq(st.name, "link", "lstat name")
check.eq(type(st.mode), "number", "lstat mode")
check.eq(type(st.mode_string), "string", "lstat mode_string")
check.eq(type(st.size), "number", "lstat size")
check.eq(type(st.timestamp.milliunix), "number", "lstat timestamp")
st = assert(fs.stat(dir .. "/link"))
check.eq(st.type, "file", "stat follows the link")
check.eq(st.issymlink, false, "stat issymlink")
check.eq(st.size, 8, "stat size of the target")
st = assert(fs.lstat(dir .. "/target.txt"))
check.eq(st.type, "file", "lstat of a file")
check.eq(st.issymlink, false, "lstat of a file: issymlink")
st = assert(fs.lstat(dir .. "/sub"))
check.eq(st.type, "dir", "lstat of a directory")
check.eq(st.isdir, true, "lstat isdir of a directory")
st, err = fs.lstat(dir .. "/missing")
check.eq(st, nil, "lstat missing")
has(err, "no such file or directory")
local types = {}
for _, e in ipairs(assert(fs.read_dir(dir))) do types[e.name] = e.type end
check.eq(types.link, "symlink", "read_dir describes a link as one")
check.eq(types.dangling, "symlink", "read_dir: dangling link")
check.eq(types.sub, "dir", "read_dir: directory")
check.eq(types["target.txt"], "file", "read_dir: file")

check.eq(fs.readlink(dir .. "/link"), "target.txt", "readlink")
check.eq(fs.readlink(dir .. "/dangling"), "missing-target.txt", "readlink dangling")
local target
target, err = fs.readlink(dir .. "/target.txt")
check.eq(target, nil, "readlink of a file")
has(err, "invalid argument")

---------------------------------------------------------------------------- tmpdir
local tmp = fs.tmpdir()
check.eq(type(tmp), "string", "tmpdir")
check.eq(fs:tmpdir(), tmp, "tmpdir colon form")
print("tmpdir", tmp)
print("await style done")

---------------------------------------------------------------------------- callback style
local cbdir = dir .. "/cb"
local function must(err) if err ~= nil then error("unexpected error: " .. tostring(err), 2) end end
series_callback({
  function(done) fs.mkdir(cbdir, "0700", function(err) must(err); done() end) end,
  function(done)
    fs.stat(cbdir, function(err, st) must(err); check.eq(st.mode_string, "0700", "cb mkdir mode"); done() end)
  end,
  function(done) fs.mkdir(cbdir .. "/plain", function(err) must(err); done() end) end,
  function(done) fs.mkdir(cbdir .. "/nilmode", nil, function(err) must(err); done() end) end,
  function(done) fs.mkdir_all(cbdir .. "/a/b", "0700", function(err) must(err); done() end) end,
  function(done) fs.mkdir_all(cbdir .. "/c/d", function(err) must(err); done() end) end,
  function(done)
    fs.writefile(cbdir .. "/f", "one", function(err, n) must(err); check.eq(n, 3, "cb writefile"); done() end)
  end,
  function(done)
    fs.writefile(cbdir .. "/f", "two", nil, function(err, n) must(err); check.eq(n, 3, "cb writefile nil options"); done() end)
  end,
  function(done)
    fs.writefile(cbdir .. "/f", "three", {atomic = true}, function(err, n)
      must(err); check.eq(n, 5, "cb atomic"); done()
    end)
  end,
  function(done)
    fs:writefile(cbdir .. "/f", "!", {append = true}, function(err, n) must(err); check.eq(n, 1, "cb append"); done() end)
  end,
  function(done)
    fs.writefile(cbdir .. "/f", "x", {exclusive = true}, function(err, n)
      check.eq(n, nil, "cb exclusive result"); has(err, "file exists"); done()
    end)
  end,
  function(done)
    fs.readfile(cbdir .. "/f", function(err, data) must(err); check.eq(data, "three!", "cb content"); done() end)
  end,
  function(done) fs.rename(cbdir .. "/f", cbdir .. "/g", function(err) must(err); done() end) end,
  function(done)
    fs.rename(cbdir .. "/f", cbdir .. "/h", function(err) has(err, "no such file or directory"); done() end)
  end,
  function(done) fs.chmod(cbdir .. "/g", "0640", function(err) must(err); done() end) end,
  function(done)
    fs.lstat(cbdir .. "/g", function(err, st)
      must(err)
      check.eq(st.mode_string, "0640", "cb chmod")
      check.eq(st.type, "file", "cb lstat")
      done()
    end)
  end,
  function(done)
    fs.lstat(dir .. "/link", function(err, st) must(err); check.eq(st.issymlink, true, "cb lstat link"); done() end)
  end,
  function(done)
    fs.readlink(dir .. "/link", function(err, t) must(err); check.eq(t, "target.txt", "cb readlink"); done() end)
  end,
  function(done)
    fs.readlink(cbdir .. "/g", function(err, t) check.eq(t, nil, "cb readlink file"); has(err, "invalid argument"); done() end)
  end,
}, function(err)
  must(err)
  print("callback style done")
  print("PASS")
end)
