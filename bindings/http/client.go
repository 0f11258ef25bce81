package http

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/drlee/drlee/bindings/http/httpclient"
	"github.com/drlee/drlee/bindings/http/internal/httpsyntax"
	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/packed"
)

// The client half of the module:
//
//	http.get(url, options?, cb?)        http.post, http.put, http.delete, http.patch likewise
//	http.request(method, url, options?, cb?)
//
// options: body (string), headers (table of name -> string, or list of strings for a
// repeated header), timeout (ms, covers the whole exchange), insecure (skip TLS
// verification), follow_redirects (off by default). cb(err, res) with res.status_code,
// res.status ("200 OK"), res.headers, res:read(n, cb) and res:close(cb). The callback may
// come second when there are no options: http.get(url, cb).
//
// The request runs on the engine's I/O pool until the status and headers are in; the body
// is read by the response's own goroutine, so a slow body never holds a pool slot.

var responseObjClass = &engine.Class{Name: "httpResponse"}

func init() {
	responseObjClass.Getters = []engine.Function{
		{Name: "status_code", Fn: respStatusCode},
		{Name: "status", Fn: respStatus},
		{Name: "headers", Fn: respHeaders},
		{Name: "url", Fn: respURL},
	}
	responseObjClass.Methods = []engine.Function{
		{Name: "read", Fn: respRead},
		{Name: "close", Fn: respClose},
	}
	responseObjClass.Finalize = func(w *engine.Worker, v any) { v.(*httpclient.Response).Close() }
}

func clientFuncs() []engine.Function {
	fns := []engine.Function{{Name: "request", Fn: requestAny}}
	for _, m := range []string{"get", "post", "put", "delete", "patch"} {
		method := strings.ToUpper(m)
		fns = append(fns, engine.Function{Name: m, Fn: func(c *engine.Call) int { return doRequest(c, method, 1) }})
	}
	return fns
}

func clientClasses() []*engine.Class { return []*engine.Class{responseObjClass} }

// clients are the engines' clients: one connection pool per engine, shared by its workers,
// with keep-alive; its idle connections close with the engine. Its body readers are
// goroutines of the engine (Go): a response still open when its worker ends is closed by
// the state's finalizers, which ends its reader before Run waits for them.
var clients = engine.NewEngineLocal(func(e *engine.Engine) *httpclient.Client {
	c := httpclient.New(httpclient.Options{Go: e.Go})
	e.OnClose(c.Close)
	return c
})

// http.request(method, url, options?, cb?). The method is upper-cased, and must be a
// token: it goes into the request line as it is ("GET /EVIL" would send a request line
// of four words).
func requestAny(c *engine.Call) int {
	method := strings.ToUpper(c.CheckString(1))
	if !httpsyntax.ValidToken(method) {
		c.ArgError(1, fmt.Sprintf("method must be an HTTP token (letters, digits, !#$%%&'*+-.^_`|~), got %s", quoteShort(method)))
	}
	return doRequest(c, method, 2)
}

// doRequest reads (url, options?, cb?) starting at argument i and starts the request.
func doRequest(c *engine.Call, method string, i int) int {
	w := engine.WorkerOf(c)
	req := &httpclient.Request{Method: method, URL: c.CheckString(i)}
	cbArg := i + 2
	switch c.Type(i + 1) {
	case engine.TypeFunction:
		cbArg = i + 1 // http.get(url, cb)
	case engine.TypeTable:
		parseOptions(c, i+1, req)
	case engine.TypeNil, engine.TypeNone:
	default:
		c.TypeError(i+1, "table")
	}
	client := clients.Get(w.Engine())
	return w.AsyncCall(c, cbArg, func() engine.Completion {
		resp, err := client.Do(req)
		return func(w *engine.Worker, a *engine.Args) {
			a.Error(err)
			if err == nil {
				w.NewObject(&a.Writer, responseObjClass, resp)
			}
		}
	})
}

func parseOptions(c *engine.Call, i int, req *httpclient.Request) {
	v, err := packed.Decode(c.Encode(i))
	if err != nil {
		c.ArgError(i, err.Error())
	}
	opts, ok := v.(map[any]any)
	if !ok {
		if list, _ := v.([]any); len(list) > 0 {
			c.ArgError(i, "options must be a table of name = value")
		}
		return // {}: no options
	}
	for k, val := range opts {
		switch k {
		case "body":
			s, ok := val.(string)
			if !ok {
				c.ArgError(i, "options.body must be a string")
			}
			req.Body = []byte(s)
		case "headers":
			req.Headers = headerOption(c, i, val)
		case "timeout":
			ms, ok := val.(float64)
			if !ok || !(ms >= 0) || math.IsInf(ms, -1) { // NaN fails too
				c.ArgError(i, "options.timeout must be a number of milliseconds, 0 or more (0 or math.huge: no limit)")
			}
			req.Timeout = timeoutOption(ms)
		case "insecure":
			req.Insecure = boolOption(c, i, "insecure", val)
		case "follow_redirects":
			req.FollowRedirects = boolOption(c, i, "follow_redirects", val)
		default:
			// A misspelt option would otherwise be ignored without a word.
			c.ArgError(i, fmt.Sprintf("unknown option %s (body, headers, timeout, insecure, follow_redirects)", optionName(k)))
		}
	}
}

func boolOption(c *engine.Call, i int, name string, v any) bool {
	b, ok := v.(bool)
	if !ok {
		c.ArgError(i, "options."+name+" must be a boolean")
	}
	return b
}

func optionName(k any) string {
	if s, ok := k.(string); ok {
		return "'" + s + "'"
	}
	if f, ok := k.(float64); ok {
		return "[" + formatArg(f) + "]"
	}
	return fmt.Sprint(k)
}

// headerOption turns {name = value} or {name = {v1, v2}} into header lines, sorted by name
// so that the request is the same whatever Lua's table order.
func headerOption(c *engine.Call, i int, v any) [][2]string {
	var lines [][2]string
	add := func(name string, val any) {
		line := func(v string) {
			checkHeader(c, i, i, "options.headers: ", name, v)
			lines = append(lines, [2]string{name, v})
		}
		switch val := val.(type) {
		case string:
			line(val)
		case float64:
			if math.IsNaN(val) || math.IsInf(val, 0) {
				c.ArgError(i, "options.headers values must be strings or finite numbers")
			}
			line(strings.TrimSuffix(fmt.Sprintf("%.14g", val), ".0"))
		case []any:
			for _, e := range val {
				s, ok := e.(string)
				if !ok {
					c.ArgError(i, "options.headers values must be strings")
				}
				line(s)
			}
		default:
			c.ArgError(i, "options.headers values must be strings")
		}
	}
	switch h := v.(type) {
	case map[any]any:
		names := make([]string, 0, len(h))
		for k := range h {
			s, ok := k.(string)
			if !ok {
				c.ArgError(i, "options.headers names must be strings")
			}
			names = append(names, s)
		}
		sort.Strings(names)
		for _, name := range names {
			add(name, h[name])
		}
	case []any:
		if len(h) > 0 {
			c.ArgError(i, "options.headers must be a table of name = value")
		}
	default:
		c.ArgError(i, "options.headers must be a table")
	}
	return lines
}

func respOf(c *engine.Call) (*engine.Worker, *httpclient.Response) {
	w := engine.WorkerOf(c)
	return w, w.Object(c, 1, responseObjClass).(*httpclient.Response)
}

func respStatusCode(c *engine.Call) int {
	_, r := respOf(c)
	return c.ReturnNumber(float64(r.StatusCode))
}

func respStatus(c *engine.Call) int {
	_, r := respOf(c)
	return c.ReturnString(r.Status)
}

func respURL(c *engine.Call) int {
	_, r := respOf(c)
	return c.ReturnString(r.URL)
}

func respHeaders(c *engine.Call) int {
	w, r := respOf(c)
	pairs := make([][2][]byte, len(r.Headers))
	for i, h := range r.Headers {
		pairs[i] = [2][]byte{[]byte(h[0]), []byte(h[1])}
	}
	out := c.Out()
	writeHeaders(w, out, pairs)
	return c.Return()
}

// res:read(n, cb): at most n bytes of the body; "" at its end.
func respRead(c *engine.Call) int {
	w, r := respOf(c)
	n := sizeArg(c, 2) // the client clamps it further, to its largest read
	op := w.ReserveCall(c, 3)
	r.ReadAsync(n, func(data []byte, err error) {
		op.Complete(func(w *engine.Worker, a *engine.Args) {
			a.Error(err)
			if err == nil {
				a.Bytes(data)
			}
		})
	})
	return op.Return(c)
}

// res:close(cb): releases the connection (kept alive when possible). The status and
// headers stay readable; reads after close get an error.
func respClose(c *engine.Call) int {
	w, r := respOf(c)
	op := w.ReserveCall(c, 2)
	r.CloseAsync(func() { op.Complete(nil) })
	return op.Return(c)
}
