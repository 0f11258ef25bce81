-- I/O failures: cb(err) with the Go error text, never a raise.
local fs = require "fs"
local F = fs.flags
local dir = __dirname__
local missing = dir .. "/missing/file.txt"

local function check(err)
  if err ~= nil then error("unexpected error: " .. tostring(err), 2) end
end

-- Each failure prints "<name>\t<error>"; a success where a failure was due prints "<name>\tNO ERROR".
local function expect_err(name, done)
  return function(err, ...)
    if err == nil then
      print(name, "NO ERROR", ...)
    else
      print(name, type(err), err)
    end
    done()
  end
end

series_callback({
  function(done) fs.stat(missing, expect_err("stat missing", done)) end,
  function(done) fs.open(missing, expect_err("open missing", done)) end,
  function(done) fs.open(missing, F.READ_WRITE, expect_err("open missing rw", done)) end,
  function(done) fs.readfile(missing, expect_err("readfile missing", done)) end,
  function(done) fs.readfile(dir, expect_err("readfile dir", done)) end,
  function(done) fs.remove(missing, expect_err("remove missing", done)) end,
  function(done) fs.read_dir(missing, expect_err("read_dir missing", done)) end,
  function(done) fs.mkdir(dir .. "/no/parent", expect_err("mkdir no parent", done)) end,
  function(done)
    fs.mkdir(dir .. "/d", function(err)
      check(err)
      fs.mkdir(dir .. "/d", expect_err("mkdir existing", done))
    end)
  end,
  function(done)
    fs.open(dir .. "/d/f", F.CREATE + F.WRITE_ONLY, function(err, f)
      check(err)
      f:close(function(err)
        check(err)
        fs.remove(dir .. "/d", expect_err("remove non-empty dir", done))
      end)
    end)
  end,
  function(done) fs.mkdir_all(dir .. "/d/f/g", expect_err("mkdir_all under a file", done)) end,
  function(done) fs.open(dir .. "/d/f", F.CREATE + F.EXCL + F.WRITE_ONLY, expect_err("excl existing", done)) end,
  function(done)
    fs.open(dir .. "/d/f", F.READ_ONLY, function(err, f)
      check(err)
      f:write("x", expect_err("write read-only", function()
        f:close(function(err) check(err); done() end)
      end))
    end)
  end,
  function(done)
    fs.open(dir .. "/d/f", F.WRITE_ONLY, function(err, f)
      check(err)
      f:read(10, expect_err("read write-only", function()
        f:close(function(err) check(err); done() end)
      end))
    end)
  end,
  function(done)
    fs.open(dir .. "/d", function(err, f) -- a directory opens, but does not read
      check(err)
      f:read(10, expect_err("read a directory", function()
        f:close(function(err) check(err); done() end)
      end))
    end)
  end,
}, function(err)
  check(err)
  print("done")
end)
