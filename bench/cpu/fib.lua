-- fib: recursive calls. Prints the sum of fib(32) computed N times.
-- Usage: <lua> fib.lua [N]   (default 1)
local function fib(n)
  if n < 2 then return n end
  return fib(n - 1) + fib(n - 2)
end

local n = tonumber(arg and arg[1]) or 1
local s = 0
for _ = 1, n do
  s = s + fib(32)
end
print(s)
