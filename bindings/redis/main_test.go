package redis_test

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/drlee/drlee/internal/leaktest"
)

// server is the redis-server the tests share, started by TestMain on a free port of
// 127.0.0.1 in a temporary directory, without persistence, and stopped after the tests.
var server *redisServer

// TestMain starts the shared redis-server, runs the tests, stops it, and fails the
// package when any goroutine is left: the engines' and go-redis's (every client closes
// with its engine). Exempt, besides what package initialisers started: go-redis's
// tryDial, which a pool starts after as many failed dials as it has connections (a
// server that is down) and which ends at its next one-second probe after the pool closed.
func TestMain(m *testing.M) {
	s, err := startRedis()
	if err != nil {
		fmt.Fprintln(os.Stderr, "redis tests:", err)
		os.Exit(1)
	}
	server = s
	goleak.VerifyTestMain(runAndStop{m, s}, leaktest.AtInit(),
		goleak.IgnoreAnyFunction("github.com/redis/go-redis/v9/internal/pool.(*ConnPool).tryDial"))
}

type runAndStop struct {
	m *testing.M
	s *redisServer
}

func (r runAndStop) Run() int {
	defer r.s.stop()
	return r.m.Run()
}

// redisServer is a redis-server process of the tests'.
type redisServer struct {
	cmd  *exec.Cmd
	dir  string
	port int
	done chan struct{} // closed when the process has exited
}

// url is the server's URI with the database db.
func (s *redisServer) url(db int) string {
	return fmt.Sprintf("redis://127.0.0.1:%d/%d", s.port, db)
}

// startRedis starts redis-server on a free port, with extra arguments, and waits until
// it answers PING there.
func startRedis(extra ...string) (*redisServer, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if _, e := os.Stat("/usr/bin/redis-server"); e != nil {
			return nil, fmt.Errorf("redis-server not found (Debian package redis-server: third_party/luajit/install.sh installs it)")
		}
		bin = "/usr/bin/redis-server"
	}
	dir, err := os.MkdirTemp("", "drlee-redis-")
	if err != nil {
		return nil, err
	}
	var lastErr error
	for try := 0; try < 5; try++ { // a free port may be taken between the look and the bind
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--dir", dir, "--daemonize", "no",
			"--logfile", filepath.Join(dir, "redis.log"))
		cmd.Args = append(cmd.Args, extra...)
		if err := cmd.Start(); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		s := &redisServer{cmd: cmd, dir: dir, port: port, done: make(chan struct{})}
		go func() { cmd.Wait(); close(s.done) }()
		if lastErr = s.waitReady(5 * time.Second); lastErr == nil {
			return s, nil
		}
		s.kill()
	}
	log, _ := os.ReadFile(filepath.Join(dir, "redis.log"))
	os.RemoveAll(dir)
	return nil, fmt.Errorf("redis-server did not start: %v\n%s", lastErr, log)
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitReady waits until the server answers PING.
func (s *redisServer) waitReady(d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		select {
		case <-s.done:
			return fmt.Errorf("redis-server exited")
		default:
		}
		reply, err := s.raw("PING")
		if err == nil && reply == "+PONG" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no PONG within %s: %v %q", d, err, reply)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// raw sends one inline command and returns the first line of the reply.
func (s *redisServer) raw(cmd string) (string, error) {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.port), time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte(cmd + "\r\n")); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimRight(line, "\r\n"), err
}

// info returns a field of INFO (blocked_clients...), "" when absent.
func (s *redisServer) info(field string) string {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.port), time.Second)
	if err != nil {
		return ""
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	c.Write([]byte("INFO\r\n"))
	r := bufio.NewReader(c)
	r.ReadString('\n') // $<len>
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return ""
		}
		if v, ok := strings.CutPrefix(strings.TrimRight(line, "\r\n"), field+":"); ok {
			return v
		}
	}
}

// kill ends the process at once (SIGKILL), as a crash would.
func (s *redisServer) kill() {
	s.cmd.Process.Kill()
	<-s.done
}

// stop ends the process and removes its directory.
func (s *redisServer) stop() {
	s.kill()
	os.RemoveAll(s.dir)
}
