package cluster

import (
	"bytes"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// BenchmarkRoundTrip: one call at a time between two routed nodes on
// 127.0.0.1, caller on one, handler on the other, beside raw nats.go
// Request/Respond over the same two servers and connections. The drlee
// handler answers inside the callback, like the raw responder, so both
// measure transport only. cpu-ns/op is the process's CPU time per round
// trip. Compare with
//
//	go test -run '^$' -bench RoundTrip -count 10 ./engine/cluster | benchstat -col /transport -
func BenchmarkRoundTrip(b *testing.B) {
	benchRoundTrip(b, 1)
}

// BenchmarkRoundTripInFlight64 is the same with 64 goroutines calling at
// once (throughput rather than latency).
func BenchmarkRoundTripInFlight64(b *testing.B) {
	benchRoundTrip(b, 64)
}

func benchRoundTrip(b *testing.B, inFlight int) {
	ns := startCluster(b, 2)
	caller, callee := ns[0], ns[1]
	payload := []byte(`{"a":1,"b":"twenty"}`)

	if _, err := callee.Register("bench.echo", 1, func(req *Request) { req.Reply(req.Payload, "") }); err != nil {
		b.Fatal(err)
	}
	waitCall(b, caller, "bench.echo")
	sub, err := callee.nc.Subscribe("raw.echo", func(m *nats.Msg) { _ = m.Respond(m.Data) })
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Unsubscribe()
	_ = callee.nc.Flush()
	deadline := time.Now().Add(testTimeout)
	for {
		if _, err := caller.nc.Request("raw.echo", payload, time.Second); err == nil {
			break
		} else if time.Now().After(deadline) {
			b.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}

	type res struct {
		r   []byte
		err error
	}
	// Each calling goroutine makes its own round-trip function (drlee's
	// waits on one channel, made once).
	drlee := func() func() error {
		ch := make(chan res, 1)
		done := func(r []byte, _ string, err error) { ch <- res{r, err} }
		return func() error {
			caller.Call("bench.echo", payload, 5*time.Second, done)
			r := <-ch
			if r.err == nil && !bytes.Equal(r.r, payload) {
				r.err = fmt.Errorf("got %q", r.r)
			}
			return r.err
		}
	}
	raw := func() func() error {
		return func() error {
			m, err := caller.nc.Request("raw.echo", payload, 5*time.Second)
			if err == nil && !bytes.Equal(m.Data, payload) {
				err = fmt.Errorf("got %q", m.Data)
			}
			return err
		}
	}
	for _, tc := range []struct {
		name  string
		newRT func() func() error
	}{{"transport=drlee", drlee}, {"transport=raw-nats", raw}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(payload)))
			// CPU time of the whole process (both servers, both sides) per
			// round trip: steadier than ns/op on a busy machine.
			cpu0 := processCPU()
			defer func() {
				if cpu := processCPU() - cpu0; cpu > 0 {
					b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
				}
			}()
			if inFlight == 1 {
				rt := tc.newRT()
				for b.Loop() {
					if err := rt(); err != nil {
						b.Fatal(err)
					}
				}
				return
			}
			b.SetParallelism((inFlight + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
			b.RunParallel(func(pb *testing.PB) {
				rt := tc.newRT()
				for pb.Next() {
					if err := rt(); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
