package sql_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"

	"github.com/drlee/drlee/internal/leaktest"
)

// The PostgreSQL server of the tests: a real one (Debian's postgresql package, which
// third_party/luajit/install.sh installs), made with initdb in a temporary directory and
// listening on a free 127.0.0.1 port, its unix socket in that directory too. TestMain starts
// it before the tests and stops it after them. PostgreSQL refuses to run as root, and CI
// runs as root: then the directory belongs to nobody and initdb and postgres run as nobody.
var (
	pgURI  string // postgres://postgres@127.0.0.1:port/postgres?sslmode=disable
	pgErr  error  // why there is no server: the postgres tests fail with it
	pgSkip bool   // DRLEE_SKIP_PG=1 and no server: the postgres tests skip
)

// needPG returns the server's URI, or fails the test (skips it with DRLEE_SKIP_PG=1) when
// there is no server.
func needPG(t testing.TB) string {
	t.Helper()
	if pgErr != nil {
		if pgSkip {
			t.Skipf("no PostgreSQL (DRLEE_SKIP_PG=1): %v", pgErr)
		}
		t.Fatalf("no PostgreSQL: %v (install it with third_party/luajit/install.sh, or set DRLEE_SKIP_PG=1 to skip)", pgErr)
	}
	return pgURI
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(withPG{m}, leaktest.AtInit()) }

type withPG struct{ m *testing.M }

func (p withPG) Run() int {
	stop, err := startPG()
	if err != nil {
		pgErr = err
		pgSkip = os.Getenv("DRLEE_SKIP_PG") == "1"
		fmt.Fprintf(os.Stderr, "sql tests: no PostgreSQL: %v\n", err)
	} else {
		defer stop()
	}
	return p.m.Run()
}

// pgBinDir is the newest /usr/lib/postgresql/N/bin with initdb and postgres.
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
	return "", fmt.Errorf("no /usr/lib/postgresql/*/bin/initdb")
}

func startPG() (stop func(), err error) {
	bin, err := pgBinDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "drlee-pg-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("nobody")
		if err != nil {
			return nil, fmt.Errorf("running as root, and no user nobody to run postgres as: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	cmd := func(name string, args ...string) *exec.Cmd {
		c := exec.Command(filepath.Join(bin, name), args...)
		c.Dir = dir
		c.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C", "HOME=" + dir}
		if cred != nil {
			c.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		}
		return c
	}
	if out, err := cmd("initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(os.TempDir(), filepath.Base(dir)+".log"))
	if err != nil {
		return nil, err
	}
	srv := cmd("postgres", "-D", data, "-p", strconv.Itoa(port), "-k", dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off", "-c", "max_connections=100", "-c", "shared_buffers=32MB")
	srv.Stdout, srv.Stderr = logf, logf
	if err := srv.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- srv.Wait() }()
	stop = func() {
		srv.Process.Signal(syscall.SIGINT) // fast shutdown
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			srv.Process.Kill()
			<-exited
		}
		logf.Close()
		os.Remove(logf.Name())
		os.RemoveAll(dir)
	}
	uri := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, cerr := pgx.Connect(ctx, uri)
		if cerr == nil {
			conn.Close(ctx)
			cancel()
			break
		}
		cancel()
		select {
		case werr := <-exited:
			b, _ := os.ReadFile(logf.Name())
			logf.Close()
			os.Remove(logf.Name())
			return nil, fmt.Errorf("postgres exited: %v\n%s", werr, b)
		default:
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("postgres did not accept connections within 30 s: %v", cerr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	pgURI = uri
	return stop, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
