local fs = require "fs"
fs.stat(__dirname__, function(err, st)
  error("boom in callback")
end)
fs.stat(__dirname__, function(err, st)
  print("second callback ran", st.isdir)
end)
-- No callback, in a coroutine of the script's own: fire and forget, the error uncaught
-- (reported with this line). In the main chunk itself, the same call awaits.
coroutine.wrap(function() fs.readfile(__dirname__ .. "/missing") end)()
local data, err = fs.readfile(__dirname__ .. "/missing")
print("awaited", data, err)
require("time").timeout(20, function()
  fs.open(__dirname__ .. "/later", fs.flags.CREATE + fs.flags.WRITE_ONLY, function(err, f)
    f:write("still working", function(err, n)
      f:close(function() print("later work done", n) end)
    end)
  end)
end)
