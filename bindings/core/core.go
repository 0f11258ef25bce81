// Package core provides the globals every Dr.LEE script has: print (whole lines, never
// interleaved between workers), log (log.fatal shuts down and makes the run fail), env,
// arg, __dirname__, uuid, err_code (the code an error string starts with), the original
// Dr.LEE's bit_or, bit_and and bit_xor (LuaJIT's bit.bor, bit.band, bit.bxor) and class,
// and the callback helpers parallel_callback, series_callback and readall (also spelled
// read_all, as the seed's own example does). The globals json_encode and json_decode are
// package bindings/json's.
//
// require finds modules next to the script (script_dir/?.lua and script_dir/?/init.lua)
// before the usual places.
package core

import (
	_ "embed"
	"os"
	"path/filepath"

	"github.com/google/uuid"

	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/packed"
)

//go:embed core.lua
var prelude string

func init() {
	engine.Register(&engine.Module{
		Funcs: []engine.Function{
			{Name: "uuid", Fn: newUUID},
			{Name: "err_code", Fn: errCode},
			{Name: "__drlee_fail", Fn: fail},
			{Name: "__drlee_print", Fn: printLine},
			{Name: "__drlee_log", Fn: logLine},
			{Name: "__drlee_waiter", Fn: newWaiter},
			{Name: "__drlee_can_await", Fn: canAwait},
			{Name: "__drlee_spawn", Fn: spawn},
			{Name: "__drlee_uncaught", Fn: reportUncaught},
		},
		Classes: []*engine.Class{waiterClass},
		Init:    setGlobals,
		Lua:     prelude,
	})
}

// setGlobals sets env, arg, __dirname__ and the module path for one worker.
func setGlobals(w *engine.Worker) {
	cfg := w.Engine().Config()
	dir := filepath.Dir(cfg.Script)
	wd, _ := os.Getwd()

	var v packed.Writer
	v.Table(0, 6)
	v.String("worker_id")
	v.Int(int64(w.ID))
	v.String("workers")
	v.Int(int64(cfg.Workers))
	v.String("node")
	v.String(w.Engine().NodeName())
	v.String("args")
	v.Table(len(cfg.Args), 0)
	for _, a := range cfg.Args {
		v.String(a)
	}
	v.String("worker_dir")
	v.String(wd)
	v.String("script")
	v.String(cfg.Script)
	w.SetGlobal("env", v.B)

	// arg as the luajit CLI sets it: arg[0] the script, arg[1..] its arguments,
	// arg[-1] the interpreter.
	v.Reset()
	v.Table(len(cfg.Args), 2)
	for _, a := range cfg.Args {
		v.String(a)
	}
	v.Int(0)
	v.String(cfg.Script)
	v.Int(-1)
	v.String(os.Args[0])
	w.SetGlobal("arg", v.B)

	v.Reset()
	v.String(dir)
	w.SetGlobal("__dirname__", v.B)
}

func newUUID(c *engine.Call) int { return c.ReturnString(uuid.NewString()) }

// __drlee_print(line): one write per line, so workers never interleave within a line.
func printLine(c *engine.Call) int {
	w := engine.WorkerOf(c)
	line := c.CheckBytes(1)
	buf := append(w.Scratch(), line...)
	buf = append(buf, '\n')
	w.Engine().WriteStdout(buf)
	w.KeepScratch(buf)
	return 0
}

// __drlee_log(level, message)
func logLine(c *engine.Call) int {
	engine.WorkerOf(c).Logf(c.CheckString(1), "%s", c.CheckBytes(2))
	return 0
}

// err_code(err) -> the code err starts with ("ENOENT" for "ENOENT: open /x: no such file
// or directory"), one of engine.ErrorCodes; "EUNKNOWN" for a string without one (an error
// a script made) and for any other value but nil and false, which give nil (no error).
// It never raises: it is meant for error paths.
func errCode(c *engine.Call) int {
	switch c.Type(1) {
	case engine.TypeNil, engine.TypeNone:
		return returnNil(c)
	case engine.TypeBoolean:
		if !c.Bool(1) {
			return returnNil(c)
		}
	case engine.TypeString:
		b := c.CheckBytes(1)
		if len(b) > 32 { // a code and its ':' are shorter: a long string is not copied
			b = b[:32]
		}
		return c.ReturnString(engine.ParseErrorCode(string(b)))
	}
	return c.ReturnString(engine.CodeUnknown)
}

func returnNil(c *engine.Call) int {
	c.Out().Nil()
	return c.Return()
}

// __drlee_fail(): log.fatal's end: the engine shuts down as on SIGTERM and the run fails
// (drlee run exits 1).
func fail(c *engine.Call) int {
	engine.WorkerOf(c).Engine().Fail()
	return 0
}
