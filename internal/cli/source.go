package cli

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/drlee/drlee/engine"
)

// devNull is the script of an engine whose code is not a file: an empty main chunk.
const devNull = "/dev/null"

// Code makes cfg run code instead of a script file, as the main chunk of every worker would
// run (in a runtime thread: it may wait): name is its name in messages and env.script,
// "(command line)" for -e, "(stdin)" for -. A syntax error or an error the code raises is
// reported once and the engine shuts down as log.fatal has it (exit 1); the operations the
// code started are not ended at once (the difference with a script file, whose failing main
// chunk ends its worker), but get the shutdown timeout.
func Code(cfg *engine.Config, code, name string) {
	cfg.Script = devNull
	settings.Ptr(cfg).kind = "source"
	settings.Ptr(cfg).source = &source{code: code, name: name, noScript: true}
}

// Check makes cfg only compile code, in one worker whose state has every module loaded
// (their preludes ran): a syntax error is reported (exit 1), nothing of the code runs.
// name is as for Code; for a file's code, name is "" and file is the file's name as drlee
// run shows it (messages then read the same).
func Check(cfg *engine.Config, code, name, file string) {
	cfg.Script = devNull
	cfg.Workers = 1
	settings.Ptr(cfg).kind = "source"
	settings.Ptr(cfg).source = &source{code: code, name: name, file: file, noScript: true, check: true}
}

// LuaJITVersion is jit.version of the LuaJIT drlee is linked with, read in a worker.
func LuaJITVersion() (string, error) {
	var out, errs bytes.Buffer
	cfg := engine.Config{Workers: 1, Stdout: &out, Stderr: &errs}
	Code(&cfg, "print(jit.version)", "(version)")
	e, err := engine.New(cfg)
	if err != nil {
		return "", err
	}
	if err := e.Run(context.Background()); err != nil || e.Failed() {
		return "", fmt.Errorf("reading jit.version: %v %s", err, errs.String())
	}
	return strings.TrimSpace(out.String()), nil
}
