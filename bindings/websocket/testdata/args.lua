-- Every function of the module with odd values, under pcall: a clear error, never a crash.
local websocket = require "websocket"
local http = require "http"
local check = require "check"
local err = check.raises

local huge = string.rep("x", 1024 * 1024)
local co = coroutine.create(print)
local ud = newproxy(true)
local deep = {}
for i = 1, 250 do deep = {deep} end
local cyc = {}
cyc.self = cyc
local cb = function() error("must not be called") end
local odd = {nil, true, 0, -1, 0/0, math.huge, -math.huge, "", huge, {}, deep, cyc, print, co, ud}
local N = 15 -- #odd with its holes

-- websocket.dial
local bad = "bad argument #1 to 'websocket.dial' ("
err(bad .. "string expected, got no value)", websocket.dial)
err(bad .. "string expected, got table)", websocket.dial, {}, cb)
for _, u in ipairs({"", "http://a/", "ws://", "ws:/x", "tcp://a:1", "ws://u:p@a/", "ws://a:0/", "ws://a:99999/", "ws://a:x/", huge, "ws://a b/"}) do
  err(bad .. "url ", websocket.dial, u, cb)
end
bad = "bad argument #2 to 'websocket.dial' ("
err(bad .. "table expected, got string)", websocket.dial, "ws://a/", "opts", cb)
err(bad .. "options must be a table of name = value)", websocket.dial, "ws://a/", {1, 2}, cb)
err(bad .. "unknown option 'time_out' (timeout, headers, tls, max_message, read_timeout, write_timeout, close_timeout))", websocket.dial, "ws://a/", {time_out = 1}, cb)
err(bad .. "unknown option [1]", websocket.dial, "ws://a/", {1, timeout = 1}, cb)
for _, name in ipairs({"timeout", "read_timeout", "write_timeout", "close_timeout"}) do
  local want = bad .. "options." .. name .. " must be a number of seconds, 0 or more (0 or math.huge: no limit))"
  for _, v in ipairs({-1, 0/0, -math.huge, "1", true, {}}) do
    err(want, websocket.dial, "ws://a/", {[name] = v}, cb)
  end
end
for _, v in ipairs({0, -1, 0.5, 0/0, math.huge, 2^30 + 1, "10", true}) do
  err(bad .. "options.max_message must be a whole number of bytes, 1 to 1073741824)", websocket.dial, "ws://a/", {max_message = v}, cb)
end
err(bad .. "options.headers must be a table of name = value)", websocket.dial, "ws://a/", {headers = "x"}, cb)
err(bad .. "options.headers must be a table of name = value)", websocket.dial, "ws://a/", {headers = {"x"}}, cb)
err(bad .. "options.headers: 'a b' is not a header name)", websocket.dial, "ws://a/", {headers = {["a b"] = "x"}}, cb)
err(bad .. "options.headers.x must be a string without CR, LF or NUL)", websocket.dial, "ws://a/", {headers = {x = "a\r\nb"}}, cb)
err(bad .. "options.headers.x must be a string without CR, LF or NUL)", websocket.dial, "ws://a/", {headers = {x = 1}}, cb)
err(bad .. "options.headers.upgrade is set by the handshake itself)", websocket.dial, "ws://a/", {headers = {upgrade = "x"}}, cb)
err(bad .. "options.headers.Sec-WebSocket-Key is set by the handshake itself)", websocket.dial, "ws://a/", {headers = {["Sec-WebSocket-Key"] = "x"}}, cb)
err(bad .. "options.tls is for wss:// URLs)", websocket.dial, "ws://a/", {tls = true}, cb)
err(bad .. "options.tls must be true or a table of name = value)", websocket.dial, "wss://a/", {tls = "yes"}, cb)
err(bad .. "options.tls.insecure must be a boolean)", websocket.dial, "wss://a/", {tls = {insecure = 1}}, cb)
err(bad .. "options.tls.server_name must be a non-empty string)", websocket.dial, "wss://a/", {tls = {server_name = ""}}, cb)
err(bad .. "options.tls.ca must be a PEM string or the path of a PEM file)", websocket.dial, "wss://a/", {tls = {ca = 1}}, cb)
err(bad .. "options.tls.ca holds no PEM certificate)", websocket.dial, "wss://a/", {tls = {ca = "-----BEGIN nothing"}}, cb)
err(bad .. "unknown option tls.cert (insecure, server_name, ca))", websocket.dial, "wss://a/", {tls = {cert = "x"}}, cb)
err("bad argument #2 to 'websocket.dial'", websocket.dial, "ws://a/", deep, cb)
err("bad argument #2 to 'websocket.dial'", websocket.dial, "ws://a/", cyc, cb)
for _, v in ipairs({true, 0, "x", co, ud}) do
  err("bad argument #2 to 'websocket.dial'", websocket.dial, "ws://a/", v, cb)
end
err("bad argument #3 to 'websocket.dial' (function expected, got string)", websocket.dial, "ws://a/", {}, "cb")

-- websocket.create_server
bad = "bad argument #1 to 'websocket.create_server' ("
err(bad .. "string expected, got no value)", websocket.create_server)
err(bad .. 'address must be host:port, [ipv6]:port or :port, got "nocolon")', websocket.create_server, "nocolon", cb)
err(bad .. "address must be host:port", websocket.create_server, huge, cb)
err(bad .. "string expected, got table)", websocket.create_server, {}, cb)
err("bad argument #2 to 'websocket.create_server' (function expected, got no value)", websocket.create_server, "127.0.0.1:0")
err("bad argument #2 to 'websocket.create_server' (unknown option 'timeout' (max_message, read_timeout, write_timeout, close_timeout))", websocket.create_server, "127.0.0.1:0", {timeout = 1}, cb)
err("bad argument #2 to 'websocket.create_server' (options.max_message must be", websocket.create_server, "127.0.0.1:0", {max_message = -5}, cb)
err("bad argument #2 to 'websocket.create_server' (table expected, got string)", websocket.create_server, "127.0.0.1:0", "x", cb)
err("bad argument #3 to 'websocket.create_server' (function expected, got no value)", websocket.create_server, "127.0.0.1:0", {})
err("bad argument #3 to 'websocket.create_server' (function expected, got table)", websocket.create_server, "127.0.0.1:0", {}, {})

-- websocket.upgrade: only a request and its response
err("bad argument #1 to 'websocket.upgrade'", websocket.upgrade)
for i = 1, N do
  err("bad argument #1 to 'websocket.upgrade'", websocket.upgrade, odd[i], nil, cb)
end

-- server methods
local s = websocket.create_server("127.0.0.1:0", function() end)
check.eq(tostring(s), "websocket server (127.0.0.1:0, not listening)", "tostring")
check.eq(s.addr, nil, "addr before start")
err("calling 'websocketServer:start' on bad self", s.start, {})
err("calling 'websocketServer:start' on bad self", s.start, ud)
err("bad argument #1 to 'websocketServer:start' (function expected, got number)", s.start, s, 5)
s:stop()
s:stop()
err("websocket: server stopped: a server starts once", s.start, s, cb)
check.eq(tostring(s), "websocket server (127.0.0.1:0, stopped)", "tostring stopped")
local taken = websocket.create_server("127.0.0.1:0", function() end)
assert(taken:start())
err("websocket: server already started", taken.start, taken, cb)
taken:stop()
local dup = websocket.create_server("256.0.0.1:1", function() end)
local ok, e = dup:start()
check.eq(ok, nil, "bad address")
print("bad address", e)

-- conn methods, on a real connection
local server = websocket.create_server("127.0.0.1:0", function(conn, req)
  check.eq(req.path, "/x", "path")
  check.eq(type(req.headers), "table", "headers")
  check.eq(type(req.query), "table", "query")
  while true do
    local f = assert(conn:read_frame())
    if f.data == "done" then break end
  end
  conn:close()
end)
assert(server:start())
check.ok(tostring(server):find("websocket server %(127%.0%.0%.1:%d+%)"), "tostring listening")
local c = assert(websocket.dial("ws://" .. server.addr .. "/x"))
bad = "bad argument #1 to 'websocket:write_frame' ("
err(bad .. "string expected, got no value)", c.write_frame, c)
err(bad .. "string expected, got table)", c.write_frame, c, {})
err(bad .. "string expected, got nil)", c.write_frame, c, nil, "text")
err(bad .. 'a text message must be UTF-8 (send other bytes with type "binary"))', c.write_frame, c, "\255\254")
err(bad .. 'a text message must be UTF-8', c.write_frame, c, "\255", "text")
bad = "bad argument #2 to 'websocket:write_frame' ("
err(bad .. 'type must be "text" or "binary", got "ping")', c.write_frame, c, "x", "ping")
err(bad .. 'type must be "text" or "binary", got "TEXT")', c.write_frame, c, "x", "TEXT")
err(bad .. '"text" or "binary" expected, got number)', c.write_frame, c, "x", 1)
err(bad .. '"text" or "binary" expected, got table)', c.write_frame, c, "x", {})
err("bad argument #3 to 'websocket:write_frame' (function expected, got string)", c.write_frame, c, "x", "binary", "cb")
err("calling 'websocket:write_frame' on bad self", c.write_frame, {}, "x")
err("calling 'websocket:read_frame' on bad self", c.read_frame, s)
err("calling 'websocket:read_frame' on bad self", c.read_frame, ud)
err("bad argument #1 to 'websocket:read_frame' (function expected, got number)", c.read_frame, c, 1)
bad = "bad argument #1 to 'websocket:close' ("
for _, code in ipairs({0, 999, 1004, 1005, 1006, 1015, 2999, 5000, -1, 65536}) do
  err(bad, c.close, c, code, "x", cb)
end
err(bad .. "number expected, got string)", c.close, c, "abc", "x", cb)
err(bad .. "a close code is a whole number)", c.close, c, 1000.5, "x", cb)
err(bad, c.close, c, 0/0, "x", cb)
err(bad, c.close, c, math.huge, "x", cb)
err("bad argument #2 to 'websocket:close' (reason must be UTF-8 text of at most 123 bytes)", c.close, c, 1000, ("r"):rep(124), cb)
err("bad argument #2 to 'websocket:close' (reason must be UTF-8 text of at most 123 bytes)", c.close, c, 1000, "\255", cb)
err("bad argument #2 to 'websocket:close' (string expected, got table)", c.close, c, 1000, {}, cb)
err("bad argument #3 to 'websocket:close' (function expected, got string)", c.close, c, 1000, "x", "cb")
check.ok(tostring(c):find("^websocket %(127%.0%.0%.1:%d+%->127%.0%.0%.1:%d+%)$"), "tostring conn")
-- Every odd value as data, under pcall: strings go, others raise.
for i = 1, N do
  local v = odd[i]
  local ok = pcall(c.write_frame, c, v, "binary")
  check.eq(ok, type(v) == "string" or type(v) == "number", "write_frame of " .. type(v))
end
assert(c:write_frame("done"))
local f = assert(c:read_frame())
check.eq(f.type, "close", "server closed")
check.eq(f.code, 1000, "server close code")
c:close()
server:stop()
print("PASS")
