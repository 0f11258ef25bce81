-- Error codes of real failures, through the modules: files, the HTTP client, an HTTP
-- server. arg: a closed port's URL, a slow server's URL, a server that answers garbage, a
-- server whose response headers are too large for the client, the slow server's address.
local check = require "check"
local fs = require "fs"
local http = require "http"
local json = require "json"
local closed_url, slow_url, garbage_url, big_url, busy_addr = arg[1], arg[2], arg[3], arg[4], arg[5]
local dir = __dirname__

local function expect(code, what, v, err)
  check.eq(v, nil, what .. ": result")
  check.eq(err_code(err), code, what .. ": " .. tostring(err))
  check.match(err, "^" .. code .. ": ", what .. ": the string starts with the code")
end

-- Files.
local missing = dir .. "/missing.txt"
local f, err = fs.open(missing)
expect("ENOENT", "open a missing file", f, err)
check.eq(err, "ENOENT: open " .. missing .. ": no such file or directory", "the whole text")
expect("ENOENT", "readfile a missing file", fs.readfile(missing))
expect("ENOENT", "stat under a missing directory", fs.stat(dir .. "/no/such/file"))
fs.stat(missing, check.once("callback style", function(err, st)
  check.eq(st, nil)
  check.eq(err_code(err), "ENOENT", "stat callback")
end))

assert(fs.mkdir(dir .. "/d"))
expect("EISDIR", "a directory read as a file", fs.readfile(dir .. "/d"))
expect("EEXIST", "mkdir of an existing directory", fs.mkdir(dir .. "/d"))

local file = assert(fs.open(dir .. "/file.txt", fs.flags.CREATE + fs.flags.WRITE_ONLY))
assert(file:write("x"))
assert(file:close())
expect("EEXIST", "open with EXCL", fs.open(dir .. "/file.txt", fs.flags.CREATE + fs.flags.EXCL + fs.flags.WRITE_ONLY))
expect("ENOTDIR", "a file as a directory", fs.stat(dir .. "/file.txt/below"))
expect("ENOTDIR", "read_dir of a file", fs.read_dir(dir .. "/file.txt"))
assert(fs.mkdir(dir .. "/d/sub"))
expect("ENOTEMPTY", "remove a directory that is not empty", fs.remove(dir .. "/d"))
-- A read-only file opened for writing: EACCES (unless the tests run as root).
local ro = assert(fs.open(dir .. "/ro.txt", fs.flags.CREATE + fs.flags.WRITE_ONLY, 292)) -- 0444
ro:close()
local w, werr = fs.open(dir .. "/ro.txt", fs.flags.WRITE_ONLY)
if w then w:close() else check.eq(err_code(werr), "EACCES", "read-only file: " .. werr) end

-- The HTTP client.
expect("ECONNREFUSED", "a closed port", http.get(closed_url, {timeout = 5000}))
expect("ETIMEDOUT", "a slow server", http.get(slow_url, {timeout = 100}))
http.get(slow_url, {timeout = 50}, check.once("timeout callback", function(err, res)
  check.eq(res, nil)
  check.eq(err_code(err), "ETIMEDOUT", "timeout in the callback style: " .. tostring(err))
end))
expect("EPROTO", "a response that is not HTTP", http.get(garbage_url, {timeout = 5000}))
expect("EMSGSIZE", "response headers too large", http.get(big_url, {timeout = 5000}))
expect("EINVAL", "a URL that does not parse", http.get("http://[::1", {timeout = 5000}))
-- A host that cannot exist (.invalid, RFC 6761): ENOTFOUND where a resolver answers, a
-- failure for now or a timeout where none does.
local _, derr = http.get("http://nonexistent-drlee-test.invalid/", {timeout = 5000})
local dcode = err_code(derr)
check.ok(dcode == "ENOTFOUND" or dcode == "EAI_AGAIN" or dcode == "ETIMEDOUT", "DNS: " .. tostring(derr))
print("DNS: " .. derr)

-- An HTTP server on a port in use.
local server = http.create_server(busy_addr, function(req, res) res:finish() end)
local ok, serr = server:start()
check.eq(ok, nil, "start on a port in use")
check.eq(err_code(serr), "EADDRINUSE", serr)

-- JSON that does not parse: nil, err like any other.
local v, jerr = json.decode("{")
expect("EINVAL", "invalid JSON", v, jerr)
local _, gerr = json_decode("[1,")
check.eq(err_code(gerr), "EINVAL", "json_decode")

check.pass_after(200)
