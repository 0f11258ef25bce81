//go:build luajit

package lua

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

const guardMsg = "callback ran longer than the test's limit"

// interruptWhenRunning interrupts the guarded call that starts after seq0, once it has run
// for d. It returns a channel that reports whether Interrupt armed the hook.
func interruptWhenRunning(g *Guard, seq0 uint64, d time.Duration) <-chan bool {
	armed := make(chan bool, 1)
	go func() {
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			if seq, running := g.Sample(); running && seq > seq0 {
				time.Sleep(d)
				armed <- g.Interrupt(seq, guardMsg)
				return
			}
			time.Sleep(time.Millisecond)
		}
		armed <- false
	}()
	return armed
}

func TestGuardInterruptsRunawayCalls(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, body string }{
		{"allocating loop", `local t = {} while true do t[#t % 100 + 1] = {} end`},
		{"interpreted loop", `jit.off() local i = 0 while true do i = i + 1 end`},
		{"pcall cannot swallow it", `while true do pcall(function() local x = {} end) end`},
		{"inside a coroutine", `local co = coroutine.wrap(function() local t = {} while true do t[#t % 100 + 1] = {} end end) co()`},
	}
	// Loops around pcall of several lengths: with the hook at a fixed period, some length
	// puts every hit inside the pcall, which then swallows each raise forever.
	for pad := 0; pad < 8; pad++ {
		cases = append(cases, struct{ name, body string }{
			fmt.Sprintf("pcall loop padded by %d", pad),
			`local a = 0 while true do ` + strings.Repeat("a = a + 1 ", pad) + `pcall(function() local x = {} end) end`,
		})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, o := newState(t)
			g := s.EnableGuard()
			mustDo(t, s, `T.report("ref", T.keep(function() `+tc.body+` end))
T.report("ok", T.keep(function() T.report("after", 1) end))`)
			top := s.Top()
			seq0, _ := g.Sample()
			armed := interruptWhenRunning(g, seq0, 30*time.Millisecond)
			err := s.CallRef(int32(o.num(t, "ref")), false, nil)
			if !<-armed {
				t.Fatal("Interrupt did not arm the hook on a running call")
			}
			var le *Error
			if !errors.As(err, &le) || !strings.Contains(le.Msg, guardMsg) {
				t.Fatalf("CallRef = %v, want the guard's error", err)
			}
			if !strings.Contains(le.Msg, "stack traceback:") {
				t.Errorf("no traceback in %q", le.Msg)
			}
			if s.Top() != top {
				t.Errorf("Top went from %d to %d", top, s.Top())
			}
			// The state goes on, with the hook disarmed.
			if err := s.CallRef(int32(o.num(t, "ok")), false, nil); err != nil {
				t.Fatalf("the next call failed: %v", err)
			}
			if o.num(t, "after") != 1 {
				t.Fatal("the next call did not run")
			}
		})
	}
}

func TestGuardLeavesOtherCallsAlone(t *testing.T) {
	t.Parallel()
	s, o := newState(t)
	g := s.EnableGuard()
	mustDo(t, s, `local n = 0
T.report("ref", T.keep(function() n = n + 1; T.report("n", n) end))`)
	ref := int32(o.num(t, "ref"))
	seq0, running := g.Sample()
	if running {
		t.Fatal("Sample reports a call running on an idle state")
	}
	for range 3 {
		if err := s.CallRef(ref, false, nil); err != nil {
			t.Fatal(err)
		}
	}
	seq, _ := g.Sample()
	if seq != seq0+3 {
		t.Fatalf("seq went from %d to %d after 3 calls", seq0, seq)
	}
	// A finished call cannot be interrupted, and interrupting it does not touch the next.
	if g.Interrupt(seq, guardMsg) {
		t.Fatal("Interrupt armed the hook for a call that had returned")
	}
	if err := s.CallRef(ref, false, nil); err != nil {
		t.Fatalf("a call after a stale Interrupt: %v", err)
	}
	// The main chunk is not guarded.
	mustDo(t, s, `T.report("chunk", 1)`)
	if seq2, _ := g.Sample(); seq2 != seq+1 {
		t.Fatalf("seq = %d after one more call and a chunk, want %d", seq2, seq+1)
	}
}

// A hook armed for a call that returned just before (the watchdog's race) fires in the next
// call, which must not raise: it is not the call that was interrupted.
func TestGuardStaleArmingDoesNotRaise(t *testing.T) {
	t.Parallel()
	s, o := newState(t)
	g := s.EnableGuard()
	mustDo(t, s, `T.report("ref", T.keep(function() local t = {} for i = 1, 200000 do t[i % 10 + 1] = {} end T.report("done", 1) end))`)
	seq, _ := g.Sample()
	// Arm as the watchdog would have for call seq, racing with its end.
	g.mu.Lock()
	storeKill(g, seq)
	g.mu.Unlock()
	armHook(g)
	if err := s.CallRef(int32(o.num(t, "ref")), false, nil); err != nil {
		t.Fatalf("a call raised for a stale interruption: %v", err)
	}
	if o.num(t, "done") != 1 {
		t.Fatal("the call did not finish")
	}
}

func TestGuardClosedStateIsIgnored(t *testing.T) {
	s, err := New()
	if err != nil {
		t.Fatal(err)
	}
	g := s.EnableGuard()
	s.Close()
	if seq, running := g.Sample(); seq != 0 || running {
		t.Fatalf("Sample on a closed state = %d, %v", seq, running)
	}
	if g.Interrupt(0, guardMsg) {
		t.Fatal("Interrupt armed a closed state")
	}
}

// BenchmarkCallRefGuarded is the guard's cost on every callback: two atomic stores around
// the call and a load after it.
func BenchmarkCallRefGuarded(b *testing.B) {
	for _, guarded := range []bool{false, true} {
		name := "unguarded"
		if guarded {
			name = "guarded"
		}
		b.Run(name, func(b *testing.B) {
			s, o := newState(b)
			if guarded {
				s.EnableGuard()
			}
			mustDo(b, s, `T.report("ref", T.keep(function() end))`)
			ref := int32(o.num(b, "ref"))
			b.ReportAllocs()
			for b.Loop() {
				if err := s.CallRef(ref, false, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
