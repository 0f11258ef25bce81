package sql_test

import (
	"embed"
	"strings"
	"testing"
	"time"

	"github.com/drlee/drlee/internal/drleetest"
)

//go:embed testdata/*.lua
var scripts embed.FS

func script(t testing.TB, name string) string {
	t.Helper()
	b, err := scripts.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// run runs testdata/name with args, check.lua beside it, and wants it to print PASS.
func run(t *testing.T, name string, o drleetest.Options) drleetest.Result {
	t.Helper()
	if o.Files == nil {
		o.Files = map[string]string{}
	}
	o.Files["check.lua"] = script(t, "check.lua")
	if o.Workers == 0 {
		o.Workers = 1
	}
	if o.Timeout == 0 {
		o.Timeout = 60 * time.Second
	}
	res := drleetest.Run(t, script(t, name), o)
	if res.Failed || !strings.Contains(res.Stdout, "PASS\n") {
		t.Fatalf("%s failed: %v\nstdout:\n%s\nstderr:\n%s", name, res.Err, res.Stdout, res.Stderr)
	}
	return res
}

func TestPGTypes(t *testing.T) {
	run(t, "pg_types.lua", drleetest.Options{Args: []string{needPG(t)}})
}
