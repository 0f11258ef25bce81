-- TLS dials against a Go TLS echo server with a self-signed certificate (for 127.0.0.1
-- and localhost): trusted through tls.ca as PEM and as a file, or tls.insecure; refused
-- (ETLS) without them or for another name; a handshake with a server that never answers
-- times out (ETIMEDOUT).
local network = require "network"
local fs = require "fs"
local check = require "check"
local addr, silent = arg[1], arg[2]
local ca_path = __dirname__ .. "/ca.pem"
local ca = assert(fs.readfile(ca_path))
local port = addr:match(":(%d+)$")

local function echo(name, target, opts)
  local conn, err = network.dial("tcp", target, opts)
  if not conn then
    print(name, err_code(err), err)
    return
  end
  local msg = name .. " " .. string.rep("\0\1\255", 10000)
  assert(conn:write(msg))
  local got = {}
  local n = 0
  while n < #msg do
    local d = assert(conn:read(#msg - n))
    assert(d ~= "")
    got[#got + 1] = d
    n = n + #d
  end
  check.eq(table.concat(got), msg, name)
  assert(conn:close())
  print(name, "ok")
end

echo("ca pem", addr, {tls = {ca = ca}})
echo("ca file", addr, {tls = {ca = ca_path}})
echo("ca localhost", "localhost:" .. port, {tls = {ca = ca}})
echo("server_name", addr, {tls = {ca = ca, server_name = "localhost"}})
echo("insecure", addr, {tls = {insecure = true}})
echo("no ca", addr, {tls = true})
echo("no ca table", addr, {tls = {}})
echo("wrong name", addr, {tls = {ca = ca, server_name = "other.example"}})
-- A ca file is verified by hand (it is read at the handshake): the name and the
-- authority are checked as for a ca given as text.
echo("wrong name file", addr, {tls = {ca = ca_path, server_name = "other.example"}})
echo("other ca file", addr, {tls = {ca = __dirname__ .. "/other.pem"}})
echo("missing ca file", addr, {tls = {ca = __dirname__ .. "/missing.pem"}})
echo("not pem file", addr, {tls = {ca = __dirname__ .. "/main.lua"}})
echo("handshake timeout", silent, {timeout = 0.3, tls = {insecure = true}})
-- callback style
network.dial("tcp", addr, {tls = {ca = ca}, read_timeout = 5}, function(err, conn)
  assert(not err, err)
  conn:write("cb", function(err)
    assert(not err, err)
    conn:read(2, function(err, data)
      print("callback", err, data)
      conn:close(function(err) print("closed", err) end)
    end)
  end)
end)
-- a read timeout on TLS: the connection stays usable
local t = assert(network.dial("tcp", addr, {tls = {ca = ca}, read_timeout = 0.1}))
local d, e = t:read(10)
print("tls read timeout", d, err_code(e))
assert(t:write("after"))
print("tls after timeout", assert(t:read(5)))
t:close()
