-- A tcp echo server and a client, in Lua: callback style, then await style.
local network = require "network"
local check = require "check"

local server = network.create_server("tcp", "127.0.0.1:0", function(conn)
  local function loop()
    conn:read(65536, function(err, data)
      if err or data == "" then
        conn:close()
        return
      end
      conn:write(data, function(err)
        assert(not err, err)
        loop()
      end)
    end)
  end
  loop()
end)
check.eq(server.addr, nil, "addr before start")

server:start(function(err)
  assert(not err, err)
  local addr = server.addr
  check.match(addr, "^127%.0%.0%.1:%d+$", "server.addr")
  check.eq(server:address(), addr, "address()")
  network.dial("tcp", addr, function(err, conn)
    assert(not err, err)
    check.eq(conn.remote_addr, addr, "remote_addr")
    check.match(conn.local_addr, "^127%.0%.0%.1:%d+$", "local_addr")
    check.eq(conn.kind, "tcp")
    conn:write("hello", function(err)
      assert(not err, err)
      conn:read(100, function(err, data)
        assert(not err, err)
        print("callback echo", data)
        conn:close(function(err)
          assert(not err, err)
          conn:read(1, function(err, data)
            print("read after close", err_code(err), err, data)
            conn:write("x", function(err)
              print("write after close", err_code(err))
              conn:close(function(err)
                print("close after close", err_code(err))
                -- await style, from a spawned coroutine
                spawn(function()
                  local c = assert(network.dial("tcp", addr))
                  assert(c:write("await"))
                  local got = ""
                  while #got < 5 do got = got .. assert(c:read(5 - #got)) end
                  print("await echo", got)
                  assert(c:close())
                  local d, e = c:read(1)
                  print("await read after close", d, err_code(e))
                  server:stop()
                  print("stopped", tostring(server))
                end)
              end)
            end)
          end)
        end)
      end)
    end)
  end)
end)
