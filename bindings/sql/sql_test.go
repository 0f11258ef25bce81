package sql_test

import (
	"context"
	"embed"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

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

func TestPGBehaviour(t *testing.T) {
	uri := needPG(t)
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	refused := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=5", port)
	run(t, "pg_behaviour.lua", drleetest.Options{Args: []string{uri, refused}})
	// The transaction the script left open when its worker ended was rolled back, and
	// no connection of the script's is left.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, uri)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "select count(*) from kv where k = 'at_end'").Scan(&n); err != nil || n != 0 {
		t.Fatalf("the transaction open at the worker's end: %d rows, %v", n, err)
	}
	for i := 0; ; i++ {
		if err := conn.QueryRow(ctx, "select count(*) from pg_stat_activity where backend_type = 'client backend' and pid <> pg_backend_pid()").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if i == 100 {
			t.Fatalf("%d connections left after the script ended", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSQLite(t *testing.T) {
	run(t, "sqlite.lua", drleetest.Options{Args: []string{t.TempDir()}})
}

func TestOddArguments(t *testing.T) { run(t, "args.lua", drleetest.Options{}) }
