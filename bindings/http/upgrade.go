package http

import (
	"github.com/valyala/fasthttp"

	"github.com/drlee/drlee/engine"
)

// TakeOver hands the fasthttp.RequestCtx of a request in flight to another binding, for a
// protocol the http module does not speak itself (a websocket upgrade: the websocket
// module's upgrade(req, res)). req and res are the indexes of that request's req and res
// objects among c's arguments; they must belong to the same request.
//
// fn runs at once, on the loop, with the request's lock held and its response not sent:
// what the fast methods recorded is applied first, and a response that is finished,
// streaming or abandoned (504) is refused with an error, fn not called. fn may set the
// response in ctx and register fasthttp's hooks (ctx.Hijack, which fasthttp runs once the
// response is sent); it must not keep ctx past its return otherwise. Then, whatever fn
// returned, the response is finished as ctx holds it, at the end of the current callback,
// as res:finish() would: the http module writes nothing more for the request (a later
// res:write or res:finish fails as after any finish). fn's error is returned.
func TakeOver(c *engine.Call, req, res int, fn func(ctx *fasthttp.RequestCtx) error) error {
	w := engine.WorkerOf(c)
	rs := w.Object(c, req, requestClass).(*request)
	if other := w.Object(c, res, responseClass).(*request); other != rs {
		c.ArgError(res, "the response of another request")
	}
	if rs.hasBuf {
		w.TakeOver(rs.cbuf.ptr()) // what res:set_status, set, write recorded in C
	}
	if rs.finished {
		return errTakenFinished
	}
	rs.mu.Lock()
	if rs.state != statePending {
		rs.mu.Unlock()
		return errTakenStreaming
	}
	err := fn(rs.ctx)
	rs.mu.Unlock()
	rs.finish(w, nil)
	return err
}

var (
	errTakenFinished  = engine.NewError("EINVAL", "http: the response is finished already")
	errTakenStreaming = engine.NewError("EINVAL", "http: the response has started streaming (or was abandoned): it can no longer be taken over")
)
