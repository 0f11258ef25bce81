-- The flags of fs.open, with the seed's numbers (the same on every OS). Combine them with
-- bit.bor or +: fs.open(path, fs.flags.CREATE + fs.flags.WRITE_ONLY + fs.flags.TRUNC, cb).
local fs = require "fs"
fs.flags = {
  READ_ONLY = 0x0,
  WRITE_ONLY = 0x1,
  READ_WRITE = 0x2,
  APPEND = 0x8,
  CREATE = 0x200,
  EXCL = 0x800,
  SYNC = 0x80,
  TRUNC = 0x400,
}
