package http

import (
	"fmt"
	"math"

	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/engine/value"
	"github.com/drlee/drlee/packed"
)

// The request and response helpers (see the package comment): req.query, req:cookie,
// req:json, req:form; res:json, res:redirect, res:set_cookie, res:send_file;
// http.status_text, http.static. The parsers are in query.go, cookies.go, form.go and
// sendfile.go.

// addHelpers adds the helpers to the request and response classes. module.go's init calls
// it before it registers the module.
func addHelpers() {
	requestClass.Getters = append(requestClass.Getters,
		engine.Function{Name: "query", Fn: reqQuery},
	)
	requestClass.Methods = append(requestClass.Methods,
		engine.Function{Name: "cookie", Fn: reqCookie},
		engine.Function{Name: "json", Fn: reqJSON},
		engine.Function{Name: "form", Fn: reqForm},
	)
	responseClass.Methods = append(responseClass.Methods,
		engine.Function{Name: "json", Fn: resJSON},
		engine.Function{Name: "redirect", Fn: resRedirect},
		engine.Function{Name: "set_cookie", Fn: resSetCookie},
		engine.Function{Name: "send_file", Fn: resSendFile},
	)
}

// helperFuncs are the module functions of the helpers; http.lua wraps the private ones.
func helperFuncs() []engine.Function {
	return []engine.Function{
		{Name: "status_text", Fn: statusText},
		{Name: "static", Fn: staticOptions}, // http.lua wraps it: http.static(dir, options)
		{Name: "__static_serve", Fn: staticServe},
	}
}

// ---- request ----

// req.query: the query string decoded into a table (query.go has the rules), computed on
// each access from the request as it came: a request that never reads it pays nothing, and
// a handler that reads it often keeps it in a local.
func reqQuery(c *engine.Call) int {
	w, rs := reqOf(c)
	p := queryParsers.Get(w)
	out := c.Out()
	rs.mu.Lock()
	defer rs.mu.Unlock()
	switch {
	case rs.ctx != nil:
		p.writeFields(out, rs.ctx.URI().QueryString(), 0)
	case rs.snap != nil:
		_, q, _ := cutByteFound([]byte(rs.snap.uri), '?')
		p.writeFields(out, q, 0)
	default:
		return 0
	}
	return c.Return()
}

// returnKnown gives a result known when the call is made (the body is in memory) in the
// style of the call, as req:read does: cb(err, value) with the callback at argument cbArg
// straight after the calling code returns; without one, value or nil, err (an await that
// does not suspend). fill writes the value, or returns an error.
func returnKnown(c *engine.Call, cbArg int, fill func(out *packed.Writer) error) int {
	w := engine.WorkerOf(c)
	if !engine.HasCallback(c, cbArg) {
		if c.CanAwait() {
			w.AwaitedNow() // an await, which marks the handler's style (ScopeIdle)
		}
		out := c.Out()
		if err := fill(out); err != nil {
			return engine.ReturnError(c, err)
		}
		return c.Return()
	}
	if c.CanAwait() { // the callback straight after the calling code, in its thread
		out := c.Out()
		out.Nil()
		if err := fill(out); err != nil {
			var a engine.Args // the error as Args.Error writes it
			a.Error(err)
			out.Reset()
			out.Raw(a.B)
		}
		return c.ReturnSoon(cbArg)
	}
	// A coroutine of the script's own: the callback on the loop's next turn, with what is
	// known now (the request may be over by then).
	var tmp packed.Writer
	err := fill(&tmp)
	w.Reserve(c.CheckFunc(cbArg)).CompleteSoon(func(w *engine.Worker, a *engine.Args) {
		a.Error(err)
		if err == nil {
			a.Raw(tmp.B)
		}
	})
	return 0
}

var errEmptyBody = engine.NewError("EINVAL", "http: req:json: the request has no body")

// req:__readall(cb): the rest of the body at once, for the readall global (core.lua): one
// call where reading a body in chunks takes a read per chunk, a last empty one and a Lua
// closure for each. The body was read before the handler ran, so the result is known now.
func reqReadAll(c *engine.Call) int {
	_, rs := reqOf(c)
	return returnKnown(c, 2, func(out *packed.Writer) error {
		rs.readBody(maxReadSize, func(b []byte) { out.Bytes(b) })
		return nil
	})
}

// req:json(cb): the rest of the body (what req:read has not read yet: all of it, usually)
// decoded as JSON with json.decode's rules (null is json.null): cb(nil, value), or
// cb(err) for a body that is empty or not JSON. The body was read by the server before the
// handler ran, within --max-body-size (a larger one was answered 413), so the result is
// known at once. Without cb: value, or nil and the error.
func reqJSON(c *engine.Call) int {
	_, rs := reqOf(c)
	return returnKnown(c, 2, func(out *packed.Writer) (err error) {
		rs.readBody(maxReadSize, func(body []byte) {
			if len(body) == 0 {
				err = errEmptyBody
			} else if derr := (value.DecodeOptions{Null: true}).FromJSON(out, body); derr != nil {
				err = engine.WithCode("EINVAL", fmt.Errorf("http: req:json: %w", derr))
			}
		})
		return err
	})
}

// ---- response ----

var jsonContentType = []byte("application/json")

// optStatus reads an optional status argument: def when nil or absent.
func optStatus(c *engine.Call, i, def int) int {
	switch c.Type(i) {
	case engine.TypeNil, engine.TypeNone:
		return def
	}
	return statusArg(c, i)
}

// res:json(value, status?): value encoded as JSON (json.encode's rules) is the body, with
// Content-Type: application/json and the status (default: as set, 200); the response is
// finished. A value JSON cannot hold raises before anything is changed, as json.encode
// does, so the script can still answer otherwise. Returns true.
func resJSON(c *engine.Call) int {
	w, rs := resOf(c)
	if c.Type(2) == engine.TypeNone {
		c.ArgError(2, "value expected")
	}
	status := optStatus(c, 3, 0)
	src := c.Encode(2)
	buf, err := value.ToJSON(w.Scratch(), src)
	w.KeepScratch(buf)
	if err != nil {
		c.Raise("http: res:json: %v", err)
	}
	if !rs.lockUnwritten(c, "res:json") {
		return c.ReturnBool(true) // 504 was sent (handler timeout): ignored, as writes are
	}
	resp := &rs.ctx.Response
	resp.Header.SetContentTypeBytes(jsonContentType)
	if status != 0 {
		resp.SetStatusCode(status)
	}
	resp.AppendBody(buf)
	rs.mu.Unlock()
	rs.finish(w, nil)
	return c.ReturnBool(true)
}

var locationHeader = []byte("Location")

// res:redirect(url, status?): answers status (301, 302, 303, 307 or 308; default 302)
// with Location: url, an empty body, and finishes the response. url is sent as it is
// (relative URLs are fine); one with a control character (CR, LF, NUL...) raises, so that
// a URL taken from the request cannot split the response. Returns true.
func resRedirect(c *engine.Call) int {
	w, rs := resOf(c)
	url := c.CheckBytes(2)
	if len(url) == 0 {
		c.ArgError(2, "redirect URL must not be empty")
	}
	if !validRedirect(url) {
		c.ArgError(2, "redirect URL must not contain control characters (CR, LF, NUL...), got "+quoteShort(url))
	}
	status := 302
	switch c.Type(3) {
	case engine.TypeNil, engine.TypeNone:
	default:
		f := c.CheckNumber(3)
		switch f {
		case 301, 302, 303, 307, 308:
			status = int(f)
		default:
			c.ArgError(3, "redirect status must be 301, 302, 303, 307 or 308, got "+formatArg(f))
		}
	}
	if !rs.lockUnwritten(c, "res:redirect") {
		return c.ReturnBool(true) // 504 was sent (handler timeout): ignored, as writes are
	}
	rs.ctx.Response.SetStatusCode(status)
	rs.ctx.Response.Header.SetBytesKV(locationHeader, url)
	rs.mu.Unlock()
	rs.finish(w, nil)
	return c.ReturnBool(true)
}

// validRedirect: a header value (no control character but tab), and no tab or space
// either: a URL has none, and a browser would strip them.
func validRedirect(url []byte) bool {
	for _, c := range url {
		if c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

// http.status_text(code) -> the reason phrase the server sends with code ("Not Found"), or
// nil for a code it has none for (any number that is not a known status).
func statusText(c *engine.Call) int {
	f := c.CheckNumber(1)
	if f != math.Trunc(f) || !(f >= 100 && f <= 599) {
		return 0
	}
	m := statusMessage(int(f))
	if m == "" {
		return 0
	}
	return c.ReturnString(m)
}
