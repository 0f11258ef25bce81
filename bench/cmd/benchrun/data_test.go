package main

import (
	"bufio"
	"context"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/drlee/drlee/bench/scenario"
)

// newTestBench is a bench with a temp dir of its own (not t.TempDir: PostgreSQL runs as
// nobody when the tests run as root, and must reach its directory through it).
func newTestBench(t *testing.T) *bench {
	t.Helper()
	dir, err := os.MkdirTemp("", "benchrun-test-")
	if err != nil {
		t.Fatal(err)
	}
	b := &bench{tmp: dir, serverCores: 1}
	t.Cleanup(func() {
		b.stopData()
		os.RemoveAll(dir)
	})
	return b
}

// TestDataServers starts the data scenarios' Redis and PostgreSQL as benchrun does and
// reads back what the scenarios will ask for, then checks that they are stopped.
func TestDataServers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts redis-server and PostgreSQL")
	}
	b := newTestBench(t)
	ctx := context.Background()
	for _, scn := range []string{scenario.RedisGet, scenario.PGSelect} {
		if why := b.dataFor(ctx, scn); why != "" {
			t.Fatalf("%s: %s", scn, why)
		}
	}
	if why := b.dataFor(ctx, scenario.Hello); why != "" {
		t.Errorf("hello needs no data server, got %q", why)
	}

	redisAddr := strings.TrimSuffix(strings.TrimPrefix(b.data.redisURI, "redis://"), "/0")
	if got := redisGet(t, redisAddr, scenario.RedisKey); got != scenario.RedisValue {
		t.Errorf("GET %s = %q, want %q", scenario.RedisKey, got, scenario.RedisValue)
	}

	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, b.data.pgURI)
	if err != nil {
		t.Fatal(err)
	}
	var row scenario.PGRow
	err = conn.QueryRow(cctx, scenario.PGQuery, scenario.PGID).Scan(&row.ID, &row.Name, &row.Qty)
	conn.Close(cctx)
	if err != nil {
		t.Fatal(err)
	}
	if row != scenario.PGWant() {
		t.Errorf("pg-select row %+v, want %+v", row, scenario.PGWant())
	}
	if len(b.setup) != 2 || !strings.HasPrefix(b.setup[0], "Redis ") || !strings.HasPrefix(b.setup[1], "PostgreSQL ") {
		t.Errorf("setup lines %q, want a Redis line and a PostgreSQL line", b.setup)
	}

	procs := b.data.procs
	b.stopData()
	for kind, p := range procs {
		select {
		case <-p.done:
		default:
			t.Errorf("%s still running after stopData", kind)
		}
	}
	if c, err := net.DialTimeout("tcp", redisAddr, time.Second); err == nil {
		c.Close()
		t.Errorf("redis-server still accepts on %s", redisAddr)
	}
}

// redisGet GETs key and returns the bulk string's value.
func redisGet(t *testing.T, addr, key string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("GET " + key + "\r\n")); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	head, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(head, "$") {
		t.Fatalf("GET %s: %q %v", key, head, err)
	}
	value, err := r.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimRight(value, "\r\n")
}

// TestDataServersMissing: without redis-server on PATH the redis-get rows are "not
// available", said once and remembered, and nothing is started.
func TestDataServersMissing(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	b := newTestBench(t)
	why := b.dataFor(context.Background(), scenario.RedisGet)
	if !strings.Contains(why, "redis-server not installed") {
		t.Fatalf("dataFor(redis-get) = %q, want redis-server not installed", why)
	}
	if again := b.dataFor(context.Background(), scenario.RedisGet); again != why {
		t.Errorf("second dataFor = %q, want %q", again, why)
	}
	if len(b.data.procs) != 0 {
		t.Errorf("started %d processes", len(b.data.procs))
	}
}
