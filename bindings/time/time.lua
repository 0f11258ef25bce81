-- The Timestamp type of the time module.
local time = require "time"
local format = time.__format
time.__format = nil

local Timestamp = {}
Timestamp.__index = Timestamp
function Timestamp:format(layout)
  return format(self.milliunix, layout)
end
Timestamp.__tostring = function(self) return format(self.milliunix) end
time.__set_timestamp_meta(Timestamp)
time.__set_timestamp_meta = nil
time.Timestamp = Timestamp
