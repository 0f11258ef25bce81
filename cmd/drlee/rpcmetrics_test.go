package main

import (
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// rpcMetricsScript registers "add" in both workers; worker 1 waits until worker 2 serves
// too, then calls it (the calls stay in the process, shared by the two workers): 10
// successes, a handler that raises, one that replies with an error, a handler that never
// replies (a timeout), a call to a name nobody registered and a broadcast.
const rpcMetricsScript = `local rpc = require "rpc"
local time = require "time"
rpc.register("add", function(m, reply)
  if m.raise then error("boom") end
  if m.fail then reply("EINVAL: bad input") return end
  if m.never then return end
  reply(nil, m.a + m.b)
end)
if env.worker_id == 2 then rpc.register("up2", function(_, reply) reply(nil, true) end) end
if env.worker_id == 1 then
  local up = false
  for _ = 1, 1000 do
    if rpc.call("up2", nil) then up = true break end
    time.sleep(5)
  end
  assert(up, "worker 2 never registered")
  for i = 1, 10 do
    local r, err = rpc.call("add", {a = i, b = 1})
    assert(r == i + 1, tostring(err))
  end
  print("raise", select(2, rpc.call("add", {raise = true})))
  print("fail", select(2, rpc.call("add", {fail = true})))
  print("never", select(2, rpc.call("add", {never = true}, {timeout = 200})))
  print("missing", select(2, rpc.call("nobody", {})))
  local replies, err = rpc.broadcast("add", {a = 1, b = 2}, {timeout = 5000})
  print("broadcast", replies and #replies, err)
  print("calls made")
end
`

// TestRPCMetrics runs drlee with 2 workers and --metrics, makes rpc calls of every outcome
// between the workers, and checks the scraped rpc series against them.
func TestRPCMetrics(t *testing.T) {
	t.Parallel()
	maddr := "127.0.0.1:" + freePort(t)
	cmd, stdout, stderr, done := startDrlee(t, "calls made", "run", "-w", "2", "--metrics", maddr, script(t, rpcMetricsScript))
	fams := scrape(t, maddr)
	check := func(name string, match map[string]string, want float64) {
		t.Helper()
		if got, _ := sum(fams, name, match); got != want {
			t.Errorf("%s%v = %v, want %v", name, match, got, want)
		}
	}
	add := map[string]string{"name": "add"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{"name": "add"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	// Caller side: all of add's calls came from worker 1.
	check("drlee_rpc_calls_total", with("kind", "call", "worker", "1"), 13)
	check("drlee_rpc_calls_total", with("kind", "call", "worker", "2"), 0)
	check("drlee_rpc_calls_total", with("kind", "broadcast"), 1)
	check("drlee_rpc_calls_total", map[string]string{"name": "nobody", "kind": "call"}, 1)
	check("drlee_rpc_call_errors_total", with("code", "EHANDLER"), 1)
	check("drlee_rpc_call_errors_total", with("code", "EINVAL"), 1)
	check("drlee_rpc_call_errors_total", with("code", "ETIMEDOUT"), 1)
	check("drlee_rpc_call_errors_total", add, 3)
	check("drlee_rpc_call_errors_total", map[string]string{"name": "nobody", "code": "ENOHANDLER"}, 1)
	check("drlee_rpc_call_duration_seconds", add, 13)
	// The timeout's call lasted its 200 ms at least: the histogram's sum says so, and its
	// +Inf bucket is its count.
	if f := fams["drlee_rpc_call_duration_seconds"]; f == nil {
		t.Error("no drlee_rpc_call_duration_seconds")
	} else {
		for _, m := range f.Metric {
			if labelOf(m, "name") != "add" {
				continue
			}
			h := m.Histogram
			if h.GetSampleSum() < 0.2 || h.GetSampleSum() > 10 {
				t.Errorf("add's duration sum %v s: the 200 ms timeout is not in it", h.GetSampleSum())
			}
			var below uint64
			for _, b := range h.Bucket {
				if b.GetUpperBound() == 0.1 {
					below = b.GetCumulativeCount()
				}
			}
			if below != 12 {
				t.Errorf("%d of add's calls took 100 ms or less, want 12 (all but the timeout)", below)
			}
		}
	}
	// Serving side: the 13 calls and the broadcast's 2 deliveries, on either worker.
	check("drlee_rpc_handled_total", add, 15)
	check("drlee_rpc_handler_errors_total", add, 2)
	if _, n := sum(fams, "drlee_rpc_handled_total", map[string]string{"name": "nobody"}); n != 0 {
		t.Errorf("nobody handled 'nobody', yet it has %d handled series", n)
	}
	for _, w := range []string{"1", "2"} {
		if got, _ := sum(fams, "drlee_rpc_handled_total", with("worker", w)); got == 0 {
			t.Errorf("worker %s handled no call: the test does not cover both workers", w)
		}
	}

	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil && !strings.Contains(err.Error(), "exit status 1") {
			t.Fatalf("drlee: %v\nstderr:\n%s", err, stderr)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("drlee did not stop")
	}
	for _, want := range []string{"raise\tEHANDLER: ", "fail\tEINVAL: bad input", "never\tETIMEDOUT", "missing\tENOHANDLER: ", "broadcast\t2\tnil"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout lacks %q:\n%s\nstderr:\n%s", want, stdout, stderr)
		}
	}
}

func labelOf(m *dto.Metric, name string) string {
	for _, l := range m.Label {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
