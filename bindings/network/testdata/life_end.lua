-- A connection still open when the script ends is closed with its worker.
local network = require "network"
open_conn = assert(network.dial("tcp", arg[1]))
assert(open_conn:write("hello"))
print("left open")
