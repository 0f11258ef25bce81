-- Chat rooms over websockets and plain TCP, across the nodes of a cluster.
--
--   drlee run --cluster 127.0.0.1:6222 examples/chat-ws/chat.lua 8080 9080
--   drlee run --cluster 127.0.0.1:6223 --join 127.0.0.1:6222 examples/chat-ws/chat.lua 8081 9081
--
--   http://127.0.0.1:8080/   a page that joins a room with a websocket to /ws
--   GET /ws?room=R&name=N    the websocket: each text message it sends is said in room R;
--                            it receives every message of its room as JSON
--                            {room, name, text, node}
--   nc 127.0.0.1 9080        a line client: "/join ROOM", "/name NAME", anything else is
--                            said in its room; it receives "ROOM NAME@NODE: TEXT" lines
--
-- What is said goes out with rpc.broadcast to the "chat.say" handler of every worker of
-- every node; each worker hands it to the members of the room it holds, websocket or TCP.
local http = require "http"
local network = require "network"
local websocket = require "websocket"
local rpc = require "rpc"

local http_port, tcp_port = arg[1] or "8080", arg[2] or "9080"

-- This worker's rooms: rooms[name][member] = true; a member is {send = function(msg)}.
local rooms = {}

local function join(member, room)
  if member.room then
    local r = rooms[member.room]
    if r then
      r[member] = nil
      if next(r) == nil then rooms[member.room] = nil end
    end
  end
  member.room = room
  if room then
    rooms[room] = rooms[room] or {}
    rooms[room][member] = true
  end
end

rpc.register("chat.say", function(msg, reply)
  local n = 0
  for member in pairs(rooms[msg.room] or {}) do
    member.send(msg)
    n = n + 1
  end
  reply(nil, n)
end)

-- say broadcasts to every worker of every node; each delivers to its members of the room.
local function say(member, text)
  local msg = {room = member.room, name = member.name, text = text, node = env.node}
  rpc.broadcast("chat.say", msg, {timeout = 2000}, function(err)
    if err then log.warn("chat: broadcast failed: " .. err) end
  end)
end

local function valid_room(s) return type(s) == "string" and s:match("^[%w_%-]+$") and #s <= 40 end

-- ---- websockets, from the page ----

local page = [[<!doctype html>
<meta charset="utf-8">
<title>Dr.LEE chat</title>
<style>body{font:16px sans-serif;max-width:40em;margin:2em auto}#log{white-space:pre-wrap}</style>
<h1>Dr.LEE chat</h1>
<form id="j">room <input id="room" value="lobby" size="10"> name <input id="name" size="8"> <button>join</button></form>
<div id="log"></div>
<form id="f"><input id="text" size="40"> <button>send</button></form>
<script>
const log = document.getElementById("log");
let ws;
document.getElementById("j").onsubmit = e => {
  e.preventDefault();
  if (ws) ws.close();
  const q = new URLSearchParams({room: document.getElementById("room").value, name: document.getElementById("name").value});
  ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws?" + q);
  ws.onmessage = m => {
    const msg = JSON.parse(m.data);
    log.textContent += "[" + msg.room + "] " + msg.name + " @" + msg.node + ": " + msg.text + "\n";
  };
  ws.onclose = () => { log.textContent += "(disconnected)\n"; };
};
document.getElementById("f").onsubmit = e => {
  e.preventDefault();
  const text = document.getElementById("text");
  if (ws && text.value) ws.send(text.value);
  text.value = "";
};
</script>
]]

local function serve_ws(req, res)
  local q = req.query
  local room = valid_room(q.room) and q.room or "lobby"
  local conn, err = websocket.upgrade(req, res, {max_message = 64 * 1024})
  if not conn then return end -- not a websocket handshake: answered already
  local member = {name = (q.name and q.name ~= "" and q.name:sub(1, 40)) or "web-" .. conn.remote_addr}
  member.send = function(msg)
    conn:write_frame(json_encode(msg), "text", function() end) -- a closed one leaves below
  end
  join(member, room)
  while true do
    local frame = conn:read_frame()
    if not frame or frame.type == "close" then break end
    if frame.type == "text" and frame.data ~= "" then say(member, frame.data) end
  end
  join(member, nil)
  conn:close()
end

local web = http.create_server(":" .. http_port, function(req, res)
  if req.path == "/ws" then return serve_ws(req, res) end
  if req.path == "/" then
    res:set("Content-Type", "text/html; charset=utf-8")
    res:write(page)
    return res:finish()
  end
  res:set_status(404)
  res:write("not found\n")
  res:finish()
end)

-- ---- line clients over TCP ----

local lines = network.create_server("tcp", ":" .. tcp_port, function(conn)
  local member = {name = "tcp-" .. conn.remote_addr}
  member.send = function(msg)
    conn:write(msg.room .. " " .. msg.name .. "@" .. msg.node .. ": " .. msg.text .. "\n", function() end)
  end
  join(member, "lobby")
  conn:write("welcome to lobby on " .. env.node .. "; /join ROOM, /name NAME\n")
  local buf = ""
  while true do
    local data = conn:read(4096)
    if not data or data == "" then break end
    buf = buf .. data
    for line in buf:gmatch("([^\n]*)\n") do
      line = line:gsub("\r$", "")
      local cmd, rest = line:match("^/(%a+)%s+(.-)%s*$")
      if cmd == "join" and valid_room(rest) then
        join(member, rest)
        conn:write("joined " .. rest .. "\n")
      elseif cmd == "name" and rest ~= "" then
        member.name = rest:sub(1, 40)
        conn:write("you are " .. member.name .. "\n")
      elseif line ~= "" then
        say(member, line)
      end
    end
    buf = buf:match("[^\n]*$")
    if #buf > 64 * 1024 then break end -- a line that never ends
  end
  join(member, nil)
  conn:close()
end)

web:start(function(err) if err then error(err) end end)
lines:start(function(err)
  if err then error(err) end
  if env.worker_id == 1 then
    log.info("chat on http://127.0.0.1:" .. http_port .. "/ and tcp 127.0.0.1:" .. tcp_port .. " (node " .. env.node .. ")")
  end
end)
