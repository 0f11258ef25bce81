-- Every helper of req, res and http with odd arguments, under pcall (helpers_test.go): each
-- prints "name<TAB>ok results..." or "name<TAB>error". arg[1] is the address, arg[2] a
-- directory.
local http = require "http"
local json = require "json"

local function show(v)
  if type(v) == "string" then return v end
  return tostring(v)
end

local function pack(...) return {n = select("#", ...), ...} end

local function try(name, f, ...)
  local r = pack(pcall(f, ...))
  local out
  if r[1] then
    out = "ok"
    for i = 2, r.n do out = out .. " " .. show(r[i]) end
    if r.n == 1 then out = "ok nil" end -- no result: nil to whoever assigns it
  else
    out = show(r[2])
  end
  print(name .. "\t" .. (out:gsub("\n", " ")))
end

local deep = {}
local t = deep
for _ = 1, 250 do t[1] = {}; t = t[1] end
local cycle = {}
cycle.self = cycle

local server
server = http.create_server(arg[1], function(req, res)
  try("query", function() return type(req.query) end)
  try("query twice", function() return json.encode(req.query) == json.encode(req.query) and "equal" end)
  try("cookie nil", req.cookie, req, nil)
  try("cookie table", req.cookie, req, {})
  try("cookie number", req.cookie, req, 123)
  try("cookie huge", req.cookie, req, 2 ^ 63)
  try("json cb string", req.json, req, "cb")
  try("form cb number", req.form, req, 5)
  try("form options list", req.form, req, {1, 2})
  try("form max_fields negative", req.form, req, {max_fields = -1})
  try("form max_fields nan", req.form, req, {max_fields = 0 / 0})
  try("form max_file_size string", req.form, req, {max_file_size = "big"})
  try("form unknown", req.form, req, {bogus = 1})
  try("form cb table", req.form, req, {}, {})
  try("form not a form", req.form, req)

  try("res:json none", res.json, res)
  try("res:json function", res.json, res, print)
  try("res:json cycle", res.json, res, cycle)
  try("res:json deep", res.json, res, deep)
  try("res:json nan", res.json, res, {x = 0 / 0})
  try("res:json inf", res.json, res, {x = math.huge})
  try("res:json status 99", res.json, res, {}, 99)
  try("res:json status nan", res.json, res, {}, 0 / 0)
  try("res:json status string", res.json, res, {}, "teapot")
  try("res:json bad utf8", res.json, res, "\255")

  try("redirect nil", res.redirect, res, nil)
  try("redirect table", res.redirect, res, {})
  try("redirect status huge", res.redirect, res, "/x", math.huge)
  try("redirect status string", res.redirect, res, "/x", "abc")

  try("set_cookie nil", res.set_cookie, res, nil, "v")
  try("set_cookie value table", res.set_cookie, res, "n", {})
  try("set_cookie options string", res.set_cookie, res, "n", "v", "opts")
  try("set_cookie max_age huge", res.set_cookie, res, "n", "v", {max_age = math.huge})
  try("set_cookie max_age 2^63", res.set_cookie, res, "n", "v", {max_age = 2 ^ 63})
  try("set_cookie expires string", res.set_cookie, res, "n", "v", {expires = "tomorrow"})
  try("set_cookie expires table", res.set_cookie, res, "n", "v", {expires = {}})
  try("set_cookie expires negative", res.set_cookie, res, "n", "v", {expires = -1})
  try("set_cookie expires nan", res.set_cookie, res, "n", "v", {expires = 0 / 0})
  try("set_cookie path number", res.set_cookie, res, "n", "v", {path = 5})
  try("set_cookie domain empty", res.set_cookie, res, "n", "v", {domain = ""})
  try("set_cookie numbers", res.set_cookie, res, 1, 2)

  try("send_file nil", res.send_file, res, nil)
  try("send_file empty", res.send_file, res, "")
  try("send_file nul", res.send_file, res, "a\0b")
  try("send_file table", res.send_file, res, {})
  try("send_file cb number", res.send_file, res, "x", 5)

  try("status_text nil", http.status_text, nil)
  try("status_text table", http.status_text, {})
  try("status_text string", http.status_text, "404")
  try("status_text 2^63", http.status_text, 2 ^ 63)
  try("status_text -2^63", http.status_text, -2 ^ 63)
  try("status_text nan", http.status_text, 0 / 0)

  try("static nil", http.static, nil)
  try("static empty", http.static, "")
  try("static options number", http.static, arg[2], 5)
  try("static index true", http.static, arg[2], {index = true})
  try("static index empty", http.static, arg[2], {index = ""})
  try("static index slash", http.static, arg[2], {index = "a/b"})
  try("static index dotdot", http.static, arg[2], {index = ".."})
  try("static prefix relative", http.static, arg[2], {prefix = "x"})
  try("static max_age negative", http.static, arg[2], {max_age = -1})
  try("static max_age inf", http.static, arg[2], {max_age = 1 / 0})
  try("static unknown", http.static, arg[2], {nope = 1})
  try("static param number", http.static, arg[2], {param = 5})
  try("static colon", function() return type(http:static(arg[2])) end)

  try("set_status 600 go", res.set_status, res, 600, "go")
  try("set_status 999", res.set_status, res, 999)

  -- Nothing above changed the response: it can still be answered.
  try("last json", res.json, res, {done = true})
  try("after finish redirect", res.redirect, res, "/x")
  try("after finish json", res.json, res, {})
  try("after finish send_file", res.send_file, res, "x")
  try("after finish set_cookie", res.set_cookie, res, "n", "v")
  local static = http.static(arg[2])
  try("after finish static", static, req, res)

  -- readall takes the rest of the body in one call (req:__readall), after a partial read
  -- too; then nothing is left.
  try("readall cb string", req.__readall, req, "cb")
  try("readall rest", function() return req:read(2) .. "|" .. readall(req) .. "|" .. readall(req) .. "|" end)
  readall(req, function(err, body) print("readall cb\t" .. tostring(err) .. " [" .. body .. "]") end)
  print("DONE")
  server:stop()
end)
server:start(function(err) assert(not err, err) end)
