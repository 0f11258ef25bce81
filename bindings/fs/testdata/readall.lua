-- readall (and its alias read_all) on a big file returns it whole; the data written back
-- must equal the original. arg[1]: the file's size.
local fs = require "fs"
local F = fs.flags
local size = tonumber(arg[1])
local src, dst = __dirname__ .. "/big.bin", __dirname__ .. "/copy.bin"

series_callback({
  function(done)
    fs.open(src, function(err, f)
      assert(err == nil, err)
      readall(f, function(err, data)
        print("readall", err, #data == size)
        f:close(function(err) done(err, data) end)
      end)
    end)
  end,
  function(done)
    fs.open(src, function(err, f)
      assert(err == nil, err)
      read_all(f, function(err, data)
        fs.readfile(src, function(err2, whole)
          print("read_all", err, err2, #data == size, data == whole)
          f:close(function(err) done(err) end)
        end)
      end)
    end)
  end,
  function(done)
    fs.open(src, function(err, f)
      assert(err == nil, err)
      f:read(size * 2, function(err, data)
        print("one big read", err, #data == size)
        f:close(done)
      end)
    end)
  end,
  function(done)
    fs.readfile(src, function(err, data)
      assert(err == nil, err)
      fs.open(dst, F.CREATE + F.WRITE_ONLY + F.TRUNC, function(err, f)
        assert(err == nil, err)
        f:write(data, function(err, n) print("write", err, n == size) end)
        f:close(done)
      end)
    end)
  end,
}, function(err)
  print("done", err)
end)
