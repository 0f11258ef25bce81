// Package accepterr classifies the errors of accept(2), for the accept loops of the http
// and network servers: which ones a loop retries at once, and which ones call for a pause
// until connections are closed.
package accepterr

import (
	"errors"
	"syscall"
)

// Exhausted reports whether an accept failed for want of resources (file descriptors,
// buffers, memory), which closing connections gives back.
func Exhausted(err error) bool {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return false
	}
	switch errno {
	case syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM:
		return true
	}
	return false
}

// ConnFailed reports whether an accept failed because of the connection being accepted,
// not the listener: accept(2) on Linux passes the new socket's pending network errors on,
// to be treated like EAGAIN. (Go retries ECONNABORTED itself.)
func ConnFailed(err error) bool {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return false
	}
	switch errno {
	case syscall.ECONNABORTED, syscall.ECONNRESET, syscall.EPROTO, syscall.ETIMEDOUT,
		syscall.ENETDOWN, syscall.ENETUNREACH, syscall.EHOSTDOWN, syscall.EHOSTUNREACH,
		syscall.ENOPROTOOPT, syscall.EOPNOTSUPP:
		return true
	}
	return false
}
