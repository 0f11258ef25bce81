package core_test

import (
	"embed"
	"path"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/internal/drleetest"
)

//go:embed testdata/*.lua
var testdata embed.FS

func file(t *testing.T, name string) string {
	t.Helper()
	b, err := testdata.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// files next to every test script: the check helper and the modules globals.lua requires.
func files(t *testing.T) map[string]string {
	return map[string]string{
		"check.lua":    file(t, "check.lua"),
		"mymod.lua":    `return {answer = 42, dir = __dirname__}`,
		"pkg/init.lua": `return {name = "pkg/init.lua"}`,
	}
}

// runLua runs testdata/name through the real engine; the script prints PASS when done.
func runLua(t *testing.T, name string) drleetest.Result {
	t.Helper()
	res := drleetest.Run(t, file(t, name), drleetest.Options{Files: files(t)})
	res.MustSucceed(t)
	res.Contains(t, "PASS\n")
	return res
}

func TestLua(t *testing.T) {
	t.Parallel()
	entries, err := testdata.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		name := e.Name()
		if name == "check.lua" || path.Ext(name) != ".lua" {
			continue
		}
		t.Run(strings.TrimSuffix(name, ".lua"), func(t *testing.T) {
			t.Parallel()
			runLua(t, name)
		})
	}
}

func TestPrint(t *testing.T) {
	t.Parallel()
	res := runLua(t, "globals.lua")
	want := "a\t1\tnil\ttrue\n\nnil\ncustom\nmulti\nline\nPASS\n"
	if res.Stdout != want {
		t.Fatalf("stdout %q, want %q", res.Stdout, want)
	}
}

// TestUncaughtHelperErrors: an error that reaches a helper with no callback, where it
// cannot await (in a coroutine of the script's own), is reported as uncaught, with a
// traceback, and the worker goes on.
func TestUncaughtHelperErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ name, script string }{
		{"parallel", `parallel_callback({function(cb) cb("parallel boom") end})`},
		{"series", `series_callback({function(cb) cb(nil) end, function(cb) cb("series boom") end})`},
		{"readall", `readall({read = function(self, n, cb) cb("readall boom") end})`},
		{"async parallel", `parallel_callback({function(cb) time.timeout(1, function() cb("parallel boom") end) end})`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// In a callback: in the main chunk, the error would end the main chunk.
			res := drleetest.Run(t, `local time = require "time"
time.timeout(1, function()
  coroutine.wrap(function()
`+tt.script+`
  end)()
end)
time.timeout(50, function() print("went on") end)`)
			res.MustFail(t)
			res.Contains(t, "went on")
			res.StderrContains(t, "uncaught error: ", "boom", "stack traceback:")
		})
	}
}

// TestWorkers: each worker has its own globals.
func TestWorkers(t *testing.T) {
	t.Parallel()
	res := drleetest.Run(t, `
counter = (counter or 0) + 1
print("worker " .. env.worker_id .. " of " .. env.workers .. " counter " .. counter)
`, drleetest.Options{Workers: 3})
	res.MustSucceed(t)
	res.Contains(t, "worker 1 of 3 counter 1", "worker 2 of 3 counter 1", "worker 3 of 3 counter 1")
}

// TestGlobalsAreTheDocumentedOnes: with every module linked, a script sees LuaJIT's own
// globals and the ones the README documents (Globals), nothing else: no helper a prelude
// forgot to remove, no golua leftover.
func TestGlobalsAreTheDocumentedOnes(t *testing.T) {
	t.Parallel()
	res := drleetest.Run(t, `
local names = {}
for k in pairs(_G) do names[#names + 1] = tostring(k) end
table.sort(names)
print(table.concat(names, " "))
`)
	res.MustSucceed(t)
	luajit := `_G _VERSION assert bit collectgarbage coroutine debug dofile error gcinfo getfenv
getmetatable io ipairs jit load loadfile loadstring math module newproxy next os package
pairs pcall print rawequal rawget rawset require select setfenv setmetatable string table
tonumber tostring type unpack xpcall`
	documented := `__dirname__ arg bit_and bit_or bit_xor class env err_code log json_decode json_encode
parallel_callback read_all readall series_callback spawn uuid wait_all`
	want := append(strings.Fields(luajit), strings.Fields(documented)...)
	sort.Strings(want)
	if got := strings.TrimSpace(res.Stdout); got != strings.Join(want, " ") {
		t.Fatalf("globals:\n got %s\nwant %s", got, strings.Join(want, " "))
	}
}

// TestSpawnErrorNeverWaited: a spawned function that raised, whose handle nobody waited
// for, is reported as uncaught (with its traceback) once the handle is collected; one that
// was waited for is not.
func TestSpawnErrorNeverWaited(t *testing.T) {
	t.Parallel()
	res := drleetest.Run(t, `local time = require "time"
spawn(function() error("forgotten failure") end)
local h = spawn(function() error("handled failure") end)
local _, err = h:wait()
print("handled: " .. tostring(err ~= nil))
time.sleep(5)
collectgarbage()
collectgarbage()
print("went on")`)
	res.MustFail(t)
	res.Contains(t, "handled: true", "went on")
	res.StderrContains(t, "uncaught error in a spawned function (its handle was never waited for)", "forgotten failure", "stack traceback:")
	if strings.Contains(res.Stderr, "handled failure") {
		t.Errorf("an error that was waited for was reported:\n%s", res.Stderr)
	}
}

// TestLogFatal: log.fatal logs a FATAL line whatever the log level, and ends the run as
// SIGTERM would, failed: the ticker that kept the worker alive stops, the timer in flight
// still fires, and the code after log.fatal runs.
func TestLogFatal(t *testing.T) {
	t.Parallel()
	start := time.Now()
	res := drleetest.Run(t, `local time = require "time"
local tk = time.tick(10)
local function wait() tk:next_tick(function(err) if not err then wait() else print("ticker:", err) end end) end
wait()
time.timeout(20, function()
  time.timeout(100, function() print("in flight done") end)
  log.fatal("cannot go on:", 7, nil)
  print("after fatal")
end)
`, drleetest.Options{Configure: func(c *engine.Config) { c.LogLevel = "error" }})
	if res.Err != nil {
		t.Fatalf("Run returned %v: log.fatal is no failure of the main chunk", res.Err)
	}
	res.MustFail(t)
	res.Contains(t, "after fatal", "ticker:\tECLOSED: ticker stopped", "in flight done")
	res.StderrContains(t, "FATAL [worker 1] cannot go on: 7 nil")
	if el := time.Since(start); el > 4*time.Second {
		t.Errorf("the run took %v: log.fatal did not shut it down", el)
	}
}
