package examples

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/drlee/drlee/internal/drleetest"
)

// notes/notes.lua on two workers: the REST API's statuses, then concurrent readers and
// writers of the same notes for a while with not one failed request: every read sees a
// whole note, before or after a write.
func TestNotes(t *testing.T) {
	t.Parallel()
	port := drleetest.FreePort(t)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan drleetest.Result, 1)
	go func() {
		done <- drleetest.RunFile(t, "notes/notes.lua", drleetest.Options{
			Workers: 2, Args: []string{strconv.Itoa(port), dir}, Ctx: ctx, Timeout: 60 * time.Second,
		})
	}()
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer c.CloseIdleConnections()
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		r, err := c.Get(base + "/notes")
		if err == nil {
			r.Body.Close()
			break
		}
		select {
		case res := <-done:
			t.Fatalf("notes.lua ended before serving\nstdout:\n%s\nstderr:\n%s", res.Stdout, res.Stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("notes.lua does not serve: %v", err)
		}
	}

	do := func(method, path, body string) (int, http.Header, []byte, error) {
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			return 0, nil, nil, err
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		r, err := c.Do(req)
		if err != nil {
			return 0, nil, nil, err
		}
		defer r.Body.Close()
		b, err := io.ReadAll(r.Body)
		return r.StatusCode, r.Header, b, err
	}
	expect := func(method, path, body string, status int) []byte {
		t.Helper()
		got, _, b, err := do(method, path, body)
		if err != nil || got != status {
			t.Fatalf("%s %s: %d %s %v, want %d", method, path, got, b, err, status)
		}
		return b
	}
	type note struct{ ID, Title, Body string }
	decode := func(b []byte) note {
		t.Helper()
		var n note
		if err := json.Unmarshal(b, &n); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		return n
	}

	// The API.
	status, h, b, err := do("POST", "/notes", `{"title":"first","body":"hello"}`)
	if err != nil || status != 201 {
		t.Fatalf("POST /notes: %d %s %v", status, b, err)
	}
	first := decode(b)
	if first.Title != "first" || first.Body != "hello" || first.ID == "" || h.Get("Location") != "/notes/"+first.ID {
		t.Fatalf("POST /notes gave %+v, Location %q", first, h.Get("Location"))
	}
	if n := decode(expect("GET", "/notes/"+first.ID, "", 200)); n != first {
		t.Errorf("GET gave %+v, want %+v", n, first)
	}
	expect("PUT", "/notes/"+first.ID, `{"title":"renamed"}`, 200)
	if n := decode(expect("GET", "/notes/"+first.ID, "", 200)); n.Title != "renamed" || n.Body != "" {
		t.Errorf("after PUT: %+v", n)
	}
	expect("GET", "/notes/nope", "", 404)
	expect("GET", "/notes/a.b", "", 404)
	expect("PUT", "/notes/nope", `{"title":"x"}`, 404)
	expect("DELETE", "/notes/nope", "", 404)
	expect("POST", "/notes", `{"title":`, 400)
	expect("POST", "/notes", `{"body":"no title"}`, 400)
	expect("POST", "/notes", `[1,2]`, 400)
	expect("GET", "/elsewhere", "", 404)
	if status, h, _, _ := do("PATCH", "/notes", ""); status != 405 || !strings.Contains(h.Get("Allow"), "POST") {
		t.Errorf("PATCH /notes: %d, Allow %q", status, h.Get("Allow"))
	}
	expect("DELETE", "/notes/"+first.ID, "", 204)
	expect("GET", "/notes/"+first.ID, "", 404)

	// Concurrent readers and writers of the same notes.
	const notes, writers, readers = 8, 4, 12
	ids := make([]string, notes)
	small, large := "s", strings.Repeat("L", 48<<10) // two versions of very different sizes
	for i := range ids {
		ids[i] = decode(expect("POST", "/notes", fmt.Sprintf(`{"title":"n%d","body":%q}`, i, small), 201)).ID
	}
	var reads, writes, failed atomic.Int64
	var wg sync.WaitGroup
	stop := time.Now().Add(3 * time.Second)
	fail := func(format string, args ...any) {
		if failed.Add(1) <= 5 {
			t.Errorf(format, args...)
		}
	}
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(stop); i++ {
				id := ids[(w+i)%notes]
				body := small
				if i%2 == 0 {
					body = large
				}
				status, _, b, err := do("PUT", "/notes/"+id, fmt.Sprintf(`{"title":"t","body":%q}`, body))
				if err != nil || status != 200 {
					fail("PUT: %d %.80s %v", status, b, err)
					return
				}
				writes.Add(1)
			}
		}()
	}
	for r := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(stop); i++ {
				path := "/notes/" + ids[(r+i)%notes]
				if i%10 == 9 {
					path = "/notes"
				}
				status, _, b, err := do("GET", path, "")
				if err != nil || status != 200 {
					fail("GET %s: %d %.80s %v", path, status, b, err)
					return
				}
				if path != "/notes" {
					var n note
					if err := json.Unmarshal(b, &n); err != nil || (n.Body != small && n.Body != large) {
						fail("GET %s: a torn note (%d bytes): %v", path, len(b), err)
						return
					}
				} else {
					var list []map[string]string
					if err := json.Unmarshal(b, &list); err != nil || len(list) != notes {
						fail("GET /notes: %d notes, %v", len(list), err)
						return
					}
				}
				reads.Add(1)
			}
		}()
	}
	wg.Wait()
	t.Logf("%d reads and %d writes in 3 s, %d failed", reads.Load(), writes.Load(), failed.Load())
	if failed.Load() != 0 || reads.Load() == 0 || writes.Load() == 0 {
		t.Errorf("%d requests failed", failed.Load())
	}

	c.CloseIdleConnections()
	cancel()
	select {
	case res := <-done:
		res.MustSucceed(t)
	case <-time.After(20 * time.Second):
		t.Fatal("notes.lua did not end after shutdown")
	}
}
