// Package ratelimit_test runs examples/ratelimit/ratelimit.lua on two workers and checks
// with real HTTP requests, from two client addresses, that each client gets its limit per
// window whichever worker answers, and a new budget in the next window.
package ratelimit_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/drlee/drlee/internal/drleetest"
	"github.com/drlee/drlee/internal/leaktest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, append(leaktest.FasthttpServer(), leaktest.AtInit())...)
}

// client makes a new connection for each request (so that they spread over the workers)
// from the local address ip.
func client(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
}

func get(t *testing.T, c *http.Client, url string) (int, string, http.Header) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body), resp.Header
}

// windowStart waits until a window of w seconds later than after has just begun (the
// script counts windows from the same clock), so that a burst of requests falls in one
// window, and returns its start.
func windowStart(w, after int64) int64 {
	for {
		now := time.Now()
		if s := now.Unix(); s%w == 0 && s > after && now.Nanosecond() < 300e6 {
			return s
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRateLimit(t *testing.T) {
	const limit, window = 5, 2
	port := drleetest.FreePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan drleetest.Result, 1)
	go func() {
		done <- drleetest.RunFile(t, "ratelimit.lua", drleetest.Options{
			Workers: 2, Args: []string{strconv.Itoa(port), strconv.Itoa(limit), strconv.Itoa(window)},
			Ctx: ctx, Timeout: 30 * time.Second,
		})
	}()
	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/"
	a, b := client("127.0.0.1"), client("127.0.0.2")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err := a.Get(url)
		if err == nil {
			resp.Body.Close()
			break
		}
		select {
		case res := <-done:
			t.Fatalf("ratelimit.lua ended before serving\nstdout:\n%s\nstderr:\n%s", res.Stdout, res.Stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("ratelimit.lua does not serve %s: %v", url, err)
		}
	}

	burst := func(c *http.Client, who string) {
		for i := 1; i <= limit+3; i++ {
			status, body, h := get(t, c, url)
			if i <= limit {
				if status != 200 || body != "ok "+strconv.Itoa(i)+"/5\n" || h.Get("X-RateLimit-Remaining") != strconv.Itoa(limit-i) {
					t.Fatalf("%s request %d: %d %q remaining %q", who, i, status, body, h.Get("X-RateLimit-Remaining"))
				}
				continue
			}
			if status != 429 || body != "too many requests\n" {
				t.Fatalf("%s request %d: %d %q, want 429", who, i, status, body)
			}
			if ra, err := strconv.Atoi(h.Get("Retry-After")); err != nil || ra < 1 || ra > window {
				t.Fatalf("%s request %d: Retry-After %q", who, i, h.Get("Retry-After"))
			}
		}
	}
	// A window after the one the probe above was counted in.
	first := windowStart(window, time.Now().Unix())
	burst(a, "127.0.0.1")
	burst(b, "127.0.0.2")      // another client has its own budget
	windowStart(window, first) // the next window: a new budget
	burst(a, "127.0.0.1 next window")

	a.CloseIdleConnections()
	b.CloseIdleConnections()
	cancel()
	var res drleetest.Result
	select {
	case res = <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("ratelimit.lua did not end after shutdown")
	}
	res.MustSucceed(t)
}
