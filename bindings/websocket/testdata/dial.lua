-- Lua clients of a Go (gorilla) server. arg[1]: ws:// base URL; arg[2]: wss:// base URL;
-- ca.pem is the wss server's certificate.
local websocket = require "websocket"
local base, tls_base = arg[1], arg[2]

local all = {}
for i = 0, 255 do all[#all + 1] = string.char(i) end
all = table.concat(all)

-- Echo of text and binary, with a header, and a fragmented message from the server.
local conn = assert(websocket.dial(base .. "/echo", {headers = {["X-Test"] = "yes"}, timeout = 5}))
assert(conn:write_frame("hello"))
local f = assert(conn:read_frame())
print("text echo", f.type, f.data)
assert(conn:write_frame(all:rep(4), "binary"))
f = assert(conn:read_frame())
print("binary echo", f.type, f.data == all:rep(4), #f.data)
assert(conn:write_frame("fragments please"))
f = assert(conn:read_frame())
print("fragmented", f.type, #f.data, f.data == ("0123456789"):rep(3000))
print("close", conn:close(4003, "client bye"))
print("close again", conn:close())

-- The server closes with 4004.
conn = assert(websocket.dial(base .. "/echo"))
assert(conn:write_frame("close me"))
f = assert(conn:read_frame())
print("server closed", f.type, f.code, f.reason)
print("read after", conn:read_frame())
print("close after server close", conn:close())

-- The server vanishes: no close frame.
conn = assert(websocket.dial(base .. "/echo"))
assert(conn:write_frame("vanish"))
print("vanished", conn:read_frame())

-- The server answers 404.
print("not found", websocket.dial(base .. "/nothing"))
-- Nobody listens.
print("refused", websocket.dial("ws://127.0.0.1:1/"))

-- Callback style.
websocket.dial(base .. "/echo", function(err, c)
  assert(not err, err)
  c:write_frame("cb", function(err)
    assert(not err, err)
    c:read_frame(function(err, f)
      print("callback echo", err, f.data)
      c:close(function(err) print("callback close", err) end)
    end)
  end)
end)

-- wss with the test CA, as PEM and as a file; without it; insecure.
local ca_path = __dirname__ .. "/ca.pem"
local pem = assert(require("fs").readfile(ca_path))
conn = assert(websocket.dial(tls_base .. "/echo", {tls = {ca = pem}}))
assert(conn:write_frame("secure"))
print("wss echo", conn:read_frame().data)
conn:close()
conn = assert(websocket.dial(tls_base .. "/echo", {tls = {ca = ca_path}}))
conn:close()
print("wss ca file ok")
print("wss no ca", websocket.dial(tls_base .. "/echo"))
local _, e = websocket.dial(tls_base .. "/echo", {tls = {ca = ca_path, server_name = "other.example"}})
print("wss wrong name file", err_code(e))
_, e = websocket.dial(tls_base .. "/echo", {tls = {ca = __dirname__ .. "/missing.pem"}})
print("wss missing ca file", err_code(e))
conn = assert(websocket.dial(tls_base .. "/echo", {tls = {insecure = true}}))
conn:close()
print("wss insecure ok")

-- A read_timeout that passes closes the connection.
conn = assert(websocket.dial(base .. "/echo", {read_timeout = 0.1}))
print("read timeout", conn:read_frame())
print("after timeout", conn:write_frame("x"))

-- A message over max_message from the server: EMSGSIZE, and the server is told 1009.
conn = assert(websocket.dial(base .. "/echo", {max_message = 100}))
assert(conn:write_frame(("y"):rep(200)))
print("client limit", conn:read_frame())

-- A server that accepts and never answers the handshake.
print("handshake timeout", websocket.dial("ws://" .. arg[3] .. "/", {timeout = 0.2}))
