-- print, require next to the script, __dirname__.
local check = require "check"

print("a", 1, nil, true)
print()
print(nil)
print(setmetatable({}, {__tostring = function() return "custom" end}))
print("multi\nline")

check.eq(require("mymod").answer, 42, "module next to the script")
check.eq(require("pkg").name, "pkg/init.lua", "package directory next to the script")
check.eq(type(__dirname__), "string")
check.eq(require("mymod").dir, __dirname__, "__dirname__ inside a module")
check.ok(type(pcall) == "function" and type(xpcall) == "function", "pcall and xpcall")
check.eq(select(2, pcall(error, "x", 0)), "x")
check.eq(unsafe_pcall, nil, "golua's unsafe_pcall is not visible")

print("PASS")
