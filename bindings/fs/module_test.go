package fs_test

import (
	"bytes"
	"embed"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/drlee/drlee/internal/drleetest"
)

//go:embed testdata/*.lua
var scripts embed.FS

func script(t testing.TB, name string) string {
	t.Helper()
	b, err := scripts.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// equalLines fails unless got is want, line by line.
func equalLines(t *testing.T, res drleetest.Result, want string) {
	t.Helper()
	if got := res.Stdout; got != want {
		t.Fatalf("stdout:\n%s\nwant:\n%s\nstderr:\n%s", got, want, res.Stderr)
	}
}

func orderContent(n int, fill string) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "%04d %s\n", i, strings.Repeat(fill, (i*7919)%3000))
	}
	return b.String()
}

func TestWriteOrder(t *testing.T) {
	const n = 200
	res := drleetest.Run(t, script(t, "order.lua"), drleetest.Options{Args: []string{strconv.Itoa(n)}})
	res.MustSucceed(t)
	want := orderContent(n, "x")
	equalLines(t, res, fmt.Sprintf("close\tnil\tcallbacks before close\t%d\tin order\ttrue\tbytes\t%d\n", n, len(want)))
	for name, fill := range map[string]string{"order.txt": "x", "order-nocb.txt": "y"} {
		got, err := os.ReadFile(filepath.Join(res.Dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != orderContent(n, fill) {
			t.Fatalf("%s: writes out of order (%d bytes, want %d)", name, len(got), len(want))
		}
	}
}

func TestReadAllBigFile(t *testing.T) {
	const size = 1 << 20
	data := make([]byte, size)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	res := drleetest.Run(t, script(t, "readall.lua"), drleetest.Options{
		Args:  []string{strconv.Itoa(size)},
		Files: map[string]string{"big.bin": string(data)},
	})
	res.MustSucceed(t)
	equalLines(t, res, "readall\tnil\ttrue\nread_all\tnil\tnil\ttrue\ttrue\none big read\tnil\ttrue\nwrite\tnil\ttrue\ndone\tnil\n")
	got, err := os.ReadFile(filepath.Join(res.Dir, "copy.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("copy.bin differs from big.bin (%d bytes)", len(got))
	}
}

func TestCallbackErrorIsReported(t *testing.T) {
	res := drleetest.Run(t, script(t, "raise.lua"))
	if res.Err != nil {
		t.Fatalf("the main chunk failed: %v\n%s", res.Err, res.Stderr)
	}
	if !res.Failed {
		t.Fatalf("an error in a callback must fail the run\nstderr:\n%s", res.Stderr)
	}
	res.StderrContains(t,
		"main.lua:3: boom in callback",
		"stack traceback",
		"main.lua:3: in function",
		"uncaught error (no callback) at ", "main.lua:10: ENOENT: open "+res.Dir+"/missing: no such file or directory",
	)
	res.Contains(t, "second callback ran\ttrue", "later work done\t13",
		"awaited\tnil\tENOENT: open "+res.Dir+"/missing: no such file or directory")
	if b, err := os.ReadFile(filepath.Join(res.Dir, "later")); err != nil || string(b) != "still working" {
		t.Fatalf("later: %q, %v", b, err)
	}
}

func countFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd:", err)
	}
	return len(ents)
}

func TestUnclosedFilesAreClosedWhenCollected(t *testing.T) {
	const n = 100
	before := countFDs(t)
	res := drleetest.Run(t, script(t, "gc.lua"), drleetest.Options{Args: []string{strconv.Itoa(n)}})
	res.MustSucceed(t)
	res.Contains(t, "opened\ttrue\tafter gc\ttrue", "pending writes done")
	if after := countFDs(t); after > before+2 {
		t.Fatalf("%d file descriptors open after the run, %d before", after, before)
	}
	var want strings.Builder
	for i := 1; i <= 50; i++ {
		fmt.Fprintf(&want, "%02d", i)
	}
	if b, err := os.ReadFile(filepath.Join(res.Dir, "pending")); err != nil || string(b) != want.String() {
		t.Fatalf("pending: %q, %v", b, err)
	}
}

func TestRelativePaths(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rel, err := filepath.Rel(wd, dir)
	if err != nil {
		t.Fatal(err)
	}
	res := drleetest.Run(t, script(t, "relative.lua"), drleetest.Options{Args: []string{rel}})
	res.MustSucceed(t)
	equalLines(t, res, "stat\tnil\trel.txt\t8\n")
	if b, err := os.ReadFile(filepath.Join(dir, "rel.txt")); err != nil || string(b) != "relative" {
		t.Fatalf("rel.txt: %q, %v", b, err)
	}
}

func TestWorkers(t *testing.T) {
	const workers = 4
	res := drleetest.Run(t, script(t, "workers.lua"), drleetest.Options{Workers: workers})
	res.MustSucceed(t)
	for id := 1; id <= workers; id++ {
		res.Contains(t, fmt.Sprintf("worker\t%d\tlines\t100\n", id))
		b, err := os.ReadFile(filepath.Join(res.Dir, fmt.Sprintf("worker-%d.txt", id)))
		if err != nil {
			t.Fatal(err)
		}
		var want strings.Builder
		for i := 1; i <= 100; i++ {
			fmt.Fprintf(&want, "%d:%d\n", id, i)
		}
		if string(b) != want.String() {
			t.Fatalf("worker-%d.txt out of order:\n%s", id, b)
		}
	}
}

// BenchmarkStat is fs.stat through the engine: a Lua loop of b.N stat calls, each with a
// callback, with 1 (the round trip) or 64 in flight.
func BenchmarkStat(b *testing.B) {
	for _, window := range []int{1, 64} {
		b.Run(fmt.Sprintf("inflight=%d", window), func(b *testing.B) {
			b.ReportAllocs()
			res := drleetest.Run(b, script(b, "bench_stat.lua"), drleetest.Options{
				Args: []string{strconv.Itoa(b.N), strconv.Itoa(window)},
			})
			if res.Failed || res.Stdout != fmt.Sprintf("completed %d\n", b.N) {
				b.Fatalf("stdout:\n%s\nstderr:\n%s", res.Stdout, res.Stderr)
			}
		})
	}
}

// TestReadFileLargerThanALuaString: a file beyond what a Lua string holds (a sparse file of
// 4 GiB + 64 bytes) is a clear error at once. Its length used to be cut to 32 bits on the
// way to C, which then decoded the file's own bytes as values, and the callback never ran.
func TestReadFileLargerThanALuaString(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "huge.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(4<<30 + 64); err != nil {
		t.Skipf("this file system has no sparse files: %v", err)
	}
	f.Close()
	res := drleetest.Run(t, `
local fs = require "fs"
fs.readfile(__dirname__ .. "/huge.bin", function(err, data) print("readfile", err ~= nil, data, err) end)
`, drleetest.Options{Dir: dir, Timeout: 20 * time.Second})
	res.MustSucceed(t)
	res.Contains(t, "readfile\ttrue\tnil\t", ": fs.readfile: ", "/huge.bin is 4294967360 bytes, more than a Lua string can hold (2147483392)")
}

// checkLua is the Lua assert helper shared with bindings/core.
func checkLua(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("../core/testdata/check.lua")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestAdditions runs additions.lua: writefile (plain, append, exclusive, atomic, through
// links), rename, mkdir's mode, chmod, lstat, readlink, tmpdir and modes as strings, awaited
// in the main chunk and then with callbacks.
func TestAdditions(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "target.txt"), []byte("original"), 0o644); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{"link": "target.txt", "dangling": "missing-target.txt"} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Skipf("no symbolic links here: %v", err)
		}
	}
	res := drleetest.Run(t, script(t, "additions.lua"), drleetest.Options{
		Dir: dir, Files: map[string]string{"check.lua": checkLua(t)},
	})
	res.MustSucceed(t)
	res.Contains(t, "tmpdir\t"+os.TempDir()+"\n", "await style done\n", "callback style done\n", "PASS\n")
	// What the script wrote is on disk, as Go reads it.
	want := "\x00\x01\x02\xff" + strings.Repeat("xyz", 100000) + "\x00"
	if b, err := os.ReadFile(filepath.Join(dir, "bin.dat")); err != nil || string(b) != want {
		t.Fatalf("bin.dat: %d bytes, %v", len(b), err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "target.txt")); err != nil || string(b) != "via link" {
		t.Fatalf("target.txt: %q, %v", b, err)
	}
	if l, err := os.Readlink(filepath.Join(dir, "link")); err != nil || l != "target.txt" {
		t.Fatalf("link: %q, %v", l, err)
	}
	if info, err := os.Stat(filepath.Join(dir, "chmod.txt")); err != nil || info.Mode() != 0o644 {
		t.Fatalf("chmod.txt: %v, %v", info.Mode(), err)
	}
}

// atomicRun runs atomic.lua on two workers, each rewriting atomic.txt writes times with
// two contents in turn (atomic unless plain) while readers read it with fs.readfile, and Go
// goroutines read it with os.ReadFile meanwhile. It returns what the Lua readers and the
// Go readers saw: reads, torn reads, and reads of each content.
func atomicRun(t *testing.T, writes int, plain bool) (lua, goReads [4]int, dir string) {
	const luaReaders, goReaders = 4, 4
	const sizeA, sizeB = 1000, 200_000
	contents := [2]string{strings.Repeat("A", sizeA), strings.Repeat("B", sizeB)}
	dir = t.TempDir()
	path := filepath.Join(dir, "atomic.txt")
	if err := os.WriteFile(path, []byte(contents[0]), 0o644); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	counts := make(chan [4]int, goReaders)
	for range goReaders {
		go func() {
			var c [4]int // reads, torn, A, B
			for {
				select {
				case <-stop:
					counts <- c
					return
				default:
				}
				b, err := os.ReadFile(path)
				if err != nil {
					c[1]++ // the file was missing: a writer that is not atomic at all
					continue
				}
				c[0]++
				switch string(b) {
				case contents[0]:
					c[2]++
				case contents[1]:
					c[3]++
				default:
					c[1]++
				}
			}
		}()
	}
	mode := "atomic"
	if plain {
		mode = "plain"
	}
	res := drleetest.Run(t, script(t, "atomic.lua"), drleetest.Options{
		Dir: dir, Workers: 2, Timeout: 60 * time.Second,
		Args: []string{strconv.Itoa(writes), strconv.Itoa(luaReaders), strconv.Itoa(sizeA), strconv.Itoa(sizeB), mode},
	})
	close(stop)
	for range goReaders {
		c := <-counts
		for i := range c {
			goReads[i] += c[i]
		}
	}
	res.MustSucceed(t)
	for _, line := range strings.Split(strings.TrimSpace(res.Stdout), "\n") {
		var id, n int
		var c [4]int
		if _, err := fmt.Sscanf(line, "worker %d writes %d reads %d torn %d seen %d %d", &id, &n, &c[0], &c[1], &c[2], &c[3]); err != nil {
			t.Fatalf("line %q: %v\nstdout:\n%s", line, err, res.Stdout)
		}
		for i := range c {
			lua[i] += c[i]
		}
	}
	return lua, goReads, dir
}

// TestAtomicWriteFile: while two workers rewrite a file with {atomic = true}, alternating
// 1,000 and 200,000 bytes, no reader (fs.readfile in Lua coroutines, os.ReadFile in Go
// goroutines) ever sees anything but one content or the other, whole.
func TestAtomicWriteFile(t *testing.T) {
	t.Parallel()
	lua, goReads, dir := atomicRun(t, 100, false)
	t.Logf("Lua readers: %d reads (%d A, %d B), Go readers: %d reads (%d A, %d B)",
		lua[0], lua[2], lua[3], goReads[0], goReads[2], goReads[3])
	if lua[1] != 0 || goReads[1] != 0 {
		t.Fatalf("torn reads: %d of %d in Lua, %d of %d in Go", lua[1], lua[0], goReads[1], goReads[0])
	}
	// The readers really ran while the file changed under them.
	if lua[2] == 0 || lua[3] == 0 || goReads[2] == 0 || goReads[3] == 0 {
		t.Fatalf("the readers did not see both contents: Lua %v, Go %v", lua, goReads)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "atomic.txt")); err != nil || string(b) != strings.Repeat("A", 1000) {
		t.Fatalf("atomic.txt at the end: %d bytes, %v", len(b), err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Fatalf("temporary file left behind: %s", e.Name())
		}
	}
}
