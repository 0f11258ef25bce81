package main

import (
	"strings"
	"testing"
	"time"
)

// TestLogFatal: log.fatal logs its line (at any --log-level), then the process shuts down
// as on SIGTERM: the server stops accepting, the ticker stops, work in flight finishes, and
// drlee exits 1. The code after log.fatal runs on.
func TestLogFatal(t *testing.T) {
	t.Parallel()
	p := script(t, `
local http, time = require "http", require "time"
local server = http.create_server("127.0.0.1:0", function(req, res) res:finish() end)
assert(server:start())
local tk = time.tick(10)
tk:next_tick(function() end)
time.timeout(30, function()
  time.timeout(300, function() print("in flight finished") end)
  log.fatal("config missing:", 42)
  print("after fatal")
end)
`)
	start := time.Now()
	r := drlee(t, "run", "-w", "2", "--log-level", "error", p)
	r.expect(t, 1, "after fatal", "in flight finished")
	r.stderrHas(t, "FATAL [worker ", "] config missing: 42")
	if n := strings.Count(r.stdout, "after fatal"); n != 2 {
		t.Errorf("%d workers went on after log.fatal, want 2\nstdout:\n%s", n, r.stdout)
	}
	if el := time.Since(start); el > 8*time.Second {
		t.Errorf("exit after %v: the shutdown waited for its timeout", el)
	}
	if strings.Contains(r.stderr, "uncaught") || strings.Contains(r.stderr, "stack traceback") {
		t.Errorf("log.fatal was reported as an error:\n%s", r.stderr)
	}

	// In the main chunk, before anything started: the script's start runs, then it ends.
	p = script(t, `log.fatal("no config") print("main went on")`)
	drlee(t, "run", "-w", "1", p).expect(t, 1, "main went on")

	// Without log.fatal, the same kind of script exits 0.
	p = script(t, `log.error("just an error line")`)
	r = drlee(t, "run", "-w", "1", p)
	r.expect(t, 0)
	r.stderrHas(t, "ERROR [worker 1] just an error line")
}
