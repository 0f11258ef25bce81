-- Paths are relative to the process's working directory. arg[1]: a directory, relative.
local fs = require "fs"
local F = fs.flags
local dir = arg[1]
fs.open(dir .. "/rel.txt", F.CREATE + F.WRITE_ONLY, function(err, f)
  assert(err == nil, err)
  f:write("relative", function(err)
    assert(err == nil, err)
    f:close(function(err)
      assert(err == nil, err)
      fs.stat(dir .. "/rel.txt", function(err, st) print("stat", err, st.name, st.size) end)
    end)
  end)
end)
