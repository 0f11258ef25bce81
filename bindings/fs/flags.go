package fs

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
)

// The flags of fs.open, as the seed numbers them. These numbers are the Lua API on every
// OS; hostFlags translates them to the host's O_ flags bit by bit.
const (
	flagReadOnly  = 0x0
	flagWriteOnly = 0x1
	flagReadWrite = 0x2
	flagAppend    = 0x8
	flagSync      = 0x80
	flagCreate    = 0x200
	flagTrunc     = 0x400
	flagExcl      = 0x800
)

var flagBits = [...]struct {
	lua  int64
	host int
}{
	{flagWriteOnly, os.O_WRONLY},
	{flagReadWrite, os.O_RDWR},
	{flagAppend, os.O_APPEND},
	{flagSync, os.O_SYNC},
	{flagCreate, os.O_CREATE},
	{flagTrunc, os.O_TRUNC},
	{flagExcl, os.O_EXCL},
}

// hostFlags translates Lua open flags to os.OpenFile flags. Unknown bits, and WRITE_ONLY
// with READ_WRITE, are errors.
func hostFlags(flag int64) (int, error) {
	if flag < 0 {
		return 0, fmt.Errorf("invalid flags %d", flag)
	}
	if flag&(flagWriteOnly|flagReadWrite) == flagWriteOnly|flagReadWrite {
		return 0, fmt.Errorf("WRITE_ONLY and READ_WRITE together")
	}
	host := os.O_RDONLY
	rest := flag
	for _, b := range flagBits {
		if flag&b.lua != 0 {
			host |= b.host
			rest &^= b.lua
		}
	}
	if rest != 0 {
		return 0, fmt.Errorf("unknown flags 0x%x", rest)
	}
	return host, nil
}

// fileMode translates a Unix permission number (0644, with the setuid 04000, setgid 02000
// and sticky 01000 bits) to an os.FileMode.
func fileMode(mode int64) (os.FileMode, error) {
	if mode < 0 || mode > 0o7777 {
		return 0, fmt.Errorf("invalid mode %d (0 to 0o7777 expected)", mode)
	}
	m := os.FileMode(mode & 0o777)
	if mode&0o4000 != 0 {
		m |= os.ModeSetuid
	}
	if mode&0o2000 != 0 {
		m |= os.ModeSetgid
	}
	if mode&0o1000 != 0 {
		m |= os.ModeSticky
	}
	return m, nil
}

// unixMode is the inverse of fileMode: the permission bits of m as a Unix number.
func unixMode(m os.FileMode) int64 {
	v := int64(m.Perm())
	if m&os.ModeSetuid != 0 {
		v |= 0o4000
	}
	if m&os.ModeSetgid != 0 {
		v |= 0o2000
	}
	if m&os.ModeSticky != 0 {
		v |= 0o1000
	}
	return v
}

// maxModeString bounds a mode given as a string: longer ones are refused without being
// parsed (or quoted whole in the error).
const maxModeString = 32

// modeHint ends the errors of a mode: what a mode may be.
const modeHint = `a number 0 to 4095 (0o7777), or a string of octal digits such as "0644", "644" or "0o644"`

// parseMode parses a mode given as a string: octal digits ("0644", "644"), optionally after
// "0o" or "0O" ("0o644"), at most 0o7777. Lua has no octal literals (0644 in Lua is the
// decimal 644, which is 0o1204), so the string is how a script writes a mode as it reads.
// Nothing else is accepted: no sign, no spaces, no other base.
func parseMode(s string) (int64, error) {
	if len(s) > maxModeString {
		return 0, fmt.Errorf("invalid mode (a string of %d bytes; %s)", len(s), modeHint)
	}
	digits := s
	if len(digits) >= 2 && digits[0] == '0' && (digits[1] == 'o' || digits[1] == 'O') {
		digits = digits[2:]
	}
	if digits == "" {
		return 0, fmt.Errorf("invalid mode %q (%s)", s, modeHint)
	}
	var v int64
	for i := 0; i < len(digits); i++ {
		d := digits[i]
		if d < '0' || d > '7' {
			return 0, fmt.Errorf("invalid mode %q (%s)", s, modeHint)
		}
		v = v*8 + int64(d-'0')
		if v > 0o7777 {
			return 0, fmt.Errorf("invalid mode %q (more than 0o7777; %s)", s, modeHint)
		}
	}
	return v, nil
}

// modeNumber checks a mode given as a number: a whole number from 0 to 0o7777.
func modeNumber(f float64) (int64, error) {
	if f != math.Trunc(f) || math.IsInf(f, 0) { // NaN too
		return 0, errors.New("number has no integer representation")
	}
	if f < 0 || f > 0o7777 {
		return 0, fmt.Errorf("invalid mode %s (%s)", strconv.FormatFloat(f, 'g', 14, 64), modeHint)
	}
	return int64(f), nil
}

// modeValue is the mode of a decoded Lua value (a number or a string): the mode options
// of tables use it.
func modeValue(v any) (os.FileMode, error) {
	var m int64
	var err error
	switch v := v.(type) {
	case float64:
		m, err = modeNumber(v)
	case string:
		m, err = parseMode(v)
	default:
		return 0, fmt.Errorf("invalid mode (%s)", modeHint)
	}
	if err != nil {
		return 0, err
	}
	return fileMode(m)
}

// modeDigits is stat's mode_string: the Unix permission number in four octal digits
// ("0644", "1204", "4755"), which shows a mode given in decimal by mistake for what it is.
// An array, so that writing a stat table allocates nothing for it.
func modeDigits(m os.FileMode) [4]byte {
	v := unixMode(m)
	return [4]byte{'0' + byte(v>>9&7), '0' + byte(v>>6&7), '0' + byte(v>>3&7), '0' + byte(v&7)}
}

// modeString is modeDigits as a string.
func modeString(m os.FileMode) string {
	d := modeDigits(m)
	return string(d[:])
}

// fileType is stat's type: what kind of entry m describes.
func fileType(m os.FileMode) string {
	switch t := m.Type(); {
	case t == 0:
		return "file"
	case t&os.ModeDir != 0:
		return "dir"
	case t&os.ModeSymlink != 0:
		return "symlink"
	case t&os.ModeNamedPipe != 0:
		return "fifo"
	case t&os.ModeSocket != 0:
		return "socket"
	case t&os.ModeCharDevice != 0:
		return "char_device"
	case t&os.ModeDevice != 0:
		return "block_device"
	}
	return "other"
}
