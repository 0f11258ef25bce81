package network_test

import (
	"embed"
	"fmt"
	"os"
	"strconv"
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

// checkLua is the Lua assert helper shared with bindings/core.
func checkLua(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("../core/testdata/check.lua")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// run runs testdata/name with check.lua beside it.
func run(t *testing.T, name string, o drleetest.Options) drleetest.Result {
	t.Helper()
	if o.Files == nil {
		o.Files = map[string]string{}
	}
	o.Files["check.lua"] = checkLua(t)
	return drleetest.Run(t, script(t, name), o)
}

func TestEcho(t *testing.T) {
	t.Parallel()
	res := run(t, "echo.lua", drleetest.Options{})
	res.MustSucceed(t)
	res.Contains(t, "callback echo\thello\n", "read after close\tECLOSED\t", "write after close\tECLOSED\n",
		"close after close\tECLOSED\n", "await echo\tawait\n", "await read after close\tnil\tECLOSED\n")
	t.Log(res.Stdout)
}

// TestManyConnections: 1000 connections at once across 2 workers, nothing lost: every
// connection echoes its own message whole, each is served once, both workers serve, and
// both share one port.
func TestManyConnections(t *testing.T) {
	t.Parallel()
	const perWorker = 500
	res := run(t, "many.lua", drleetest.Options{Workers: 2, Args: []string{strconv.Itoa(perWorker)}, Timeout: 60 * time.Second})
	res.MustSucceed(t)
	served := map[string]int{}
	var addrs []string
	total, clients := 0, 0
	var wantBytes int
	for i := 1; i <= perWorker; i++ {
		wantBytes += len(fmt.Sprintf("[x:%d]", i)) + (i*37)%5000
	}
	for _, line := range strings.Split(strings.TrimSpace(res.Stdout), "\n") {
		f := strings.Split(line, "\t")
		switch f[0] {
		case "served":
			served[f[1]]++
			total++
		case "addr":
			addrs = append(addrs, f[2])
		case "clients":
			clients++
			if f[2] != strconv.Itoa(perWorker) {
				t.Errorf("worker %s: %s clients ok, want %d", f[1], f[2], perWorker)
			}
			if f[3] != strconv.Itoa(wantBytes) {
				t.Errorf("worker %s: %s bytes echoed, want %d", f[1], f[3], wantBytes)
			}
		}
	}
	if total != 2*perWorker || clients != 2 {
		t.Fatalf("%d connections served, %d workers done; want %d and 2\n%s", total, clients, 2*perWorker, res.Stderr)
	}
	if served["1"] == 0 || served["2"] == 0 {
		t.Errorf("served by worker: %v; want both", served)
	}
	if len(addrs) != 2 || addrs[0] != addrs[1] {
		t.Errorf("addresses %v: want one shared", addrs)
	}
	t.Logf("served by worker: %v", served)
}
