package http

import (
	"github.com/valyala/fasthttp"

	"github.com/drlee/drlee/engine"
)

// A request's life always ends. The handler runs in a scope that the request owns
// (engine.Scope): everything the handler starts (operations, timers, their callbacks, the
// coroutines it spawns) runs in it too, so the request hears of
//
//   - a raise anywhere in the scope, before or after an await, in the handler or in a
//     callback: the response fails at once (500 when nothing was sent, a cut stream when it
//     had started), never by the handler timeout's 504 (ScopeFailed);
//   - the scope's end, when nothing of it is running or still to come: an await-style
//     handler's response is finished then, as set and written; a callback-style one, if
//     unfinished, is left to the collector, since a table may keep it for a later write (a
//     feed written from a shared ticker) (ScopeIdle);
//   - the collection of a response object no Lua code can reach while it is unfinished:
//     it is finished, with a warning that names the handler (finalizeResponse).

// maxWhat bounds the "METHOD /path" kept for the log.
const maxWhat = 200

// describe appends "METHOD /path" of ctx to b, the path cut at maxWhat bytes.
func describe(b []byte, ctx *fasthttp.RequestCtx) []byte {
	b = append(b, ctx.Method()...)
	b = append(b, ' ')
	p := ctx.Path()
	if len(p) > maxWhat {
		b = append(append(b, p[:maxWhat]...), "..."...)
	} else {
		b = append(b, p...)
	}
	return b
}

// rememberLocked keeps "METHOD /path" for the log before ctx goes (the response was
// answered while what the handler started runs on, or timed out). Copied then, not for
// every request: most are over with their scope. rs.mu held.
func (rs *request) rememberLocked() {
	if rs.ctx != nil && len(rs.what) == 0 {
		rs.what = describe(rs.what[:0], rs.ctx)
	}
}

// what is "METHOD /path" of the request, for the log. Loop only.
func (rs *request) whatFor() string {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	switch {
	case rs.ctx != nil:
		return string(describe(nil, rs.ctx))
	case rs.snap != nil:
		p := rs.snap.path
		if len(p) > maxWhat {
			p = p[:maxWhat] + "..."
		}
		return rs.snap.method + " " + p
	}
	return string(rs.what)
}

// ScopeFailed: a raise in the request's scope. The traceback goes to the log with the
// request, never to the client, who gets a failed response at once. Loop only.
func (rs *request) ScopeFailed(w *engine.Worker, _ *engine.Scope, err error) {
	w.Logf("ERROR", "%s: %s", rs.whatFor(), err.Error())
	rs.fail(w)
}

// ScopeIdle: nothing the handler started is running or to come. An await-style handler is
// done: its response is finished as it stands. The scope's reference on rs is dropped.
// Loop only.
func (rs *request) ScopeIdle(w *engine.Worker, sc *engine.Scope) {
	if !rs.finished && rs.hasBuf {
		w.TakeOver(rs.cbuf.ptr()) // a finish the fast methods recorded counts
	}
	if !rs.finished {
		if sc.Awaited() {
			rs.finish(w, nil)
		} else {
			// Callback style: only the collector can tell whether some table still holds
			// res for a later write; ask it to look soon (finalizeResponse), with the
			// class's finalizer on until this response ends.
			rs.suspect = true
			w.WantFinalize(responseClass)
			w.ReleaseArgs() // res was kept alive until now (RunScoped)
			w.CollectSoon()
		}
	}
	rs.release()
}

// finalizeResponse is responseClass's finalizer: Lua collected a response object that had
// not ended. No Lua code can finish it any more, so it is finished now, as it stands, and
// the log says which handler forgot to. When the state closes, the worker is ending
// anyway: its requests are abandoned, with nothing to log.
func finalizeResponse(w *engine.Worker, v any) {
	rs, ok := v.(*request)
	if !ok || rs.finished || w.Closing() {
		return
	}
	// What the fast methods recorded in this callback applies first. Not through
	// w.TakeOver: the object's id is gone already, and takeOverBuffer would drop it.
	if rs.hasBuf && rs.cbuf.fast().TakeDirty() {
		rs.takeOver(w)
		if rs.finished {
			return
		}
	}
	w.Logf("WARN", "%s: the response of the handler at %s was never finished and can no longer be reached: finished now (call res:finish())",
		rs.whatFor(), rs.ep.server.where)
	rs.finish(w, nil)
}

// unsuspect ends the WantFinalize of a response that was unfinished when its scope ended,
// once it has ended too. Loop only.
func (rs *request) unsuspect(w *engine.Worker) {
	if rs.suspect {
		rs.suspect = false
		w.DoneFinalize(responseClass)
	}
}
