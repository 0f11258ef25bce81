-- bit_or, bit_and, bit_xor: the original Dr.LEE's names for LuaJIT's bit.bor, bit.band
-- and bit.bxor.
local check = require "check"
local fs = require "fs"

check.eq(bit_or, bit.bor)
check.eq(bit_and, bit.band)
check.eq(bit_xor, bit.bxor)
check.eq(bit_or(0x1, 0x200), 0x201)
check.eq(bit_or(fs.flags.CREATE, fs.flags.WRITE_ONLY, fs.flags.TRUNC), 0x601, "fs flags, three at once")
check.eq(bit_and(0xff, 0x0f), 0x0f)
check.eq(bit_xor(0xff, 0x0f), 0xf0)
check.eq(bit_and(0x601, fs.flags.CREATE), fs.flags.CREATE)
-- 32-bit results, as LuaJIT's.
check.eq(bit_or(0x80000000, 0), -0x80000000)
check.eq(bit_xor(-1, 0), -1)
check.raises("number expected, got string", bit_or, "x", 1)
check.raises("number expected, got nil", bit_and, 1, nil)
check.raises("number expected, got table", bit_xor, {}, 1)
print("PASS")
