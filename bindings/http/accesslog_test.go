package http_test

import (
	"bufio"
	"context"
	"io"
	gohttp "net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/drlee/drlee/bindings/http"
	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/internal/accesslog"
	"github.com/drlee/drlee/internal/drleetest"
	"github.com/drlee/drlee/internal/observe"
)

// observedScript answers every way a request can end: a response, a raise, a stream, a
// stream cut by a raise, a file, a 504 (a handler that never finishes), and a busy worker
// whose queue overflows (503).
const observedScript = `
local http = require "http"
local server = http.create_server(arg[1], function(req, res)
  local p = req.path
  if p == "/ok" then res:write("hello world"); res:finish()
  elseif p == "/raise" then error("boom")
  elseif p == "/stream" then
    res:write("abc"); res:flush()
    res:write("defg", function() res:finish() end)
  elseif p == "/cut" then
    res:write("abc"); res:flush()
    res:write("x", function() error("cut") end)
  elseif p == "/file" then res:send_file(arg[2])
  elseif p == "/never" then -- 504 at the handler timeout, before the timer
    require("time").timeout(1500, function() res:finish() end)
  elseif p == "/busy" then
    local t = os.clock() + 0.3
    while os.clock() < t do end
    res:finish()
  else res:set_status(404); res:finish() end
end)
server:start(function(err) if err then error(err) end end)
`

// TestAccessLogAndMetricsInProcess runs the server with the access log and metrics on,
// under the race detector in CI, and checks that every request has its one line with the
// status and bytes sent, and its count.
func TestAccessLogAndMetricsInProcess(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "main.lua")
	if err := os.WriteFile(script, []byte(observedScript), 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "f.txt")
	if err := os.WriteFile(file, []byte("file contents\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	var logs drleetest.SyncBuffer
	cfg := engine.Config{
		Script: script, Args: []string{addr, file}, Workers: 1, QueueSize: 1,
		ShutdownTimeout: 5 * time.Second, Stdout: io.Discard, Stderr: &logs,
	}
	http.Settings.Ptr(&cfg).HandlerTimeout = time.Second
	e, err := engine.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "access.log")
	l, err := accesslog.Open(logPath, nil, accesslog.Combined, 1)
	if err != nil {
		t.Fatal(err)
	}
	observe.Of(e).SetAccessLog(l)
	if err := l.Start(e); err != nil {
		t.Fatal(err)
	}
	maddr, err := observe.Serve(e, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	ended := false
	defer func() {
		if !ended { // a failed check: the engine must still end
			cancel()
			<-done
		}
	}()
	waitListening(t, addr, done)

	c := &gohttp.Client{Timeout: 5 * time.Second}
	type want struct {
		method, path string
		status, n    int
	}
	var (
		mu   sync.Mutex
		made []want
	)
	do := func(method, path string) {
		req, _ := gohttp.NewRequest(method, "http://"+addr+path, nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Error(err)
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		mu.Lock()
		made = append(made, want{method, path, resp.StatusCode, len(b)})
		mu.Unlock()
	}
	do("GET", "/ok")
	do("HEAD", "/ok")
	do("GET", "/raise")
	do("GET", "/stream")
	do("GET", "/file")
	do("GET", "/never")
	do("GET", "/missing")
	// The stream is cut after its two chunks went out: the client sees a failed body, the
	// log the 4 bytes sent.
	cut, err := c.Get("http://" + addr + "/cut")
	if err == nil {
		if _, err := io.ReadAll(cut.Body); err == nil {
			t.Error("/cut: the body did not fail")
		}
		cut.Body.Close()
	}
	made = append(made, want{"GET", "/cut", 200, 4})
	// A busy worker with a queue of 1: of the requests sent while it is busy, one waits,
	// the others get 503.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); do("GET", "/busy") }()
	time.Sleep(100 * time.Millisecond)
	for range 4 {
		wg.Add(1)
		go func() { defer wg.Done(); do("GET", "/missing") }()
	}
	wg.Wait()

	shed := 0
	for _, w := range made {
		if w.status == 503 {
			shed++
		}
	}
	if shed == 0 {
		t.Errorf("no 503: the overload case did not happen")
	}
	seen := map[int]bool{}
	for _, w := range made {
		seen[w.status] = true
	}
	for _, st := range []int{200, 404, 500, 503, 504} {
		if !seen[st] {
			t.Errorf("no %d among %v: a case did not happen", st, made)
		}
	}
	// HEAD's body is not sent: 0 bytes, whatever the handler wrote.
	for i := range made {
		if made[i].method == "HEAD" {
			made[i].n = 0
		}
	}

	fams, err := observe.Of(e).Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var total, shedCount, raised float64
	for _, f := range fams {
		for _, m := range f.Metric {
			switch f.GetName() {
			case "drlee_http_requests_total":
				total += m.Counter.GetValue()
			case "drlee_http_shed_total":
				shedCount += m.Counter.GetValue()
			case "drlee_http_handler_errors_total":
				raised += m.Counter.GetValue()
			}
		}
	}
	if int(total) != len(made) || int(shedCount) != shed || raised != 2 {
		t.Errorf("counted %v requests, %v shed, %v raised; made %d, %d shed, 2 raised", total, shedCount, raised, len(made), shed)
	}
	resp, err := gohttp.Get("http://" + maddr.String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()

	cancel()
	ended = true
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	line := regexp.MustCompile(`^127\.0\.0\.1 - - \[[^\]]+\] "(\S+) (\S+) HTTP/1\.1" (\d+) (\d+|-) "-" "[^"]*" \d+\.\d{6} (\d)$`)
	left := map[want]int{}
	for _, w := range made {
		left[w]++
	}
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		n++
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			t.Errorf("line %q", sc.Text())
			continue
		}
		st, _ := strconv.Atoi(m[3])
		bytes := 0
		if m[4] != "-" {
			bytes, _ = strconv.Atoi(m[4])
		}
		w := want{m[1], m[2], st, bytes}
		if left[w] == 0 {
			t.Errorf("line %q: not a request made (or logged twice); made %v", sc.Text(), made)
		}
		left[w]--
		if m[5] != "1" { // a 503 by a full queue is the picked worker's too
			t.Errorf("line %q: worker %s, want 1", sc.Text(), m[5])
		}
	}
	if n != len(made) {
		t.Errorf("%d lines for %d requests\n%s", n, len(made), logs.String())
	}
}
