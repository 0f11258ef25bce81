package deadline

import (
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"
)

// A connection reads and writes with raw system calls through its syscall.RawConn, where
// net.TCPConn's Read and Write go through syscall.Syscall, which tells the scheduler about
// each call (entersyscall, exitsyscall) in case it blocks: ~500 instructions a hello-world
// request for its read and write (callgrind), a thirtieth of all it costs. A socket the
// network poller watches is non-blocking, so no call here ever waits in the kernel: when
// the socket has nothing to give or no room to take, the poller parks the goroutine, as
// it does for TCPConn (RawConn.Read and Write, which also keep the socket's deadlines and
// its closing). What the callers see is what TCPConn's methods give them: io.EOF once the
// peer closed, a *net.OpError ("read", "write") around an *os.SyscallError otherwise.

// maxRW caps one call, as internal/poll does: larger reads and writes are split.
const maxRW = 1 << 30

// rawRead is TCPConn.Read on the raw descriptor.
func (c *Conn[T]) rawRead(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	c.readBuf, c.readN, c.readErr = b[:min(len(b), maxRW)], 0, nil
	err := c.raw.Read(c.readFn)
	n, rerr := c.readN, c.readErr
	c.readBuf, c.readErr = nil, nil // no pointer into the caller's memory after the call
	switch {
	case err != nil: // closed, or a deadline passed: RawConn's error, named as Read's
		return n, renameOp(err, "read")
	case rerr != nil:
		return 0, c.opError("read", rerr)
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// readOnce is rawRead's attempt: false (wait until readable) when the socket has nothing.
func (c *Conn[T]) readOnce(fd uintptr) bool {
	for {
		n, _, errno := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(unsafe.SliceData(c.readBuf))), uintptr(len(c.readBuf)))
		switch errno {
		case 0:
			c.readN = int(n)
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		c.readErr = errno
		return true
	}
}

// rawWrite is TCPConn.Write on the raw descriptor: it writes all of b, waiting for room
// when the socket's buffer is full, unless an error stops it.
func (c *Conn[T]) rawWrite(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	c.writeBuf, c.writeN, c.writeErr = b, 0, nil
	err := c.raw.Write(c.writeFn)
	n, werr := c.writeN, c.writeErr
	c.writeBuf, c.writeErr = nil, nil
	switch {
	case err != nil:
		return n, renameOp(err, "write")
	case werr != nil:
		return n, c.opError("write", werr)
	}
	return n, nil
}

// writeSome is rawWrite's attempt: false (wait until writable) while some of the buffer is
// left and the socket takes no more now.
func (c *Conn[T]) writeSome(fd uintptr) bool {
	for c.writeN < len(c.writeBuf) {
		rest := c.writeBuf[c.writeN:]
		rest = rest[:min(len(rest), maxRW)]
		n, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(unsafe.SliceData(rest))), uintptr(len(rest)))
		switch errno {
		case 0:
			if n == 0 {
				c.writeErr = io.ErrUnexpectedEOF // a socket that takes nothing: as internal/poll reports it
				return true
			}
			c.writeN += int(n)
			continue
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		c.writeErr = errno
		return true
	}
	return true
}

// opError wraps a system call's error as TCPConn's methods do.
func (c *Conn[T]) opError(op string, errno error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: os.NewSyscallError(op, errno)}
}

// renameOp gives RawConn's error ("raw-read") the name of the operation the caller made.
func renameOp(err error, op string) error {
	if oe, ok := err.(*net.OpError); ok {
		e := *oe
		e.Op = op
		return &e
	}
	return err
}
