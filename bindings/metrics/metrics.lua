-- The metric objects of the metrics module (metrics.go has the storage).
local metrics = require "metrics"
local declare, add, set, observe = metrics.__declare, metrics.__add, metrics.__set, metrics.__observe
metrics.__declare, metrics.__add, metrics.__set, metrics.__observe = nil, nil, nil, nil

local type, pairs, ipairs, error, tostring, select, unpack = type, pairs, ipairs, error, tostring, select, unpack
local concat = table.concat

-- values(m, labels): the label values of labels (a table by label name), in m's order.
local function values(m, labels)
  local names = m.labels
  local n = #names
  if n == 0 then
    if labels ~= nil and (type(labels) ~= "table" or next(labels) ~= nil) then
      error(m.name .. ": this metric has no labels, got " .. type(labels), 3)
    end
    return
  end
  if type(labels) ~= "table" then
    error(m.name .. ": labels expected (a table with " .. concat(names, ", ") .. "), got " .. type(labels), 3)
  end
  for k in pairs(labels) do
    if type(k) ~= "string" or m.index[k] == nil then
      error(m.name .. ": unknown label " .. tostring(k) .. " (the labels are " .. concat(names, ", ") .. ")", 3)
    end
  end
  local out = {}
  for i = 1, n do
    local v = labels[names[i]]
    local tv = type(v)
    if tv == "number" then
      v = tostring(v)
    elseif tv ~= "string" then
      error(m.name .. ": label " .. names[i] .. " must be a string or a number, got " .. tv, 3)
    end
    out[i] = v
  end
  return unpack(out, 1, n)
end

local Counter, Gauge, Histogram = {}, {}, {}
Counter.__index, Gauge.__index, Histogram.__index = Counter, Gauge, Histogram

-- amount(n, labels): n may be left out (1) when labels come first.
local function amount(n, labels)
  if type(n) == "table" and labels == nil then return 1, n end
  if n == nil then return 1, labels end
  return n, labels
end

-- The Go functions return an error message rather than raise, so that the error names the
-- script's line, not this file's.
local function check(err) if err then error(err, 3) end end

function Counter:inc(n, labels)
  n, labels = amount(n, labels)
  check(add(self.id, n, values(self, labels)))
end
function Gauge:set(v, labels) check(set(self.id, v, values(self, labels))) end
function Gauge:inc(n, labels)
  n, labels = amount(n, labels)
  check(add(self.id, n, values(self, labels)))
end
function Gauge:dec(n, labels)
  n, labels = amount(n, labels)
  if type(n) == "number" then n = -n end
  check(add(self.id, n, values(self, labels)))
end
function Histogram:observe(v, labels) check(observe(self.id, v, values(self, labels))) end

local function make(meta, kind, name, help, buckets, labels)
  if labels ~= nil and type(labels) ~= "table" then
    error("metrics." .. kind .. ": labels must be a list of label names, got " .. type(labels), 3)
  end
  if buckets ~= nil and type(buckets) ~= "table" then
    error("metrics.histogram: buckets must be a list of numbers, got " .. type(buckets), 3)
  end
  local names, index = {}, {}
  if labels then
    local n = 0
    for _ in pairs(labels) do n = n + 1 end
    if n ~= #labels then error("metrics." .. kind .. ": labels must be a list (1..n) of label names", 3) end
    for i, l in ipairs(labels) do
      if type(l) ~= "string" then error("metrics." .. kind .. ": label " .. i .. " must be a string, got " .. type(l), 3) end
      if index[l] then error("metrics." .. kind .. ": label " .. l .. " given twice", 3) end
      names[i], index[l] = l, i
    end
  end
  local args, nb = {}, 0
  if buckets then
    local n = 0
    for _ in pairs(buckets) do n = n + 1 end
    if n ~= #buckets then error("metrics.histogram: buckets must be a list (1..n) of numbers", 3) end
    for i, b in ipairs(buckets) do args[i] = b end
    nb = #buckets
  end
  for i = 1, #names do args[nb + i] = names[i] end
  local id, err = declare(kind, name, help, nb, #names, unpack(args, 1, nb + #names))
  if not id then error(err, 3) end
  return setmetatable({id = id, name = name, help = help, kind = kind, labels = names, index = index}, meta)
end

-- The declared functions' own arguments are checked in Go (__declare): name and help
-- strings, the buckets numbers.
function metrics.counter(name, help, labels) return make(Counter, "counter", name, help, nil, labels) end
function metrics.gauge(name, help, labels) return make(Gauge, "gauge", name, help, nil, labels) end
function metrics.histogram(name, help, buckets, labels) return make(Histogram, "histogram", name, help, buckets, labels) end
