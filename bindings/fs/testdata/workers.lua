-- Every worker writes its own file at once, through the shared pool.
local fs = require "fs"
local F = fs.flags
local path = string.format("%s/worker-%d.txt", __dirname__, env.worker_id)
fs.open(path, F.CREATE + F.WRITE_ONLY + F.TRUNC, function(err, f)
  assert(err == nil, err)
  for i = 1, 100 do f:write(string.format("%d:%d\n", env.worker_id, i)) end
  f:close(function(err)
    fs.readfile(path, function(err, data)
      assert(err == nil, err)
      local lines = select(2, data:gsub("\n", "\n"))
      print("worker", env.worker_id, "lines", lines)
    end)
  end)
end)
