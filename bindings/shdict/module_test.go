package shdict_test

import (
	"embed"
	"os"
	"testing"

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

func script(t testing.TB, name string) string {
	t.Helper()
	b, err := testdata.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestLua runs the Lua tests of every method and of odd values; each prints PASS.
func TestLua(t *testing.T) {
	t.Parallel()
	helper := checkLua(t)
	for _, name := range []string{"api", "odd_values"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			res := drleetest.Run(t, script(t, name+".lua"), drleetest.Options{Files: map[string]string{"check.lua": helper}})
			res.MustSucceed(t)
			res.Contains(t, "PASS\n")
		})
	}
}

// TestWorkersShareOneDict: two workers increment one key 100,000 times in all, at the same
// time, and the total is exact.
func TestWorkersShareOneDict(t *testing.T) {
	t.Parallel()
	res := drleetest.Run(t, script(t, "workers.lua"), drleetest.Options{Workers: 2})
	res.MustSucceed(t)
	res.Contains(t, "PASS 100000\n")
}
