-- Every function of the module with odd values, under pcall: a clear error, never a crash.
local network = require "network"
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

-- network.dial
local bad = "bad argument #1 to 'network.dial' ("
err(bad .. "string expected, got no value)", network.dial)
err(bad .. 'kind must be "tcp", "udp" or "unix", got "sctp")', network.dial, "sctp", "a:1", cb)
err(bad .. 'kind must be "tcp", "udp" or "unix", got "TCP")', network.dial, "TCP", "a:1", cb)
err(bad .. "string expected, got table)", network.dial, {}, "a:1", cb)
err(bad .. 'kind must be "tcp", "udp" or "unix", got "xxxxxxxxxx', network.dial, huge, "a:1", cb)
bad = "bad argument #2 to 'network.dial' ("
err(bad .. "string expected, got no value)", network.dial, "tcp")
err(bad .. 'address must be host:port, [ipv6]:port or :port, got "nocolon")', network.dial, "tcp", "nocolon", cb)
err(bad .. 'address must be host:port, [ipv6]:port or :port, got "::1:80")', network.dial, "tcp", "::1:80", cb)
err(bad .. "address must be host:port", network.dial, "udp", huge, cb)
err(bad .. 'address must be the path of a socket, got "")', network.dial, "unix", "", cb)
err(bad .. 'address must be the path of a socket, got "a\\x00b")', network.dial, "unix", "a\0b", cb)
err(bad .. "string expected, got function)", network.dial, "tcp", print, cb)
bad = "bad argument #3 to 'network.dial' ("
err(bad .. "table expected, got string)", network.dial, "tcp", "a:1", "opts", cb)
err(bad .. "table expected, got boolean)", network.dial, "tcp", "a:1", true, cb)
err(bad .. "options must be a table of name = value)", network.dial, "tcp", "a:1", {1, 2}, cb)
err(bad .. "unknown option 'time_out' (timeout, read_timeout, write_timeout, tls))", network.dial, "tcp", "a:1", {time_out = 1}, cb)
err(bad .. "unknown option [1]", network.dial, "tcp", "a:1", {1, timeout = 1}, cb)
for _, name in ipairs({"timeout", "read_timeout", "write_timeout"}) do
  local want = bad .. "options." .. name .. " must be a number of seconds, 0 or more (0 or math.huge: no limit))"
  err(want, network.dial, "tcp", "a:1", {[name] = -1}, cb)
  err(want, network.dial, "tcp", "a:1", {[name] = 0/0}, cb)
  err(want, network.dial, "tcp", "a:1", {[name] = -math.huge}, cb)
  err(want, network.dial, "tcp", "a:1", {[name] = "1"}, cb)
  err(want, network.dial, "tcp", "a:1", {[name] = true}, cb)
  err(want, network.dial, "tcp", "a:1", {[name] = {}}, cb)
end
err(bad .. "cannot encode a table: cycle)", network.dial, "tcp", "a:1", cyc, cb)
err(bad .. "cannot encode a table: nesting too deep)", network.dial, "tcp", "a:1", {tls = deep}, cb)
err(bad .. "cannot encode a function value)", network.dial, "tcp", "a:1", {timeout = print}, cb)
err(bad .. "cannot encode a userdata value)", network.dial, "tcp", "a:1", {tls = ud}, cb)
err(bad .. "cannot encode a thread value)", network.dial, "tcp", "a:1", {tls = co}, cb)
err(bad .. "options.tls must be true or a table of name = value)", network.dial, "tcp", "a:1", {tls = 1}, cb)
err(bad .. "options.tls must be true or a table of name = value)", network.dial, "tcp", "a:1", {tls = "yes"}, cb)
err(bad .. "options.tls must be true or a table of name = value)", network.dial, "tcp", "a:1", {tls = {1}}, cb)
err(bad .. "options.tls.insecure must be a boolean)", network.dial, "tcp", "a:1", {tls = {insecure = "yes"}}, cb)
err(bad .. "options.tls.server_name must be a non-empty string)", network.dial, "tcp", "a:1", {tls = {server_name = 5}}, cb)
err(bad .. "options.tls.server_name must be a non-empty string)", network.dial, "tcp", "a:1", {tls = {server_name = ""}}, cb)
err(bad .. "options.tls.ca must be a PEM string or the path of a PEM file)", network.dial, "tcp", "a:1", {tls = {ca = 5}}, cb)
err(bad .. "options.tls.ca must be a PEM string or the path of a PEM file)", network.dial, "tcp", "a:1", {tls = {ca = ""}}, cb)
err(bad .. "options.tls.ca holds no PEM certificate)", network.dial, "tcp", "a:1", {tls = {ca = "-----BEGIN CERTIFICATE-----\ngarbage\n"}}, cb)
err(bad .. "unknown option tls.sni (insecure, server_name, ca))", network.dial, "tcp", "a:1", {tls = {sni = "x"}}, cb)
err(bad .. "options.tls: TLS is for tcp and unix connections)", network.dial, "udp", "a:1", {tls = true}, cb)
err(bad .. "options.tls.server_name is needed to verify a TLS server over a unix socket (or tls.insecure = true))", network.dial, "unix", "/x", {tls = {}}, cb)
bad = "bad argument #4 to 'network.dial' ("
err(bad .. "function expected, got number)", network.dial, "tcp", "a:1", nil, 5)
err(bad .. "function expected, got table)", network.dial, "tcp", "a:1", {}, {})
err(bad .. "function expected, got string)", network.dial, "tcp", "a:1", {timeout = 1}, "cb")
err("bad argument #1 to 'network.dial' (string expected, got no value)", function() return network:dial() end)
-- accepted values: no limit, tls = false
for _, v in ipairs({0, math.huge, 1e300, 0.001, 1e-12, 2^63}) do
  network.dial("tcp", "127.0.0.1:1", {timeout = 5, read_timeout = v, write_timeout = v, tls = false}, function(e) check.eq(err_code(e), "ECONNREFUSED") end)
end

-- network.create_server
bad = "bad argument #1 to 'network.create_server' ("
err(bad .. "string expected, got no value)", network.create_server)
err(bad .. 'kind must be "tcp", "udp" or "unix", got "http")', network.create_server, "http", ":1", cb)
bad = "bad argument #2 to 'network.create_server' ("
err(bad .. "string expected, got no value)", network.create_server, "tcp")
err(bad .. 'address must be host:port, [ipv6]:port or :port, got "8080")', network.create_server, "tcp", "8080", cb)
err(bad .. 'address must be the path of a socket, got "")', network.create_server, "unix", "", cb)
bad = "bad argument #3 to 'network.create_server' ("
err(bad .. "function expected, got no value)", network.create_server, "tcp", ":1")
err(bad .. "function expected, got nil)", network.create_server, "tcp", ":1", nil)
err(bad .. "table expected, got number)", network.create_server, "tcp", ":1", 5)
err(bad .. "unknown option 'timeout' (read_timeout, write_timeout))", network.create_server, "tcp", ":1", {timeout = 1}, cb)
err(bad .. "options.read_timeout must be a number of seconds", network.create_server, "tcp", ":1", {read_timeout = -0.5}, cb)
err(bad .. "a udp server has no connections: read_timeout and write_timeout are for tcp and unix servers)", network.create_server, "udp", ":1", {read_timeout = 1}, cb)
bad = "bad argument #4 to 'network.create_server' ("
err(bad .. "function expected, got no value)", network.create_server, "tcp", ":1", {})
err(bad .. "function expected, got string)", network.create_server, "tcp", ":1", {}, "handler")

-- server methods
local s = network.create_server("tcp", "127.0.0.1:0", {read_timeout = 1}, function(conn)
  -- an echo of one read, for the conn checks below
  local d = conn:read(100)
  if d and d ~= "" then conn:write(d) end
end)
check.eq(s.addr, nil)
check.eq(s:address(), nil)
check.eq(s.kind, "tcp")
check.match(tostring(s), "^network server %(tcp 127%.0%.0%.1:0, not listening%)$")
err("calling 'netServer:start' on bad self (netServer expected, got no value)", s.start)
err("calling 'netServer:start' on bad self (netServer expected, got table)", s.start, {})
err("calling 'netServer:stop' on bad self (netServer expected, got userdata)", s.stop, ud)
err("bad argument #1 to 'netServer:start' (function expected, got number)", s.start, s, 5)
err("calling 'netServer:send_to' on bad self (netServer expected, got string)", s.send_to, "x")
err("network: server:send_to is for udp servers (this one is tcp)", s.send_to, s, "127.0.0.1:1", "x")
assert(s:start())
err("network: server already started", s.start, s)
local u = network.create_server("udp", "127.0.0.1:0", function() end)
bad = "bad argument #1 to 'netServer:send_to' ("
err(bad .. "string expected, got no value)", u.send_to, u)
err(bad .. 'address must be ip:port or host:port, got "nowhere")', u.send_to, u, "nowhere", "x")
err("bad argument #2 to 'netServer:send_to' (string expected, got table)", u.send_to, u, "127.0.0.1:1", {})
err("bad argument #2 to 'netServer:send_to' (string expected, got no value)", u.send_to, u, "127.0.0.1:1")
err("bad argument #3 to 'netServer:send_to' (function expected, got number)", u.send_to, u, "127.0.0.1:1", "x", 5)
local r, e = u:send_to("127.0.0.1:1", "x")
check.eq(r, nil)
check.eq(err_code(e), "ECLOSED", "send_to before start")
u:stop()
u:stop() -- idempotent
err("network: server stopped: a server starts once", u.start, u)

-- conn methods
local conn = assert(network.dial("tcp", s.addr))
bad = "bad argument #1 to 'conn:read' ("
err(bad .. "number expected, got no value)", conn.read, conn)
err(bad .. "number out of range (1 to 16777216 expected))", conn.read, conn, 0)
err(bad .. "number out of range (1 to 16777216 expected))", conn.read, conn, -1)
err(bad .. "number out of range (1 to 16777216 expected))", conn.read, conn, 0.5)
err(bad .. "number out of range (1 to 16777216 expected))", conn.read, conn, 16 * 1024 * 1024 + 1)
err(bad .. "number has no integer representation)", conn.read, conn, 0/0)
err(bad .. "number has no integer representation)", conn.read, conn, math.huge)
err(bad .. "number has no integer representation)", conn.read, conn, -math.huge)
err(bad .. "number expected, got string)", conn.read, conn, "lots")
err(bad .. "number expected, got table)", conn.read, conn, {})
err("bad argument #2 to 'conn:read' (function expected, got boolean)", conn.read, conn, 10, true)
err("calling 'conn:read' on bad self (conn expected, got table)", conn.read, {}, 1)
err("calling 'conn:read' on bad self (conn expected, got userdata)", conn.read, s, 1)
err("calling 'conn:write' on bad self (conn expected, got nil)", conn.write, nil, "x")
err("bad argument #1 to 'conn:write' (string expected, got no value)", conn.write, conn)
err("bad argument #1 to 'conn:write' (string expected, got table)", conn.write, conn, {})
err("bad argument #1 to 'conn:write' (string expected, got boolean)", conn.write, conn, false)
err("bad argument #2 to 'conn:write' (function expected, got string)", conn.write, conn, "x", "y")
err("bad argument #1 to 'conn:close' (function expected, got number)", conn.close, conn, 1)
err("calling 'conn:close' on bad self (conn expected, got number)", conn.close, 1)
err("cannot set conn.remote_addr: it is a read-only field", function() conn.remote_addr = "x" end)
err("cannot set conn.read: it is a method", function() conn.read = print end)
conn.user = "ann"
check.eq(conn.user, "ann", "a field of the script's own")
-- a number is written as its text; a fraction of a count is cut
assert(conn:write(42))
check.eq(assert(conn:read(2.9)), "42")
check.match(tostring(conn), "^conn %(tcp 127%.0%.0%.1:%d+%->127%.0%.0%.1:%d+%)$")
assert(conn:close())
check.match(tostring(conn), ", closed%)$")
check.eq(conn.remote_addr, s.addr, "remote_addr after close")
s:stop()
print("PASS")
