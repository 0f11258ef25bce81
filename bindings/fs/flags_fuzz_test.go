package fs

// Fuzz targets of package fs (make fuzz runs each for a bounded time):
//
//	FuzzHostFlags   any number given as fs.open's flag is refused or translated bit for bit
//	FuzzFileMode    any number given as fs.open's mode is refused or survives stat's mode

import (
	"os"
	"testing"
)

func FuzzHostFlags(f *testing.F) {
	for _, v := range []int64{0, 1, 2, 3, 0x8, 0x80, 0x200, 0x400, 0x800, 0x201, 0xE0A, 0x1000, -1, 1 << 62, -1 << 63} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, flag int64) {
		host, err := hostFlags(flag)
		if err != nil {
			return
		}
		// Accepted: only known bits, never both access modes, and every bit maps back.
		if flag&(flagWriteOnly|flagReadWrite) == flagWriteOnly|flagReadWrite {
			t.Fatalf("hostFlags(%#x) accepted WRITE_ONLY with READ_WRITE", flag)
		}
		var back int64
		for _, b := range flagBits {
			if host&b.host == b.host && b.host != 0 {
				back |= b.lua
			}
		}
		if back != flag {
			t.Fatalf("hostFlags(%#x) = %#x, which maps back to %#x", flag, host, back)
		}
		if host&^(os.O_WRONLY|os.O_RDWR|os.O_APPEND|os.O_SYNC|os.O_CREATE|os.O_TRUNC|os.O_EXCL) != 0 {
			t.Fatalf("hostFlags(%#x) = %#x sets a flag fs.open does not offer", flag, host)
		}
	})
}

func FuzzFileMode(f *testing.F) {
	for _, v := range []int64{0, 0o644, 0o755, 0o7777, 0o10000, -1, 1 << 40} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, mode int64) {
		m, err := fileMode(mode)
		if err != nil {
			if mode >= 0 && mode <= 0o7777 {
				t.Fatalf("fileMode(%#o) refused a valid mode: %v", mode, err)
			}
			return
		}
		if got := unixMode(m); got != mode {
			t.Fatalf("fileMode(%#o) = %v, which stat reports as %#o", mode, m, got)
		}
	})
}
