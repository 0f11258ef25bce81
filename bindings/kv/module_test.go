package kv_test

// In-process tests of the Lua API through the real engine: one node with no flags (the
// embedded NATS server has no port; JetStream keeps its store in a temporary directory).

import (
	"embed"
	"os"
	"path"
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
