// Package httpclient is the pure-Go HTTP/1.1 client behind the Lua `http`
// module's client functions (http.get, http.post, ..., http.request). It has
// no Lua and no cgo in it: the Lua binding translates options and callbacks
// and calls into this package.
//
// It wraps [fasthttp.Client] with keep-alive connection pools and response
// body streaming, so a large or slow body never sits in memory as a whole
// and never occupies a worker of the shared goroutine pool.
//
// # Simplest use
//
//	c := httpclient.New(httpclient.Options{})
//	resp, err := c.Do(&httpclient.Request{Method: "GET", URL: "http://example.com/"})
//	if err != nil {
//		return err // e.g. "http: GET http://example.com/: dial tcp 93.184.215.14:80: connect: connection refused"
//	}
//	resp.ReadAsync(64<<10, func(data []byte, err error) {
//		// len(data) == 0 && err == nil means end of body
//	})
//	...
//	resp.Close()
//
// # Concurrency rules
//
// A [Client] is meant to be created once per process and shared; all its
// methods are safe for concurrent use.
//
// [Client.Do] blocks until the status line and headers have arrived (or the
// request failed). It is meant to run on the shared worker pool, never on the
// event loop. It never waits for the body.
//
// [Response.ReadAsync], [Response.Close] and [Response.CloseAsync] never block
// on the network and may be called from the event loop (or any goroutine).
// Body reads run on the response's own goroutine, started lazily by the first
// ReadAsync that actually has to touch the network and ended once no read is
// queued, so a slow body holds no pool worker. Reads are served one at a time
// in the order they were issued. A blocked read ends when the response is
// closed. [Options.Go] starts these goroutines, so that an owner (the engine)
// counts them; [Client.Close] lets fasthttp's own cleaner goroutines end.
//
// Each ReadAsync done callback is called exactly once. It may be called
//   - synchronously, before ReadAsync returns, when the result is already
//     known without touching the network: the body was already fully
//     buffered, the end of the body was already reached, a read error already
//     happened, or the response is closed; or
//   - later, from the response's own body goroutine.
//
// So done must not block for long (it delays the next queued read) and must
// not assume it runs on any particular goroutine: the Lua binding posts the
// result back to the event loop. The data slice passed to done belongs to the
// callee; the client never touches it again.
//
// CloseAsync's done is called once the connection has been returned to the
// pool or closed, either synchronously or from the body goroutine.
//
// # Semantics chosen for the Lua API
//
// Compression: the client never adds Accept-Encoding and never decompresses.
// A script that sets Accept-Encoding itself gets the raw encoded bytes and the
// Content-Encoding header, as it asked for.
//
// Timeouts: [Request.Timeout] (falling back to [Options.Timeout], 60s by
// default) bounds the whole exchange like net/http's Client.Timeout:
// connecting, TLS handshake, sending the request, every redirect, waiting for
// the headers AND reading the body. A body read after the deadline fails with
// a timeout error. A negative timeout means no limit (connecting and the TLS
// handshake are still bounded by 30s). Streaming a long download therefore
// needs a long or negative timeout.
//
// Redirects are followed only when [Request.FollowRedirects] is set, at most
// [Options.MaxRedirects] (default 10) times. 301, 302 and 303 turn into a GET
// without body (HEAD stays HEAD); 307 and 308 keep the method and body.
// A relative Location is resolved against the current URL. Authorization,
// Cookie and Proxy-Authorization headers are dropped when a redirect leaves
// the original host (and its subdomains), like net/http does.
//
// TLS: each https request uses a verifying or, with [Request.Insecure], a
// non-verifying connection pool (created lazily, never shared), so an
// insecure request never reuses or leaks into verified connections.
//
// Keep-alive: a connection goes back to the pool as soon as the body has been
// read to the end (before the last done callback runs). If the response is
// closed early, up to [Options.DrainLimit] remaining bytes are drained for at
// most [Options.DrainTimeout] on the body goroutine so the connection can be
// reused; otherwise it is closed. A response that is neither read to the end
// nor closed keeps its connection until it is garbage collected.
//
// Retries: GET, HEAD, OPTIONS, TRACE, PUT and DELETE are resent (up to 5
// attempts, within the timeout) only when the connection broke before any
// response byte arrived, typically a pooled keep-alive connection the server
// had closed. Other methods and other errors (TLS, DNS, refused, timeout) are
// reported at once.
//
// Errors are [*Error] values whose text reads like
// "http: GET http://127.0.0.1:1/: dial tcp4 127.0.0.1:1: connect: connection refused".
// Timeouts match errors.Is(err, ErrTimeout).
package httpclient
