package json_test

import (
	"embed"
	"os"
	"path"
	"strings"
	"testing"

	"github.com/drlee/drlee/internal/drleetest"
)

//go:embed testdata/*.lua
var testdata embed.FS

// checkLua is the Lua assert helper shared with bindings/core.
func checkLua(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../core/testdata/check.lua")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestLua runs every testdata/*.lua through the real engine; each prints PASS when done.
func TestLua(t *testing.T) {
	t.Parallel()
	entries, err := testdata.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	helper := checkLua(t)
	for _, e := range entries {
		name := e.Name()
		if path.Ext(name) != ".lua" {
			continue
		}
		t.Run(strings.TrimSuffix(name, ".lua"), func(t *testing.T) {
			t.Parallel()
			src, err := testdata.ReadFile("testdata/" + name)
			if err != nil {
				t.Fatal(err)
			}
			res := drleetest.Run(t, string(src), drleetest.Options{Files: map[string]string{"check.lua": helper}})
			res.MustSucceed(t)
			res.Contains(t, "PASS\n")
		})
	}
}
