-- A chat room over HTTP whose users on every node see each other's messages.
--
--   drlee run --cluster 127.0.0.1:6222 examples/chat/chat.lua 8080
--   drlee run --cluster 127.0.0.1:6223 --join 127.0.0.1:6222 examples/chat/chat.lua 8081
--
--   GET  /        a page that shows the room and posts to it
--   GET  /events  the room as server-sent events ("message" events, JSON data)
--   POST /send    the body is the message (?name=alice to sign it)
--
-- A browser's /events stream stays on one worker of one node. /send broadcasts the message
-- with rpc.broadcast to the "chat.message" handler of every worker of every node; each
-- worker writes it to the streams it holds.
local http = require "http"
local rpc = require "rpc"
local time = require "time"

local port = arg[1] or "8080"
local PING_MS = 15000 -- a comment line keeps idle streams (and proxies) open

-- This worker's open streams.
local clients, count = {}, 0

local function drop(res)
  if clients[res] then
    clients[res] = nil
    count = count - 1
    res:finish()
  end
end

local function push(data)
  for res in pairs(clients) do
    res:write(data, function(err)
      if err then drop(res) end -- the browser went away
    end)
  end
end

-- Pings run only while this worker holds streams, so an idle worker keeps no timer.
local pinging = false
local function ping()
  if count == 0 then
    pinging = false
    return
  end
  push(": ping\n\n")
  time.timeout(PING_MS, ping)
end

rpc.register("chat.message", function(msg, reply)
  push("event: message\ndata: " .. json_encode(msg) .. "\n\n")
  reply(nil, count)
end)

local page = [[<!doctype html>
<meta charset="utf-8">
<title>Dr.LEE chat</title>
<style>body{font:16px sans-serif;max-width:40em;margin:2em auto}#log{white-space:pre-wrap}</style>
<h1>Dr.LEE chat</h1>
<div id="log"></div>
<form id="f"><input id="name" placeholder="name" size="8"> <input id="text" size="40" autofocus> <button>send</button></form>
<script>
const log = document.getElementById("log");
const es = new EventSource("/events");
es.addEventListener("message", e => {
  const m = JSON.parse(e.data);
  log.textContent += (m.name || "anonymous") + " @" + m.node + ": " + m.text + "\n";
});
document.getElementById("f").onsubmit = e => {
  e.preventDefault();
  const text = document.getElementById("text");
  const name = encodeURIComponent(document.getElementById("name").value);
  fetch("/send?name=" + name, {method: "POST", body: text.value});
  text.value = "";
};
</script>
]]

local function unescape(s)
  s = s:gsub("+", " ")
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

local function reply(res, status, ctype, body)
  res:set_status(status)
  res:set("Content-Type", ctype)
  res:write(body)
  res:finish()
end

local server = http.create_server(":" .. port, function(req, res)
  local path, qs = req.request_uri:match("^([^?]*)%??(.*)$")
  if req.method == "GET" and path == "/" then
    return reply(res, 200, "text/html; charset=utf-8", page)
  elseif req.method == "GET" and path == "/events" then
    res:set_status(200)
    res:set("Content-Type", "text/event-stream")
    res:set("Cache-Control", "no-cache")
    -- Not finished in this callback: the response streams, chunk by chunk, as it is written.
    res:write(": connected to " .. env.node .. " worker " .. env.worker_id .. "\n\n")
    clients[res] = true
    count = count + 1
    if not pinging then
      pinging = true
      time.timeout(PING_MS, ping)
    end
    return
  elseif req.method == "POST" and path == "/send" then
    local name = qs:match("name=([^&]*)")
    return readall(req, function(err, text)
      if err then return reply(res, 400, "text/plain", err .. "\n") end
      if text == "" then return reply(res, 400, "text/plain", "empty message\n") end
      local msg = { id = uuid(), name = name and unescape(name) or nil, text = text, node = env.node }
      rpc.broadcast("chat.message", msg, { timeout = 2000 }, function(err, replies)
        if err then return reply(res, 500, "text/plain", err .. "\n") end
        -- How many workers got it, and how many streams it reached.
        local streams = 0
        for _, r in ipairs(replies) do streams = streams + (r.result or 0) end
        reply(res, 200, "application/json",
          json_encode({ id = msg.id, workers = #replies, streams = streams }) .. "\n")
      end)
    end)
  end
  reply(res, 404, "text/plain", "not found\n")
end)

server:start(function(err)
  if err then error(err) end
  if env.worker_id == 1 then log.info("chat on http://127.0.0.1:" .. port .. "/ (node " .. env.node .. ")") end
end)
