package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/drlee/drlee/bench/scenario"
)

// server is one of the compared HTTP servers.
type server struct {
	key     string // for -servers
	name    string // as shown in the tables
	missing string // why it cannot run on this machine; "" when it can
	// lacks, when set, says why the server has no version of scenario scn ("" when it
	// has one).
	lacks func(scn string) string
	// argv and env start it serving scenario scn on 127.0.0.1:port with the
	// given number of cores (GOMAXPROCS, --workers, worker_processes).
	start func(b *bench, scn string, port int) (argv, env []string, err error)
}

// The server names; fasthttpName is the baseline of the ratio column.
const (
	drleeName       = "Dr.LEE"
	drleeLockedName = "Dr.LEE --lock-threads"
	drleeSysmonName = "Dr.LEE --sysmon-awake"
	drleeAwaitName  = "Dr.LEE, await style"
	fasthttpName    = "raw fasthttp"
	nethttpName     = "net/http"
	gopherluaName   = "fasthttp + gopher-lua pool"
	nginxName       = "nginx + Lua"
)

func (b *bench) servers() []*server {
	cores := strconv.Itoa(b.serverCores)
	goEnv := []string{"GOMAXPROCS=" + cores}
	peer := func(bin string) func(*bench, string, int) ([]string, []string, error) {
		return func(b *bench, scn string, port int) ([]string, []string, error) {
			argv := []string{filepath.Join(b.tmp, bin), "-addr", addr(port)}
			switch scenario.Needs(scn) { // only the fasthttp peer has the data scenarios
			case scenario.Redis:
				argv = append(argv, "-redis", b.data.redisURI, "-redis-pool", strconv.Itoa(scenario.RedisPoolSize))
			case scenario.Postgres:
				argv = append(argv, "-pg", b.data.pgURI, "-pg-pool", strconv.Itoa(scenario.PGPoolPerCore*b.serverCores))
			}
			return argv, goEnv, nil
		}
	}
	drlee := func(dir string, flags ...string) func(*bench, string, int) ([]string, []string, error) {
		return func(b *bench, scn string, port int) ([]string, []string, error) {
			argv := append([]string{b.drlee, "run", "--workers", cores}, flags...)
			argv = append(argv, filepath.Join(dir, scn+".lua"), strconv.Itoa(port))
			// The data scenarios' scripts take the server's URI and their pool size.
			switch scenario.Needs(scn) {
			case scenario.Redis:
				argv = append(argv, b.data.redisURI, strconv.Itoa(scenario.RedisPoolSize))
			case scenario.Postgres:
				argv = append(argv, b.data.pgURI, strconv.Itoa(scenario.PGPoolPerCore))
			}
			return argv, goEnv, nil
		}
	}
	scenarios := filepath.Join("bench", "scenarios")
	awaitScenarios := filepath.Join(scenarios, "await")
	all := []*server{
		{key: "drlee", name: drleeName, missing: b.drleeMissing, start: drlee(scenarios)},
		{key: "drlee-locked", name: drleeLockedName, missing: b.drleeMissing, start: drlee(scenarios, "--lock-threads")},
		{key: "drlee-sysmon", name: drleeSysmonName, missing: b.drleeMissing, start: drlee(scenarios, "--sysmon-awake")},
		{key: "drlee-await", name: drleeAwaitName, missing: b.drleeMissing, start: drlee(awaitScenarios),
			lacks: func(scn string) string {
				if _, err := os.Stat(filepath.Join(awaitScenarios, scn+".lua")); err != nil {
					return "no await-style version of this scenario"
				}
				return ""
			}},
		{key: "fasthttp", name: fasthttpName, start: peer("fasthttp"), lacks: lacksShdict},
		{key: "nethttp", name: nethttpName, start: peer("nethttp"), lacks: either(lacksShdict, noData("the Go baseline for it is raw fasthttp's"))},
		{key: "gopherlua", name: gopherluaName, start: peer("gopherlua"), lacks: either(lacksShdict, noData("gopher-lua has no Redis or PostgreSQL client here"))},
		{key: "nginx", name: nginxName, missing: nginxMissing(), start: startNginx, lacks: noData(
			"Debian 12 packages no lua-resty-redis or lua-resty-postgres for nginx + Lua")},
	}
	if len(b.cfg.servers) == 0 {
		return all
	}
	var some []*server
	for _, s := range all {
		if slices.Contains(b.cfg.servers, s.key) {
			some = append(some, s)
		}
	}
	return some
}

// noData is the lacks of a server that runs no data scenario (redis-get, pg-select).
func noData(why string) func(string) string {
	return func(scn string) string {
		if scenario.Needs(scn) != "" {
			return "no " + scn + " version: " + why
		}
		return ""
	}
}

// missingFor says why s cannot serve scenario scn, or "".
func (s *server) missingFor(scn string) string {
	if s.missing == "" && s.lacks != nil {
		return s.lacks(scn)
	}
	return s.missing
}

func addr(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }

// drleeMissing says why bin/drlee cannot run, or "".
func drleeMissing(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return "bin/drlee not built (make build)"
	}
	if fi.Mode()&0o111 == 0 {
		return "bin/drlee is not executable"
	}
	return ""
}

// The nginx Lua module and OpenResty's LuaJIT, as bench/deps.sh unpacks them.
const nginxCache = "bench/.cache/nginx-lua"

func nginxMissing() string {
	if _, err := exec.LookPath("nginx"); err != nil {
		return "nginx not installed (make bench-deps)"
	}
	if _, err := os.Stat(filepath.Join(nginxCache, "usr/lib/nginx/modules/ngx_http_lua_module.so")); err != nil {
		return "nginx Lua module not unpacked in " + nginxCache + " (make bench-deps)"
	}
	return ""
}

// startNginx writes bench/nginx/nginx.conf.tmpl, filled in, to a directory of
// its own under the temp dir, for nginx's pid, logs and temp files.
func startNginx(b *bench, scn string, port int) ([]string, []string, error) {
	tmpl, err := template.ParseFiles("bench/nginx/nginx.conf.tmpl")
	if err != nil {
		return nil, nil, err
	}
	dir := filepath.Join(b.tmp, fmt.Sprintf("nginx-%d", port))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, err
	}
	cache, _ := filepath.Abs(nginxCache)
	data := map[string]any{
		"Dir":     dir,
		"Port":    port,
		"Workers": b.serverCores,
		"Modules": filepath.Join(cache, "usr/lib/nginx/modules"),
		"LuaPath": filepath.Join(cache, "usr/share/lua/5.1"),
		"User":    "",
	}
	// As root, nginx would run its workers as nobody, who cannot read the temp
	// dir; keep them as the user that started it.
	if os.Geteuid() == 0 {
		if u, err := user.Current(); err == nil {
			data["User"] = u.Username
		}
	}
	var conf bytes.Buffer
	if err := tmpl.Execute(&conf, data); err != nil {
		return nil, nil, err
	}
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, conf.Bytes(), 0o644); err != nil {
		return nil, nil, err
	}
	argv := []string{"nginx", "-p", dir, "-e", filepath.Join(dir, "error.log"), "-c", confPath}
	env := []string{"LD_LIBRARY_PATH=" + filepath.Join(cache, "usr/lib/x86_64-linux-gnu")}
	return argv, env, nil
}

// running is a server process serving one scenario.
type running struct {
	srv  *server
	port int
	p    *proc
}

// launch starts srv for scn on port, waits until it accepts connections,
// and checks one answer.
func (b *bench) launch(ctx context.Context, srv *server, scn string, port int) (*running, error) {
	argv, env, err := srv.start(b, scn, port)
	if err != nil {
		return nil, err
	}
	p, err := start(srv.name, env, nil, b.pinServer(argv)...)
	if err != nil {
		return nil, err
	}
	r := &running{srv: srv, port: port, p: p}
	if err := waitReady(ctx, p, port, 10*time.Second); err != nil {
		p.stop()
		return nil, err
	}
	if err := checkAnswer(port, scn); err != nil {
		p.stop()
		return nil, fmt.Errorf("wrong answer: %v", err)
	}
	return r, nil
}

// freePorts asks the kernel for n distinct free ports on 127.0.0.1 (all
// held open until the last is chosen, so none is handed out twice). Another
// process could take one before its server binds it; that server then fails
// to start and its row says so.
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer ln.Close()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func waitReady(ctx context.Context, p *proc, port int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr(port), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("exited (%v): %s", p.err, p.out.lastLines(3))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not accepting on port %d after %v: %s", port, timeout, p.out.lastLines(3))
		}
	}
}

func checkAnswer(port int, scn string) error {
	req, err := http.NewRequest(scenario.Method(scn), "http://"+addr(port)+"/"+scn, bytes.NewReader(scenario.Body(scn)))
	if err != nil {
		return err
	}
	if scn == scenario.JSON {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	return checkScenario(scn, resp.StatusCode, body)
}

// pinServer and pinLoad prefix argv with taskset when pinning: servers on
// CPUs 1..n-1, the load generator on CPU 0.
func (b *bench) pinServer(argv []string) []string { return b.pin(b.serverCPUs, argv) }
func (b *bench) pinLoad(argv []string) []string   { return b.pin(b.loadCPUs, argv) }

func (b *bench) pin(cpus string, argv []string) []string {
	if cpus == "" {
		return argv
	}
	return append([]string{"taskset", "-c", cpus}, argv...)
}

// versionOf returns the first line cmd prints (to stdout or stderr), or "".
func versionOf(argv ...string) string {
	if _, err := exec.LookPath(argv[0]); err != nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line
}
