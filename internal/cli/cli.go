// Package cli runs what drlee's commands other than a plain `drlee run script.lua` need
// inside the engine: code given with -e or on stdin run as a main chunk, --check (compile
// only), the REPL and the test runner (`drlee test`).
//
// Each is an ordinary engine with a hidden module of this package (a prelude, cli.lua, and
// a few Go functions it takes as locals) switched on by a Setting of the engine's Config:
// an engine made without it (drlee run) gets nothing from the module. Code that is not a
// file runs in an engine whose script is /dev/null (an empty main chunk); the module then
// starts it, on the loop's first turn, in a runtime thread, so that it may wait as a main
// chunk does.
package cli

import (
	_ "embed"
	"errors"
	"os"
	"strings"
	"sync/atomic"

	_ "github.com/drlee/drlee/bindings/core" // its globals (env, arg) exist before ours adjust them
	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/packed"
)

//go:embed cli.lua
var prelude string

// mode is what the module does in an engine.
type mode struct {
	kind   string // "": nothing; "source", "repl", "test"
	source *source
	repl   *repl
	test   *fileRun
}

var settings = engine.NewSetting("cli", mode{})

// hooks are the prelude's functions, per worker (registry refs).
type hooks struct {
	runSource, replLine, runTest, collect int32
	stop                                  string // the error message of an assertion that stopped its test
}

var workerHooks = engine.NewWorkerLocal(func(*engine.Worker) *hooks { return &hooks{} })

func init() {
	engine.Register(&engine.Module{
		Name: "", // hidden globals, removed by the prelude
		Funcs: []engine.Function{
			{Name: "__drlee_cli_mode", Fn: modeOf},
			{Name: "__drlee_cli_hooks", Fn: setHooks},
			{Name: "__drlee_cli_fatal", Fn: fatal},
			{Name: "__drlee_cli_ready", Fn: replReady},
			{Name: "__drlee_cli_report", Fn: replReport},
			{Name: "__drlee_cli_add_test", Fn: addTest},
			{Name: "__drlee_cli_record", Fn: recordFailure},
			{Name: "__drlee_cli_skip", Fn: skipTest},
		},
		Init: initWorker,
		Lua:  prelude,
	})
}

func modeOf(c *engine.Call) int {
	m := settings.Get(engine.WorkerOf(c).Engine())
	out := c.Out()
	out.String(m.kind)
	name := ""
	if m.source != nil {
		name = m.source.name
	}
	out.String(name)
	return c.Return()
}

// setHooks(run_source, repl_line, run_test, collect, stop): the prelude hands its functions
// over.
func setHooks(c *engine.Call) int {
	w := engine.WorkerOf(c)
	h := workerHooks.Get(w)
	if h.runSource != 0 {
		c.Raise("cli hooks already set")
	}
	stop := c.CheckString(5)
	for i := 1; i <= 4; i++ {
		if c.Type(i) != engine.TypeFunction {
			c.TypeError(i, "function")
		}
	}
	h.runSource, h.replLine, h.runTest, h.collect, h.stop = c.CheckFunc(1), c.CheckFunc(2), c.CheckFunc(3), c.CheckFunc(4), stop
	return 0
}

// initWorker starts the engine's command on the loop's first turn, once the main chunk (the
// script, or /dev/null) ran.
func initWorker(w *engine.Worker) {
	m := settings.Get(w.Engine())
	switch m.kind {
	case "":
		return
	case "source", "repl":
		if m.source != nil && m.source.noScript {
			// The script is /dev/null: modules are found next to the working directory,
			// as they are for `luajit -e`.
			if wd, err := os.Getwd(); err == nil {
				var v packed.Writer
				v.String(wd)
				w.SetGlobal("__dirname__", v.B)
			}
		}
	}
	w.Defer(func(w *engine.Worker) {
		switch m.kind {
		case "source":
			m.source.start(w)
		case "repl":
			m.repl.start(w)
		case "test":
			m.test.next(w)
		}
	})
}

// source is code that is not a file: -e, stdin.
type source struct {
	code     string
	name     string // its chunk name without "=": "(command line)", "(stdin)"; "" for a file
	file     string // for a file (--check): its name in messages, as drlee run names it
	noScript bool   // the engine's script is /dev/null
	check    bool   // compile only
	failed   atomic.Bool
}

func (s *source) start(w *engine.Worker) {
	h := workerHooks.Get(w)
	if h.runSource == 0 {
		return
	}
	var v packed.Writer
	v.String(s.code)
	if s.name != "" {
		v.String("=" + s.name)
	} else {
		v.String("@" + s.file)
	}
	v.Bool(s.check)
	for _, a := range w.Engine().Config().Args {
		v.String(a)
	}
	w.CallRef(h.runSource, v.B)
}

// fatal(msg): the code of -e or stdin failed (syntax error, error in its main chunk): the
// first worker reports it, and the engine shuts down as log.fatal has it, exiting 1.
func fatal(c *engine.Call) int {
	w := engine.WorkerOf(c)
	msg := c.CheckString(1)
	m := settings.Get(w.Engine())
	if m.source == nil {
		c.Raise("no code to fail")
	}
	if m.source.failed.CompareAndSwap(false, true) {
		w.ReportError(errors.New(cleanTraceback(msg)))
	}
	w.Engine().Fail()
	return 0
}

// cleanTraceback drops the frames of the runtime's own wrappers (this package's prelude,
// the runner of runtime threads, the xpcall between them) from a Lua error's traceback:
// they are the same for every error and say nothing about the user's code.
func cleanTraceback(msg string) string {
	i := strings.Index(msg, "\nstack traceback:")
	if i < 0 {
		return msg
	}
	head, tail := msg[:i], msg[i+1:] // the message stays as it is; only frames go
	lines := strings.Split(tail, "\n")
	out := lines[:1]
	for _, l := range lines[1:] {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "[drlee globals]") || strings.HasPrefix(t, "[drlee runner]") || t == "[C]: in function 'xpcall'" {
			continue
		}
		out = append(out, l)
	}
	return head + "\n" + strings.Join(out, "\n")
}
