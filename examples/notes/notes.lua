-- notes: a small REST API over files, in the await style.
--
--   drlee run examples/notes/notes.lua PORT [DIR]
--
--   GET    /notes          -> 200 [{id, title}, ...] sorted by id
--   POST   /notes          -> 201 {id, title, body}, Location: /notes/<id>
--   GET    /notes/:id      -> 200 {id, title, body} | 404
--   PUT    /notes/:id      -> 200 {id, title, body} | 404
--   DELETE /notes/:id      -> 204 | 404
--
-- A note is one JSON file in DIR (default: a directory under fs.tmpdir()). Every write is
-- atomic (a temporary file, fsync, rename), so a reader sees a note before or after a
-- write, never half of one, however many workers serve at once. Errors are told apart by
-- err_code, not by their text: ENOENT is a 404.
local http = require "http"
local fs = require "fs"
local time = require "time"
local json = require "json"

local port = assert(arg[1], "usage: notes.lua PORT [DIR]")
local dir = arg[2] or (fs.tmpdir() .. "/drlee-notes")
assert(fs.mkdir_all(dir, "0755"))

local MAX_TITLE, MAX_BODY = 200, 64 * 1024

local function note_path(id) return dir .. "/" .. id .. ".json" end

-- Ids are made here, unique across workers and restarts: worker, time, a counter.
local counter = 0
local function new_id()
  counter = counter + 1
  return string.format("%d-%d-%d", env.worker_id, time.now().milliunix, counter)
end

-- An id from the path names a file in dir: nothing but letters, digits and dashes.
local function valid_id(id) return type(id) == "string" and id:match("^[%w%-]+$") ~= nil end

-- A note from a request body, or nil and why not.
local function note_from(req)
  local v, err = req:json()
  if err then return nil, err end
  if type(v) ~= "table" then return nil, "a JSON object expected" end
  if type(v.title) ~= "string" or #v.title == 0 or #v.title > MAX_TITLE then
    return nil, "title: a string of 1 to " .. MAX_TITLE .. " bytes expected"
  end
  if v.body ~= nil and (type(v.body) ~= "string" or #v.body > MAX_BODY) then
    return nil, "body: a string of at most " .. MAX_BODY .. " bytes expected"
  end
  return { title = v.title, body = v.body or "" }
end

local function fail(res, err)
  local code = err_code(err)
  if code == "ENOENT" then return res:json({ error = "no such note" }, 404) end
  if code == "EMSGSIZE" then return res:json({ error = "request too large" }, 413) end
  log.error("notes: " .. tostring(err))
  return res:json({ error = "internal error" }, 500)
end

local function read_note(id)
  local data, err = fs.readfile(note_path(id))
  if not data then return nil, err end
  return json_decode(data)
end

local router = http.router()

router:use(function(req, res, next)
  res:set("Cache-Control", "no-store")
  next()
end)

router:get("/notes", function(req, res)
  local entries, err = fs.read_dir(dir)
  if not entries then return fail(res, err) end
  local list = setmetatable({}, json.array_mt)
  for _, e in ipairs(entries) do
    local id = e.name:match("^([%w%-]+)%.json$")
    if id then
      local note = read_note(id) -- gone since the listing: skipped
      if note then list[#list + 1] = { id = id, title = note.title } end
    end
  end
  res:json(list)
end)

router:post("/notes", function(req, res)
  local note, why = note_from(req)
  if not note then return res:json({ error = why }, 400) end
  note.id = new_id()
  local _, err = fs.writefile(note_path(note.id), json_encode(note), { atomic = true })
  if err then return fail(res, err) end
  res:set("Location", "/notes/" .. note.id)
  res:json(note, 201)
end)

-- The /notes/:id routes: handler(req, res, id) once the id is known to be one.
local function with_id(handler)
  return function(req, res)
    local id = req.params.id
    if not valid_id(id) then return res:json({ error = "no such note" }, 404) end
    return handler(req, res, id)
  end
end

router:get("/notes/:id", with_id(function(req, res, id)
  local note, err = read_note(id)
  if not note then return fail(res, err) end
  res:json(note)
end))

router:put("/notes/:id", with_id(function(req, res, id)
  local _, err = fs.stat(note_path(id))
  if err then return fail(res, err) end
  local note, why = note_from(req)
  if not note then return res:json({ error = why }, 400) end
  note.id = id
  _, err = fs.writefile(note_path(id), json_encode(note), { atomic = true })
  if err then return fail(res, err) end
  res:json(note)
end))

router:delete("/notes/:id", with_id(function(req, res, id)
  local ok, err = fs.remove(note_path(id))
  if not ok then return fail(res, err) end
  res:set_status(204)
  res:finish()
end))

local server = http.create_server("127.0.0.1:" .. port, router)
assert(server:start())
log.info("notes: serving 127.0.0.1:" .. port .. " from " .. dir)
