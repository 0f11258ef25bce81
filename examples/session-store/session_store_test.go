// Package sessionstore_test runs examples/session-store/session-store.lua on two workers
// (one node, its embedded NATS server with JetStream) and drives it with real HTTP
// requests.
package sessionstore_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drlee/drlee/internal/drleetest"
)

type me struct {
	User   string `json:"user"`
	Visits int    `json:"visits"`
	Worker int    `json:"worker"`
	Error  string `json:"error"`
}

// TestSessionStore: a login's session is found by the next requests whichever worker
// serves them; concurrent requests of one session each count a visit (compare-and-set);
// a logout ends it; no session is a 401.
func TestSessionStore(t *testing.T) {
	t.Parallel()
	port := drleetest.FreePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan drleetest.Result, 1)
	go func() {
		done <- drleetest.RunFile(t, "session-store.lua", drleetest.Options{
			Workers: 2, Args: []string{strconv.Itoa(port)}, Ctx: ctx, Timeout: 60 * time.Second,
		})
	}()
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Timeout: 10 * time.Second, Jar: jar, Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	defer c.CloseIdleConnections()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		r, err := c.Get(base + "/me")
		if err == nil {
			r.Body.Close()
			break
		}
		select {
		case res := <-done:
			t.Fatalf("session-store.lua ended before serving\nstdout:\n%s\nstderr:\n%s", res.Stdout, res.Stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("session-store.lua does not serve: %v", err)
		}
	}
	do := func(method, path, body string) (int, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		r, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return r.StatusCode, b
	}
	visit := func() (int, me) {
		code, b := do("GET", "/me", "")
		var m me
		if code != 401 {
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatalf("/me: %d %s", code, b)
			}
		}
		return code, m
	}

	if code, _ := visit(); code != 401 {
		t.Fatalf("/me without a session: %d, want 401", code)
	}
	if code, b := do("POST", "/login", `{"nope": 1}`); code != 400 {
		t.Errorf("login without a user: %d %s, want 400", code, b)
	}
	code, b := do("POST", "/login", `{"user": "ada"}`)
	if code != 200 || !strings.Contains(string(b), `"sid"`) {
		t.Fatalf("login: %d %s", code, b)
	}
	workers := map[int]bool{}
	for i := 1; i <= 6; i++ {
		code, m := visit()
		if code != 200 || m.User != "ada" || m.Visits != i {
			t.Fatalf("visit %d: %d %+v", i, code, m)
		}
		workers[m.Worker] = true
	}

	// Concurrent visits of the one session: each counts once, none is lost.
	const n = 20
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := map[int]bool{}
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, m := visit()
			mu.Lock()
			defer mu.Unlock()
			if code != 200 {
				t.Errorf("concurrent visit: %d %+v", code, m)
				return
			}
			if seen[m.Visits] {
				t.Errorf("visit number %d counted twice", m.Visits)
			}
			seen[m.Visits] = true
			workers[m.Worker] = true
		}()
	}
	wg.Wait()
	if code, m := visit(); code != 200 || m.Visits != 6+n+1 {
		t.Errorf("after %d concurrent visits: %d %+v, want visits %d", n, code, m, 6+n+1)
	}
	if len(workers) != 2 {
		t.Logf("every request went to one worker (%v): the session was not shared, only kept", workers)
	}

	if code, _ := do("POST", "/logout", ""); code != 204 {
		t.Errorf("logout: %d", code)
	}
	if code, _ := visit(); code != 401 {
		t.Errorf("/me after logout: %d, want 401", code)
	}

	cancel()
	res := <-done
	if res.Failed {
		t.Fatalf("session-store.lua failed\nstdout:\n%s\nstderr:\n%s", res.Stdout, res.Stderr)
	}
}
