-- The values of the json module, which Go hands over once per worker.
local json = require "json"
local setmetatable, error = setmetatable, error

local null, empty_array, array_mt = json.__values()
json.__values = nil

-- json.null: JSON's null, the NULL lightuserdata (lua-cjson's json.null).
json.null = null
-- json.empty_array: an empty array for json.encode. A lightuserdata, not a table, so that
-- no script can put an element into the one every other script encodes.
json.empty_array = empty_array

-- json.array_mt: the metatable of every decoded array; set it on a table to encode it as
-- an array. It is shared by every array of the worker, so it is read-only: a field set on
-- it (an __index, say) would change them all, other modules' arrays included.
setmetatable(array_mt, {
  __newindex = function() error("json.array_mt is read-only", 2) end,
  __metatable = false,
})
json.array_mt = array_mt
