package fs

// Fuzz targets of package fs (make fuzz runs each for a bounded time):
//
//	FuzzHostFlags   any number given as fs.open's flag is refused or translated bit for bit
//	FuzzFileMode    any number given as fs.open's mode is refused or survives stat's mode
//	FuzzModeString  any string given as a mode is refused with a clear error, or is octal
//	                digits (after an optional 0o) for 0 to 0o7777, which mode_string gives back
//	FuzzModeNumber  any number given as a mode is refused unless it is a whole 0 to 0o7777

import (
	"math"
	"os"
	"strconv"
	"strings"
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

func FuzzModeString(f *testing.F) {
	for _, s := range []string{"0644", "644", "0o644", "0O755", "7777", "0o7777", "17777", "0", "00", "0o", "", "rw",
		"8", "-1", "+644", " 644", "644 ", "0x1a4", "0o0o7", "0000000000000000000000000000644", "1e3", "６４４",
		"\"\x00\xbb" + strings.Repeat("\x13", 21), strings.Repeat("\xff", 32), strings.Repeat("0", 33)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := parseMode(s)
		digits := s
		if strings.HasPrefix(s, "0o") || strings.HasPrefix(s, "0O") {
			digits = s[2:]
		}
		want, werr := strconv.ParseUint(digits, 8, 64)
		valid := len(s) <= maxModeString && digits != "" && werr == nil && want <= 0o7777 &&
			!strings.ContainsAny(digits, "+-_") // ParseUint takes no sign, but be sure
		if err != nil {
			if valid {
				t.Fatalf("parseMode(%q) refused a valid mode: %v", s, err)
			}
			if !strings.Contains(err.Error(), "invalid mode") || len(err.Error()) > 400 {
				t.Fatalf("parseMode(%q): unclear error %q", s, err)
			}
			return
		}
		if !valid {
			t.Fatalf("parseMode(%q) = %#o, want an error", s, v)
		}
		if uint64(v) != want {
			t.Fatalf("parseMode(%q) = %#o, want %#o", s, v, want)
		}
		// Accepted: a valid mode, which stat's mode_string gives back as the same number.
		m, err := fileMode(v)
		if err != nil {
			t.Fatalf("parseMode(%q) = %#o, which fileMode refuses: %v", s, v, err)
		}
		back, err := parseMode(modeString(m))
		if err != nil || back != v || len(modeString(m)) != 4 {
			t.Fatalf("parseMode(%q) = %#o, whose mode_string %q parses as %#o, %v", s, v, modeString(m), back, err)
		}
	})
}

func FuzzModeNumber(f *testing.F) {
	for _, v := range []float64{0, 420, 644, 0o7777, 4096, -1, 1.5, -0.5, 1e300, -1e300, math.NaN(), math.Inf(1), math.Inf(-1), math.Copysign(0, -1)} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, x float64) {
		v, err := modeNumber(x)
		valid := x == math.Trunc(x) && x >= 0 && x <= 0o7777
		if (err == nil) != valid {
			t.Fatalf("modeNumber(%v) = %d, %v; valid: %v", x, v, err, valid)
		}
		if err == nil && float64(v) != x {
			t.Fatalf("modeNumber(%v) = %d", x, v)
		}
	})
}
