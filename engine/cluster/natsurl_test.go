package cluster

import (
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// natsServerBinary finds the nats-server executable (Debian installs it in
// /usr/sbin, which is not on every PATH).
func natsServerBinary() string {
	if p, err := exec.LookPath("nats-server"); err == nil {
		return p
	}
	for _, p := range []string{"/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"} {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	return ""
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startNATSServer runs the real nats-server binary on a free port.
func startNATSServer(t *testing.T) string {
	t.Helper()
	bin := natsServerBinary()
	if bin == "" {
		t.Skip("nats-server binary not found (Debian package nats-server): skipping the NATSURL test")
	}
	port := freePort(t)
	cmd := exec.Command(bin, "-a", "127.0.0.1", "-p", strconv.Itoa(port))
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	addr := "127.0.0.1:" + strconv.Itoa(port)
	deadline := time.Now().Add(testTimeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("nats-server did not listen on %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "nats://" + addr
}

func TestNATSURL(t *testing.T) {
	t.Parallel()
	url := startNATSServer(t)
	a := startNode(t, Config{Node: "a", NATSURL: url})
	b := startNode(t, Config{Node: "b", NATSURL: url})
	if a.ClusterAddr() != "" {
		t.Fatalf("ClusterAddr = %q with NATSURL", a.ClusterAddr())
	}
	register(t, a, "on.a", newWorker(t, 1, 8, func(*Request) ([]byte, string) { return []byte("a"), "" }))
	register(t, b, "on.b", newWorker(t, 2, 8, func(*Request) ([]byte, string) { return []byte("b"), "" }))
	if r := waitCall(t, a, "on.b"); string(r.result) != "b" {
		t.Fatalf("a→b: %q", r.result)
	}
	if r := waitCall(t, b, "on.a"); string(r.result) != "a" {
		t.Fatalf("b→a: %q", r.result)
	}
	register(t, a, "both", newWorker(t, 1, 8, echo))
	register(t, b, "both", newWorker(t, 2, 8, echo))
	waitNodes(t, a, "both", 2)
	rs, took := broadcast(t, a, "both", []byte("x"), 5*time.Second)
	if len(rs) != 2 || took > time.Second {
		t.Fatalf("broadcast: %+v after %v", rs, took)
	}
	if r := call(t, a, "nowhere", nil, 5*time.Second); r.err == nil || r.elapsed > 100*time.Millisecond {
		t.Fatalf("no handler: %v after %v", r.err, r.elapsed)
	}
}
