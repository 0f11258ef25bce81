package cli_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/internal/cli"
	"github.com/drlee/drlee/internal/drleetest"
	"github.com/drlee/drlee/internal/leaktest"
)

var drleeBin string

// TestMain builds drlee once, for `drlee test` as a process. goleak then checks that the
// engines of the in-process tests ended every goroutine they started.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(drleetest.WithDrlee(m, &drleeBin), append(leaktest.FasthttpServer(), append(leaktest.FasthttpClient(), leaktest.AtInit())...)...)
}

type result struct {
	code           int
	stdout, stderr string
	elapsed        time.Duration
}

// drleeTest runs `drlee test args...` in dir.
func drleeTest(t *testing.T, dir string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, drleeBin, append([]string{"test"}, args...)...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String(), elapsed: time.Since(start)}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Fatalf("drlee test did not end\nstdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
	return r
}

func (r result) expect(t *testing.T, code int, want ...string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.stdout, r.stderr)
	}
	for _, s := range want {
		if !strings.Contains(r.stdout, s) {
			t.Fatalf("stdout lacks %q\nstdout:\n%s\nstderr:\n%s", s, r.stdout, r.stderr)
		}
	}
}

func (r result) lacks(t *testing.T, s string) {
	t.Helper()
	if strings.Contains(r.stdout, s) {
		t.Fatalf("stdout has %q\nstdout:\n%s", s, r.stdout)
	}
}

// files writes name -> source into a new directory.
func files(t *testing.T, m map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range m {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// passing has tests that wait in the await style, talk to a real HTTP server of their
// own, compare tables and catch errors.
const passing = `local time, http = require "time", require "http"
local helper = require "helper"

test("deep equality", function(t)
  t:eq({1, {a = "x", b = {true}}}, {1, {a = "x", b = {true}}})
  t:eq(0/0, 0/0)
  t:eq(helper.answer, 42)
end)

test("awaits in sequence", function(t)
  local order = {}
  require("time").timeout(10, function() order[#order + 1] = "timer" end)
  time.sleep(20)
  order[#order + 1] = "slept"
  t:eq(order, {"timer", "slept"})
end)

test("http round trip", function(t)
  local srv = http.create_server("127.0.0.1:0", function(req, res)
    res:write("hi " .. req.path)
    res:finish()
  end)
  t:ok(srv:start())
  local res, err = http.get("http://" .. srv:address() .. "/x")
  t:ok(res, err)
  t:eq(res.status_code, 200)
  res:close()
  srv:stop()
end)

test("raises", function(t)
  local err = t:raises(function() error("no such thing") end, "no such")
  t:ok(err:find("no such thing", 1, true))
  t:raises_text(function() error("bad argument #1 (x.y-z expected)") end, "(x.y-z expected)")
  t:raises_text(function() t:raises_text(5, "x") end, "bad argument #1 to 'raises_text' (function expected, got number)")
  t:raises_text(function() t:raises_text(print, nil) end, "bad argument #2 to 'raises_text' (string expected, got nil)")
end)

test("skipped", function(t) t:skip("not here") end)
`

func TestPassing(t *testing.T) {
	t.Parallel()
	dir := files(t, map[string]string{
		"a_test.lua":         passing,
		"helper.lua":         "return {answer = 42}",
		"notatest.lua":       `error("not a test file: never run")`,
		".hidden/x_test.lua": `test("hidden", function(t) t:fail("ran") end)`,
	})
	r := drleeTest(t, dir, "-v")
	r.expect(t, 0, "ok   a_test.lua: deep equality (", "ok   a_test.lua: awaits in sequence (",
		"ok   a_test.lua: http round trip (", "ok   a_test.lua: raises (", "skip a_test.lua: skipped: not here",
		"4 passed, 0 failed, 1 skipped\n")
	r.lacks(t, "hidden")
	// Without -v only the closing line; flags may come after the paths; --run filters.
	r = drleeTest(t, dir, ".", "--run", "^(raises|deep)")
	r.expect(t, 0)
	if r.stdout != "2 passed, 0 failed\n" {
		t.Fatalf("stdout %q", r.stdout)
	}
}

func TestFailing(t *testing.T) {
	t.Parallel()
	dir := files(t, map[string]string{"f_test.lua": `
test("tables differ", function(t)
  t:eq({name = "x", list = {1, 2, 3}}, {name = "x", list = {1, 2, 4}}, "the record")
end)
test("not ok", function(t)
  t:ok(nil, "wanted a value")
end)
test("raises nothing", function(t)
  t:raises(function() end)
end)
test("raises other text", function(t)
  t:raises_text(function() error("a (b)") end, "(c)")
end)
test("runtime error", function(t)
  local cfg
  return cfg.port
end)
test("error in a callback", function(t)
  require("time").timeout(5, function() t:eq("a", "b") end)
end)
test("still runs", function(t) t:eq(1, 1) end)
`})
	r := drleeTest(t, dir)
	r.expect(t, 1,
		"FAIL f_test.lua: tables differ (",
		"    f_test.lua:3: the record: differ at .list[3]: got 3, want 4\n",
		`    got:  {list = {1, 2, 3}, name = "x"}`,
		"FAIL f_test.lua: not ok (", "    f_test.lua:6: wanted a value: expected a true value, got nil\n",
		"FAIL f_test.lua: raises nothing (", "    f_test.lua:9: expected an error, none was raised\n",
		"FAIL f_test.lua: raises other text (", `does not contain "(c)"`,
		"FAIL f_test.lua: runtime error (", "    f_test.lua:16: attempt to index local 'cfg' (a nil value)\n",
		"FAIL f_test.lua: error in a callback (", `    f_test.lua:19: got "a", want "b"`,
		"1 passed, 6 failed\n")
	r.lacks(t, "still runs") // passed: no line without -v
	r.lacks(t, "stack traceback")

	// A file that does not compile fails, with its line.
	dir = files(t, map[string]string{"bad_test.lua": "test('x', function(t)\n  local = 1\nend)\n"})
	r = drleeTest(t, dir)
	r.expect(t, 1, "FAIL bad_test.lua\n", "bad_test.lua:2:", "0 passed, 1 failed\n")
}

// TestHanging: a test that waits for ever fails with "timeout" and the next one runs; a
// test stuck in a loop the JIT compiled is ended with its process, and the next file runs.
func TestHanging(t *testing.T) {
	t.Parallel()
	dir := files(t, map[string]string{
		"a_test.lua": `local time = require "time"
test("waits for ever", function(t)
  time.sleep(1e9)
end)
test("after it", function(t) time.sleep(1); t:ok(true) end)
`,
		"b_test.lua": `test("spins", function(t) while true do end end)
test("never reached", function(t) end)
`,
		"c_test.lua": `test("next file", function(t) t:ok(true) end)`,
	})
	r := drleeTest(t, dir, "--timeout", "200ms", "-v")
	r.expect(t, 1,
		"FAIL a_test.lua: waits for ever (", "a_test.lua:2: timeout: the test did not end within 200ms (still open: 1 timer(s)",
		"ok   a_test.lua: after it (",
		"FAIL b_test.lua: spins\n", "its process was killed",
		"ok   c_test.lua: next file (",
		"2 passed, 2 failed\n")
	r.lacks(t, "never reached")
}

// TestLeaking: a test that ends with a file, a ticker or a server still open fails, and
// says what it left.
func TestLeaking(t *testing.T) {
	t.Parallel()
	dir := files(t, map[string]string{"l_test.lua": `local fs, time, http = require "fs", require "time", require "http"
kept = {} -- a global: what it holds stays reachable
test("file", function(t)
  kept.f = fs.open("leak.tmp", fs.flags.CREATE + fs.flags.READ_WRITE, 420)
  t:ok(kept.f)
end)
test("ticker", function(t)
  kept.tk = time.tick(1000)
end)
test("server", function(t)
  local srv = http.create_server("127.0.0.1:0", function(req, res) res:finish() end)
  t:ok(srv:start())
end)
test("closed file", function(t)
  local f = fs.open("ok.tmp", fs.flags.CREATE + fs.flags.READ_WRITE, 420)
  f:close()
end)
`})
	r := drleeTest(t, dir)
	r.expect(t, 1,
		"FAIL l_test.lua: file (", "l_test.lua:3: left open after the test: 1 file\n",
		"FAIL l_test.lua: ticker (", "l_test.lua:7: left open after the test: 1 timer(s), 1 ticker\n",
		"FAIL l_test.lua: server (", "l_test.lua:10: left open after the test: 1 held (a server, a ticker, a subscription)",
		"1 passed, 3 failed\n")
}

func TestUsage(t *testing.T) {
	t.Parallel()
	dir := files(t, map[string]string{"x_test.lua": `test("x", function(t) end)`})
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--timeout", "0s"}, 2, "--timeout must be from"},
		{[]string{"--timeout", "-1s"}, 2, "--timeout must be from"},
		{[]string{"--timeout", "48h"}, 2, "--timeout must be from"},
		{[]string{"--run", "("}, 2, "--run: error parsing regexp"},
		{[]string{"--nope"}, 2, "flag provided but not defined"},
		{[]string{"missing_dir"}, 2, "missing_dir: no such file"},
		{[]string{"empty"}, 1, "no test files (*_test.lua) in empty"},
	} {
		if err := os.MkdirAll(filepath.Join(dir, "empty"), 0o755); err != nil {
			t.Fatal(err)
		}
		r := drleeTest(t, dir, tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("drlee test %v: exit %d, stderr %q; want %d and %q", tc.args, r.code, r.stderr, tc.code, tc.want)
		}
	}
}

// TestRunTestFileInProcess runs a file in an engine of this process: its totals and
// report, and (TestMain) no goroutine left behind.
func TestRunTestFileInProcess(t *testing.T) {
	dir := files(t, map[string]string{"p_test.lua": `
test("one", function(t) require("time").sleep(5); t:eq({1}, {1}) end)
test("two", function(t) t:eq(1, 2) end)
test("three", function(t) t:skip() end)
`})
	var out, errs bytes.Buffer
	var tot cli.Totals
	o := cli.TestOptions{Timeout: 5 * time.Second, Out: &out, Verbose: true}
	cli.RunTestFile(context.Background(), engine.Config{Stdout: &out, Stderr: &errs}, filepath.Join(dir, "p_test.lua"), o, &tot)
	if want := (cli.Totals{Passed: 1, Failed: 1, Skipped: 1, Files: 1}); tot != want {
		t.Fatalf("totals %+v, want %+v\n%s\n%s", tot, want, out.String(), errs.String())
	}
	if !strings.Contains(out.String(), "got 1, want 2") {
		t.Fatalf("report:\n%s", out.String())
	}
}

func TestFindTests(t *testing.T) {
	dir := files(t, map[string]string{
		"b_test.lua": "", "a_test.lua": "", "sub/c_test.lua": "", "sub/helper.lua": "",
		".git/d_test.lua": "", "e.lua": "",
	})
	got, err := cli.FindTests([]string{dir, filepath.Join(dir, "e.lua"), filepath.Join(dir, "a_test.lua")})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a_test.lua", "b_test.lua", "e.lua", "sub/c_test.lua"}
	for i := range want {
		want[i] = filepath.Join(dir, want[i])
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("FindTests: %q, want %q", got, want)
	}
	if _, err := cli.FindTests([]string{filepath.Join(dir, "nope")}); err == nil {
		t.Fatal("no error for a missing path")
	}
}

// TestOddValues: test() and the assertions called with odd values under pcall raise
// clear errors or record failures, never crash the runner: deep and cyclic tables, NaN,
// functions, userdata, huge strings. A failure is recorded even under pcall (an
// assertion is not an error to catch), and a test reports its first ten.
func TestOddValues(t *testing.T) {
	t.Parallel()
	dir := files(t, map[string]string{"odd_test.lua": `
local cyclic = {}; cyclic.self = cyclic
local cyclic2 = {}; cyclic2.self = cyclic2
local deep = {}; do local x = deep; for _ = 1, 300 do x[1] = {}; x = x[1] end end
local odd = {n = 12, nil, true, 0/0, math.huge, -0.0, "", string.rep("x", 1e6), {}, cyclic, deep,
  print, newproxy(), coroutine.create(function() end)}
local raised = 0
for i = 1, odd.n do
  for j = 1, odd.n do
    if not pcall(test, odd[i], odd[j]) then raised = raised + 1 end
  end
end
print("test() raised", raised)
test("odd values", function(t)
  for i = 1, odd.n do
    for j = 1, odd.n do
      pcall(t.eq, t, odd[i], odd[j], odd[j])
      pcall(t.ok, t, odd[i], odd[j])
      pcall(t.raises, t, odd[i], odd[j])
      pcall(t.raises_text, t, odd[i], odd[j])
    end
  end
end)
test("cycles and depth", function(t)
  t:eq(cyclic, cyclic2)
  t:eq(deep, deep)
  t:eq(odd, odd)
end)
test("a long string", function(t) t:eq(odd[7], "x") end)
`})
	r := drleeTest(t, dir)
	// Only (string, function) pairs declare tests: none among the odd values but print
	// after "" and the long string, which are then never run (they are filtered out below).
	r.expect(t, 1, "test() raised\t142\n", "FAIL odd_test.lua: odd values (", "    ... and ",
		"FAIL odd_test.lua: a long string (", `got "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"... (1000000 bytes), want "x"`)
	r.lacks(t, "FAIL odd_test.lua: cycles and depth")
	if len(r.stdout) > 20000 {
		t.Errorf("%d bytes of report", len(r.stdout))
	}
	if strings.Contains(r.stderr, "internal error") || strings.Contains(r.stderr, "panic") {
		t.Fatalf("stderr:\n%s", r.stderr)
	}
}
