-- The request and response helpers, for helpers_test.go. arg[1] is the address to listen
-- on, arg[2] a directory of files (send_file, static), arg[3] a directory outside it.
local http = require "http"
local json = require "json"
local fs = require "fs"
local time = require "time"

local addr, files = arg[1], arg[2]

-- What the send_file callbacks got, by request tag: read back with /sent?tag=...
local sent = {}

local function report(res, v, status)
  res:json(v, status)
end

local routes = {}

routes["/query"] = function(req, res)
  local q = req.query
  local again = req.query -- a new table each time, equal
  assert(json.encode(q) == json.encode(again))
  report(res, q)
end

-- Names and values in hex (bytes that are not UTF-8 cannot be JSON): "k=v1,v2;..." sorted.
routes["/query-hex"] = function(req, res)
  local function hex(s) return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end)) end
  local list = {}
  for k, v in pairs(req.query) do
    if type(v) == "table" then
      local vs = {}
      for i, x in ipairs(v) do vs[i] = hex(x) end
      v = table.concat(vs, ",")
    else
      v = hex(v)
    end
    list[#list + 1] = hex(k) .. "=" .. v
  end
  table.sort(list)
  res:write(table.concat(list, ";"))
  res:finish()
end

-- req.query once the response streams (the request is a snapshot then).
routes["/query-stream"] = function(req, res)
  res:write("[")
  time.timeout(5, function()
    res:write(json.encode(req.query) .. "]")
    res:finish()
  end)
end

routes["/cookie"] = function(req, res)
  local name = req.query.name
  local v = req:cookie(name)
  report(res, {value = v == nil and json.null or v})
end

routes["/json"] = function(req, res) -- callback style
  req:json(function(err, v)
    if err then return report(res, {error = err}, 400) end
    report(res, {got = v})
  end)
end

routes["/json-await"] = function(req, res)
  local v, err = req:json()
  if err then return report(res, {error = err}, 400) end
  report(res, {got = v, null = v == json.null})
end

routes["/json-twice"] = function(req, res) -- the body is consumed by the first
  local v = req:json()
  local again, err = req:json()
  report(res, {got = v, again = again == nil, err = err})
end

-- A form: each file's path must exist while the handler runs; the paths are echoed back
-- so that the test can see them gone once the request has ended.
local function describe_form(form)
  local out = {}
  for k, v in pairs(form) do
    local function one(x)
      if type(x) == "table" then
        local st = fs.stat(x.path) -- await
        local body = fs.readfile(x.path)
        return {filename = x.filename, path = x.path, size = x.size, content_type = x.content_type,
          exists = st ~= nil, body = body}
      end
      return x
    end
    if type(v) == "table" and v.path == nil then
      local list = {}
      for i, x in ipairs(v) do list[i] = one(x) end
      out[k] = list
    else
      out[k] = one(v)
    end
  end
  return out
end

routes["/form"] = function(req, res) -- callback style, then awaits inside
  req:form(function(err, form)
    if err then return report(res, {error = err}, 400) end
    report(res, {form = describe_form(form)})
  end)
end

routes["/form-await"] = function(req, res)
  local form, err = req:form()
  if err then return report(res, {error = err}, 400) end
  report(res, {form = describe_form(form)})
end

routes["/form-limits"] = function(req, res)
  local q = req.query
  local opts = {max_file_size = tonumber(q.size), max_files = tonumber(q.files), max_fields = tonumber(q.fields)}
  local form, err = req:form(opts)
  if err then return report(res, {error = err}, 400) end
  report(res, {form = describe_form(form)})
end

routes["/redirect"] = function(req, res)
  local q = req.query
  res:redirect(q.to, tonumber(q.status))
end

routes["/redirect-bad"] = function(req, res)
  local out = {}
  for _, case in ipairs({
    {"crlf", "/x\r\nSet-Cookie: evil=1"}, {"lf", "/x\nX: y"}, {"nul", "/x\0"}, {"empty", ""},
    {"space", "/a b"},
  }) do
    local ok, err = pcall(res.redirect, res, case[2])
    out[case[1]] = ok and "ok" or err
  end
  for _, st in ipairs({{"300", 300}, {"304", 304}, {"200", 200}, {"399", 399}, {"nan", 0 / 0}, {"302.5", 302.5}}) do
    local ok, err = pcall(res.redirect, res, "/x", st[2])
    out["status " .. st[1]] = ok and "ok" or err
  end
  report(res, out)
end

routes["/set-cookie"] = function(req, res)
  res:set_cookie("a", "1")
  res:set_cookie("b", "two", {path = "/p", domain = "example.org", max_age = 60, secure = true,
    http_only = true, same_site = "lax"})
  res:set_cookie("c", "", {max_age = 0})
  res:set_cookie("d", "x", {expires = 1700000000})
  res:set_cookie("e", "y", {expires = {milliunix = 1700000000123}})
  res:set_cookie("a", "again", {path = "/other"}) -- the same name again: a header of its own
  local out = {}
  for _, case in ipairs({
    {"name space", function() res:set_cookie("a b", "v") end},
    {"name empty", function() res:set_cookie("", "v") end},
    {"value semicolon", function() res:set_cookie("n", "a;b") end},
    {"value crlf", function() res:set_cookie("n", "a\r\nb") end},
    {"value space", function() res:set_cookie("n", "a b") end},
    {"path crlf", function() res:set_cookie("n", "v", {path = "/\r\nX: y"}) end},
    {"path semicolon", function() res:set_cookie("n", "v", {path = "/a;b"}) end},
    {"domain bad", function() res:set_cookie("n", "v", {domain = "a b"}) end},
    {"max_age negative", function() res:set_cookie("n", "v", {max_age = -1}) end},
    {"max_age nan", function() res:set_cookie("n", "v", {max_age = 0 / 0}) end},
    {"max_age fraction", function() res:set_cookie("n", "v", {max_age = 1.5}) end},
    {"expires huge", function() res:set_cookie("n", "v", {expires = 1e300}) end},
    {"same_site bad", function() res:set_cookie("n", "v", {same_site = "sometimes"}) end},
    {"same_site none insecure", function() res:set_cookie("n", "v", {same_site = "None"}) end},
    {"unknown", function() res:set_cookie("n", "v", {http_onyl = true}) end},
    {"secure string", function() res:set_cookie("n", "v", {secure = "yes"}) end},
  }) do
    local ok, err = pcall(case[2])
    out[case[1]] = ok and "ok" or err
  end
  report(res, out)
end

local function file_path(q)
  return q.abs or (files .. "/" .. q.p)
end

routes["/file"] = function(req, res) -- callback style
  local q = req.query
  if q.status then res:set_status(tonumber(q.status)) end
  if q.type then res:set("Content-Type", q.type) end
  res:set("X-Before", "kept")
  res:send_file(file_path(q), function(err, status)
    sent[q.tag or "?"] = {err = err or json.null, status = status}
  end)
end

routes["/file-await"] = function(req, res)
  local q = req.query
  local status, err = res:send_file(file_path(q))
  sent[q.tag or "?"] = {err = err or json.null, status = status or json.null}
end

routes["/file-written"] = function(req, res)
  res:write("x")
  local ok, err = pcall(res.send_file, res, files .. "/small.txt")
  res:write(" " .. tostring(err))
  res:finish()
end

-- Taken once: {done = true, err, status}, or {done = false} while the callback has not run.
routes["/sent"] = function(req, res)
  local tag = req.query.tag
  local r = sent[tag]
  sent[tag] = nil
  if not r then return report(res, {done = false}) end
  report(res, {done = true, err = r.err, status = r.status})
end

routes["/status"] = function(req, res)
  local out = {}
  for _, v in ipairs({100, 599, 600, 999, 99, 1000, -1, 0 / 0, math.huge, 200.5}) do
    local ok, err = pcall(res.set_status, res, v)
    out[tostring(v)] = ok and "ok" or err
  end
  local ok, err = pcall(res.set_status, res, "teapot")
  out.teapot = ok and "ok" or err
  res:set_status(418)
  report(res, out)
end

routes["/status-text"] = function(req, res)
  local out = {}
  for _, v in ipairs({200, 404, 418, 451, 503, 599, 600, 999, 99, 200.5, -1}) do
    out[tostring(v)] = http.status_text(v) or json.null
  end
  out.nan = http.status_text(0 / 0) or json.null
  out.huge = http.status_text(math.huge) or json.null
  report(res, out)
end

routes["/res-json"] = function(req, res)
  local q = req.query
  if q.bad then
    local ok, err = pcall(res.json, res, {x = 0 / 0})
    local ok2, err2 = pcall(res.json, res, {f = print})
    res:set("X-Err", (tostring(err):gsub("[\r\n]", " ")))
    res:set("X-Err2", (tostring(err2):gsub("[\r\n]", " ")))
    return res:json({ok = ok, ok2 = ok2}, 422)
  end
  res:json({a = 1, list = {1, 2, 3}, empty = json.empty_array, null = json.null}, tonumber(q.status))
  local ok, err = pcall(res.write, res, "more")
  assert(not ok and err:find("after finish"), err)
end

local static = http.static(files, {prefix = "/static", max_age = 60})
local static_noindex = http.static(files, {prefix = "/noindex", index = false})
local static_root = http:static(files) -- the colon form; no prefix: req.path as it is

-- The path as a router's wildcard would give it, from the query: uncleaned, so that the
-- static handler's own clean-up is what stops "..".
local static_manual = http.static(files)
routes["/manual"] = function(req, res)
  req.params = {path = req.query.p}
  return static_manual(req, res)
end

local router = http.router()
router:get("/routed/*path", http.static(files))
router:get("/named/*file", http.static(files, {param = "file"}))

local server = http.create_server(addr, function(req, res)
  local p = req.path
  if p:sub(1, 8) == "/static/" or p == "/static" then return static(req, res) end
  if p:sub(1, 9) == "/noindex/" or p == "/noindex" then return static_noindex(req, res) end
  if p:sub(1, 8) == "/routed/" or p:sub(1, 7) == "/named/" then return router(req, res) end
  if p:sub(1, 6) == "/root/" then return static_root(req, res) end
  local route = routes[p]
  if not route then
    res:set_status(404)
    res:write("no route " .. p)
    return res:finish()
  end
  route(req, res)
end)
server:start(function(err) assert(not err, err) end)
