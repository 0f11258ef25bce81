package accesslog

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/drlee/drlee/internal/leaktest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, leaktest.AtInit())
}

func entry(worker int) *Entry {
	return &Entry{
		Start:    time.Date(2026, 12, 3, 13, 4, 5, 123456000, time.UTC),
		Duration: 1500 * time.Microsecond,
		Remote:   netip.MustParseAddrPort("192.0.2.7:5555"),
		Method:   []byte("GET"), URI: []byte("/a?b=c"), Proto: []byte("HTTP/1.1"),
		Status: 200, Bytes: 11, Worker: worker,
		Referer: []byte("http://x/"), UserAgent: []byte(`curl "8"`),
	}
}

func TestCombined(t *testing.T) {
	var b bytes.Buffer
	l, err := Open("-", &b, Combined, 2)
	if err != nil {
		t.Fatal(err)
	}
	l.Append(entry(1))
	e := entry(2)
	e.Remote, e.Bytes, e.Referer, e.UserAgent = netip.MustParseAddrPort("[::ffff:10.0.0.1]:80"), 0, nil, nil
	l.Append(e)
	e = entry(9) // out of range: worker 0's buffer, as it says
	e.Remote = netip.MustParseAddrPort("[2001:db8::1]:80")
	e.URI = []byte("/\x01\"\xff")
	l.Append(e)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	want := `192.0.2.7 - - [03/Dec/2026:13:04:05 +0000] "GET /a?b=c HTTP/1.1" 200 11 "http://x/" "curl \x228\x22" 0.001500 1
10.0.0.1 - - [03/Dec/2026:13:04:05 +0000] "GET /a?b=c HTTP/1.1" 200 - "-" "-" 0.001500 2
`
	// Worker 0's buffer is written first.
	want = `2001:db8::1 - - [03/Dec/2026:13:04:05 +0000] "GET /\x01\x22\xFF HTTP/1.1" 200 11 "http://x/" "curl \x228\x22" 0.001500 9
` + want
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestJSON(t *testing.T) {
	var b bytes.Buffer
	l, err := Open("-", &b, JSON, 1)
	if err != nil {
		t.Fatal(err)
	}
	e := entry(1)
	e.UserAgent = []byte("a\"b\\c\x00\xffé\u2028")
	l.Append(e)
	e = entry(1)
	e.Remote = netip.AddrPort{}
	l.Append(e)
	l.Close()
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines: %q", len(lines), b.String())
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &v); err != nil {
		t.Fatalf("%q: %v", lines[0], err)
	}
	want := map[string]any{
		"time": "2026-12-03T13:04:05.123456Z", "remote_addr": "192.0.2.7:5555", "method": "GET",
		"uri": "/a?b=c", "proto": "HTTP/1.1", "status": 200.0, "bytes": 11.0, "duration": 0.0015,
		"worker": 1.0, "referer": "http://x/", "user_agent": "a\"b\\c\x00\ufffdé\u2028",
	}
	for k, w := range want {
		if v[k] != w {
			t.Errorf("%s: %#v, want %#v", k, v[k], w)
		}
	}
	if len(v) != len(want) {
		t.Errorf("fields %v", v)
	}
	if err := json.Unmarshal([]byte(lines[1]), &v); err != nil || v["remote_addr"] != "" {
		t.Errorf("%q: %v", lines[1], err)
	}
}

// TestDropWhenFull: a buffer at its limit drops lines, counted, rather than wait for the
// file; the writer reports them and the next lines go in again.
func TestDropWhenFull(t *testing.T) {
	var b bytes.Buffer
	l, err := Open("-", &b, Combined, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.SetLimit(4 << 10); err != nil {
		t.Fatal(err)
	}
	var logged []string
	l.logf = func(level, format string, args ...any) { logged = append(logged, level) }
	n := 0
	for range 200 {
		l.Append(entry(1))
		n++
	}
	l.flush()
	written := strings.Count(b.String(), "\n")
	if written == 0 || written == n || int64(written)+l.Dropped() != int64(n) {
		t.Fatalf("%d written, %d dropped, of %d", written, l.Dropped(), n)
	}
	if len(logged) != 1 || logged[0] != "WARN" {
		t.Fatalf("logged %v", logged)
	}
	l.Append(entry(1))
	l.Close()
	if strings.Count(b.String(), "\n") != written+1 {
		t.Fatal("the line after the drop was not written")
	}
	for _, bad := range []int{0, 4<<10 - 1, 2 << 30} {
		if l.SetLimit(bad) == nil {
			t.Errorf("SetLimit(%d) accepted", bad)
		}
	}
}

// TestWriterAndReopen: the writer goroutine flushes within a second; Reopen moves to a new
// file at the same path (logrotate's rename, then SIGUSR1); Close writes the rest.
func TestWriterAndReopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	l, err := Open(path, nil, Combined, 2)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); l.run() }() // as Start runs it on a goroutine of the engine
	l.Append(entry(1))
	waitLines(t, path, 1)
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	l.Reopen()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("not reopened")
		}
		time.Sleep(5 * time.Millisecond)
	}
	l.Append(entry(2))
	l.Append(entry(2))
	l.Stop()
	wg.Wait()
	l.Append(entry(1)) // after the writer: Close writes it
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if n := countLines(t, path+".1"); n != 1 {
		t.Errorf("rotated file: %d lines", n)
	}
	if n := countLines(t, path); n != 3 {
		t.Errorf("new file: %d lines", n)
	}
	l.Append(entry(1)) // after Close: dropped (counted), no panic
	if l.Dropped() != 1 {
		t.Errorf("%d dropped after Close, want 1", l.Dropped())
	}
}

func countLines(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Count(b, []byte("\n"))
}

func waitLines(t *testing.T, path string, n int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second) // the writer flushes every second
	for countLines(t, path) < n {
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d lines after 3 s", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open("", nil, Combined, 1); err == nil {
		t.Error("empty path accepted")
	}
	if _, err := Open(filepath.Join(t.TempDir(), "no", "dir"), nil, Combined, 1); err == nil {
		t.Error("missing directory accepted")
	}
	if _, err := Open("-", os.Stdout, Combined, 0); err == nil {
		t.Error("0 workers accepted")
	}
	for _, f := range []string{"xml", "JSON", " combined"} {
		if _, err := ParseFormat(f); err == nil {
			t.Errorf("format %q accepted", f)
		}
	}
}

// BenchmarkAppend is the cost of a line on the request path, per format.
func BenchmarkAppend(b *testing.B) {
	for _, f := range []Format{Combined, JSON} {
		name := map[Format]string{Combined: "combined", JSON: "json"}[f]
		b.Run(name, func(b *testing.B) {
			l, _ := Open("-", &bytes.Buffer{}, f, 1)
			e := entry(1)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				l.Append(e)
				if i%1000 == 0 {
					l.out = &bytes.Buffer{}
					l.flush()
				}
			}
		})
	}
}
