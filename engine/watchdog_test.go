package engine_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/engine/enginetest"
)

// A callback that never returns is interrupted after the callback timeout: the error is
// reported with its traceback and the worker goes on with the rest of its work.
func TestCallbackTimeoutInterruptsRunaway(t *testing.T) {
	t.Parallel()
	r := enginetest.Run(t, `
local time = require "time"
time.timeout(1, function()
  local t = {}
  while true do t[#t % 100 + 1] = {} end -- line 5
end)
time.timeout(50, function() print("the worker goes on") end)
`, enginetest.Options{CallbackTimeout: 200 * time.Millisecond})
	r.MustFail(t) // the interruption is an uncaught error
	r.Contains(t, "the worker goes on")
	r.StderrContains(t,
		"interrupting a callback that has run for",
		"callback interrupted: it ran longer than the callback timeout (200ms)",
		"main.lua:5", "stack traceback:")
}

// The main chunk is not a callback: it may run as long as it likes.
func TestCallbackTimeoutSparesMainChunk(t *testing.T) {
	t.Parallel()
	r := enginetest.Run(t, `
local t0 = os.clock()
local t = {}
while os.clock() - t0 < 0.3 do t[#t % 100 + 1] = {} end
print("main chunk done")
`, enginetest.Options{CallbackTimeout: 50 * time.Millisecond})
	r.MustSucceed(t)
	r.Contains(t, "main chunk done")
}

// Many short callbacks in a row, together far longer than the timeout, are never
// interrupted: the timeout is per callback.
func TestCallbackTimeoutLeavesShortCallbacksAlone(t *testing.T) {
	t.Parallel()
	r := enginetest.Run(t, `
local time = require "time"
local n = 0
local function step()
  n = n + 1
  local t0 = os.clock()
  while os.clock() - t0 < 0.001 do end -- 1 ms of CPU: 300 ms in all
  if n < 300 then time.timeout(0, step) else print("steps " .. n) end
end
step()
`, enginetest.Options{CallbackTimeout: 100 * time.Millisecond})
	r.MustSucceed(t)
	r.Contains(t, "steps 300")
}

// A loop the JIT compiled whole cannot be interrupted: the watchdog says so once; the
// callback here ends by itself after a while and the worker goes on.
func TestCallbackTimeoutReportsUninterruptible(t *testing.T) {
	t.Parallel()
	r := enginetest.Run(t, `
local time = require "time"
time.timeout(1, function()
  local x = 0
  for i = 1, 3e9 do x = x + i end
  print("long loop done")
end)
`, enginetest.Options{CallbackTimeout: 50 * time.Millisecond})
	if !strings.Contains(r.Stdout, "long loop done") {
		t.Fatalf("the loop was interrupted after all; stdout:\n%s\nstderr:\n%s", r.Stdout, r.Stderr)
	}
	r.StderrContains(t, "cannot be interrupted")
}

// At the shutdown timeout, a callback still running is interrupted, so that SIGTERM ends
// the process instead of waiting forever.
func TestShutdownInterruptsStuckCallback(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	r := enginetest.Run(t, `
local time = require "time"
time.timeout(1, function()
  local t = {}
  while true do t[#t % 100 + 1] = {} end
end)
`, enginetest.Options{
		ShutdownTimeout: 300 * time.Millisecond,
		Ctx:             ctx,
		Started: func(e *engine.Engine) {
			time.Sleep(100 * time.Millisecond)
			cancel()
		},
	})
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("Run took %v with a stuck callback", took)
	}
	r.StderrContains(t, "shutdown timeout", "callback interrupted: shutdown timeout")
}
