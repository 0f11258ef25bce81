-- A read waiting for a slow peer keeps the worker alive: the main chunk returns at once.
local network = require "network"
network.dial("tcp", arg[1], function(err, conn)
  assert(not err, err)
  conn:read(100, function(err, data)
    print("late read", err, data)
    conn:close()
  end)
end)
