package http

import (
	_ "embed"

	"github.com/drlee/drlee/engine"
)

// http.router() is written in Lua (router.lua): matching a request is a walk of Lua tables
// that the JIT compiles, after one crossing for the request's method and path (reqTarget);
// in Go it would be that crossing too, with the params table to build on the way back. The
// router sets req.params, a script field of the request (engine.Class.ScriptFields).

//go:embed router.lua
var routerLua string

// routerPrelude is router.lua as a block of the module's prelude, after http.lua: its
// locals stay its own.
var routerPrelude = "\ndo\n" + routerLua + "\nend\n"

// http.__target(req) -> req.method, req.path, in one crossing where the two getters take
// two: the router's, which router.lua keeps and removes from the module.
func reqTarget(c *engine.Call) int {
	_, rs := reqOf(c)
	rs.mu.Lock()
	defer rs.mu.Unlock()
	out := c.Out()
	switch {
	case rs.ctx != nil:
		out.Bytes(rs.ctx.Method())
		out.Bytes(rs.ctx.Path())
	case rs.snap != nil:
		out.String(rs.snap.method)
		out.String(rs.snap.path)
	default:
		return 0
	}
	return c.Return()
}
