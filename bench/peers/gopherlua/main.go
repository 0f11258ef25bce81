// Command gopherlua is the pure-Go peer: what a Go developer builds today to
// script HTTP in Lua without cgo. A fasthttp server calls a Lua handler inline
// in the connection goroutine, on a *lua.LState taken from a sync.Pool; every
// state has handlers.lua (the bench scenarios) loaded. No handoff, no cgo: the
// peer to beat.
//
// Two scenarios differ in shape from Dr.LEE's, because gopher-lua has no event
// loop: timer calls sleep_ms(1), which blocks the goroutine (and holds its
// state) for 1 ms in Go; stream64k runs the handler inside fasthttp's body
// stream writer, and its write(chunk) flushes each chunk before returning.
//
// Usage: gopherlua -addr 127.0.0.1:8080
package main

import (
	"bufio"
	_ "embed"
	"flag"
	"log"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"
)

//go:embed handlers.lua
var handlersSrc string

// proto is handlers.lua compiled once, so a new state only runs it.
var proto *lua.FunctionProto

// state is one pooled Lua state with the scenario handlers looked up.
type state struct {
	L        *lua.LState
	handlers map[string]*lua.LFunction // by request path
	write    *lua.LFunction
	w        *bufio.Writer // the stream64k writer while a handler runs
}

var pool = sync.Pool{New: func() any { return newState() }}

func newState() *state {
	L := lua.NewState()
	st := &state{L: L, handlers: map[string]*lua.LFunction{}}
	L.SetGlobal("json_decode", L.NewFunction(jsonDecode))
	L.SetGlobal("json_encode", L.NewFunction(jsonEncode))
	L.SetGlobal("sleep_ms", L.NewFunction(func(L *lua.LState) int {
		time.Sleep(time.Duration(L.CheckInt(1)) * time.Millisecond)
		return 0
	}))
	st.write = L.NewFunction(func(L *lua.LState) int {
		st.w.WriteString(L.CheckString(1))
		if err := st.w.Flush(); err != nil {
			L.RaiseError("write: %v", err)
		}
		return 0
	})
	L.Push(L.NewFunctionFromProto(proto))
	if err := L.PCall(0, 1, nil); err != nil {
		log.Fatalf("handlers.lua: %v", err)
	}
	L.Get(-1).(*lua.LTable).ForEach(func(k, v lua.LValue) {
		st.handlers["/"+k.String()] = v.(*lua.LFunction)
	})
	L.Pop(1)
	return st
}

// call runs the handler for path and returns its result as a string.
func (st *state) call(fn *lua.LFunction, method, body string) (string, error) {
	L := st.L
	L.Push(fn)
	L.Push(lua.LString(method))
	L.Push(lua.LString(body))
	L.Push(st.write)
	if err := L.PCall(3, 1, nil); err != nil {
		return "", err
	}
	ret := L.Get(-1)
	L.Pop(1)
	if ret == lua.LNil {
		return "", nil
	}
	return ret.String(), nil
}

var contentTypes = map[string]string{
	"/json":      "application/json",
	"/stream64k": "application/octet-stream",
}

func handler(ctx *fasthttp.RequestCtx) {
	st := pool.Get().(*state)
	fn := st.handlers[string(ctx.Path())]
	if fn == nil {
		pool.Put(st)
		ctx.NotFound()
		return
	}
	ct := contentTypes[string(ctx.Path())]
	if ct == "" {
		ct = "text/plain"
	}
	ctx.SetContentType(ct)
	method, body := string(ctx.Method()), string(ctx.PostBody())

	if string(ctx.Path()) == "/stream64k" {
		// fasthttp calls the stream writer after this handler returns, so the
		// state goes with it and back to the pool when the stream is done.
		ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
			st.w = w
			if _, err := st.call(fn, method, body); err != nil {
				log.Printf("stream64k: %v", err)
			}
			st.w = nil
			pool.Put(st)
		})
		return
	}
	out, err := st.call(fn, method, body)
	pool.Put(st)
	if err != nil {
		ctx.Error(err.Error(), fasthttp.StatusInternalServerError)
		return
	}
	ctx.SetBodyString(out)
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	flag.Parse()
	chunk, err := parse.Parse(strings.NewReader(handlersSrc), "handlers.lua")
	if err != nil {
		log.Fatal(err)
	}
	if proto, err = lua.Compile(chunk, "handlers.lua"); err != nil {
		log.Fatal(err)
	}
	s := &fasthttp.Server{Handler: handler, Name: "gopherlua"}
	log.Fatal(s.ListenAndServe(*addr))
}
