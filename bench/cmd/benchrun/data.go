package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/drlee/drlee/bench/scenario"
)

// dataServers are the Redis and PostgreSQL servers of the data scenarios (redis-get,
// pg-select): benchrun starts each the first time a selected scenario needs it, on a
// free port of 127.0.0.1 in a directory under its temp dir, fills it with the
// scenario's data, and stops it after the HTTP comparison (or at the end with every
// other process). They run on the load generator's CPU when pinning: the server's
// cores stay its own, and its CPU/req column counts only its own work.
type dataServers struct {
	tried map[string]bool
	why   map[string]string // why a data server is not available ("" or absent: it is)
	procs map[string]*proc

	redisURI string
	pgURI    string
}

// dataFor starts the data server scenario scn needs, once, and says why it cannot run
// ("" when it can, or when scn needs none).
func (b *bench) dataFor(ctx context.Context, scn string) string {
	kind := scenario.Needs(scn)
	if kind == "" {
		return ""
	}
	d := &b.data
	if d.tried == nil {
		d.tried, d.why, d.procs = map[string]bool{}, map[string]string{}, map[string]*proc{}
	}
	if d.tried[kind] {
		return d.why[kind]
	}
	d.tried[kind] = true
	var (
		version string
		err     error
	)
	switch kind {
	case scenario.Redis:
		version, err = b.startRedis(ctx)
	case scenario.Postgres:
		version, err = b.startPostgres(ctx)
	}
	if err != nil {
		d.why[kind] = err.Error()
		fmt.Printf("%s: %v\n", kind, err)
		return d.why[kind]
	}
	where := "sharing the load generator's CPU " + b.loadCPUs
	if b.loadCPUs == "" {
		where = "unpinned"
	}
	line := fmt.Sprintf("%s on 127.0.0.1, started by benchrun, %s; ", version, where)
	switch kind {
	case scenario.Redis:
		line += fmt.Sprintf("redis-get pools: %d connections per server process (Dr.LEE's redis clients share one pool per process)", scenario.RedisPoolSize)
	case scenario.Postgres:
		line += fmt.Sprintf("pg-select pools: %d connections per worker for Dr.LEE, %d for the Go baseline's pgxpool (%d per core)",
			scenario.PGPoolPerCore, scenario.PGPoolPerCore*b.serverCores, scenario.PGPoolPerCore)
	}
	b.setup = append(b.setup, line)
	fmt.Println(line)
	return ""
}

// stopData stops the data servers: PostgreSQL with a fast shutdown (SIGINT), then
// whatever is left of both as every process is stopped.
func (b *bench) stopData() {
	if p := b.data.procs[scenario.Postgres]; p != nil {
		syscall.Kill(p.cmd.Process.Pid, syscall.SIGINT)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
		}
	}
	for _, p := range b.data.procs {
		p.stop()
	}
	b.data.procs = map[string]*proc{}
}

// startRedis starts redis-server without persistence and SETs the redis-get key.
func (b *bench) startRedis(ctx context.Context) (string, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", fmt.Errorf("redis-server not installed (make bench-deps)")
	}
	dir := filepath.Join(b.tmp, "redis")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	ports, err := freePorts(1)
	if err != nil {
		return "", err
	}
	argv := []string{bin, "--port", strconv.Itoa(ports[0]), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir, "--daemonize", "no"}
	p, err := start("redis-server", nil, nil, b.pinLoad(argv)...)
	if err != nil {
		return "", err
	}
	b.data.procs[scenario.Redis] = p
	a := addr(ports[0])
	deadline := time.Now().Add(10 * time.Second)
	for {
		reply, err := redisCommand(a, "PING")
		if err == nil && reply == "+PONG" {
			break
		}
		select {
		case <-p.done:
			return "", fmt.Errorf("redis-server exited (%v): %s", p.err, p.out.lastLines(3))
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("redis-server did not answer PING within 10 s: %v %q", err, reply)
		}
	}
	if reply, err := redisCommand(a, "SET", scenario.RedisKey, scenario.RedisValue); err != nil || reply != "+OK" {
		return "", fmt.Errorf("redis-server: SET %s: %v %q", scenario.RedisKey, err, reply)
	}
	b.data.redisURI = "redis://" + a + "/0"
	version := "Redis"
	if f := strings.Fields(versionOf(bin, "--version")); len(f) > 2 {
		version += " " + strings.TrimPrefix(f[2], "v=") // "Redis server v=7.0.15 sha=..."
	}
	return version, nil
}

// redisCommand sends one command in RESP and returns the first line of the reply.
func redisCommand(a string, args ...string) (string, error) {
	c, err := net.DialTimeout("tcp", a, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	cmd := fmt.Sprintf("*%d\r\n", len(args))
	for _, s := range args {
		cmd += fmt.Sprintf("$%d\r\n%s\r\n", len(s), s)
	}
	if _, err := c.Write([]byte(cmd)); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimRight(line, "\r\n"), err
}

// pgBinDir is the newest /usr/lib/postgresql/N/bin with initdb and postgres (Debian puts
// them there, off PATH).
func pgBinDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(dirs[i]))))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(dirs[j]))))
		return vi > vj
	})
	for _, d := range dirs {
		bin := filepath.Dir(d)
		if _, err := os.Stat(filepath.Join(bin, "postgres")); err == nil {
			return bin, nil
		}
	}
	return "", fmt.Errorf("PostgreSQL not installed: no /usr/lib/postgresql/*/bin/initdb (make bench-deps)")
}

// startPostgres makes a cluster with initdb (trust authentication, no fsync: the data
// is the bench's own) and starts postgres on it, as nobody when benchrun runs as root,
// then creates the pg-select table.
func (b *bench) startPostgres(ctx context.Context) (string, error) {
	bin, err := pgBinDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(b.tmp, "postgres")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("nobody")
		if err != nil {
			return "", fmt.Errorf("running as root, and no user nobody to run postgres as: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		// nobody must reach its directory: the temp dir is root's, 0700; let others
		// through it (not list it) and give nobody the postgres directory.
		if err := os.Chmod(b.tmp, 0o711); err != nil {
			return "", err
		}
		if err := os.Chown(dir, uid, gid); err != nil {
			return "", err
		}
	}
	env := []string{"LC_ALL=C", "HOME=" + dir}
	data := filepath.Join(dir, "data")
	if _, err := runAs(ctx, cred, 2*time.Minute, "initdb", env, filepath.Join(bin, "initdb"), "-D", data,
		"-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"); err != nil {
		return "", err
	}
	ports, err := freePorts(1)
	if err != nil {
		return "", err
	}
	// Enough connections for every server's pool at once (all are started together).
	maxConns := 8*scenario.PGPoolPerCore*b.serverCores + 10
	argv := []string{filepath.Join(bin, "postgres"), "-D", data, "-p", strconv.Itoa(ports[0]), "-k", dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off", "-c", "max_connections=" + strconv.Itoa(maxConns),
		"-c", "shared_buffers=32MB"}
	p, err := startAs(cred, "postgres", env, nil, b.pinLoad(argv)...)
	if err != nil {
		return "", err
	}
	b.data.procs[scenario.Postgres] = p
	uri := fmt.Sprintf("postgres://postgres@%s/postgres?sslmode=disable", addr(ports[0]))
	deadline := time.Now().Add(30 * time.Second)
	var conn *pgx.Conn
	for {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		conn, err = pgx.Connect(cctx, uri)
		cancel()
		if err == nil {
			break
		}
		select {
		case <-p.done:
			return "", fmt.Errorf("postgres exited (%v): %s", p.err, p.out.lastLines(3))
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("postgres did not accept connections within 30 s: %v: %s", err, p.out.lastLines(3))
		}
	}
	defer conn.Close(context.Background())
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := conn.Exec(sctx, scenario.PGSchema, pgx.QueryExecModeSimpleProtocol); err != nil {
		return "", fmt.Errorf("postgres: creating the pg-select table: %v", err)
	}
	var version string
	if err := conn.QueryRow(sctx, "show server_version").Scan(&version); err != nil {
		return "", fmt.Errorf("postgres: %v", err)
	}
	b.data.pgURI = uri
	if f := strings.Fields(version); len(f) > 0 {
		version = f[0] // "15.8 (Debian 15.8-0+deb12u1)"
	}
	return "PostgreSQL " + version, nil
}
