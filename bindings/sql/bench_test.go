package sql_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/drlee/drlee/internal/drleetest"
)

func benchTable(b *testing.B, uri string) {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, uri)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, `drop table if exists bench; create table bench (id int primary key, name text);
		insert into bench select i, 'name ' || i from generate_series(1, 100) i`); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkPKSelect: a primary-key select through Lua (await style, one at a time: the
// round trip), the engine's start included once per run.
func BenchmarkPKSelect(b *testing.B) {
	uri := needPG(b)
	benchTable(b, uri)
	b.ReportAllocs()
	b.ResetTimer()
	res := drleetest.Run(b, script(b, "bench_select.lua"), drleetest.Options{Workers: 1, Args: []string{uri, strconv.Itoa(b.N)}})
	if res.Failed {
		b.Fatalf("stdout:\n%s\nstderr:\n%s", res.Stdout, res.Stderr)
	}
}

// BenchmarkPKSelectRawPgx is the same select with pgx directly: what the Lua module adds
// is the difference.
func BenchmarkPKSelectRawPgx(b *testing.B) {
	uri := needPG(b)
	benchTable(b, uri)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, uri)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 1; i <= b.N; i++ {
		var id int
		var name string
		if err := pool.QueryRow(ctx, "select id, name from bench where id = $1", i%100+1).Scan(&id, &name); err != nil {
			b.Fatal(err)
		}
		if id != i%100+1 {
			b.Fatal("wrong row")
		}
	}
}
