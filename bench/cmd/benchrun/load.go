package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/drlee/drlee/bench/loadgen"
	"github.com/drlee/drlee/bench/scenario"
)

// sample is what one load run measured.
type sample struct {
	rps       float64
	p50, p99  time.Duration
	requests  int64
	errors    int64         // socket errors and non-2xx/3xx answers
	cpuPerReq time.Duration // server CPU time (all its processes) per request
}

// load runs the load generator against r for d and measures the server's
// CPU time over the same span.
func (b *bench) load(ctx context.Context, r *running, scn string, conns int, d time.Duration, useWrk bool) (sample, error) {
	before := cpuTicks(r.p.cmd.Process.Pid)
	var (
		s   sample
		err error
	)
	if useWrk {
		s, err = b.wrk(ctx, r.port, scn, conns, d)
	} else {
		s, err = b.goLoad(ctx, r.port, scn, conns, d)
	}
	if err != nil {
		return s, err
	}
	if s.requests > 0 {
		ticks := cpuTicks(r.p.cmd.Process.Pid) - before
		s.cpuPerReq = time.Duration(float64(ticks) / ticksPerSecond / float64(s.requests) * float64(time.Second))
	}
	select {
	case <-r.p.done:
		return s, fmt.Errorf("server exited during the run (%v): %s", r.p.err, r.p.out.lastLines(3))
	default:
	}
	return s, nil
}

// wrk runs wrk with one thread (the load generator gets one core when
// pinned) and parses its --latency report.
func (b *bench) wrk(ctx context.Context, port int, scn string, conns int, d time.Duration) (sample, error) {
	secs := int(math.Ceil(d.Seconds())) // wrk takes whole seconds
	argv := []string{"wrk", "-t1", "-c" + strconv.Itoa(conns), "-d" + strconv.Itoa(secs) + "s", "--timeout", "5s", "--latency"}
	if scn == scenario.JSON {
		argv = append(argv, "-s", filepath.Join("bench", "wrk", "post_json.lua"))
	}
	argv = append(argv, "http://"+addr(port)+"/"+scn)
	out, err := run(ctx, time.Duration(secs)*time.Second+20*time.Second, "wrk", nil, b.pinLoad(argv)...)
	if err != nil {
		return sample{}, err
	}
	return parseWrk(out)
}

var (
	wrkRPS      = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkRequests = regexp.MustCompile(`(\d+) requests in`)
	wrkLatency  = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([0-9.]+)(us|ms|s|m)\s*$`)
	wrkSocket   = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	wrkNon2xx   = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
)

func parseWrk(out string) (sample, error) {
	var s sample
	m := wrkRPS.FindStringSubmatch(out)
	if m == nil {
		return s, fmt.Errorf("wrk: no Requests/sec in output: %.200q", out)
	}
	s.rps, _ = strconv.ParseFloat(m[1], 64)
	if m := wrkRequests.FindStringSubmatch(out); m != nil {
		s.requests, _ = strconv.ParseInt(m[1], 10, 64)
	}
	units := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second, "m": time.Minute}
	for _, m := range wrkLatency.FindAllStringSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		d := time.Duration(v * float64(units[m[3]]))
		if m[1] == "50" {
			s.p50 = d
		} else {
			s.p99 = d
		}
	}
	if m := wrkSocket.FindStringSubmatch(out); m != nil {
		for _, n := range m[1:] {
			v, _ := strconv.ParseInt(n, 10, 64)
			s.errors += v
		}
	}
	if m := wrkNon2xx.FindStringSubmatch(out); m != nil {
		v, _ := strconv.ParseInt(m[1], 10, 64)
		s.errors += v
	}
	return s, nil
}

// goLoad runs the built-in load generator (bench/cmd/loadgen) as a process,
// so that it can be pinned like wrk.
func (b *bench) goLoad(ctx context.Context, port int, scn string, conns int, d time.Duration) (sample, error) {
	argv := []string{filepath.Join(b.tmp, "loadgen"), "-addr", addr(port), "-path", "/" + scn,
		"-method", scenario.Method(scn), "-c", strconv.Itoa(conns), "-d", d.String()}
	if body := scenario.Body(scn); body != nil {
		argv = append(argv, "-body", string(body))
	}
	out, err := run(ctx, d+20*time.Second, "loadgen", []string{"GOMAXPROCS=" + strconv.Itoa(b.loadCores)}, b.pinLoad(argv)...)
	if err != nil {
		return sample{}, err
	}
	var res loadgen.Result
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &res); err != nil {
		return sample{}, fmt.Errorf("loadgen: %v: %.200q", err, out)
	}
	return sample{rps: res.RPS, p50: res.P50, p99: res.P99, requests: res.Requests, errors: res.Errors}, nil
}
