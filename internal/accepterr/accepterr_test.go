package accepterr

import (
	"errors"
	"net"
	"os"
	"syscall"
	"testing"
)

func TestClassify(t *testing.T) {
	wrap := func(e syscall.Errno) error { // as net.Listener.Accept returns it
		return &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", e)}
	}
	for _, c := range []struct {
		err                   error
		exhausted, connFailed bool
	}{
		{wrap(syscall.EMFILE), true, false},
		{wrap(syscall.ENFILE), true, false},
		{wrap(syscall.ENOBUFS), true, false},
		{wrap(syscall.ECONNRESET), false, true},
		{wrap(syscall.EPROTO), false, true},
		{wrap(syscall.EINVAL), false, false},
		{net.ErrClosed, false, false},
		{errors.New("other"), false, false},
		{nil, false, false},
	} {
		if got := Exhausted(c.err); got != c.exhausted {
			t.Errorf("Exhausted(%v) = %v, want %v", c.err, got, c.exhausted)
		}
		if got := ConnFailed(c.err); got != c.connFailed {
			t.Errorf("ConnFailed(%v) = %v, want %v", c.err, got, c.connFailed)
		}
	}
}
