-- A fuzz of the router's matching (router_test.go): random route sets and random paths,
-- each matched by router:match and by a plain reference that tries every route in turn
-- and applies the documented precedence. They must agree on the route, its params and the
-- Allow list. arg[1]: the seed; arg[2]: how many route sets.
local http = require "http"

local seed, rounds = tonumber(arg[1]) or 1, tonumber(arg[2]) or 200
math.randomseed(seed)
local random = math.random

local words = {"a", "b", "c", "ab", "x y", "é"}
local methods = {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PROPFIND"}

local function pick(list) return list[random(#list)] end

-- A random pattern, as segment specs {kind, text}: static words, params, a wildcard last.
local function random_route()
  local segs, n = {}, random(0, 4)
  for i = 1, n do
    local k = random(10)
    if k <= 6 then
      segs[i] = {"s", pick(words)}
    elseif k <= 9 or i < n then
      segs[i] = {"p", "p" .. i}
    else
      segs[i] = {"w", "rest"}
    end
  end
  if random(8) == 1 and (#segs == 0 or segs[#segs][1] ~= "w") then segs[#segs + 1] = {"w", "w"} end
  local parts = {}
  for i, s in ipairs(segs) do
    parts[i] = (s[1] == "s" and "" or s[1] == "p" and ":" or "*") .. s[2]
  end
  local pattern = "/" .. table.concat(parts, "/")
  if random(6) == 1 and #segs > 0 then pattern = pattern .. "/" end
  return segs, pattern
end

-- The reference: does route (segs) match path segments ps? Returns the captures in order.
local function ref_match(segs, ps)
  local caps = {}
  for i, s in ipairs(segs) do
    if s[1] == "w" then
      caps[#caps + 1] = table.concat(ps, "/", i)
      return caps
    end
    local v = ps[i]
    if v == nil then return nil end
    if s[1] == "s" and v ~= s[2] then return nil end
    if s[1] == "p" then caps[#caps + 1] = v end
  end
  if #ps ~= #segs then return nil end
  return caps
end

local order = {s = 1, p = 2, w = 3}

-- a before b: the first segment whose kinds differ decides (static, then parameter, then
-- wildcard); a pattern that ends first comes before a longer one.
local function before(a, b)
  for i = 1, math.max(#a, #b) do
    local x, y = a[i], b[i]
    if x == nil then return y ~= nil end
    if y == nil then return false end
    if x[1] ~= y[1] then return order[x[1]] < order[y[1]] end
  end
  return false
end

local function split(path)
  if #path > 1 and path:sub(-1) == "/" then path = path:sub(1, -2) end
  local ps = {}
  for seg in path:gmatch("[^/]+") do ps[#ps + 1] = seg end
  return ps
end

local function ref_lookup(routes, method, path)
  local ps = split(path)
  local hits = {}
  for _, rt in ipairs(routes) do
    local caps = ref_match(rt.segs, ps)
    if caps then hits[#hits + 1] = {rt = rt, caps = caps} end
  end
  table.sort(hits, function(x, y) return before(x.rt.segs, y.rt.segs) end)
  -- Hits of one shape (same kinds and statics) are one trie node: the method picks.
  local i = 1
  while i <= #hits do
    local shape = hits[i].rt.shape
    local best, rank = nil, 9
    local j = i
    while j <= #hits and hits[j].rt.shape == shape do
      local m = hits[j].rt.method
      local r = m == method and 1 or (method == "HEAD" and m == "GET") and 2 or m == nil and 3 or 9
      if r < rank then best, rank = hits[j], r end
      j = j + 1
    end
    if best then return best end
    i = j
  end
  local set = {}
  for _, hit in ipairs(hits) do set[hit.rt.method or "*"] = true end
  if next(set) == nil then return nil end
  if set.GET then set.HEAD = true end
  set.OPTIONS = true
  local rank = {GET = 1, HEAD = 2, POST = 3, PUT = 4, DELETE = 5, PATCH = 6, OPTIONS = 7}
  local list = {}
  for m in pairs(set) do list[#list + 1] = m end
  table.sort(list, function(a, b)
    local ra, rb = rank[a] or 100, rank[b] or 100
    if ra ~= rb then return ra < rb end
    return a < b
  end)
  return nil, table.concat(list, ", ")
end

local function random_path()
  local parts = {}
  for i = 1, random(0, 6) do parts[i] = pick(words) end
  local p = "/" .. table.concat(parts, "/")
  if random(5) == 1 and #parts > 0 then p = p .. "/" end
  return p
end

local checked, matched, refused = 0, 0, 0
for round = 1, rounds do
  local r = http.router()
  local routes, shapes = {}, {}
  for i = 1, random(1, 40) do
    local segs, pattern = random_route()
    local method = random(6) > 1 and pick(methods) or nil
    local kinds = {}
    for k, s in ipairs(segs) do kinds[k] = s[1] == "s" and "s:" .. s[2] or s[1] end
    local shape = table.concat(kinds, "/")
    local key = (method or "*") .. " " .. shape
    local rt = {segs = segs, method = method, shape = shape, pattern = pattern, id = i}
    local handler = function() return rt end
    local ok, err
    if method == nil then
      ok, err = pcall(r.any, r, pattern, handler)
    elseif method == "PROPFIND" then
      ok, err = pcall(r.add, r, method, pattern, handler)
    else
      ok, err = pcall(r[method:lower()], r, pattern, handler)
    end
    if shapes[key] then
      assert(not ok and err:find("duplicate route", 1, true), "a duplicate was taken: " .. key .. " " .. tostring(err))
      refused = refused + 1
    else
      assert(ok, err)
      shapes[key] = true
      routes[#routes + 1] = rt
    end
  end
  for _ = 1, 60 do
    local method, path = pick(methods), random_path()
    local h, params, pattern = r:match(method, path)
    local want, allow = ref_lookup(routes, method, path)
    local what = string.format("seed %d round %d: %s %s", seed, round, method, path)
    if want then
      assert(h, what .. ": no match, want " .. want.rt.pattern)
      local got = h()
      assert(got == want.rt, what .. ": matched " .. got.pattern .. ", want " .. want.rt.pattern)
      assert(pattern == got.pattern, what .. ": pattern " .. tostring(pattern))
      local names = {}
      for _, s in ipairs(got.segs) do if s[1] ~= "s" then names[#names + 1] = s[2] end end
      local n = 0
      for _ in pairs(params) do n = n + 1 end
      assert(n == #names, what .. ": " .. n .. " params, want " .. #names)
      for k, name in ipairs(names) do
        assert(params[name] == want.caps[k], what .. ": params." .. name .. " = " .. tostring(params[name]) .. ", want " .. tostring(want.caps[k]))
      end
      matched = matched + 1
    else
      assert(h == nil, what .. ": matched " .. tostring(pattern) .. ", want none")
      assert(params == allow, what .. ": allow " .. tostring(params) .. ", want " .. tostring(allow))
    end
    checked = checked + 1
  end
  -- Odd bytes never break it.
  for _ = 1, 20 do
    local b = {}
    for i = 1, random(0, 30) do b[i] = string.char(random(0, 255)) end
    local p = (random(2) == 1 and "/" or "") .. table.concat(b)
    local ok, err = pcall(r.match, r, pick(methods), p)
    assert(ok, err)
  end
end
print(string.format("fuzz seed %d: %d lookups, %d matched, %d duplicates refused", seed, checked, matched, refused))
print("PASS")
