package engine

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/url"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"

	lua "github.com/drlee/drlee/cgo"
	"github.com/drlee/drlee/packed"
)

// Error codes. Every error the runtime hands to Lua (a callback's err, the err of an
// awaited call's nil, err) is a string that starts with a code, as Node's fs errors do:
//
//	ENOENT: open /x: no such file or directory
//
// The code is classified once, here, from the Go error: an explicit code a binding attached
// (WithCode, Errorf, or any error in the chain with an ErrorCode method), then the
// classifiers bindings registered for their libraries' errors (RegisterErrorCodes), then
// the standard library's types (syscall.Errno, *net.DNSError, timeouts, os and context
// sentinels) and the engine's own errors. An error nothing names is EUNKNOWN. The set of
// codes is closed (ErrorCodes); the README's "Errors" section documents each, and the
// global err_code(err) reads the code back (ParseErrorCode).

// CodeUnknown is the code of an error nothing classifies, and what ParseErrorCode gives for
// a string that does not start with a code (an error a script made itself).
const CodeUnknown = "EUNKNOWN"

// errorCodes is the documented set, in the README's order.
var errorCodes = []string{
	// Files.
	"ENOENT", "EEXIST", "ENOTDIR", "EISDIR", "ENOTEMPTY", "EACCES", "EPERM", "EROFS",
	"ENOSPC", "EFBIG", "EMFILE", "ENFILE", "EBADF", "ELOOP", "ENAMETOOLONG", "EXDEV",
	"EBUSY", "EIO",
	// Network.
	"ECONNREFUSED", "ECONNRESET", "ECONNABORTED", "EPIPE", "ENOTCONN", "EADDRINUSE",
	"EADDRNOTAVAIL", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN", "ETLS",
	"EPROTO",
	// Any operation.
	"ETIMEDOUT", "ECANCELED", "ECLOSED", "EMSGSIZE", "EINVAL", "ENOTSUP", "EAGAIN",
	"EINTR", "ENOMEM",
	// rpc.
	"ENOHANDLER", "EHANDLER",
	// redis.
	"EREDIS",
	// sql.
	"ESQL",
	// kv.
	"ECONFLICT",
	// The runtime.
	"EINTERNAL", CodeUnknown,
}

var knownCodes = func() map[string]bool {
	m := make(map[string]bool, len(errorCodes))
	for _, c := range errorCodes {
		m[c] = true
	}
	return m
}()

// ErrorCodes returns every code an error given to Lua can start with, EUNKNOWN last.
func ErrorCodes() []string { return slices.Clone(errorCodes) }

// IsErrorCode reports whether code is one of ErrorCodes.
func IsErrorCode(code string) bool { return knownCodes[code] }

// ErrorCoder is an error that names its code (one of ErrorCodes). Packages that cannot
// import the engine (below it, or pure Go) implement it to classify their own errors; a
// method that returns "" or a code not in the set is ignored.
type ErrorCoder interface {
	ErrorCode() string
}

// codedError is an error with a code attached by a binding.
type codedError struct {
	code string
	err  error
}

func (e *codedError) Error() string     { return e.err.Error() }
func (e *codedError) Unwrap() error     { return e.err }
func (e *codedError) ErrorCode() string { return e.code }

func mustBeCode(code string) {
	if !knownCodes[code] {
		panic("engine: unknown error code " + code + " (see engine.ErrorCodes)")
	}
}

// WithCode attaches code (one of ErrorCodes; anything else panics) to err: what the error
// made by hand in a binding is (a body too large, an object closed). errors.Is and As see
// err through it. nil stays nil.
func WithCode(code string, err error) error {
	mustBeCode(code)
	if err == nil {
		return nil
	}
	return &codedError{code, err}
}

// NewError is errors.New with a code. Sentinels made with it keep their identity
// (errors.Is).
func NewError(code, text string) error {
	mustBeCode(code)
	return &codedError{code, errors.New(text)}
}

// ScriptError is an error text that came from a script (an rpc handler's reply(err)):
// Lua gets it back as it is, with no code added. Its code, for ErrorCode, is the one its
// text starts with, if any: an error passed along keeps the code it had.
func ScriptError(text string) error { return scriptError(text) }

type scriptError string

func (e scriptError) Error() string     { return string(e) }
func (e scriptError) ErrorCode() string { return ParseErrorCode(string(e)) }

var (
	classifiersMu sync.Mutex                           // serialises RegisterErrorCodes
	classifiers   atomic.Pointer[[]func(error) string] // copied on write, read without a lock
)

// RegisterErrorCodes adds a classifier for the errors of a binding's libraries (fasthttp's,
// NATS's): fn is given each error of a chain in turn, outermost first, and returns its code
// or "" when it does not know that one. It compares sentinels and types; it needs no
// errors.Is, the engine walks the chain. Call it from an init function.
func RegisterErrorCodes(fn func(error) string) {
	classifiersMu.Lock()
	defer classifiersMu.Unlock()
	var next []func(error) string
	if cur := classifiers.Load(); cur != nil {
		next = slices.Clone(*cur)
	}
	next = append(next, fn)
	classifiers.Store(&next)
}

// ErrorCode is err's code: "" for nil, EUNKNOWN when nothing in its chain names one. Each
// error of the chain is looked at in turn, outermost first (a wrapper knows more than what
// it wraps: a timeout around a reset connection is a timeout), and at each one, an
// explicit code first, then the registered classifiers, then the built-in ones.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var fns []func(error) string
	if p := classifiers.Load(); p != nil {
		fns = *p
	}
	code := ""
	walkErrors(err, 0, func(e error) bool {
		if c, ok := e.(ErrorCoder); ok {
			if k := c.ErrorCode(); k != "" && knownCodes[k] {
				code = k
				return true
			}
		}
		for _, fn := range fns {
			if k := fn(e); k != "" && knownCodes[k] {
				code = k
				return true
			}
		}
		if k := builtinCode(e); k != "" {
			code = k
			return true
		}
		return false
	})
	if code == "" {
		return CodeUnknown
	}
	return code
}

// maxErrorDepth bounds the walk of a chain (a cycle would never end).
const maxErrorDepth = 64

// walkErrors visits err and what it wraps, depth first, until visit returns true.
func walkErrors(err error, depth int, visit func(error) bool) bool {
	for err != nil && depth < maxErrorDepth {
		if visit(err) {
			return true
		}
		depth++
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if walkErrors(e, depth, visit) {
					return true
				}
			}
			return false
		default:
			return false
		}
	}
	return false
}

// errnoCodes names the system errors. An errno not here is EUNKNOWN (its text says which).
var errnoCodes = map[syscall.Errno]string{
	syscall.ENOENT:        "ENOENT",
	syscall.EEXIST:        "EEXIST",
	syscall.ENOTDIR:       "ENOTDIR",
	syscall.EISDIR:        "EISDIR",
	syscall.ENOTEMPTY:     "ENOTEMPTY",
	syscall.EACCES:        "EACCES",
	syscall.EPERM:         "EPERM",
	syscall.EROFS:         "EROFS",
	syscall.ENOSPC:        "ENOSPC",
	syscall.EDQUOT:        "ENOSPC",
	syscall.EFBIG:         "EFBIG",
	syscall.EMFILE:        "EMFILE",
	syscall.ENFILE:        "ENFILE",
	syscall.EBADF:         "EBADF",
	syscall.ELOOP:         "ELOOP",
	syscall.ENAMETOOLONG:  "ENAMETOOLONG",
	syscall.EXDEV:         "EXDEV",
	syscall.EBUSY:         "EBUSY",
	syscall.ETXTBSY:       "EBUSY",
	syscall.EIO:           "EIO",
	syscall.ECONNREFUSED:  "ECONNREFUSED",
	syscall.ECONNRESET:    "ECONNRESET",
	syscall.ECONNABORTED:  "ECONNABORTED",
	syscall.EPIPE:         "EPIPE",
	syscall.ENOTCONN:      "ENOTCONN",
	syscall.EADDRINUSE:    "EADDRINUSE",
	syscall.EADDRNOTAVAIL: "EADDRNOTAVAIL",
	syscall.EHOSTUNREACH:  "EHOSTUNREACH",
	syscall.EHOSTDOWN:     "EHOSTUNREACH",
	syscall.ENETUNREACH:   "ENETUNREACH",
	syscall.ENETDOWN:      "ENETUNREACH",
	syscall.EPROTO:        "EPROTO",
	syscall.ETIMEDOUT:     "ETIMEDOUT",
	syscall.ECANCELED:     "ECANCELED",
	syscall.EMSGSIZE:      "EMSGSIZE",
	syscall.EINVAL:        "EINVAL",
	syscall.ENOTSUP:       "ENOTSUP",
	syscall.EAGAIN:        "EAGAIN",
	syscall.EINTR:         "EINTR",
	syscall.ENOMEM:        "ENOMEM",
}

// builtinCode names one error of a chain from the standard library's and the engine's
// types and sentinels: "" when it does not know it.
func builtinCode(e error) string {
	switch e := e.(type) {
	case syscall.Errno:
		return errnoCodes[e]
	case *net.DNSError:
		switch {
		case e.IsNotFound:
			return "ENOTFOUND"
		case e.IsTimeout:
			return "ETIMEDOUT"
		}
		return "EAI_AGAIN"
	case *url.Error:
		if e.Op == "parse" { // a URL that does not parse; other ops wrap what failed
			return "EINVAL"
		}
	case *net.AddrError, *net.ParseError, net.UnknownNetworkError, net.InvalidAddrError,
		url.EscapeError, url.InvalidHostError:
		return "EINVAL"
	case *tls.CertificateVerificationError, x509.UnknownAuthorityError, x509.HostnameError,
		x509.CertificateInvalidError, tls.AlertError,
		tls.RecordHeaderError, *tls.ECHRejectionError:
		return "ETLS"
	}
	switch e {
	case os.ErrNotExist:
		return "ENOENT"
	case os.ErrExist:
		return "EEXIST"
	case os.ErrPermission:
		return "EACCES"
	case os.ErrInvalid:
		return "EINVAL"
	case os.ErrClosed, net.ErrClosed, lua.ErrClosed, ErrWorkerStopped:
		return "ECLOSED"
	case os.ErrDeadlineExceeded, context.DeadlineExceeded:
		return "ETIMEDOUT"
	case context.Canceled:
		return "ECANCELED"
	case io.ErrClosedPipe:
		return "EPIPE"
	case io.EOF, io.ErrUnexpectedEOF:
		// As an error, never as the end of a read: a connection that ended before the
		// message did.
		return "ECONNRESET"
	case errors.ErrUnsupported:
		return "ENOTSUP"
	case packed.ErrTooLarge:
		return "EMSGSIZE"
	case packed.ErrTooDeep:
		return "EINVAL"
	case packed.ErrMalformed, packed.ErrTableKey:
		return "EPROTO"
	case lua.ErrNoMemory:
		return "ENOMEM"
	case ErrPoolSaturated, ErrQueueFull:
		return "EBUSY"
	case ErrInternal:
		return "EINTERNAL"
	}
	// A timeout (net.Error, a library's own): after the types above, so that an errno that
	// Go counts as a timeout (EAGAIN) keeps its name.
	if t, ok := e.(interface{ Timeout() bool }); ok && t.Timeout() {
		return "ETIMEDOUT"
	}
	return ""
}

// ErrorString is err as Lua gets it: "CODE: text" ("" for nil). A ScriptError is given as
// it is; a text that starts with its code already does not get it twice.
func ErrorString(err error) string {
	if err == nil {
		return ""
	}
	text := err.Error()
	if _, ok := err.(scriptError); ok {
		return text
	}
	code := ErrorCode(err)
	if hasCodePrefix(text, code) {
		return text
	}
	return code + ": " + text
}

// hasCodePrefix reports whether s is code, or starts with code and ':'.
func hasCodePrefix(s, code string) bool {
	return len(s) >= len(code) && s[:len(code)] == code && (len(s) == len(code) || s[len(code)] == ':')
}

// ParseErrorCode is the code an error string starts with: one of ErrorCodes, alone or
// followed by ':' ("ENOENT: open /x: no such file or directory", "ETIMEDOUT"); EUNKNOWN for
// any other string (one a script made, "file.lua:3: ENOENT: ..." where error() put a
// position in front). What the global err_code does with a string.
func ParseErrorCode(s string) string {
	if len(s) < 2 || s[0] != 'E' {
		return CodeUnknown
	}
	n := 1
	for n < len(s) && n <= maxCodeLen && (s[n] >= 'A' && s[n] <= 'Z' || s[n] >= '0' && s[n] <= '9' || s[n] == '_') {
		n++
	}
	if n < len(s) && s[n] != ':' {
		return CodeUnknown
	}
	if code := s[:n]; knownCodes[code] {
		return code
	}
	return CodeUnknown
}

// maxCodeLen is longer than any code: a longer run of capitals is no code.
const maxCodeLen = 16
