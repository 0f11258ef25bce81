package cluster

import (
	"fmt"
	"time"
)

// Errors reported by this package. Match them with errors.Is; the text a
// caller sees may carry the RPC name (see each one). Each names the code a
// script sees it with (its ErrorCode method, read by the engine's
// engine.ErrorCode: this package is below the engine).
var (
	// ErrNoHandler: no worker on any node has registered the name.
	// Reported as "no handler for 'name'", without waiting for the timeout.
	ErrNoHandler = codedError("ENOHANDLER", "drlee: no handler")
	// ErrTimeout: no answer before the call's timeout.
	// Reported as "rpc 'name' timed out after 5s".
	ErrTimeout = codedError("ETIMEDOUT", "drlee: rpc timeout")
	// ErrBusy: every worker that could take the call was busy (its queue full). Not the
	// engine's ErrBusy, which a worker's own queue returns: this package is below the
	// engine and knows no queue.
	ErrBusy = codedError("EBUSY", "drlee: every worker serving the name is busy")
	// ErrShuttingDown: the node holding the request shut down before its
	// handler answered.
	ErrShuttingDown = codedError("ECLOSED", "drlee: node shutting down")
	// ErrClosed: the local node is shut down.
	ErrClosed = codedError("ECLOSED", "drlee: node closed")
	// ErrBadName: an RPC name is empty, too long, or holds spaces, control
	// characters, '*', '>' or an empty '.'-separated token.
	ErrBadName = codedError("EINVAL", "drlee: invalid rpc name")
	// ErrDuplicate: the worker already registered the name on this node.
	ErrDuplicate = codedError("EEXIST", "drlee: rpc name already registered")
)

// codeError is an error of this package with the code a script sees it with.
type codeError struct{ code, text string }

func codedError(code, text string) error { return &codeError{code, text} }

func (e *codeError) Error() string     { return e.text }
func (e *codeError) ErrorCode() string { return e.code }

// rpcError carries a text for the caller and the sentinel it matches.
type rpcError struct {
	kind error
	text string
}

func (e *rpcError) Error() string { return e.text }
func (e *rpcError) Unwrap() error { return e.kind }

func noHandlerError(name string) error {
	return &rpcError{ErrNoHandler, "no handler for '" + name + "'"}
}

func timeoutError(name string, d time.Duration) error {
	return &rpcError{ErrTimeout, fmt.Sprintf("rpc '%s' timed out after %v", name, d)}
}

func badNameError(name, why string) error {
	return &rpcError{ErrBadName, fmt.Sprintf("drlee: invalid rpc name %q: %s", name, why)}
}
