package kv_test

// In-process tests of the Lua API through the real engine: one node with no flags (the
// embedded NATS server has no port; JetStream keeps its store in a temporary directory).

import (
	"context"
	"embed"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drlee/drlee/internal/drleetest"
)

//go:embed testdata/*.lua
var testdata embed.FS

// checkLua is the Lua assert helper shared with bindings/core.
func checkLua(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("../core/testdata/check.lua")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestLua runs the single-process scripts of testdata (every function in both styles,
// binary values, odd values under pcall); each prints PASS when done. node.lua is the
// cluster tests' node, not one of them.
func TestLua(t *testing.T) {
	t.Parallel()
	entries, err := testdata.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	helper := checkLua(t)
	for _, e := range entries {
		name := e.Name()
		if path.Ext(name) != ".lua" || name == "node.lua" {
			continue
		}
		t.Run(strings.TrimSuffix(name, ".lua"), func(t *testing.T) {
			t.Parallel()
			src, err := testdata.ReadFile("testdata/" + name)
			if err != nil {
				t.Fatal(err)
			}
			res := drleetest.Run(t, string(src), drleetest.Options{Files: map[string]string{"check.lua": helper}, Timeout: 60 * time.Second})
			res.MustSucceed(t)
			res.Contains(t, "PASS\n")
		})
	}
}

// TestWatcherEndsWithWorker: a watcher left running holds its worker, and the engine's
// shutdown (SIGTERM) stops it: the run ends, the handler is not called after, and the
// watch's goroutines end with the engine (TestMain's goleak checks them).
func TestWatcherEndsWithWorker(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		// The script writes "ready" once its watcher has seen a change; then shut down.
		for ctx.Err() == nil {
			if _, err := os.Stat(filepath.Join(dir, "ready")); err == nil {
				cancel()
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	res := drleetest.Run(t, `
local kv = require "kv"
local b = assert(kv.bucket("held"))
local w = b:watch("", function(err, c)
  print("change", err, c and c.key)
  local f = assert(io.open(__dirname__ .. "/ready", "w"))
  f:close()
end)
assert(w:ready())
assert(b:put("k", "v"))
print("main done")
`, drleetest.Options{Dir: dir, Ctx: ctx, Timeout: 20 * time.Second})
	res.MustSucceed(t)
	res.Contains(t, "main done\n", "change\tnil\tk\n")
	if strings.Count(res.Stdout, "change") != 1 {
		t.Errorf("the handler ran %d times, want once:\n%s", strings.Count(res.Stdout, "change"), res.Stdout)
	}
}
