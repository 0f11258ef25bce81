-- Wrong argument types for the helpers raise "bad argument" errors, not internal ones.
local check = require "check"

check.raises("bad argument #1 to 'readall' (object with read(n, cb) expected, got number)", readall, 5)
check.raises("bad argument #1 to 'readall' (object with read(n, cb) expected, got boolean)", readall, true)
check.raises("bad argument #1 to 'readall' (object with read(n, cb) expected, got string)", readall, "text")
check.raises("bad argument #1 to 'parallel_callback' (table expected, got string)", parallel_callback, "x")
check.raises("bad argument #1 to 'series_callback' (table expected, got nil)", series_callback, nil, print)

print("PASS")
