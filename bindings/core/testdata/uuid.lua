local check = require "check"
local seen = {}
for i = 1, 1000 do
  local id = uuid()
  check.match(id, "^%x%x%x%x%x%x%x%x%-%x%x%x%x%-4%x%x%x%-[89ab]%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$", "uuid")
  check.ok(not seen[id], "uuid repeated: " .. id)
  seen[id] = true
end
print("PASS")
