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

func TestHappyPaths(t *testing.T) {
	res := drleetest.Run(t, script(t, "basic.lua"))
	res.MustSucceed(t)
	dir := filepath.Join(res.Dir, "work")
	equalLines(t, res, strings.Join([]string{
		"flags APPEND=0x8 CREATE=0x200 EXCL=0x800 READ_ONLY=0x0 READ_WRITE=0x2 SYNC=0x80 TRUNC=0x400 WRITE_ONLY=0x1",
		"mkdir ok",
		"open\tuserdata\ttrue",
		"write\t6",
		"write\t5",
		"close\tnil",
		"after close\tfile (closed)",
		"stat name=a.txt isdir=false mode=644 size=11",
		"timestamp\ttrue\tnumber\ttrue\ttrue",
		"readfile\thello world",
		"read\tnil\t[hello]",
		"read\tnil\t[ world]",
		"read at end\tnil\t[]",
		"read 0\tnil\t[]",
		"append\thello world!",
		"read_write\tnil\tello",
		"read_write file\tJello world!",
		"mode name=private isdir=false mode=600 size=0",
		"trunc name=a.txt isdir=false mode=644 size=0",
		"mkdir_all\tz\ttrue",
		"read_dir\t1\ta.txt\tfalse\t0\ttrue",
		"read_dir\t2\tb.txt\tfalse\t2\ttrue",
		"read_dir\t3\tprivate\tfalse\t0\ttrue",
		"read_dir\t4\tx\ttrue\ttrue\ttrue",
		"removed\ttrue\tnil",
		"removed all\ttrue\tnil",
		"touched\t0",
		"nocb\ttrue",
		"done",
		"",
	}, "\n"))
	if b, err := os.ReadFile(filepath.Join(dir, "b.txt")); err != nil || string(b) != "bb" {
		t.Fatalf("b.txt: %q, %v", b, err)
	}
}

func TestIOErrors(t *testing.T) {
	res := drleetest.Run(t, script(t, "errors.lua"))
	res.MustSucceed(t)
	// Each line: name, then type(err) == "string", then the Go error text.
	want := [][2]string{
		{"stat missing", "stat %s/missing/file.txt: no such file or directory"},
		{"open missing", "open %s/missing/file.txt: no such file or directory"},
		{"open missing rw", "open %s/missing/file.txt: no such file or directory"},
		{"readfile missing", "open %s/missing/file.txt: no such file or directory"},
		{"readfile dir", "read %s: is a directory"},
		{"remove missing", "remove %s/missing/file.txt: no such file or directory"},
		{"read_dir missing", "open %s/missing/file.txt: no such file or directory"},
		{"mkdir no parent", "mkdir %s/no/parent: no such file or directory"},
		{"mkdir existing", "mkdir %s/d: file exists"},
		{"remove non-empty dir", "remove %s/d: directory not empty"},
		{"mkdir_all under a file", "mkdir %s/d/f: not a directory"},
		{"excl existing", "open %s/d/f: file exists"},
		{"write read-only", "write %s/d/f: bad file descriptor"},
		{"read write-only", "read %s/d/f: bad file descriptor"},
		{"read a directory", "read %s/d: is a directory"},
	}
	var lines []string
	for _, w := range want {
		lines = append(lines, w[0]+"\tstring\t"+fmt.Sprintf(w[1], res.Dir))
	}
	equalLines(t, res, strings.Join(lines, "\n")+"\ndone\n")
}

func TestArgumentErrors(t *testing.T) {
	res := drleetest.Run(t, script(t, "args.lua"))
	res.MustSucceed(t)
	equalLines(t, res, `open nil	false	bad argument #1 to 'fs.open' (string expected, got nil)
open table	false	bad argument #1 to 'fs.open' (string expected, got table)
open flag string	false	bad argument #2 to 'fs.open' (number expected, got string)
open flag fraction	false	bad argument #2 to 'fs.open' (number has no integer representation)
open unknown flag	false	bad argument #2 to 'fs.open' (unknown flags 0x4)
open unknown flags	false	bad argument #2 to 'fs.open' (unknown flags 0x10000)
open wronly+rdwr	false	bad argument #2 to 'fs.open' (WRITE_ONLY and READ_WRITE together)
open negative flag	false	bad argument #2 to 'fs.open' (invalid flags -1)
open mode string	false	bad argument #3 to 'fs.open' (number expected, got string)
open bad mode	false	bad argument #3 to 'fs.open' (invalid mode 65536 (0 to 0o7777 expected))
open cb number	false	bad argument #4 to 'fs.open' (function expected, got number)
open cb string	false	bad argument #4 to 'fs.open' (function expected, got string)
stat nil	false	bad argument #1 to 'fs.stat' (string expected, got no value)
stat cb	false	bad argument #2 to 'fs.stat' (function expected, got boolean)
remove nil	false	bad argument #1 to 'fs.remove' (string expected, got nil)
remove_all nil	false	bad argument #1 to 'fs.remove_all' (string expected, got boolean)
read_dir nil	false	bad argument #1 to 'fs.read_dir' (string expected, got nil)
mkdir nil	false	bad argument #1 to 'fs.mkdir' (string expected, got nil)
mkdir_all nil	false	bad argument #1 to 'fs.mkdir_all' (string expected, got nil)
readfile nil	false	bad argument #1 to 'fs.readfile' (string expected, got nil)
colon open nil	false	bad argument #1 to 'fs.open' (string expected, got nil)
read string	false	bad argument #1 to 'file:read' (number expected, got string)
read nil	false	bad argument #1 to 'file:read' (number expected, got no value)
read negative	false	bad argument #1 to 'file:read' (non-negative count expected)
read cb	false	bad argument #2 to 'file:read' (function expected, got table)
write nil	false	bad argument #1 to 'file:write' (string expected, got nil)
write table	false	bad argument #1 to 'file:write' (string expected, got table)
write cb	false	bad argument #2 to 'file:write' (function expected, got string)
close cb	false	bad argument #1 to 'file:close' (function expected, got number)
read on nil	false	calling 'file:read' on bad self (file expected, got nil)
read on other	false	calling 'file:read' on bad self (file expected, got table)
read on module	false	calling 'file:read' on bad self (file expected, got table)
write after close	false	calling 'file:write' on bad self (file is closed)
closed	nil
read closed	false	calling 'file:read' on bad self (file is closed)
write closed	false	calling 'file:write' on bad self (file is closed)
close closed	false	calling 'file:close' on bad self (file is closed)
`)
	// Nothing was created by the calls that raised.
	if _, err := os.Stat(filepath.Join(res.Dir, "x")); !os.IsNotExist(err) {
		t.Fatalf("x exists after failed calls: %v", err)
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
		"uncaught error (no callback) at ", "main.lua:10: open "+res.Dir+"/missing: no such file or directory",
	)
	res.Contains(t, "second callback ran\ttrue", "later work done\t13",
		"awaited\tnil\topen "+res.Dir+"/missing: no such file or directory")
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
	res.Contains(t, "readfile\ttrue\tnil\tfs.readfile: ", "/huge.bin is 4294967360 bytes, more than a Lua string can hold (2147483392)")
}
