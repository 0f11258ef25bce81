package fs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// goPool starts every task on its own goroutine and counts them.
type goPool struct {
	wg sync.WaitGroup
}

func (p *goPool) submit(fn func()) error {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		fn()
	}()
	return nil
}

func createFile(t *testing.T, content string) *os.File {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestFileRunsJobsInIssueOrder(t *testing.T) {
	var pool goPool
	f := createFile(t, "")
	fl := newFile(f, pool.submit)
	var (
		mu    sync.Mutex
		order []int
		want  strings.Builder
	)
	const n = 1000
	for i := range n {
		line := fmt.Sprintf("%d %s\n", i, strings.Repeat("z", i%500))
		want.WriteString(line)
		fl.write([]byte(line), func(r result) {
			if r.err != nil || r.n != len(line) {
				t.Errorf("write %d: %d, %v", i, r.n, r.err)
			}
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
		})
	}
	closed := make(chan error, 1)
	fl.close(func(r result) { closed <- r.err })
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	pool.wg.Wait()
	for i, v := range order {
		if i != v {
			t.Fatalf("done %d called in position %d", v, i)
		}
	}
	if len(order) != n {
		t.Fatalf("%d writes done before close, want %d", len(order), n)
	}
	got, _ := os.ReadFile(f.Name())
	if string(got) != want.String() {
		t.Fatal("content out of order")
	}
}

func TestFileReadToEnd(t *testing.T) {
	var pool goPool
	fl := newFile(createFile(t, "abcdef"), pool.submit)
	got := make(chan result, 4)
	for _, n := range []int{4, 4, 4, 0} {
		fl.read(n, func(r result) { got <- r })
	}
	for _, want := range []string{"abcd", "ef", "", ""} {
		r := <-got
		if r.err != nil || string(r.data) != want || r.data == nil {
			t.Fatalf("read: %q (nil %v), %v; want %q", r.data, r.data == nil, r.err, want)
		}
		putReadBuf(r.data)
	}
	fl.close(func(result) {})
	pool.wg.Wait()
}

func TestFileAfterClose(t *testing.T) {
	var pool goPool
	fl := newFile(createFile(t, "x"), pool.submit)
	fl.write([]byte("y"), func(r result) {
		if r.err != nil {
			t.Errorf("write before close: %v", r.err)
		}
	})
	fl.close(func(r result) {
		if r.err != nil {
			t.Errorf("close: %v", r.err)
		}
	})
	var errs []error
	fl.write([]byte("z"), func(r result) { errs = append(errs, r.err) })
	fl.read(1, func(r result) { errs = append(errs, r.err) })
	fl.close(func(r result) { errs = append(errs, r.err) })
	for _, err := range errs {
		if !errors.Is(err, os.ErrClosed) {
			t.Fatalf("after close: %v, want os.ErrClosed", err)
		}
	}
	if len(errs) != 3 {
		t.Fatalf("%d jobs after close reported synchronously, want 3", len(errs))
	}
	fl.collect() // a closed file that is then collected: nothing happens
	pool.wg.Wait()
}

func TestFilePoolRefused(t *testing.T) {
	f := createFile(t, "")
	saturated := errors.New("saturated")
	fl := newFile(f, func(func()) error { return saturated })
	var got []error
	fl.write([]byte("a"), func(r result) { got = append(got, r.err) })
	fl.close(func(r result) { got = append(got, r.err) })
	if len(got) != 2 || got[0] != saturated || got[1] != nil {
		t.Fatalf("got %v, want [saturated <nil>]", got)
	}
	if _, err := f.Write([]byte("x")); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("file still open after a refused close: %v", err)
	}
}

func TestFileCollectedWithPendingJobs(t *testing.T) {
	f := createFile(t, "")
	release := make(chan struct{})
	var pool goPool
	// The runner waits for release, so that the jobs are still pending when the file is
	// collected.
	fl := newFile(f, func(fn func()) error {
		return pool.submit(func() { <-release; fn() })
	})
	var done []bool
	var mu sync.Mutex
	for i := range 3 {
		fl.write([]byte{'a' + byte(i)}, func(r result) {
			if r.err != nil {
				t.Errorf("write %d: %v", i, r.err)
			}
			// The last job is reported after the file was closed.
			_, err := f.Write(nil)
			mu.Lock()
			done = append(done, errors.Is(err, os.ErrClosed))
			mu.Unlock()
		})
	}
	fl.collect()
	if _, err := f.Write(nil); err != nil {
		t.Fatalf("file closed while jobs are pending: %v", err)
	}
	close(release)
	pool.wg.Wait()
	if fmt.Sprint(done) != "[false false true]" {
		t.Fatalf("closed at each done: %v, want [false false true]", done)
	}
	got, _ := os.ReadFile(f.Name())
	if string(got) != "abc" {
		t.Fatalf("content %q", got)
	}
}

func TestFileCollectedIdle(t *testing.T) {
	f := createFile(t, "")
	fl := newFile(f, func(func()) error { t.Fatal("no job, no runner"); return nil })
	fl.collect()
	if _, err := f.Write(nil); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("collected idle file still open: %v", err)
	}
	fl.collect() // twice: nothing happens
}

func TestHostFlags(t *testing.T) {
	for _, c := range []struct {
		lua  int64
		host int
	}{
		{flagReadOnly, os.O_RDONLY},
		{flagWriteOnly, os.O_WRONLY},
		{flagReadWrite, os.O_RDWR},
		{flagCreate | flagWriteOnly | flagTrunc, os.O_CREATE | os.O_WRONLY | os.O_TRUNC},
		{flagAppend | flagWriteOnly, os.O_APPEND | os.O_WRONLY},
		{flagCreate | flagExcl | flagReadWrite | flagSync, os.O_CREATE | os.O_EXCL | os.O_RDWR | os.O_SYNC},
	} {
		got, err := hostFlags(c.lua)
		if err != nil || got != c.host {
			t.Errorf("hostFlags(%#x) = %#x, %v; want %#x", c.lua, got, err, c.host)
		}
	}
	for _, bad := range []int64{-1, 0x3, 0x4, 0x10, 0x1000, flagCreate | 0x100} {
		if _, err := hostFlags(bad); err == nil {
			t.Errorf("hostFlags(%#x): no error", bad)
		}
	}
}

func TestModes(t *testing.T) {
	for _, m := range []int64{0, 0o644, 0o600, 0o755, 0o4755, 0o2755, 0o1777, 0o7777} {
		fm, err := fileMode(m)
		if err != nil {
			t.Fatal(err)
		}
		if back := unixMode(fm); back != m {
			t.Errorf("mode %o -> %v -> %o", m, fm, back)
		}
	}
	for _, bad := range []int64{-1, 0o10000} {
		if _, err := fileMode(bad); err == nil {
			t.Errorf("fileMode(%o): no error", bad)
		}
	}
}
