package http_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/internal/accesslog"
	"github.com/drlee/drlee/internal/drleetest"
	"github.com/drlee/drlee/internal/observe"
)

// BenchmarkServerHelloObserved is BenchmarkServerHello (lock=false) with the access log
// (to a file) and the metrics on and off: off is the twin the others are compared with.
//
//	go test -tags luajit -run '^$' -bench 'HelloObserved' -benchtime 3s ./bindings/http/
func BenchmarkServerHelloObserved(b *testing.B) {
	for _, tc := range []struct {
		name         string
		log, metrics bool
	}{{"off", false, false}, {"log", true, false}, {"metrics", false, true}, {"both", true, true}} {
		b.Run(tc.name, func(b *testing.B) {
			addr := startObservedEngine(b, tc.log, tc.metrics)
			driveHello(b, addr)
		})
	}
}

// startObservedEngine is startBenchEngine with an access log and a metrics listener, as
// drlee run --access-log FILE --metrics 127.0.0.1:0 sets them up.
func startObservedEngine(b *testing.B, log, metrics bool) string {
	b.Helper()
	path := filepath.Join(b.TempDir(), "bench.lua")
	if err := os.WriteFile(path, []byte(helloScript), 0o644); err != nil {
		b.Fatal(err)
	}
	addr := freeAddr(b)
	var logs drleetest.SyncBuffer
	e, err := engine.New(engine.Config{
		Script: path, Args: []string{addr}, Workers: benchWorkers,
		ShutdownTimeout: 5 * time.Second, Stdout: io.Discard, Stderr: &logs,
	})
	if err != nil {
		b.Fatal(err)
	}
	var l *accesslog.Log
	if log {
		l, err = accesslog.Open(filepath.Join(b.TempDir(), "access.log"), nil, accesslog.Combined, benchWorkers)
		if err != nil {
			b.Fatal(err)
		}
		observe.Of(e).SetAccessLog(l)
		if err := l.Start(e); err != nil {
			b.Fatal(err)
		}
	}
	if metrics {
		if _, err := observe.Serve(e, "127.0.0.1:0"); err != nil {
			b.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	b.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			b.Error("engine did not stop")
		}
		if l != nil {
			l.Close()
			if d := l.Dropped(); d > 0 {
				b.Logf("%d access log lines dropped", d)
			}
		}
	})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			b.Fatal(fmt.Sprintf("no server on %s\n%s", addr, logs.String()))
		}
	}
}
