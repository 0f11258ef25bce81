package http_test

import (
	"io"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/drlee/drlee/internal/drleetest"
)

// shedLine is the log line of the 503s of one reason.
var shedLine = regexp.MustCompile(`(?m)^(\S+) WARN  http: \S+: (\d+) requests? answered 503 since the last report: (.*)$`)

// Every 503 a full queue causes is counted in the log, in lines of at most one a second
// per reason that add up to the 503s the clients got.
func TestServerQueueFull503sLogged(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverScript(t, "server_routes.lua"), drleetest.Options{QueueSize: 1})
	const n = 40
	var got503 atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
			resp, err := c.Get(s.url + "/busy?ms=300")
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 503 {
				got503.Add(1)
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	if got503.Load() == 0 {
		t.Fatal("no 503: the queue never filled")
	}
	res := s.stop(t)
	sum, lines := 0, 0
	var last time.Time
	ms := shedLine.FindAllStringSubmatch(res.Stderr, -1)
	for i, m := range ms {
		if m[3] != "worker queue full (--queue-size 1)" {
			t.Errorf("reason %q", m[3])
		}
		k, _ := strconv.Atoi(m[2])
		sum += k
		lines++
		at, err := time.Parse("2006-01-02T15:04:05.000Z07:00", m[1])
		if err != nil {
			t.Fatal(err)
		}
		// The last line may come sooner: the engine's close writes what was left.
		if lines > 1 && i < len(ms)-1 && at.Sub(last) < 990*time.Millisecond {
			t.Errorf("two lines %v apart, want at most one a second:\n%s", at.Sub(last), res.Stderr)
		}
		last = at
	}
	if sum != int(got503.Load()) {
		t.Errorf("the log counts %d 503s in %d lines, the clients got %d\n%s", sum, lines, got503.Load(), res.Stderr)
	}
	t.Logf("%d of %d requests got 503 in %v; %d log lines", got503.Load(), n, took, lines)
}

// A flood of 503s that outlasts a second is logged once a second, and the line of each
// second counts what came since the one before.
func TestServerLong503FloodRateLimited(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverScript(t, "server_routes.lua"), drleetest.Options{QueueSize: 1})
	busy := goGet(t, newClient(), s.url+"/busy?ms=2500") // holds the only worker
	// Clients that ask again as soon as they are answered: one of them waits in the
	// queue, the others get 503 after 503.
	var got503 atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Timeout: 10 * time.Second}
			defer c.CloseIdleConnections()
			for time.Since(start) < 2200*time.Millisecond {
				r, err := tryDo(c, "GET", s.url+"/oneshot", nil, nil)
				if err != nil {
					t.Error(err)
					return
				}
				if r.status == 503 {
					got503.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if r := <-busy; r.status == 503 { // the flood came first: it was turned away too
		got503.Add(1)
	}
	res := s.stop(t)
	ms := shedLine.FindAllStringSubmatch(res.Stderr, -1)
	sum := 0
	for _, m := range ms {
		k, _ := strconv.Atoi(m[2])
		sum += k
	}
	// Over 2.2 s: a line at once, one a second after, one at close: 3 or 4.
	if len(ms) < 3 || len(ms) > 4 || int64(sum) != got503.Load() {
		t.Errorf("%d 503s, %d lines counting %d; want 3 or 4 lines counting them all\n%s", got503.Load(), len(ms), sum, res.Stderr)
	}
}
