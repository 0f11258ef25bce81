package fs

import (
	"fmt"
	"os"
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
