// Package luatests runs the project's own pure-Lua tests (tests/lua/*_test.lua) with
// `drlee test`, as a user would: a real drlee binary, a real process per file. The Lua
// files test the Lua API that needs nothing from Go (no server, no fixture); the Go tests
// of each binding keep what checks Go-side behaviour.
package luatests

import (
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/drlee/drlee/internal/drleetest"
)

// TestLua builds drlee and runs `drlee test -v` on this directory; a failing Lua test
// fails it with drlee test's whole output, which names the file, test and line.
func TestLua(t *testing.T) {
	// Built into the test's temporary directory, not bin/: a developer's bin/drlee is not
	// replaced under them by a test run.
	bin := filepath.Join(t.TempDir(), "drlee")
	if err := drleetest.BuildDrlee(bin); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "test", "-v", ".")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("drlee test -v tests/lua: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
