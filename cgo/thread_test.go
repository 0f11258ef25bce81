//go:build luajit

package lua

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/drlee/drlee/packed"
)

var fnWait = Register("t.wait", false, func(c *Call) int {
	if !c.CanAwait() {
		return c.ReturnString("cannot await here")
	}
	ownerOf(c).awaits++
	return c.Await()
})

func init() { testFuncs = append(testFuncs, Export{"wait", fnWait}) }

func packValues(vs ...any) []byte {
	var w packed.Writer
	for _, v := range vs {
		packed.Encode(&w, v)
	}
	return w.B
}

// newTestThread is a runtime thread of s, freed when the test ends.
func newTestThread(t *testing.T, s *State) *Thread {
	t.Helper()
	th, err := s.NewThread()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.FreeThread(th) })
	return th
}

// TestThreadAwaitResume: a call in a runtime thread that awaits is suspended, and Resume
// hands it the results as the awaited call's own; the thread is then free for the next
// call, call after call.
func TestThreadAwaitResume(t *testing.T) {
	t.Parallel()
	s, o := newState(t)
	mustDo(t, s, `
T.report("ref", T.keep(function(a, b)
  local x, y = T.wait()
  local z = T.wait()
  T.report("got", table.concat({tostring(a), tostring(b), tostring(x), tostring(y), tostring(z)}, ","))
end))`)
	ref := int32(o.num(t, "ref"))
	th := newTestThread(t, s)
	top := s.Top()
	for i := 0; i < 1000; i++ {
		r, err := s.RunIn(th, ref, false, packValues("a", 1.0), true)
		if r != ThreadAwait || err != nil {
			t.Fatalf("run: %v %v", r, err)
		}
		if r, lost, err := s.Resume(th, packValues("x", nil)); r != ThreadAwait || lost || err != nil {
			t.Fatalf("first resume: %v %v %v", r, lost, err)
		}
		if r, lost, err := s.Resume(th, packValues(true)); r != ThreadDone || lost || err != nil {
			t.Fatalf("second resume: %v %v %v", r, lost, err)
		}
	}
	if got := o.str("got"); got != "a,1,x,nil,true" {
		t.Fatalf("the call saw %q", got)
	}
	if o.awaits != 2000 || s.Top() != top {
		t.Fatalf("awaits %d, stack %d -> %d", o.awaits, top, s.Top())
	}
}

// TestThreadResumeLost: a resume with more values than MaxResume reports them lost (the
// flag comes back packed in the C result) and the awaited call returns none; one with
// MaxResume values loses nothing.
func TestThreadResumeLost(t *testing.T) {
	t.Parallel()
	s, o := newState(t)
	mustDo(t, s, `
T.report("ref", T.keep(function()
  T.report("n", select("#", T.wait()))
end))`)
	ref := int32(o.num(t, "ref"))
	th := newTestThread(t, s)
	for _, c := range []struct {
		n    int
		lost bool
		got  float64
	}{{MaxResume, false, MaxResume}, {MaxResume + 1, true, 0}} {
		if r, err := s.RunIn(th, ref, false, nil, true); r != ThreadAwait || err != nil {
			t.Fatalf("run: %v %v", r, err)
		}
		vs := make([]any, c.n)
		for i := range vs {
			vs[i] = float64(i)
		}
		r, lost, err := s.Resume(th, packValues(vs...))
		if r != ThreadDone || lost != c.lost || err != nil {
			t.Fatalf("resume with %d values: %v, lost %v, %v; want done, lost %v", c.n, r, lost, err, c.lost)
		}
		if got := o.num(t, "n"); got != c.got {
			t.Fatalf("resume with %d values: the call got %v values, want %v", c.n, got, c.got)
		}
	}
}

// TestThreadErrors: a raise in a thread's call comes back with its traceback (before or
// after an await), and the thread goes on serving calls; outside a runtime thread, or where
// a C function is on the way, a call cannot await.
func TestThreadErrors(t *testing.T) {
	t.Parallel()
	s, o := newState(t)
	mustDo(t, s, `
T.report("raise", T.keep(function(when)
  if when == "after" then T.wait() end
  error("boom " .. when)
end))
T.report("where", T.keep(function()
  T.report("main", T.wait())                                     -- from the main chunk's call: on the main thread
  T.report("own", coroutine.wrap(function() return T.wait() end)()) -- a coroutine of the script's
  local ok, err = pcall(table.sort, {3, 1, 2}, function(a, b) T.wait() return a < b end)
  T.report("sorted", tostring(ok) .. " " .. tostring(err))
end))`)
	th, err := s.NewThread()
	if err != nil {
		t.Fatal(err)
	}
	raise := int32(o.num(t, "raise"))
	for _, when := range []string{"before", "after"} {
		r, err := s.RunIn(th, raise, false, packValues(when), true)
		if when == "after" {
			if r != ThreadAwait {
				t.Fatalf("%s: %v %v", when, r, err)
			}
			r, _, err = s.Resume(th, nil)
		}
		var le *Error
		if r != ThreadFailed || !errors.As(err, &le) || !strings.Contains(le.Msg, "boom "+when) || !strings.Contains(le.Msg, "stack traceback:") {
			t.Fatalf("%s: %v %v", when, r, err)
		}
	}
	// The main thread cannot await; nor can a coroutine the script made.
	if err := s.CallRef(int32(o.num(t, "where")), false, nil); err != nil {
		t.Fatal(err)
	}
	if o.str("main") != "cannot await here" || o.str("own") != "cannot await here" {
		t.Fatalf("main %q, own %q", o.str("main"), o.str("own"))
	}
	// In a thread, across a C function: a clear error, the thread not suspended.
	r, err := s.RunIn(th, int32(o.num(t, "where")), false, nil, true)
	if r != ThreadAwait { // T.wait() in the thread itself does suspend
		t.Fatalf("in a thread: %v %v", r, err)
	}
	for r == ThreadAwait {
		r, _, err = s.Resume(th, packValues("resumed"))
	}
	if r != ThreadDone || err != nil {
		t.Fatalf("%v %v", r, err)
	}
	if got := o.str("sorted"); !strings.Contains(got, "false") || !strings.Contains(got, "attempt to yield across C-call boundary") {
		t.Fatalf("await in a sort comparator: %q", got)
	}
}

// TestThreadInterrupted: the guard interrupts a runaway call in a runtime thread as it does
// a call on the main thread, the error comes back with the script's traceback, and the
// thread goes on serving calls.
func TestThreadInterrupted(t *testing.T) {
	t.Parallel()
	s, o := newState(t)
	g := s.EnableGuard()
	mustDo(t, s, `
T.report("loop", T.keep(function() local t = {} while true do pcall(function() t[#t % 100 + 1] = {} end) end end))
T.report("ok", T.keep(function() T.report("after", 1) end))`)
	th, err := s.NewThread()
	if err != nil {
		t.Fatal(err)
	}
	seq0, _ := g.Sample()
	armed := interruptWhenRunning(g, seq0, 20*time.Millisecond)
	r, err := s.RunIn(th, int32(o.num(t, "loop")), false, nil, true)
	if !<-armed {
		t.Fatal("the guard did not arm")
	}
	var le *Error
	if r != ThreadFailed || !errors.As(err, &le) || !strings.Contains(le.Msg, guardMsg) || !strings.Contains(le.Msg, "cgo_test.lua:2") {
		t.Fatalf("%v %v", r, err)
	}
	if r, err := s.RunIn(th, int32(o.num(t, "ok")), false, nil, true); r != ThreadDone || err != nil || o.num(t, "after") != 1 {
		t.Fatalf("the thread after the interrupt: %v %v", r, err)
	}
}

// TestThreadCallArity: a thread's call gets exactly the arguments it was given, nils and
// all, however many (the runner passes up to 4 in locals, more in a table); and they stay
// alive until the thread's next call (what a kept thread relies on: engine.RunScoped).
func TestThreadCallArity(t *testing.T) {
	t.Parallel()
	s, o := newState(t)
	mustDo(t, s, `
seen = setmetatable({}, {__mode = "v"})
T.report("ref", T.keep(function(...)
  local n = select("#", ...)
  local parts = {}
  for i = 1, n do parts[i] = tostring((select(i, ...))) end
  if type((...)) == "table" then seen.arg = (...) end
  T.report("got", n .. ":" .. table.concat(parts, ","))
end))
T.report("alive", T.keep(function()
  collectgarbage()
  collectgarbage()
  T.report("alive", tostring(seen.arg ~= nil))
end))`)
	ref, alive := int32(o.num(t, "ref")), int32(o.num(t, "alive"))
	th := newTestThread(t, s)
	for n := 0; n <= 7; n++ {
		var args []any
		want := []string{}
		for i := 0; i < n; i++ {
			if i%3 == 1 {
				args = append(args, nil)
				want = append(want, "nil")
			} else {
				args = append(args, float64(i))
				want = append(want, strconv.Itoa(i))
			}
		}
		if r, err := s.RunIn(th, ref, false, packValues(args...), true); r != ThreadDone || err != nil {
			t.Fatalf("%d arguments: %v %v", n, r, err)
		}
		if got, w := o.str("got"), fmt.Sprintf("%d:%s", n, strings.Join(want, ",")); got != w {
			t.Errorf("%d arguments: the call saw %q, want %q", n, got, w)
		}
	}
	// A table argument stays reachable through the thread until its next call.
	other, err := s.NewThread()
	if err != nil {
		t.Fatal(err)
	}
	defer s.FreeThread(other)
	if r, err := s.RunIn(th, ref, false, packValues(map[any]any{"k": 1.0}), true); r != ThreadDone || err != nil {
		t.Fatal(r, err)
	}
	if r, err := s.RunIn(other, alive, false, nil, true); r != ThreadDone || err != nil {
		t.Fatal(r, err)
	}
	if o.str("alive") != "true" {
		t.Errorf("the argument of the thread's last call was collected while the thread kept it")
	}
	if r, err := s.RunIn(th, alive, false, nil, true); r != ThreadDone || err != nil {
		t.Fatal(r, err)
	}
	if o.str("alive") != "false" {
		t.Errorf("the argument of a call was still alive after the thread's next call")
	}
}
