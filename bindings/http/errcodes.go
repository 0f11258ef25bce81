package http

import (
	"errors"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/drlee/drlee/bindings/http/httpclient"
	"github.com/drlee/drlee/engine"
)

// The codes of the errors this module hands to scripts (engine.ErrorCode walks an error's
// chain and asks errorCode about each link): the server's own, the client's
// (httpclient), and fasthttp's. Errors of the network and the system (a refused
// connection, a reset, a timeout, a port in use) the engine names by itself.
func init() { engine.RegisterErrorCodes(errorCode) }

func errorCode(err error) string {
	switch err {
	// The server: a write or finish the client can no longer get.
	case errClientGone, errStreamClosed:
		return "EPIPE"
	case errStreamAbandoned, errStreamCut, errEngineClosed:
		return "ECLOSED"
	case errAbandoned: // the handler timeout answered 504
		return "ETIMEDOUT"
	case errTooManyFields, errTooManyFiles: // req:form's limits
		return "EMSGSIZE"
	case errIsDir: // res:send_file, http.static
		return "EISDIR"
	case errNotRegular:
		return "EINVAL"

	// The client.
	case httpclient.ErrClosed:
		return "ECLOSED"
	case httpclient.ErrInvalidRequest, httpclient.ErrUnsupportedURL:
		return "EINVAL"
	case httpclient.ErrTooManyRedirects:
		return "ELOOP"
	case httpclient.ErrBadRedirect:
		return "EPROTO"

	// fasthttp.
	case fasthttp.ErrBodyTooLarge:
		return "EMSGSIZE"
	case fasthttp.ErrConnectionClosed:
		return "ECONNRESET"
	case fasthttp.ErrNoFreeConns:
		return "EBUSY"
	case fasthttp.ErrTooManyRedirects:
		return "ELOOP"
	case fasthttp.ErrTLSHandshakeTimeout, fasthttp.ErrDialTimeout:
		return "ETIMEDOUT"
	case fasthttp.ErrResponseFirstLineMissingSpace, fasthttp.ErrUnexpectedStatusCodeChar,
		fasthttp.ErrNonNumericChars, fasthttp.ErrDuplicateContentLength,
		fasthttp.ErrUnsupportedTransferEncoding, fasthttp.ErrBadTrailer,
		fasthttp.ErrMissingLocation, fasthttp.ErrContentEncodingUnsupported,
		fasthttp.ErrReadingResponseHeaders, fasthttp.ErrReadingResponseTrailer:
		return "EPROTO"
	}
	// Response headers larger than the client's read buffer.
	if _, ok := err.(*fasthttp.ErrSmallBuffer); ok {
		return "EMSGSIZE"
	}
	// A response fasthttp could not parse. Text matching, as a last resort: fasthttp makes
	// these errors with fmt.Errorf ("cannot find whitespace in the first line of
	// response ..."), typed only when its SecureErrorLogMessage is on. The same words
	// also wrap a read that failed (a reset connection), which keeps its own code.
	if msg := err.Error(); strings.HasPrefix(msg, "error when reading response headers: ") ||
		strings.HasPrefix(msg, "error when reading response trailer: ") {
		if inner := errors.Unwrap(err); inner == nil || engine.ErrorCode(inner) == engine.CodeUnknown {
			return "EPROTO"
		}
	}
	return ""
}
