package redis_test

import (
	"context"
	"embed"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/internal/drleetest"
)

//go:embed testdata/*.lua
var testdata embed.FS

// checkLua is the Lua assert helper shared with bindings/core.
func checkLua(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("../core/testdata/check.lua")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestLua runs every testdata/*.lua through the real engine against the shared server;
// each prints PASS when done. Its arguments: the server's URI, a key prefix of its own
// (the tests run in parallel on one database), and a port where nothing listens.
func TestLua(t *testing.T) {
	t.Parallel()
	entries, err := testdata.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	helper := checkLua(t)
	for _, e := range entries {
		name := e.Name()
		if path.Ext(name) != ".lua" || strings.HasPrefix(name, "bench_") {
			continue
		}
		t.Run(strings.TrimSuffix(name, ".lua"), func(t *testing.T) {
			t.Parallel()
			src, err := testdata.ReadFile("testdata/" + name)
			if err != nil {
				t.Fatal(err)
			}
			down := strconv.Itoa(drleetest.FreePort(t))
			res := drleetest.Run(t, string(src), drleetest.Options{
				Files: map[string]string{"check.lua": helper},
				Args:  []string{server.url(0), "test:" + name, down},
			})
			res.MustSucceed(t)
			res.Contains(t, "PASS\n")
		})
	}
}

// TestKilledMidCall: a server killed (SIGKILL) while a command waits for its reply gives
// that command ECONNRESET, and the next ones ECONNREFUSED; a subscription's handler gets
// ECONNRESET once, and the subscription ends (the run ends: it no longer holds the worker).
func TestKilledMidCall(t *testing.T) {
	t.Parallel()
	s, err := startRedis()
	if err != nil {
		t.Fatal(err)
	}
	defer s.stop()
	go func() { // once the BLPOP blocks on the server, kill it
		deadline := time.Now().Add(10 * time.Second)
		for s.info("blocked_clients") != "1" && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		s.kill()
	}()
	res := drleetest.Run(t, `
local redis = require "redis"
local c = redis.new(arg[1], {read_timeout = 0})
local sub = c:subscribe("ch", function(err, m) print("handler", m, err_code(err), err) end)
assert(sub:ready())
local v, err = c:call("BLPOP", "k", 30)
print("blpop", v, err_code(err), err)
-- A connection of the pool made before the crash fails when it is used (ECONNRESET);
-- then new ones are refused.
for i = 1, 25 do
  v, err = c:call("PING")
  if err_code(err) ~= "ECONNRESET" then break end
end
print("ping", v, err_code(err), err)
`, drleetest.Options{Args: []string{s.url(0)}, Timeout: 20 * time.Second})
	res.MustSucceed(t)
	res.Contains(t, "blpop\tnil\tECONNRESET\t", "ping\tnil\tECONNREFUSED\t", "handler\tnil\tECONNRESET\tECONNRESET: redis subscribe: the server closed the connection (EOF)\n")
	if n := strings.Count(res.Stdout, "handler"); n != 1 {
		t.Errorf("the handler was called %d times, want once:\n%s", n, res.Stdout)
	}
}

// TestSharedPool: the clients of all workers of an engine made with the same URI and
// options share one pool of pool_size connections: 2 workers with 20 commands and 10
// pipelines in flight each, with pool_size 3, open at most 3 connections, counted by the server (a dedicated
// one, so that no other test's connections count).
func TestSharedPool(t *testing.T) {
	t.Parallel()
	s, err := startRedis()
	if err != nil {
		t.Fatal(err)
	}
	defer s.stop()
	res := drleetest.Run(t, `
local redis = require "redis"
local c = redis.new(arg[1], {pool_size = 3})
local hs = {}
for i = 1, 20 do hs[i] = spawn(function() return c:call("BLPOP", "nothing", 0.05) end) end
-- Pipelines take their connections from the same pool (go-redis has a second pool for
-- them unless told otherwise).
for i = 21, 30 do hs[i] = spawn(function() return c:pipeline({{"BLPOP", "nothing", 0.05}}) end) end
for i, r in ipairs(wait_all(hs)) do assert(r.err == nil, r.err) end
-- Another pool (other options), for the count: one connection more.
local info = redis.new(arg[1], {pool_size = 1}):call("INFO", "clients")
print("worker " .. env.worker_id .. " " .. info:match("connected_clients:(%d+)"))
`, drleetest.Options{Args: []string{s.url(0)}, Workers: 2, Timeout: 20 * time.Second})
	res.MustSucceed(t)
	for _, line := range strings.Split(strings.TrimSpace(res.Stdout), "\n") {
		var w, n int
		if _, err := fmt.Sscanf(line, "worker %d %d", &w, &n); err != nil {
			t.Fatalf("line %q: %v\n%s", line, err, res.Stdout)
		}
		if n > 4 { // 3 in the pool, 1 for INFO (shared by the workers too)
			t.Errorf("worker %d saw %d connections, want at most 4 (one pool of 3 per engine)", w, n)
		}
	}
}

// TestShutdownEndsSubscriptions: a subscription holds its worker, and a shutdown (SIGTERM)
// closes it, so that the run ends well before its timeout, without an error.
func TestShutdownEndsSubscriptions(t *testing.T) {
	t.Parallel()
	start := time.Now()
	res := drleetest.Run(t, `
local redis = require "redis"
local c = redis.new(arg[1])
local sub = c:subscribe({"forever"}, function(err, m) print("handler", err) end)
assert(sub:ready())
print("subscribed")
`, drleetest.Options{
		Args: []string{server.url(0)},
		Started: func(e *engine.Engine) {
			time.Sleep(500 * time.Millisecond)
			e.Shutdown()
		},
		Timeout: 10 * time.Second,
	})
	res.MustSucceed(t)
	res.Contains(t, "subscribed\n")
	if strings.Contains(res.Stdout, "handler") {
		t.Errorf("the handler was called at shutdown:\n%s", res.Stdout)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the run took %s: the subscription kept the worker past the shutdown", d)
	}
}

// TestSubscriptionHoldsWorker: a script whose only activity is an open subscription does
// not end; its handler's first message closes it and the run ends.
func TestSubscriptionHoldsWorker(t *testing.T) {
	t.Parallel()
	go func() {
		// Publish until someone hears it (the subscriber may not be there yet).
		rc := goredis.NewClient(&goredis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", server.port), Protocol: 2})
		defer rc.Close()
		for i := 0; i < 200; i++ {
			if n, _ := rc.Publish(context.Background(), "test:hold", "wake").Result(); n > 0 {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	res := drleetest.Run(t, `
local redis = require "redis"
local sub
sub = redis.new(arg[1]):subscribe("test:hold", function(err, m)
  print("got", m.message)
  sub:close()
end)
`, drleetest.Options{Args: []string{server.url(0)}, Timeout: 10 * time.Second})
	res.MustSucceed(t)
	res.Contains(t, "got\twake\n")
}

// BenchmarkGet: a GET round trip through Lua, in the await style one at a time
// (inflight=1) and in the callback style with 64 in flight; BenchmarkRawGoRedisGet is
// the same with go-redis alone.
func BenchmarkGet(b *testing.B) {
	src, err := testdata.ReadFile("testdata/bench_get.lua")
	if err != nil {
		b.Fatal(err)
	}
	for _, window := range []int{1, 64} {
		b.Run(fmt.Sprintf("inflight=%d", window), func(b *testing.B) {
			b.ReportAllocs()
			res := drleetest.Run(b, string(src), drleetest.Options{
				Args: []string{server.url(0), strconv.Itoa(b.N), strconv.Itoa(window)},
			})
			if res.Failed || res.Stdout != fmt.Sprintf("completed %d\n", b.N) {
				b.Fatalf("stdout:\n%s\nstderr:\n%s", res.Stdout, res.Stderr)
			}
		})
	}
}

func BenchmarkRawGoRedisGet(b *testing.B) {
	for _, window := range []int{1, 64} {
		b.Run(fmt.Sprintf("inflight=%d", window), func(b *testing.B) {
			rc := goredis.NewClient(&goredis.Options{
				Addr: fmt.Sprintf("127.0.0.1:%d", server.port), Protocol: 2, DisableIdentity: true,
			})
			defer rc.Close()
			ctx := context.Background()
			if err := rc.Set(ctx, "bench:k", "value", 0).Err(); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			sem := make(chan struct{}, window)
			errs := make(chan error, 1)
			for i := 0; i < b.N; i++ {
				sem <- struct{}{}
				go func() {
					defer func() { <-sem }()
					if v, err := rc.Get(ctx, "bench:k").Result(); err != nil || v != "value" {
						select {
						case errs <- fmt.Errorf("%q %v", v, err):
						default:
						}
					}
				}()
			}
			for i := 0; i < window; i++ {
				sem <- struct{}{}
			}
			select {
			case err := <-errs:
				b.Fatal(err)
			default:
			}
		})
	}
}
