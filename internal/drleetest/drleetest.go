// Package drleetest is enginetest with every binding linked in: the harness of the tests of
// bindings, examples and the CLI, whose scripts use any module. The engine's own tests use
// enginetest and register what they need, so that they do not depend on the modules.
//
//	res := drleetest.Run(t, `print(require("json").encode({1, 2}))`)
//	res.MustSucceed(t)
//	res.Contains(t, "[1,2]")
package drleetest

import (
	"testing"

	_ "github.com/drlee/drlee/bindings" // every module
	"github.com/drlee/drlee/engine/enginetest"
)

// Options, Result and SyncBuffer are enginetest's.
type (
	Options    = enginetest.Options
	Result     = enginetest.Result
	SyncBuffer = enginetest.SyncBuffer
)

// Run runs a script given as source (see enginetest.Run).
func Run(t testing.TB, script string, opts ...Options) Result {
	t.Helper()
	return enginetest.Run(t, script, opts...)
}

// RunFile runs the script at path (see enginetest.RunFile).
func RunFile(t testing.TB, path string, o Options) Result {
	t.Helper()
	return enginetest.RunFile(t, path, o)
}
