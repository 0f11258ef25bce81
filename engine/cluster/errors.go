package cluster

import (
	"errors"
	"fmt"
	"time"
)

// Errors reported by this package. Match them with errors.Is; the text a
// caller sees may carry the RPC name (see each one).
var (
	// ErrNoHandler: no worker on any node has registered the name.
	// Reported as "no handler for 'name'", without waiting for the timeout.
	ErrNoHandler = errors.New("drlee: no handler")
	// ErrTimeout: no answer before the call's timeout.
	// Reported as "rpc 'name' timed out after 5s".
	ErrTimeout = errors.New("drlee: rpc timeout")
	// ErrBusy: every worker that could take the call was busy (its queue full). Not the
	// engine's ErrBusy, which a worker's own queue returns: this package is below the
	// engine and knows no queue.
	ErrBusy = errors.New("drlee: every worker serving the name is busy")
	// ErrShuttingDown: the node holding the request shut down before its
	// handler answered.
	ErrShuttingDown = errors.New("drlee: node shutting down")
	// ErrClosed: the local node is shut down.
	ErrClosed = errors.New("drlee: node closed")
	// ErrBadName: an RPC name is empty, too long, or holds spaces, control
	// characters, '*', '>' or an empty '.'-separated token.
	ErrBadName = errors.New("drlee: invalid rpc name")
	// ErrDuplicate: the worker already registered the name on this node.
	ErrDuplicate = errors.New("drlee: rpc name already registered")
)

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
