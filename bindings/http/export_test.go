package http

import (
	"fmt"
	"net"
	"syscall"

	"github.com/drlee/drlee/engine"
)

// serverOn is e's server on addr, or nil.
func serverOn(e *engine.Engine, addr string) *sharedServer {
	set := listeners.Get(e.Process())
	set.mu.Lock()
	defer set.mu.Unlock()
	return set.byAddr[addr]
}

// BreakListener shuts the listening socket of the server on addr down under its accept
// loop, so that every later accept fails for good (EINVAL): a listener that really failed,
// for the tests of what the server does then.
func BreakListener(e *engine.Engine, addr string) error {
	s := serverOn(e, addr)
	if s == nil {
		return fmt.Errorf("no server on %s", addr)
	}
	tl, ok := s.ln.Listener.(*net.TCPListener)
	if !ok {
		return fmt.Errorf("the server on %s has no TCP listener", addr)
	}
	rc, err := tl.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = syscall.Shutdown(int(fd), syscall.SHUT_RDWR) }); err != nil {
		return err
	}
	return serr
}

// InjectBrokenWorker adds a nil worker to the server on addr, so that picking a worker for
// a request dereferences nil: a Go panic in the connection goroutine, for the test that it
// becomes a 500 instead of ending the process.
func InjectBrokenWorker(e *engine.Engine, addr string) error {
	s := serverOn(e, addr)
	if s == nil {
		return fmt.Errorf("no server on %s", addr)
	}
	s.mu.Lock()
	eps := append(append([]*workerEP(nil), *s.handlers.Load()...), nil)
	s.handlers.Store(&eps)
	s.mu.Unlock()
	return nil
}

// PartialDirectWrites is the number of streamed chunks so far that the loop wrote only in
// part, leaving the rest to the connection goroutine.
func PartialDirectWrites() int64 { return partialDirectWrites.Load() }

// SameServer reports whether engines a and b serve addr on one shared server (the
// generations of one process, a reload).
func SameServer(a, b *engine.Engine, addr string) bool {
	s := serverOn(a, addr)
	return s != nil && s == serverOn(b, addr)
}
