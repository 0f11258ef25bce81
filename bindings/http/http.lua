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

-- http.static(dir, options?): a handler serving the files under dir (sendfile.go). The path
-- is the router's wildcard (req.params.path, req.params["*"], or options.param), else
-- req.path without options.prefix.
local static_options, static_serve = http.static, http.__static_serve
http.__static_serve = nil

function http.static(dir, options, ...)
  if dir == http then dir, options = options, ... end -- http:static(dir)
  local root, index, prefix, cache, param = static_options(dir, options)
  return function(req, res)
    local params, rel = req.params, nil
    if type(params) == "table" then
      if param then
        rel = params[param]
      else
        rel = params.path
        if rel == nil then rel = params["*"] end
      end
      if type(rel) ~= "string" then rel = nil end
    end
    return static_serve(res, rel, root, index, prefix, cache)
  end
end
