-- Every fs function's happy path, one step after another.
local fs = require "fs"
local time = require "time"
local F = fs.flags
local dir = __dirname__ .. "/work"
local a = dir .. "/a.txt"

local function check(err)
  if err ~= nil then error("unexpected error: " .. tostring(err), 2) end
end

local function show_stat(st)
  return string.format("name=%s isdir=%s mode=%o size=%d", st.name, tostring(st.isdir), st.mode, st.size)
end

series_callback({
  function(done)
    local names = {}
    for k, v in pairs(F) do names[#names + 1] = string.format("%s=0x%x", k, v) end
    table.sort(names)
    print("flags " .. table.concat(names, " "))
    fs.mkdir(dir, function(err) check(err); print("mkdir ok"); done() end)
  end,
  function(done)
    fs.open(a, F.CREATE + F.WRITE_ONLY + F.TRUNC, function(err, f)
      check(err)
      print("open", type(f), tostring(f) == "file (" .. a .. ")")
      f:write("hello ", function(err, n)
        check(err)
        print("write", n)
      end)
      f:write("world", function(err, n)
        check(err)
        print("write", n)
      end)
      f:close(function(err)
        print("close", err)
        print("after close", tostring(f))
        done()
      end)
    end)
  end,
  function(done)
    local before = time.now().milliunix
    fs.stat(a, function(err, st)
      check(err)
      print("stat " .. show_stat(st))
      print("timestamp", getmetatable(st.timestamp) == time.Timestamp,
        type(st.timestamp.year), math.abs(st.timestamp.milliunix - before) < 60000,
        #tostring(st.timestamp) > 0)
      done()
    end)
  end,
  function(done)
    fs.readfile(a, function(err, data)
      check(err)
      print("readfile", data)
      done()
    end)
  end,
  function(done)
    fs.open(a, function(err, f) -- READ_ONLY by default
      check(err)
      f:read(5, function(err, data) print("read", err, "[" .. data .. "]") end)
      f:read(100, function(err, data) print("read", err, "[" .. data .. "]") end)
      f:read(100, function(err, data) print("read at end", err, "[" .. data .. "]") end)
      f:read(0, function(err, data) print("read 0", err, "[" .. data .. "]") end)
      f:close(function(err) check(err); done() end)
    end)
  end,
  function(done)
    fs.open(a, F.APPEND + F.WRITE_ONLY, function(err, f)
      check(err)
      f:write("!", function(err, n) check(err) end)
      f:close(function(err)
        check(err)
        fs.readfile(a, function(err, data) check(err); print("append", data); done() end)
      end)
    end)
  end,
  function(done)
    fs.open(a, F.READ_WRITE, function(err, f)
      check(err)
      f:write("J", function(err, n) check(err) end)
      f:read(4, function(err, data) print("read_write", err, data) end)
      f:close(function(err)
        check(err)
        fs.readfile(a, function(err, data) check(err); print("read_write file", data); done() end)
      end)
    end)
  end,
  function(done)
    -- mode applies with CREATE (the umask may clear bits; 0600 survives any usual umask)
    fs.open(dir .. "/private", F.CREATE + F.WRITE_ONLY + F.EXCL + F.SYNC, tonumber("600", 8), function(err, f)
      check(err)
      f:close(function(err)
        check(err)
        fs.stat(dir .. "/private", function(err, st) check(err); print("mode " .. show_stat(st)); done() end)
      end)
    end)
  end,
  function(done)
    fs.open(a, F.WRITE_ONLY + F.TRUNC, function(err, f)
      check(err)
      f:close(function(err)
        check(err)
        fs.stat(a, function(err, st) check(err); print("trunc " .. show_stat(st)); done() end)
      end)
    end)
  end,
  function(done)
    fs.mkdir_all(dir .. "/x/y/z", function(err)
      check(err)
      fs.mkdir_all(dir .. "/x/y/z", function(err) -- existing: no error
        check(err)
        fs.stat(dir .. "/x/y/z", function(err, st) check(err); print("mkdir_all", st.name, st.isdir); done() end)
      end)
    end)
  end,
  function(done)
    fs:open(dir .. "/b.txt", F.CREATE + F.WRITE_ONLY, function(err, f) -- colon form
      check(err)
      f:write("bb", function(err) check(err) end)
      f:close(function(err)
        check(err)
        fs.read_dir(dir, function(err, list)
          check(err)
          for i, st in ipairs(list) do
            print("read_dir", i, st.name, st.isdir, st.isdir or st.size, getmetatable(st.timestamp) == time.Timestamp)
          end
          done()
        end)
      end)
    end)
  end,
  function(done)
    fs.remove(a, function(err)
      check(err)
      fs.stat(a, function(err, st) print("removed", err ~= nil, st) ; done() end)
    end)
  end,
  function(done)
    fs.remove_all(dir .. "/x", function(err)
      check(err)
      fs.stat(dir .. "/x", function(err, st) print("removed all", err ~= nil, st); done() end)
    end)
  end,
  function(done)
    -- no callback anywhere: the operations still happen
    fs.open(dir .. "/touched", F.CREATE + F.WRITE_ONLY)
    fs.mkdir(dir .. "/nocb")
    time.timeout(50, function()
      fs.stat(dir .. "/touched", function(err, st)
        check(err)
        print("touched", st.size)
        fs.stat(dir .. "/nocb", function(err, st) check(err); print("nocb", st.isdir); done() end)
      end)
    end)
  end,
}, function(err)
  check(err)
  print("done")
end)
