-- err_code(err): the code an error string starts with; nil for no error; EUNKNOWN for
-- anything else. It never raises, whatever it is given.
local check = require "check"

check.eq(err_code("ENOENT: open /x: no such file or directory"), "ENOENT")
check.eq(err_code("ETIMEDOUT"), "ETIMEDOUT", "a code alone")
check.eq(err_code("EAI_AGAIN: lookup x: server misbehaving"), "EAI_AGAIN")
check.eq(err_code("EUNKNOWN: oops"), "EUNKNOWN")

-- Strings without a code: a script's own errors, and look-alikes.
for _, s in ipairs({"", "oops", "EOF", "ERROR: disk full", "enoent: x", "ENOENT : x",
    "ENOENTX: x", " ENOENT: x", "main.lua:3: ENOENT: x", "E", string.rep("E", 1000),
    "ENOENT\0: x", "\0"}) do
  check.eq(err_code(s), "EUNKNOWN", "err_code(" .. check.show(s) .. ")")
end

-- No error: nil, absent, false; one result either way.
check.eq(err_code(nil), nil)
check.eq(err_code(), nil)
check.eq(err_code(false), nil)
check.eq(select("#", err_code(nil)), 1, "results for nil")
check.eq(select("#", err_code("ENOENT")), 1, "results for a string")

-- Odd values: EUNKNOWN, never a raise.
local co = coroutine.create(function() end)
for label, v in pairs({
  ["true"] = true, number = 404, zero = 0, nan = 0 / 0, inf = math.huge, ninf = -math.huge,
  table = {}, coded_table = {code = "ENOENT"}, ["function"] = print, coroutine = co,
  userdata = newproxy(), file = io.stderr, lightuserdata = require("json").null,
}) do
  local ok, code = pcall(err_code, v)
  check.eq(ok, true, "err_code(" .. label .. ") raised: " .. tostring(code))
  check.eq(code, "EUNKNOWN", "err_code(" .. label .. ")")
end
-- A table with __tostring is still not a string.
check.eq(err_code(setmetatable({}, {__tostring = function() return "ENOENT: x" end})), "EUNKNOWN")
-- Extra arguments are ignored.
check.eq(err_code("EPIPE: x", "ENOENT"), "EPIPE")

-- Long strings: only the start counts.
local long = "ENOENT: " .. string.rep("x", 8 * 1024 * 1024)
check.eq(err_code(long), "ENOENT", "8 MiB error")
check.eq(err_code(string.rep("x", 8 * 1024 * 1024)), "EUNKNOWN", "8 MiB without a code")
check.eq(err_code(string.rep("ENOENT", 100)), "EUNKNOWN", "a run of capitals")

-- Every documented code reads back.
for _, c in ipairs({"ENOENT", "EEXIST", "ENOTDIR", "EISDIR", "ENOTEMPTY", "EACCES", "EPERM",
    "ENOSPC", "EMFILE", "EBADF", "EPIPE", "ECONNRESET", "ECONNREFUSED", "EADDRINUSE",
    "EHOSTUNREACH", "ETIMEDOUT", "EMSGSIZE", "ECLOSED", "ECANCELED", "ENOTFOUND", "EINVAL",
    "EPROTO", "ETLS", "EBUSY", "ENOHANDLER", "EHANDLER", "EINTERNAL"}) do
  check.eq(err_code(c .. ": text"), c)
end

-- A script's own error in the same form is read the same way, also through the helpers.
parallel_callback({function(cb) cb("EBUSY: try later") end}, check.once("parallel", function(err)
  check.eq(err_code(err), "EBUSY")
end))
local _, err = parallel_callback({function(cb) cb("ECANCELED: stopped") end})
check.eq(err_code(err), "ECANCELED", "awaited helper")

check.pass_after(0)
