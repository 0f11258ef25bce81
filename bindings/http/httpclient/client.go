package httpclient

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/drlee/drlee/bindings/http/internal/httpsyntax"
)

// Defaults applied by New for zero Options fields.
const (
	DefaultTimeout            = 60 * time.Second
	DefaultMaxConnsPerHost    = 512
	DefaultMaxConnWaitTimeout = 10 * time.Second
	DefaultMaxIdleConnTime    = 60 * time.Second
	DefaultReadBufferSize     = 16 << 10
	DefaultWriteBufferSize    = 16 << 10
	DefaultMaxReadSize        = 64 << 10
	DefaultDrainLimit         = 64 << 10
	DefaultDrainTimeout       = time.Second
	DefaultMaxRedirects       = 10
	DefaultUserAgent          = "drlee"
)

// Options configures a Client. Zero fields get the Default* values.
type Options struct {
	// Timeout is used for requests whose Timeout is 0. It bounds the whole
	// exchange including reading the body. Negative means no limit.
	Timeout time.Duration
	// MaxConnsPerHost limits the open connections per host:port and TLS mode.
	MaxConnsPerHost int
	// MaxConnWaitTimeout is how long Do waits for a free connection once
	// MaxConnsPerHost connections are busy (capped by the request timeout).
	// Negative means fail at once.
	MaxConnWaitTimeout time.Duration
	// MaxIdleConnTime closes keep-alive connections idle for longer.
	MaxIdleConnTime time.Duration
	// ReadBufferSize is the per-connection read buffer; it also limits the
	// size of the response headers.
	ReadBufferSize int
	// WriteBufferSize is the per-connection write buffer.
	WriteBufferSize int
	// MaxReadSize caps the bytes returned by one ReadAsync, whatever n is.
	MaxReadSize int
	// DrainLimit is how many unread body bytes Close drains to keep the
	// connection alive; larger remainders close the connection. Negative
	// means never drain.
	DrainLimit int
	// DrainTimeout bounds that drain.
	DrainTimeout time.Duration
	// MaxRedirects bounds redirects followed for FollowRedirects requests.
	MaxRedirects int
	// UserAgent is sent when the request has no User-Agent header. "-"
	// sends none.
	UserAgent string
	// IPv4Only makes the dialer use only IPv4 addresses. By default both
	// IPv4 and IPv6 are used.
	IPv4Only bool
	// TLSConfig is the base TLS configuration for https (nil: system roots).
	// Insecure requests use a clone with InsecureSkipVerify set.
	TLSConfig *tls.Config
	// Go starts the client's goroutines (a response's body reader, and the
	// one that interrupts its blocked read on Close), so that their owner
	// counts and names them: engine.Engine.Go. nil: go statements. Once it
	// refuses (the owner has ended), bodies can no longer be read: a read
	// or Close that needs a goroutine closes the body at once, without
	// draining the connection.
	Go func(name string, fn func()) bool
}

// Request describes one HTTP request.
type Request struct {
	// Method defaults to GET; it is upper-cased.
	Method string
	// URL must be an absolute http:// or https:// URL.
	URL string
	// Headers are sent in order; a repeated name sends several values.
	// Content-Length and Transfer-Encoding are computed by the client and
	// ignored here. A Host header overrides the host sent (not the one
	// dialled).
	Headers [][2]string
	// Body is sent as is, with a Content-Length. It must not be modified
	// until Do returns. No Content-Type is added unless given in Headers.
	Body []byte
	// Timeout bounds the whole exchange, body included. 0 uses
	// Options.Timeout; negative means no limit.
	Timeout time.Duration
	// Insecure skips TLS certificate verification.
	Insecure bool
	// FollowRedirects follows 301, 302, 303, 307 and 308 responses.
	FollowRedirects bool
}

// Client is an HTTP client shared by the whole process. It is safe for
// concurrent use.
type Client struct {
	opts     Options
	dialer   fasthttp.TCPDialer
	plain    lazyClient // http://
	secure   lazyClient // https:// with certificate verification
	insecure lazyClient // https:// without
	clients  []*lazyClient
}

type lazyClient struct {
	once sync.Once
	c    atomic.Pointer[fasthttp.Client]
}

// New returns a Client; zero Options fields take the Default* values.
func New(opts Options) *Client {
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.MaxConnsPerHost <= 0 {
		opts.MaxConnsPerHost = DefaultMaxConnsPerHost
	}
	if opts.MaxConnWaitTimeout == 0 {
		opts.MaxConnWaitTimeout = DefaultMaxConnWaitTimeout
	}
	if opts.MaxIdleConnTime <= 0 {
		opts.MaxIdleConnTime = DefaultMaxIdleConnTime
	}
	if opts.ReadBufferSize <= 0 {
		opts.ReadBufferSize = DefaultReadBufferSize
	}
	if opts.WriteBufferSize <= 0 {
		opts.WriteBufferSize = DefaultWriteBufferSize
	}
	if opts.MaxReadSize <= 0 {
		opts.MaxReadSize = DefaultMaxReadSize
	}
	if opts.DrainLimit == 0 {
		opts.DrainLimit = DefaultDrainLimit
	}
	if opts.DrainTimeout <= 0 {
		opts.DrainTimeout = DefaultDrainTimeout
	}
	if opts.MaxRedirects <= 0 {
		opts.MaxRedirects = DefaultMaxRedirects
	}
	if opts.UserAgent == "" {
		opts.UserAgent = DefaultUserAgent
	}
	if opts.Go == nil {
		opts.Go = func(_ string, fn func()) bool {
			go fn()
			return true
		}
	}
	c := &Client{opts: opts}
	c.clients = []*lazyClient{&c.plain, &c.secure, &c.insecure}
	return c
}

// fast returns the fasthttp.Client for the scheme and TLS mode, creating it
// on first use.
func (c *Client) fast(https, insecure bool) *fasthttp.Client {
	lc := &c.plain
	if https {
		lc = &c.secure
		if insecure {
			lc = &c.insecure
		}
	}
	lc.once.Do(func() {
		wait := c.opts.MaxConnWaitTimeout
		if wait < 0 {
			wait = 0
		}
		fc := &fasthttp.Client{
			MaxConnsPerHost:        c.opts.MaxConnsPerHost,
			MaxConnWaitTimeout:     wait,
			MaxIdleConnDuration:    c.opts.MaxIdleConnTime,
			ReadBufferSize:         c.opts.ReadBufferSize,
			WriteBufferSize:        c.opts.WriteBufferSize,
			StreamResponseBody:     true,
			DisablePathNormalizing: true,
			ConnPoolStrategy:       fasthttp.LIFO,
			RetryIfErr:             retryIfErr,
		}
		if c.opts.UserAgent == "-" {
			fc.NoDefaultUserAgentHeader = true
		} else {
			fc.Name = c.opts.UserAgent
		}
		if https {
			var tlsCfg *tls.Config
			if c.opts.TLSConfig != nil {
				tlsCfg = c.opts.TLSConfig.Clone()
			} else {
				tlsCfg = &tls.Config{}
			}
			if tlsCfg.ClientSessionCache == nil {
				tlsCfg.ClientSessionCache = tls.NewLRUClientSessionCache(0)
			}
			tlsCfg.InsecureSkipVerify = insecure //nolint:gosec // requested per request
			fc.TLSConfig = tlsCfg
			fc.DialTimeout = func(addr string, timeout time.Duration) (net.Conn, error) {
				return c.dialTLS(addr, timeout, tlsCfg)
			}
		} else {
			fc.DialTimeout = c.dial
		}
		lc.c.Store(fc)
	})
	return lc.c.Load()
}

// dialNoTimeout bounds connecting (and the TLS handshake) for requests
// without a timeout.
const dialNoTimeout = 30 * time.Second

func (c *Client) dial(addr string, timeout time.Duration) (net.Conn, error) {
	if timeout <= 0 {
		timeout = dialNoTimeout
	}
	if c.opts.IPv4Only {
		return c.dialer.DialTimeout(addr, timeout)
	}
	return c.dialer.DialDualStackTimeout(addr, timeout)
}

// dialTLS connects and completes the TLS handshake within timeout. (Left to
// fasthttp, the handshake would happen during the first write with no read
// deadline, so a server that accepts but never answers would hang the
// request forever.)
func (c *Client) dialTLS(addr string, timeout time.Duration, cfg *tls.Config) (net.Conn, error) {
	if timeout <= 0 {
		timeout = dialNoTimeout
	}
	deadline := time.Now().Add(timeout)
	raw, err := c.dial(addr, timeout)
	if err != nil {
		return nil, err
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if cfg.ServerName == "" {
		cfg = cfg.Clone()
		cfg.ServerName = host
	}
	conn := tls.Client(raw, cfg)
	if err := conn.SetDeadline(deadline); err != nil {
		raw.Close()
		return nil, err
	}
	if err := conn.Handshake(); err != nil {
		raw.Close()
		return nil, err
	}
	if err := conn.SetDeadline(time.Time{}); err != nil {
		raw.Close()
		return nil, err
	}
	return conn, nil
}

// CloseIdleConnections closes the idle keep-alive connections of all
// connection pools (http, verified https, insecure https).
func (c *Client) CloseIdleConnections() {
	for _, lc := range c.clients {
		if fc := lc.c.Load(); fc != nil {
			fc.CloseIdleConnections()
		}
	}
}

// Close closes the idle keep-alive connections and drops the DNS cache, so
// that the goroutines fasthttp runs to clean them up end by themselves, each
// at its next wake-up (they sleep on timers nothing can cut short: up to
// MaxIdleConnTime for a host's connections). Connections still held by
// responses close as those are read to the end or closed. The client goes
// on working; its owner calls Close when it is done with it.
func (c *Client) Close() {
	c.CloseIdleConnections()
	c.dialer.FlushDNSCache()
}

// Do sends the request and returns once the status line and headers have
// arrived, following redirects if asked. It blocks: run it on a worker
// goroutine, never on the event loop. The body is not read; the caller must
// read it to the end or Close the Response (a Response is closed on garbage
// collection as a last resort).
func (c *Client) Do(r *Request) (*Response, error) {
	method := r.Method
	if method == "" {
		method = fasthttp.MethodGet
	} else {
		method = strings.ToUpper(method)
	}
	if err := checkRequest(method, r.Headers); err != nil {
		return nil, &Error{Method: method, URL: r.URL, Err: err}
	}
	cur, err := parseURL(r.URL)
	if err != nil {
		return nil, &Error{Method: method, URL: r.URL, Err: err}
	}
	curURL := r.URL

	timeout := r.Timeout
	if timeout == 0 {
		timeout = c.opts.Timeout
	}
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}

	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	req.Header.SetNoDefaultContentType(true)
	req.Header.SetMethod(method)
	req.SetRequestURI(curURL)
	for _, h := range r.Headers {
		switch {
		case strings.EqualFold(h[0], "Content-Length"), strings.EqualFold(h[0], "Transfer-Encoding"):
			continue
		case strings.EqualFold(h[0], "Host"):
			req.UseHostHeader = true
			req.Header.SetHost(h[1])
			continue
		}
		req.Header.Add(h[0], h[1])
	}
	if len(r.Body) > 0 {
		req.SetBodyRaw(r.Body)
	}
	origHost := cur.Hostname()

	for redirects := 0; ; redirects++ {
		fc := c.fast(cur.Scheme == "https", r.Insecure)
		resp := fasthttp.AcquireResponse()
		resp.Header.SetNoDefaultContentType(true)
		if timeout > 0 {
			rem := time.Until(deadline)
			if rem <= 0 {
				err = fasthttp.ErrTimeout
			} else {
				err = fc.DoTimeout(req, resp, rem)
			}
		} else {
			err = fc.Do(req, resp)
		}
		if err != nil {
			fasthttp.ReleaseResponse(resp)
			return nil, wrapErr(method, curURL, "", err, timeout)
		}
		code := resp.StatusCode()
		if !r.FollowRedirects || !isRedirect(code) {
			return c.newResponse(resp, method, curURL, timeout), nil
		}
		loc := resp.Header.Peek("Location")
		if len(loc) == 0 {
			return c.newResponse(resp, method, curURL, timeout), nil
		}
		var rerr error
		if redirects >= c.opts.MaxRedirects {
			rerr = fmt.Errorf("%w: stopped after %d", ErrTooManyRedirects, c.opts.MaxRedirects)
		}
		var next *url.URL
		if rerr == nil {
			next, rerr = cur.Parse(string(loc))
			if rerr != nil {
				rerr = fmt.Errorf("%w: Location %q: %w", ErrBadRedirect, loc, rerr)
			} else if next.Scheme != "http" && next.Scheme != "https" {
				rerr = fmt.Errorf("%w: Location %q is not an http:// or https:// URL", ErrBadRedirect, loc)
			}
		}
		c.discard(resp)
		fasthttp.ReleaseResponse(resp)
		if rerr != nil {
			return nil, &Error{Method: method, URL: curURL, Err: rerr}
		}

		if (code == 301 || code == 302 || code == 303) && method != fasthttp.MethodHead && method != fasthttp.MethodGet {
			method = fasthttp.MethodGet
			req.Header.SetMethod(method)
			req.ResetBody()
			req.Header.Del("Content-Type")
			req.Header.Del("Content-Length")
		}
		if !sameOrSubdomain(origHost, next.Hostname()) {
			req.Header.Del("Authorization")
			req.Header.Del("Proxy-Authorization")
			req.Header.Del("Cookie")
		}
		curURL = next.String()
		cur = next
		req.UseHostHeader = false
		req.SetRequestURI(curURL)
	}
}

// discard gets rid of a redirect response's body: a small one is drained so
// the connection can be reused, anything else closes the connection.
func (c *Client) discard(resp *fasthttp.Response) {
	if !resp.IsBodyStream() {
		return
	}
	intr, _ := resp.BodyStream().(fasthttp.ReadCloserWithError)
	cl := resp.Header.ContentLength()
	limit := min(c.opts.DrainLimit, 4<<10)
	if cl >= 0 && cl <= limit {
		drain(resp, intr, int64(limit), c.opts.DrainTimeout)
		return
	}
	if intr != nil {
		_ = intr.CloseWithError(errAbandoned)
	}
	_ = resp.CloseBodyStream()
}

// drain reads and drops at most limit bytes of the body, for at most
// timeout, then closes the stream: if the end was reached the connection
// goes back to the pool, otherwise it is closed.
func drain(resp *fasthttp.Response, intr fasthttp.ReadCloserWithError, limit int64, timeout time.Duration) {
	var t *time.Timer
	if intr != nil {
		t = time.AfterFunc(timeout, func() { _ = intr.CloseWithError(errDrainTimeout) })
	}
	_, err := io.CopyN(io.Discard, resp.BodyStream(), limit+1)
	if t != nil {
		t.Stop()
	}
	if err != io.EOF && intr != nil {
		_ = intr.CloseWithError(errAbandoned)
	}
	_ = resp.CloseBodyStream()
}

func parseURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%w: need an absolute http:// or https:// URL", ErrUnsupportedURL)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("%w: no host", ErrUnsupportedURL)
	}
	return u, nil
}

func isRedirect(code int) bool {
	switch code {
	case 301, 302, 303, 307, 308:
		return true
	}
	return false
}

func sameOrSubdomain(orig, next string) bool {
	orig, next = strings.ToLower(orig), strings.ToLower(next)
	if orig == next {
		return true
	}
	return strings.HasSuffix(next, "."+orig)
}

func (c *Client) newResponse(resp *fasthttp.Response, method, u string, timeout time.Duration) *Response {
	code := resp.StatusCode()
	r := &Response{
		StatusCode:    code,
		Status:        statusText(code, resp.Header.StatusMessage()),
		Headers:       copyHeaders(&resp.Header),
		ContentLength: int64(resp.Header.ContentLength()),
		URL:           u,
	}
	if r.ContentLength < 0 {
		r.ContentLength = -1
	}
	b := &body{
		method:       method,
		url:          u,
		maxRead:      c.opts.MaxReadSize,
		drainLimit:   c.opts.DrainLimit,
		drainTimeout: c.opts.DrainTimeout,
		timeout:      timeout,
		remaining:    -1,
		goFn:         c.opts.Go,
	}
	r.b = b
	switch {
	case !resp.IsBodyStream():
		// No body expected (HEAD, 204, 304...): the connection is already
		// back in the pool.
		if data := resp.Body(); len(data) > 0 {
			b.buf = append([]byte(nil), data...)
		} else {
			b.eof = true
		}
		fasthttp.ReleaseResponse(resp)
		b.released = true
	case resp.Header.ContentLength() == 0:
		_ = resp.CloseBodyStream() // fully read: pools the connection
		fasthttp.ReleaseResponse(resp)
		b.eof = true
		b.released = true
	default:
		b.fr = resp
		b.stream = resp.BodyStream()
		b.intr, _ = b.stream.(fasthttp.ReadCloserWithError)
		if cl := resp.Header.ContentLength(); cl > 0 {
			b.remaining = int64(cl)
		}
		runtime.AddCleanup(r, func(b *body) { b.close(nil) }, b)
	}
	return r
}

var statusTexts [600]string

func init() {
	for code := range statusTexts {
		if t := http.StatusText(code); t != "" {
			statusTexts[code] = strconv.Itoa(code) + " " + t
		}
	}
}

func statusText(code int, msg []byte) string {
	var canon string
	if code >= 100 && code < len(statusTexts) {
		canon = statusTexts[code]
	}
	if canon != "" && (len(msg) == 0 || string(msg) == canon[4:]) {
		return canon
	}
	if len(msg) == 0 {
		return strconv.Itoa(code)
	}
	return strconv.Itoa(code) + " " + string(msg)
}

// copyHeaders copies all response headers into strings sharing one
// allocation.
func copyHeaders(h *fasthttp.ResponseHeader) [][2]string {
	total, n := 0, 0
	for k, v := range h.All() {
		total += len(k) + len(v)
		n++
	}
	if n == 0 {
		return nil
	}
	var sb strings.Builder
	sb.Grow(total)
	for k, v := range h.All() {
		sb.Write(k)
		sb.Write(v)
	}
	s := sb.String()
	out := make([][2]string, 0, n)
	off := 0
	for k, v := range h.All() {
		ks := s[off : off+len(k)]
		off += len(k)
		vs := s[off : off+len(v)]
		off += len(v)
		out = append(out, [2]string{ks, vs})
	}
	return out
}

// ErrInvalidRequest is matched (errors.Is) by the error of a request whose method is not a
// token or which has a header that could not be sent as it is (a name that is not a
// token, a value with CR, LF, NUL or another control character but HTAB).
var ErrInvalidRequest = errors.New("invalid request")

// Errors of URLs and redirects, which callers tell apart with errors.Is.
var (
	ErrUnsupportedURL   = errors.New("unsupported URL")
	ErrTooManyRedirects = errors.New("too many redirects")
	ErrBadRedirect      = errors.New("bad redirect")
)

// checkRequest refuses what would otherwise go out mangled or inject into the request:
// fasthttp writes the method as it is (a space in it makes a request line of its own
// making) and turns CR and LF in header names and values into spaces.
func checkRequest(method string, headers [][2]string) error {
	if !httpsyntax.ValidToken(method) {
		return fmt.Errorf("%w: method %q is not an HTTP token", ErrInvalidRequest, method)
	}
	for _, h := range headers {
		if !httpsyntax.ValidToken(h[0]) {
			return fmt.Errorf("%w: header name %q is not an HTTP token", ErrInvalidRequest, h[0])
		}
		if !httpsyntax.ValidFieldValue(h[1]) {
			return fmt.Errorf("%w: the value of header %s has a control character", ErrInvalidRequest, h[0])
		}
	}
	return nil
}

// ErrTimeout is matched (errors.Is) by every timeout error.
var ErrTimeout = errors.New("timeout")

// ErrClosed is given to reads on a closed Response.
var ErrClosed = errors.New("http: response body closed")

var (
	errAbandoned    = errors.New("response body abandoned")
	errDrainTimeout = errors.New("response body drain timed out")
)

// Error is the error type returned by Do and passed to ReadAsync callbacks.
type Error struct {
	Method string
	URL    string
	Op     string // "" for the request itself, "reading body" for body reads
	Err    error
}

func (e *Error) Error() string {
	var sb strings.Builder
	sb.WriteString("http: ")
	sb.WriteString(e.Method)
	sb.WriteByte(' ')
	sb.WriteString(e.URL)
	sb.WriteString(": ")
	if e.Op != "" {
		sb.WriteString(e.Op)
		sb.WriteString(": ")
	}
	sb.WriteString(e.Err.Error())
	return sb.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Timeout reports whether the error is a timeout.
func (e *Error) Timeout() bool { return errors.Is(e.Err, ErrTimeout) }

type timeoutError struct {
	d     time.Duration
	cause error
}

func (e *timeoutError) Error() string {
	s := "timeout"
	if e.d > 0 {
		s += " after " + e.d.String()
	}
	if e.cause != nil && e.cause != fasthttp.ErrTimeout {
		s += " (" + e.cause.Error() + ")"
	}
	return s
}

func (e *timeoutError) Is(target error) bool { return target == ErrTimeout }
func (e *timeoutError) Unwrap() error        { return e.cause }
func (e *timeoutError) Timeout() bool        { return true }

// retryIfErr lets fasthttp resend an idempotent request only when the
// connection broke before any response byte arrived (typically a pooled
// keep-alive connection the server had closed), not on TLS, DNS or timeout
// errors, which would just fail again.
func retryIfErr(req *fasthttp.Request, _ int, err error) (resetTimeout, retry bool) {
	switch string(req.Header.Method()) {
	case "GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE":
	default:
		return false, false
	}
	return false, errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, fasthttp.ErrConnectionClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

func wrapErr(method, u, op string, err error, timeout time.Duration) error {
	// "error when dialing 1.2.3.4:80: dial tcp 1.2.3.4:80: ..." says the
	// address twice; keep Go's own error when it names it.
	var du *fasthttp.ErrDialWithUpstream
	if errors.As(err, &du) {
		var oe *net.OpError
		var de *net.DNSError
		if inner := du.Unwrap(); errors.As(inner, &oe) || errors.As(inner, &de) {
			err = inner
		}
	}
	if isTimeout(err) {
		err = &timeoutError{d: timeout, cause: err}
	}
	return &Error{Method: method, URL: u, Op: op, Err: err}
}

func isTimeout(err error) bool {
	if errors.Is(err, fasthttp.ErrTimeout) || errors.Is(err, fasthttp.ErrTLSHandshakeTimeout) ||
		errors.Is(err, fasthttp.ErrDialTimeout) || errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
