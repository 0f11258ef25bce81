-- Header tables: names are stored lower-cased; look-ups work whatever the case.
local http = require "http"
local lower, type, rawget = string.lower, type, rawget

local Headers = {
  __index = function(t, k)
    if type(k) == "string" then return rawget(t, lower(k)) end
  end,
}
http.__set_headers_meta(Headers)
http.__set_headers_meta = nil
