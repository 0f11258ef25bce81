package rpc_test

// In-process tests of the Lua API through the real engine: one node, no flags (the embedded
// NATS server has no port).

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drlee/drlee/internal/drleetest"
)

// prelude gives scripts done(), which ends the run: a registered handler keeps its worker
// serving, so the test shuts the engine down (as SIGTERM would) once done() was called.
const prelude = `
local rpc = require "rpc"
local time = require "time"
local function now() return time.now().milliunix end
local function done()
  local f = assert(io.open(__dirname__ .. "/done", "w"))
  f:close()
end
`

// run runs prelude+script until it calls done() (or 20 s passed: the test fails).
func run(t *testing.T, script string, workers int) drleetest.Result {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	timedOut := make(chan bool, 1)
	go func() {
		deadline := time.After(20 * time.Second)
		for {
			if _, err := os.Stat(filepath.Join(dir, "done")); err == nil {
				timedOut <- false
				cancel()
				return
			}
			select {
			case <-ctx.Done():
				timedOut <- false
				return
			case <-deadline:
				timedOut <- true
				cancel()
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	res := drleetest.Run(t, prelude+script, drleetest.Options{Dir: dir, Ctx: ctx, Workers: workers, Timeout: 30 * time.Second})
	cancel()
	if <-timedOut {
		t.Fatalf("the script did not call done() within 20 s\nstdout:\n%s\nstderr:\n%s", res.Stdout, res.Stderr)
	}
	return res
}

func TestRegisterArgumentErrors(t *testing.T) {
	t.Parallel()
	res := run(t, `
local function try(label, ...)
  local ok, err = pcall(rpc.register, ...)
  print(label .. ": " .. tostring(ok) .. " " .. tostring(err))
end
try("no args")
try("no handler", "x")
try("table handler", "x", {})
try("nil name", nil, print)
try("empty name", "", print)
try("space", "a b", print)
try("wildcard", "a.*", print)
try("tail wildcard", "a.>", print)
try("empty token", "a..b", print)
try("first", "dup", function() end)
try("duplicate", "dup", function() end)
try("dotted", "svc.v1.add", function() end)
done()
`, 1)
	res.MustSucceed(t)
	for _, want := range []string{
		"no args: false bad argument #1 to 'rpc.register' (string expected, got no value)",
		"no handler: false bad argument #2 to 'rpc.register' (function expected, got no value)",
		"table handler: false bad argument #2 to 'rpc.register' (function expected, got table)",
		"nil name: false bad argument #1 to 'rpc.register' (string expected, got nil)",
		"empty name: false bad argument #1 to 'rpc.register' (",
		"space: false bad argument #1 to 'rpc.register' (",
		"wildcard: false bad argument #1 to 'rpc.register' (",
		"tail wildcard: false bad argument #1 to 'rpc.register' (",
		"empty token: false bad argument #1 to 'rpc.register' (",
		"first: true nil",
		"duplicate: false rpc.register: ",
		"dotted: true nil",
	} {
		if !strings.Contains(res.Stdout, want) {
			t.Errorf("stdout lacks %q\nstdout:\n%s", want, res.Stdout)
		}
	}
	if !strings.Contains(res.Stdout, "already registered") {
		t.Errorf("a duplicate registration does not say so:\n%s", res.Stdout)
	}
}

// rpc.call and rpc.broadcast take (name, message, options?, cb?): cb may come third, the
// options may be nil, and options.timeout is in ms.
func TestCallArguments(t *testing.T) {
	t.Parallel()
	res := run(t, `
rpc.register("add", function(m, reply) reply(nil, m.a + m.b) end)
rpc.register("never", function() end)
local list = {
  function(cb) rpc.call("add", {a = 1, b = 2}, function(err, r) print("cb third", err, r) cb() end) end,
  function(cb) rpc.call("add", {a = 2, b = 2}, nil, function(err, r) print("nil options", err, r) cb() end) end,
  function(cb) rpc.call("add", {a = 3, b = 2}, {}, function(err, r) print("empty options", err, r) cb() end) end,
  function(cb) rpc.call("add", {a = 4, b = 2}, {timeout = 1000}, function(err, r) print("timeout option", err, r) cb() end) end,
  function(cb)
    local t0 = now()
    rpc.call("never", 1, {timeout = 150}, function(err, r)
      local ms = now() - t0
      print("short timeout", err, r, ms >= 140 and ms < 2000)
      cb()
    end)
  end,
  function(cb)
    local t0 = now()
    rpc.call("never", 1, {timeout = 0.5}, function(err, r)
      print("fractional timeout", err ~= nil, now() - t0 < 1000)
      cb()
    end)
  end,
  function(cb)
    -- A tiny timeout is tiny, not the default: it used to become 0, read as "5 s".
    local t0 = now()
    rpc.call("never", 1, {timeout = 1e-9}, function(err, r)
      print("tiny timeout", err ~= nil, now() - t0 < 1000)
      cb()
    end)
  end,
  function(cb)
    -- A huge timeout is clamped (about 100 years), not an error nor the default.
    rpc.call("add", {a = 9, b = 1}, {timeout = 1e300}, function(err, r) print("huge timeout", err, r) cb() end)
  end,
  function(cb) rpc.broadcast("add", {a = 5, b = 2}, function(err, rs) print("broadcast cb third", err, #rs, rs[1].result, rs[1].node ~= nil, rs[1].worker_id) cb() end) end,
  function(cb) rpc.broadcast("add", {a = 6, b = 2}, {timeout = 1000}, function(err, rs) print("broadcast options", err, #rs, rs[1].result) cb() end) end,
}
for _, args in ipairs({
  {"number options", {"add", 1, 5}},
  {"string options", {"add", 1, "fast"}},
  {"zero timeout", {"add", 1, {timeout = 0}, print}},
  {"negative timeout", {"add", 1, {timeout = -5}, print}},
  {"inf timeout", {"add", 1, {timeout = math.huge}, print}},
  {"nan timeout", {"add", 1, {timeout = 0/0}, print}},
  {"number callback", {"add", 1, {}, 5}},
  {"no name", {}},
  {"bad name", {"a b", 1, print}},
}) do
  local ok, err = pcall(rpc.call, unpack(args[2]))
  print(args[1] .. ": " .. tostring(ok) .. " " .. tostring(err))
  ok, err = pcall(rpc.broadcast, unpack(args[2]))
  print("broadcast " .. args[1] .. ": " .. tostring(ok) .. " " .. tostring(err))
end
series_callback(list, function() done() end)
`, 1)
	res.MustSucceed(t)
	for _, want := range []string{
		"cb third\tnil\t3",
		"nil options\tnil\t4",
		"empty options\tnil\t5",
		"timeout option\tnil\t6",
		"short timeout\tETIMEDOUT: rpc 'never' timed out after 150ms\tnil\ttrue",
		"fractional timeout\ttrue\ttrue",
		"tiny timeout\ttrue\ttrue",
		"huge timeout\tnil\t10",
		"inf timeout: false bad argument #3 to 'rpc.call' (options.timeout must be a finite number of milliseconds)",
		"nan timeout: false bad argument #3 to 'rpc.call' (options.timeout must be a finite number of milliseconds)",
		"broadcast inf timeout: false bad argument #3 to 'rpc.broadcast' (options.timeout must be a finite number of milliseconds)",
		"broadcast cb third\tnil\t1\t7\ttrue\t1",
		"broadcast options\tnil\t1\t8",
		"number options: false bad argument #3 to 'rpc.call' (table expected, got number)",
		"string options: false bad argument #3 to 'rpc.call' (table expected, got string)",
		"zero timeout: false bad argument #3 to 'rpc.call' (options.timeout must be positive)",
		"negative timeout: false bad argument #3 to 'rpc.call' (options.timeout must be positive)",
		"number callback: false bad argument #4 to 'rpc.call' (function expected, got number)",
		"no name: false bad argument #1 to 'rpc.call' (string expected, got no value)",
		"bad name: false bad argument #1 to 'rpc.call' (",
		"broadcast number options: false bad argument #3 to 'rpc.broadcast' (table expected, got number)",
		"broadcast zero timeout: false bad argument #3 to 'rpc.broadcast' (options.timeout must be positive)",
		"broadcast number callback: false bad argument #4 to 'rpc.broadcast' (function expected, got number)",
		"broadcast bad name: false bad argument #1 to 'rpc.broadcast' (",
	} {
		if !strings.Contains(res.Stdout, want) {
			t.Errorf("stdout lacks %q\nstdout:\n%s", want, res.Stdout)
		}
	}
}

// No handler anywhere: a call fails at once, a broadcast gets an empty list at once.
func TestNoHandler(t *testing.T) {
	t.Parallel()
	res := run(t, `
local t0 = now()
rpc.call("nobody", {1}, {timeout = 5000}, function(err, r)
  print("call", err, r, now() - t0 < 500)
  local t1 = now()
  rpc.broadcast("nobody", {1}, {timeout = 5000}, function(err, rs)
    print("broadcast", err, type(rs), rs and #rs, now() - t1 < 500)
    done()
  end)
end)
`, 1)
	res.MustSucceed(t)
	res.Contains(t, "call\tENOHANDLER: no handler for 'nobody'\tnil\ttrue", "broadcast\tnil\ttable\t0\ttrue")
}

// A handler that raises: the caller gets an error naming the handler, the worker's stderr
// has the traceback, and the worker goes on serving.
func TestHandlerRaises(t *testing.T) {
	t.Parallel()
	res := run(t, `
rpc.register("boom", function(m, reply)
  if m == "table" then error({code = 1}) end
  error("kaboom " .. tostring(m))
end)
rpc.register("ok", function(m, reply) reply(nil, "fine") end)
rpc.call("boom", 42, function(err, r)
  print("call", err, r)
  rpc.broadcast("boom", 43, function(err, rs)
    print("broadcast", err, #rs, rs[1].error, rs[1].result)
    rpc.call("boom", "table", function(err, r)
      print("table error", err ~= nil, type(err))
      rpc.call("ok", nil, function(err, r)
        print("after", err, r)
        done()
      end)
    end)
  end)
end)
`, 1)
	if !strings.Contains(res.Stdout, "call\tEHANDLER: rpc: handler for 'boom' failed: ") ||
		!strings.Contains(res.Stdout, "kaboom 42\tnil") {
		t.Errorf("the caller's error does not name the handler and the error:\n%s", res.Stdout)
	}
	if !strings.Contains(res.Stdout, "broadcast\tnil\t1\tEHANDLER: rpc: handler for 'boom' failed: ") ||
		!strings.Contains(res.Stdout, "kaboom 43\tnil") {
		t.Errorf("the broadcast reply does not carry the handler's error:\n%s", res.Stdout)
	}
	res.Contains(t, "table error\ttrue\tstring", "after\tnil\tfine")
	res.StderrContains(t, "kaboom 42", "stack traceback:", "[worker 1]")
	// The traceback stays in the log: the caller gets one line.
	for _, l := range strings.Split(res.Stdout, "\n") {
		if strings.Contains(l, "stack traceback") {
			t.Errorf("the caller got the traceback: %q", l)
		}
	}
	// An error in a handler is an uncaught Lua error: drlee would exit 1.
	if !res.Failed {
		t.Error("a raising handler did not count as an uncaught error")
	}
}

// Bad messages raise at the call, catchably; a handler replying with a bad value fails its
// call with an error, not the caller's worker.
func TestBadMessages(t *testing.T) {
	t.Parallel()
	res := run(t, `
rpc.register("echo", function(m, reply) reply(nil, m) end)
rpc.register("badreply", function(m, reply) reply(nil, {f = function() end}) end)
local cyc = {}
cyc[1] = {cyc}
for label, msg in pairs({["function"] = print, cycle = cyc, userdata = io.stderr, nested = {a = {b = {c = print}}}}) do
  print(label, pcall(rpc.call, "echo", msg, function() print("called back " .. label) end))
  print("broadcast " .. label, pcall(rpc.broadcast, "echo", msg, function() print("called back " .. label) end))
end
rpc.call("badreply", 1, function(err, r)
  print("bad reply", err, r)
  done()
end)
`, 1)
	for _, want := range []string{
		"function\tfalse\tbad argument #2 to 'rpc.call' (cannot encode a function value)",
		"cycle\tfalse\tbad argument #2 to 'rpc.call' (cannot encode a table: cycle)",
		"userdata\tfalse\tbad argument #2 to 'rpc.call' (cannot encode a userdata value)",
		"nested\tfalse\tbad argument #2 to 'rpc.call' (cannot encode a function value)",
		"broadcast function\tfalse\tbad argument #2 to 'rpc.broadcast' (cannot encode a function value)",
		"broadcast cycle\tfalse\tbad argument #2 to 'rpc.broadcast' (cannot encode a table: cycle)",
		"bad reply\tEHANDLER: rpc: handler for 'badreply' failed: ",
	} {
		if !strings.Contains(res.Stdout, want) {
			t.Errorf("stdout lacks %q\nstdout:\n%s", want, res.Stdout)
		}
	}
	if strings.Contains(res.Stdout, "called back") {
		t.Errorf("a refused call still called back:\n%s", res.Stdout)
	}
	if !strings.Contains(res.Stdout, "cannot encode a function value)\tnil") {
		t.Errorf("the bad reply's error does not say why:\n%s", res.Stdout)
	}
}

// A handler registered in every worker shares the calls among them.
func TestCallsSharedAmongWorkers(t *testing.T) {
	t.Parallel()
	res := run(t, `
rpc.register("who", function(m, reply) reply(nil, env.worker_id) end)
if env.worker_id == 1 then
  local seen, n = {}, 0
  local list = {}
  for i = 1, 40 do
    list[i] = function(cb) rpc.call("who", i, function(err, w) if w then seen[w] = (seen[w] or 0) + 1 end cb(err) end) end
  end
  -- the other worker registers a moment later: wait until a broadcast reaches both
  local function go()
    rpc.broadcast("who", nil, function(err, rs)
      if #rs < 2 then return time.timeout(10, go) end
      series_callback(list, function(err)
        local w1, w2 = seen[1] or 0, seen[2] or 0
        print("err", err, "total", w1 + w2, "shared", w1 >= 10 and w2 >= 10, "w1", w1, "w2", w2)
        done()
      end)
    end)
  end
  go()
end
`, 2)
	res.MustSucceed(t)
	res.Contains(t, "err\tnil\ttotal\t40\tshared\ttrue")
}

// Replying twice is harmless and logged once; so is replying after the caller timed out
// (the issue: "Replying twice, or after the caller timed out, is harmless and logged once").
func TestReplyTwice(t *testing.T) {
	t.Parallel()
	res := run(t, `
rpc.register("twice", function(m, reply)
  reply(nil, "first")
  reply(nil, "second")
  reply("an error")
end)
rpc.register("late", function(m, reply)
  time.timeout(200, function() reply(nil, "late") end)
end)
rpc.call("twice", nil, function(err, r)
  print("twice", err, r)
  rpc.call("late", nil, {timeout = 50}, function(err, r)
    print("late", err, r)
    time.timeout(400, done)
  end)
end)
`, 1)
	res.MustSucceed(t)
	res.Contains(t, "twice\tnil\tfirst", "late\tETIMEDOUT: rpc 'late' timed out after 50ms\tnil")
	if k := countLines(res.Stderr, "reply to 'twice' ignored"); k != 1 {
		t.Errorf("%d warnings for replying three times, want 1\nstderr:\n%s", k, res.Stderr)
	}
	if k := countLines(res.Stderr, "reply to 'late' ignored"); k != 1 {
		t.Errorf("%d warnings for replying after the caller timed out, want 1\nstderr:\n%s", k, res.Stderr)
	}
}

// json.null, json.empty_array and decoded arrays travel as they are, both ways (the
// message and the result are validated as network input, which accepts them).
func TestJSONValues(t *testing.T) {
	t.Parallel()
	res := run(t, `
local json = require "json"
rpc.register("echo", function(m, reply)
  reply(nil, {m = m, null = json.null, empty = json.empty_array, list = json.decode("[1,null,[]]")})
end)
-- One call, from worker 1: done() ends the run, which a second worker's call in flight
-- would see fail (ECLOSED).
if env.worker_id ~= 1 then return end
rpc.call("echo", {doc = json.decode('{"a":[],"b":[null,2],"c":null}'), n = json.null}, function(err, r)
  print("err", err)
  print("null", r.null == json.null, r.m.n == json.null)
  print("json", json.encode(r.m.doc, {sort_keys = true}), json.encode(r.list), json.encode(r.empty))
  print("mt", getmetatable(r.list) == json.array_mt, getmetatable(r.m.doc.a) == json.array_mt, getmetatable(r.m) == nil)
  done()
end)
`, 2)
	res.MustSucceed(t)
	res.Contains(t, "err\tnil\n", "null\ttrue\ttrue\n", "json\t{\"a\":[],\"b\":[null,2],\"c\":null}\t[1,null,[]]\t[]\n", "mt\ttrue\ttrue\ttrue\n")
}

// The node's goroutines end with the engine however the script ends: by itself (the node
// leaves after the workers) or on SIGTERM (it leaves while they run); Run never has to
// give up on one.
func TestNodeGoroutinesEndWithTheEngine(t *testing.T) {
	t.Parallel()
	t.Run("script ends", func(t *testing.T) {
		t.Parallel()
		res := drleetest.Run(t, prelude+`
rpc.call("nobody", 1, function(err) print("call: " .. tostring(err)) end)
`)
		res.MustSucceed(t)
		res.Contains(t, "call: ENOHANDLER: no handler for 'nobody'")
		if strings.Contains(res.Stderr, "left behind") {
			t.Fatalf("Run gave up on goroutines:\n%s", res.Stderr)
		}
	})
	t.Run("shutdown", func(t *testing.T) {
		t.Parallel()
		res := run(t, `
rpc.register("echo", function(m, reply) reply(nil, m) end)
rpc.call("echo", 1, function(err, v) print("echo: " .. tostring(v)) done() end)
`, 1)
		res.MustSucceed(t)
		res.Contains(t, "echo: 1")
		if strings.Contains(res.Stderr, "left behind") {
			t.Fatalf("Run gave up on goroutines:\n%s", res.Stderr)
		}
	})
}

// TestAwaitStyle: rpc.call and rpc.broadcast without a callback wait and return the
// result (or nil, err), in the main chunk and in a callback; a handler may await before it
// replies; one that raises after an await answers its caller with the error at once.
func TestAwaitStyle(t *testing.T) {
	t.Parallel()
	res := run(t, `
rpc.register("slow.double", function(m, reply)
  time.sleep(5)
  reply(nil, m * 2)
end)
rpc.register("late.fail", function(m, reply)
  time.sleep(5)
  error("failed after an await")
end)
if env.worker_id ~= 1 then return end
print("call", rpc.call("slow.double", 21))
local none, err = rpc.call("nobody.home", 1)
print("no handler", none, err)
local t0 = now()
local r, ferr = rpc.call("late.fail", 1, {timeout = 5000})
print("raised", r, ferr:match("failed after an await"), now() - t0 < 2000)
local replies = rpc.broadcast("slow.double", 5, {timeout = 2000})
table.sort(replies, function(a, b) return a.worker_id < b.worker_id end)
for _, rep in ipairs(replies) do print("broadcast", rep.worker_id, rep.result) end
time.timeout(1, function()
  print("in a callback", rpc.call("slow.double", 4))
  done()
end)
`, 2)
	res.Contains(t, "call\t42\n", "no handler\tnil\tENOHANDLER: no handler for 'nobody.home'\n", "raised\tnil\tfailed after an await\ttrue\n",
		"broadcast\t1\t10\n", "broadcast\t2\t10\n", "in a callback\t8\n")
	res.StderrContains(t, "rpc: handler for 'late.fail': ", "failed after an await", "stack traceback:")
}

// TestErrorCodes: what a caller gets carries a code err_code reads: no handler, a timeout,
// a handler that raised, a message too large for the transport; a handler's own
// reply(err) comes as it was given, with the code it has, if any.
func TestErrorCodes(t *testing.T) {
	t.Parallel()
	res := run(t, `
rpc.register("never", function() end)
rpc.register("boom", function() error("kaboom") end)
rpc.register("custom", function(m, reply) reply(m) end)
local function show(label, v, err) print(label, v, err_code(err), err) end
show("no handler", rpc.call("nobody", 1))
show("timeout", rpc.call("never", 1, {timeout = 50}))
show("raised", rpc.call("boom", 1))
show("too large", rpc.call("custom", string.rep("x", 2 * 1024 * 1024)))
show("own text", rpc.call("custom", "user 7 not found"))
show("own code", rpc.call("custom", "ENOENT: user 7"))
local replies = rpc.broadcast("boom", 1, {timeout = 2000})
print("broadcast raised", #replies, err_code(replies[1].error))
replies = rpc.broadcast("custom", "EBUSY: later", {timeout = 2000})
print("broadcast own", replies[1].error, err_code(replies[1].error))
local _, err = rpc.broadcast("custom", string.rep("x", 2 * 1024 * 1024))
print("broadcast too large", err_code(err))
done()
`, 1)
	res.Contains(t,
		"no handler\tnil\tENOHANDLER\tENOHANDLER: no handler for 'nobody'\n",
		"timeout\tnil\tETIMEDOUT\tETIMEDOUT: rpc 'never' timed out after 50ms\n",
		"raised\tnil\tEHANDLER\tEHANDLER: rpc: handler for 'boom' failed: ",
		"too large\tnil\tEMSGSIZE\tEMSGSIZE: drlee: send call: nats: maximum payload exceeded\n",
		"own text\tnil\tEUNKNOWN\tuser 7 not found\n",
		"own code\tnil\tENOENT\tENOENT: user 7\n",
		"broadcast raised\t1\tEHANDLER\n",
		"broadcast own\tEBUSY: later\tEBUSY\n",
		"broadcast too large\tEMSGSIZE\n",
	)
}
