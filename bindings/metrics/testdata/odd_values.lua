-- Every function of the metrics module called with odd values under pcall: each raises a
-- clear error (never a crash, never a silent success), and the metric is unchanged.
local check = require "check"
local metrics = require "metrics"

local odd = {nil, true, false, 0, -1, 1.5, 0/0, 1/0, -1/0, "", "x y", {}, {1, 2}, function() end,
  coroutine.create(function() end), string.rep("a", 300)}
local n_odd = 16 -- #odd stops at the first nil

-- Declarations: the name.
for i = 1, n_odd do
  local v = odd[i]
  if type(v) ~= "string" or v == "" or v == "x y" or #v > 200 then
    check.ok(not pcall(metrics.counter, v, "help"), "counter name " .. tostring(v))
    check.ok(not pcall(metrics.gauge, v, "help"), "gauge name " .. tostring(v))
    check.ok(not pcall(metrics.histogram, v, "help"), "histogram name " .. tostring(v))
  end
end
check.raises("metric name is empty", metrics.counter, "", "h")
check.raises('metric name "9x" is not', metrics.counter, "9x", "h")
check.raises('metric name "a-b" is not', metrics.counter, "a-b", "h")
check.raises("the prefix drlee_ is the runtime's", metrics.counter, "drlee_requests_total", "h")
check.raises("the prefix go_ is the runtime's", metrics.gauge, "go_things", "h")
check.raises("name must be a string, got nil", metrics.counter, nil, "h")
check.raises("name must be a string, got table", metrics.counter, {}, "h")
-- The help.
check.raises("help must be a string, got nil", metrics.counter, "odd_a", nil)
check.raises("help must be a string, got table", metrics.counter, "odd_a", {})
check.raises("help is longer than", metrics.counter, "odd_a", string.rep("h", 2000))
-- The labels.
check.raises("labels must be a list of label names, got string", metrics.counter, "odd_a", "h", "path")
check.raises("labels must be a list of label names, got boolean", metrics.counter, "odd_a", "h", true)
check.raises("label 1 must be a string, got number", metrics.counter, "odd_a", "h", {1})
check.raises("labels must be a list (1..n)", metrics.counter, "odd_a", "h", {path = true})
check.raises("label a given twice", metrics.counter, "odd_a", "h", {"a", "a"})
check.raises('label name "__x": names starting with __ are reserved', metrics.counter, "odd_a", "h", {"__x"})
check.raises('label name "a b" is not', metrics.counter, "odd_a", "h", {"a b"})
check.raises("label name is empty", metrics.counter, "odd_a", "h", {""})
check.raises('"le" is a histogram', metrics.histogram, "odd_h", "h", nil, {"le"})
local many = {}
for i = 1, 17 do many[i] = "l" .. i end
check.raises("17 labels, at most 16", metrics.counter, "odd_a", "h", many)
-- The buckets.
check.raises("buckets must be a list of numbers, got string", metrics.histogram, "odd_h", "h", "1,2")
check.raises("bucket 1 must be a number, got string", metrics.histogram, "odd_h", "h", {"1"})
check.raises("bucket 2 must be finite", metrics.histogram, "odd_h", "h", {1, 1/0})
check.raises("bucket 1 must be finite", metrics.histogram, "odd_h", "h", {0/0})
check.raises("buckets must increase", metrics.histogram, "odd_h", "h", {1, 1})
check.raises("buckets must increase", metrics.histogram, "odd_h", "h", {2, 1})
check.raises("buckets must be a list (1..n)", metrics.histogram, "odd_h", "h", {a = 1})
local lots = {}
for i = 1, 65 do lots[i] = i end
check.raises("65 buckets, at most 64", metrics.histogram, "odd_h", "h", lots)

-- Redeclaring: the same is the same metric; another kind, labels or buckets is an error.
local c = metrics.counter("odd_total", "Odd.", {"k"})
check.eq(metrics.counter("odd_total", "Other help.", {"k"}).id, c.id, "same metric")
check.raises("odd_total is declared already as a counter", metrics.gauge, "odd_total", "h", {"k"})
check.raises("odd_total is declared already with the labels {k}, not {j}", metrics.counter, "odd_total", "h", {"j"})
check.raises("odd_total is declared already with the labels {k}, not {}", metrics.counter, "odd_total", "h")
local h = metrics.histogram("odd_seconds", "Odd.", {0.1, 1})
check.raises("declared already with the buckets", metrics.histogram, "odd_seconds", "h", {0.1, 2})
check.raises("declared already with the buckets", metrics.histogram, "odd_seconds", "h")

-- Values: finite numbers; a counter only goes up.
for _, v in ipairs({0/0, 1/0, -1/0}) do
  check.raises("must be finite", c.inc, c, v, {k = "a"})
  check.raises("must be finite", h.observe, h, v)
end
check.raises("a counter only goes up (inc by -1)", c.inc, c, -1, {k = "a"})
check.raises("the amount must be a number, got string", c.inc, c, "1", {k = "a"})
check.raises("the amount must be a number, got boolean", c.inc, c, true, {k = "a"})
check.raises("the value must be a number, got nil", h.observe, h, nil)
check.raises("the value must be a number, got table", h.observe, h, {})
-- Labels when inc'ing: exactly the declared ones, strings or numbers.
check.raises("labels expected (a table with k), got nil", c.inc, c)
check.raises("labels expected (a table with k), got string", c.inc, c, 1, "a")
check.raises("unknown label j (the labels are k)", c.inc, c, {j = "a"})
check.raises("unknown label 1 (the labels are k)", c.inc, c, {"a"})
check.raises("label k must be a string or a number, got boolean", c.inc, c, {k = true})
check.raises("label k must be a string or a number, got nil", c.inc, c, {})
check.raises("label k must be a string or a number, got table", c.inc, c, 1, {k = {}})
check.raises("label k: label value", c.inc, c, {k = "\255"})
check.raises("label k: label value is longer than", c.inc, c, {k = string.rep("v", 2000)})
check.raises("this metric has no labels, got table", h.observe, h, 1, {x = "y"})
check.raises("this metric has no labels, got string", h.observe, h, 1, "y")
h:observe(1, {}) -- an empty table is no labels

-- Gauges: set, inc and dec with odd values.
local g = metrics.gauge("odd_gauge", "Odd.")
g:set(3)
for _, v in ipairs({0/0, 1/0, -1/0}) do
  check.raises("must be finite", g.set, g, v)
  check.raises("must be finite", g.inc, g, v)
  check.raises("must be finite", g.dec, g, v)
end
check.raises("the value must be a number, got string", g.set, g, "3")
check.raises("the value must be a number, got nil", g.set, g)
g:set(-2.5); g:inc(); g:inc(2); g:dec(); g:dec(0.5) -- gauges go down, and below 0
check.raises("the value would overflow", function() g:set(1.7e308); g:inc(1.7e308) end)

-- A bad self (a table that is not a metric, or a metric of another kind's method).
check.raises("not a metric (bad handle)", c.inc, {id = 99, labels = {}, index = {}, name = "x"}, 1)
check.raises("not a metric (bad handle)", c.inc, {id = 1.5, labels = {}, index = {}, name = "x"}, 1)
check.raises("not a metric (bad handle)", c.inc, {id = "1", labels = {}, index = {}, name = "x"}, 1)
check.raises("only a gauge is set", g.set, h, 1)
check.raises("a histogram is observed, not added to", c.inc, h, 1)
check.raises("only a histogram is observed", h.observe, g, 1)

-- Good calls go on working after all of that.
c:inc({k = "a"}); c:inc(2, {k = "a"}); c:inc(0, {k = 7})
h:observe(0.05); h:observe(5)
print("PASS")
