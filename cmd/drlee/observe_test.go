package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// observeScript serves /ok (11 bytes), /raise (a handler that raises: 500), /stream (a
// streamed response of 3+4 bytes) and /missing (404, 9 bytes); every request counts in
// app_requests_total, a counter every worker declares.
const observeScript = `local http = require "http"
local metrics = require "metrics"
local reqs = metrics.counter("app_requests_total", "Requests the script saw.", {"path"})
local plain = metrics.counter("app_plain_total", "A counter without labels.")
local s = http.create_server("127.0.0.1:" .. arg[1], function(req, res)
  reqs:inc({path = req.path})
  plain:inc()
  if req.path == "/raise" then error("boom") end
  if req.path == "/stream" then
    res:write("abc"); res:flush()
    res:write("defg", function() res:finish() end)
    return
  end
  if req.path == "/missing" then res:set_status(404); res:write("not found"); res:finish(); return end
  res:write("hello world")
  res:finish()
end)
s:start(function(err) if err then error(err) end end)
if env.worker_id == 1 then print("listening") end
`

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// scrape reads /metrics with Prometheus' own text parser.
func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	return fams
}

// sum adds up the samples of a family whose labels include match.
func sum(fams map[string]*dto.MetricFamily, name string, match map[string]string) (float64, int) {
	f := fams[name]
	if f == nil {
		return 0, 0
	}
	total, n := 0.0, 0
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range match {
			if have[k] != v {
				continue next
			}
		}
		n++
		switch {
		case m.Counter != nil:
			total += m.Counter.GetValue()
		case m.Gauge != nil:
			total += m.Gauge.GetValue()
		case m.Histogram != nil:
			total += float64(m.Histogram.GetSampleCount())
		}
	}
	return total, n
}

// TestMetricsAndAccessLog runs drlee with 2 workers, --metrics and --access-log, makes
// requests of every kind, checks the scraped counters against them, then stops it and
// checks the log: a line per request with the status and bytes sent, none lost at exit.
func TestMetricsAndAccessLog(t *testing.T) {
	t.Parallel()
	for _, format := range []string{"combined", "json"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			port, mport := freePort(t), freePort(t)
			maddr := "127.0.0.1:" + mport
			logPath := filepath.Join(t.TempDir(), "access.log")
			cmd, _, stderr, done := startDrlee(t, "listening", "run", "-w", "2", "--metrics", maddr,
				"--access-log", logPath, "--access-log-format", format, script(t, observeScript), port)
			base := "http://127.0.0.1:" + port
			type want struct {
				path   string
				status int
				bytes  int
			}
			var made []want
			const nOK = 20
			for range nOK {
				if st, body := get(t, base+"/ok"); st != 200 || body != "hello world" {
					t.Fatalf("/ok: %d %q", st, body)
				}
				made = append(made, want{"/ok", 200, 11})
			}
			if st, _ := get(t, base+"/raise"); st != 500 {
				t.Fatalf("/raise: %d", st)
			}
			made = append(made, want{"/raise", 500, len("Internal Server Error")})
			if st, body := get(t, base+"/stream"); st != 200 || body != "abcdefg" {
				t.Fatalf("/stream: %d %q", st, body)
			}
			made = append(made, want{"/stream", 200, 7})
			if st, _ := get(t, base+"/missing"); st != 404 {
				t.Fatalf("/missing: %d", st)
			}
			made = append(made, want{"/missing", 404, 9})

			// The counts move as the requests end; the last ones may take a moment.
			var fams map[string]*dto.MetricFamily
			deadline := time.Now().Add(5 * time.Second)
			for {
				fams = scrape(t, maddr)
				if n, _ := sum(fams, "drlee_http_requests_total", nil); int(n) == len(made) || time.Now().After(deadline) {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			check := func(name string, match map[string]string, want float64) {
				t.Helper()
				if got, _ := sum(fams, name, match); got != want {
					t.Errorf("%s%v = %v, want %v", name, match, got, want)
				}
			}
			check("drlee_http_requests_total", map[string]string{"code": "2xx"}, nOK+1)
			check("drlee_http_requests_total", map[string]string{"code": "5xx"}, 1)
			check("drlee_http_requests_total", map[string]string{"code": "4xx"}, 1)
			check("drlee_http_handler_errors_total", nil, 1)
			check("drlee_http_request_duration_seconds", nil, float64(len(made)))
			check("drlee_http_requests_in_flight", nil, 0)
			check("drlee_http_response_body_bytes_total", nil, float64(nOK*11+21+7+9))
			// The script's counter: declared in both workers, one metric, summed.
			check("app_requests_total", map[string]string{"path": "/ok"}, nOK)
			check("app_requests_total", nil, float64(len(made)))
			check("app_plain_total", nil, float64(len(made)))
			if _, n := sum(fams, "app_requests_total", map[string]string{"path": "/ok"}); n != 1 {
				t.Errorf("app_requests_total{path=/ok} has %d samples, want 1 (summed over workers)", n)
			}
			// Both workers served: the sum above is over two stores.
			for _, w := range []string{"1", "2"} {
				if got, _ := sum(fams, "drlee_http_requests_total", map[string]string{"worker": w}); got == 0 {
					t.Errorf("worker %s served nothing: the test does not cover the sum over workers", w)
				}
			}
			check("drlee_callback_errors_total", nil, 1) // the raise is logged as uncaught
			check("drlee_callbacks_interrupted_total", nil, 0)
			if got, n := sum(fams, "drlee_lua_memory_bytes", nil); n != 2 || got <= 0 {
				t.Errorf("drlee_lua_memory_bytes: %v over %d workers", got, n)
			}
			if _, n := sum(fams, "drlee_worker_queue_length", nil); n != 2 {
				t.Errorf("drlee_worker_queue_length: %d workers", n)
			}
			for _, name := range []string{"drlee_io_pool_size", "drlee_io_pool_saturation", "go_goroutines", "go_memstats_heap_alloc_bytes", "process_cpu_seconds_total"} {
				if fams[name] == nil {
					t.Errorf("no %s", name)
				}
			}
			if v, _ := sum(fams, "drlee_io_pool_size", nil); v != 1024 {
				t.Errorf("drlee_io_pool_size %v", v)
			}

			// Stopped right after the requests: the lines still in the workers' buffers
			// are written at exit.
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case err := <-done:
				if err != nil && !strings.Contains(err.Error(), "exit status 1") {
					t.Fatalf("drlee: %v\nstderr:\n%s", err, stderr)
				}
			case <-time.After(15 * time.Second):
				t.Fatal("drlee did not stop")
			}
			lines := readLines(t, logPath)
			if len(lines) != len(made) {
				t.Fatalf("%d log lines, want %d:\n%s", len(lines), len(made), strings.Join(lines, "\n"))
			}
			// Each worker's lines come in order, the workers' buffers one after the other:
			// the lines are compared as a multiset.
			left := map[want]int{}
			for _, w := range made {
				left[w]++
			}
			for i, l := range lines {
				got := parseLine(t, format, l)
				w := want{got.path, got.status, got.bytes}
				if left[w] == 0 || got.method != "GET" {
					t.Errorf("line %d %q: %+v was not made (or too often)", i, l, got)
				}
				left[w]--
				if got.worker != 1 && got.worker != 2 {
					t.Errorf("line %d: worker %d", i, got.worker)
				}
				if got.duration < 0 || got.duration > 5 {
					t.Errorf("line %d: duration %v", i, got.duration)
				}
				if got.remote != "127.0.0.1" {
					t.Errorf("line %d: remote %q", i, got.remote)
				}
			}
		})
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines
}

type logLine struct {
	remote, method, path string
	status, bytes        int
	duration             float64
	worker               int
}

// combinedRE is the combined format plus duration and worker, as the README documents it.
var combinedRE = regexp.MustCompile(`^(\S+) - - \[(\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\] "(\S+) (\S+) (HTTP/1\.[01])" (\d{3}) (\d+|-) "([^"]*)" "([^"]*)" (\d+\.\d{6}) (\d+)$`)

func parseLine(t *testing.T, format, l string) logLine {
	t.Helper()
	if format == "json" {
		var v struct {
			Time      string  `json:"time"`
			Remote    string  `json:"remote_addr"`
			Method    string  `json:"method"`
			URI       string  `json:"uri"`
			Proto     string  `json:"proto"`
			Status    int     `json:"status"`
			Bytes     int     `json:"bytes"`
			Duration  float64 `json:"duration"`
			Worker    int     `json:"worker"`
			Referer   *string `json:"referer"`
			UserAgent *string `json:"user_agent"`
		}
		dec := json.NewDecoder(strings.NewReader(l))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("not JSON: %q: %v", l, err)
		}
		if _, err := time.Parse(time.RFC3339Nano, v.Time); err != nil {
			t.Errorf("time %q: %v", v.Time, err)
		}
		if v.Proto != "HTTP/1.1" || v.UserAgent == nil || *v.UserAgent == "" {
			t.Errorf("proto %q, user agent %v", v.Proto, v.UserAgent)
		}
		host, _, err := net.SplitHostPort(v.Remote)
		if err != nil {
			t.Errorf("remote_addr %q: %v", v.Remote, err)
		}
		return logLine{host, v.Method, v.URI, v.Status, v.Bytes, v.Duration, v.Worker}
	}
	m := combinedRE.FindStringSubmatch(l)
	if m == nil {
		t.Fatalf("not the combined format: %q", l)
	}
	if _, err := time.Parse("02/Jan/2006:15:04:05 -0700", m[2]); err != nil {
		t.Errorf("time %q: %v", m[2], err)
	}
	st, _ := strconv.Atoi(m[6])
	n := 0
	if m[7] != "-" {
		n, _ = strconv.Atoi(m[7])
	}
	d, _ := strconv.ParseFloat(m[10], 64)
	w, _ := strconv.Atoi(m[11])
	return logLine{m[1], m[3], m[4], st, n, d, w}
}

// TestObserveFlags: bad values are errors naming the flag, before the script runs.
func TestObserveFlags(t *testing.T) {
	t.Parallel()
	p := script(t, `print("ran")`)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--access-log", "-", "--access-log-format", "apache"}, `--access-log-format must be combined or json, got "apache"`},
		{[]string{"--access-log-format", "xml"}, `--access-log-format must be combined or json`},
		{[]string{"--access-log", filepath.Join(t.TempDir(), "no", "such", "dir", "a.log")}, "--access-log: open"},
		{[]string{"--metrics", "127.0.0.1:notaport"}, "--metrics: listen tcp"},
	} {
		r := drlee(t, append(append([]string{"run", "-w", "1"}, tc.args...), p)...)
		r.expect(t, 1)
		r.stderrHas(t, tc.want)
		if strings.Contains(r.stdout, "ran") {
			t.Errorf("%v: the script ran", tc.args)
		}
	}
	// The access log to stdout, and a script with no server: nothing logged, exit 0.
	r := drlee(t, "run", "-w", "1", "--access-log", "-", "--metrics", "127.0.0.1:0", p)
	r.expect(t, 0)
	if r.stdout != "ran\n" {
		t.Errorf("stdout %q", r.stdout)
	}
}

// TestAccessLogStdout: with --access-log -, the lines go to stdout with the script's
// prints, one per request.
func TestAccessLogStdout(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	cmd, stdout, stderr, done := startDrlee(t, "listening", "run", "-w", "1", "--access-log", "-", script(t, observeScript), port)
	for range 3 {
		get(t, "http://127.0.0.1:"+port+"/ok")
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("drlee did not stop")
	}
	n := strings.Count(stdout.String(), `"GET /ok HTTP/1.1" 200 11 `)
	if n != 3 {
		t.Fatalf("%d lines for GET /ok, want 3\nstdout:\n%s\nstderr:\n%s", n, stdout, stderr)
	}
}

// TestObserveAcrossReload: the access log and /metrics belong to the process: after a
// SIGHUP the same listener serves the new generation's counts, and the log has the lines of
// both generations, none lost at exit.
func TestObserveAcrossReload(t *testing.T) {
	t.Parallel()
	metricsAddr := "127.0.0.1:" + freePort(t)
	logPath := filepath.Join(t.TempDir(), "access.log")
	s := startScript(t, reloadScript(1, ""), "gen 1", "-w", "1", "--metrics", metricsAddr, "--access-log", logPath)
	for range 3 {
		if code, body, err := s.get("/"); err != nil || code != 200 || body != "gen 1" {
			t.Fatalf("gen 1: %d %q %v", code, body, err)
		}
	}
	if n, _ := sum(scrape(t, metricsAddr), "drlee_http_requests_total", nil); n < 3 {
		t.Fatalf("before the reload: %v requests counted, want at least 3", n)
	}
	s.write(reloadScript(2, ""))
	s.signal(syscall.SIGHUP)
	s.waitBody("gen 2", 10*time.Second)
	s.waitLog("reload: generation 1 has ended", 10*time.Second)
	for range 2 {
		if code, body, err := s.get("/"); err != nil || code != 200 || body != "gen 2" {
			t.Fatalf("gen 2: %d %q %v", code, body, err)
		}
	}
	// The serving generation's counts: those since the switch, at least the 2 just made.
	if n, _ := sum(scrape(t, metricsAddr), "drlee_http_requests_total", nil); n < 2 {
		t.Fatalf("after the reload: %v requests counted, want at least 2", n)
	}
	s.stop()
	lines := readLines(t, logPath)
	n := 0
	for _, l := range lines {
		if strings.Contains(l, `"GET / HTTP/1.1" 200 5 `) { // "gen 1" and "gen 2": 5 bytes
			n++
		}
	}
	if n < 5 {
		t.Fatalf("the access log has %d lines of GET / (want at least 5: 3 before the reload, 2 after)\n%s", n, strings.Join(lines, "\n"))
	}
}
