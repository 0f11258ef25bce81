package rpc

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestMetricsNameBound: a worker tracks maxNames names; calls to any further name count
// under "other", and the names it has keep their own counters. The collector's series are
// read back through a real Prometheus registry.
func TestMetricsNameBound(t *testing.T) {
	m := &workerMetrics{id: 3, names: map[string]*nameStats{}}
	start := time.Now()
	for i := range maxNames {
		m.callDone(fmt.Sprintf("svc.n%d", i), kindCall, start, "")
	}
	m.callDone("svc.extra1", kindCall, start, "ETIMEDOUT")
	m.callDone("svc.extra2", kindBroadcast, start, "")
	m.callDone("svc.n7", kindCall, start, "NOT_A_CODE") // any code outside the set: EUNKNOWN
	if len(m.names) != maxNames+1 {
		t.Fatalf("%d names tracked, want %d and %q", len(m.names), maxNames, otherName)
	}
	if m.names["svc.extra1"] != nil || m.names["svc.extra2"] != nil {
		t.Fatal("a name beyond the bound got counters of its own")
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(&rpcCollector{em: &engineMetrics{on: true, workers: []*workerMetrics{m}}})
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	type key struct{ family, name, label string }
	got := map[key]float64{}
	series := map[string]int{}
	for _, f := range fams {
		for _, s := range f.Metric {
			labels := map[string]string{}
			for _, l := range s.Label {
				labels[l.GetName()] = l.GetValue()
			}
			series[f.GetName()]++
			k := key{f.GetName(), labels["name"], labels["kind"] + labels["code"]}
			switch {
			case s.Counter != nil:
				got[k] += s.Counter.GetValue()
				if f.GetName() == "drlee_rpc_calls_total" && labels["worker"] != "3" {
					t.Errorf("worker label %q, want 3", labels["worker"])
				}
			case s.Histogram != nil:
				got[k] += float64(s.Histogram.GetSampleCount())
			}
		}
	}
	for k, want := range map[key]float64{
		{"drlee_rpc_calls_total", "svc.n0", "call"}:                1,
		{"drlee_rpc_calls_total", "svc.n7", "call"}:                2,
		{"drlee_rpc_calls_total", otherName, "call"}:               1,
		{"drlee_rpc_calls_total", otherName, "broadcast"}:          1,
		{"drlee_rpc_call_errors_total", otherName, "ETIMEDOUT"}:    1,
		{"drlee_rpc_call_errors_total", "svc.n7", "EUNKNOWN"}:      1,
		{"drlee_rpc_call_duration_seconds", "svc.n7", ""}:          2,
		{"drlee_rpc_call_duration_seconds", otherName, ""}:         1, // the broadcast has no latency
		{"drlee_rpc_call_duration_seconds", "svc.n999", ""}:        1,
		{"drlee_rpc_call_errors_total", "svc.n0", "ETIMEDOUT"}:     0,
		{"drlee_rpc_handler_errors_total", "svc.n0", ""}:           0,
		{"drlee_rpc_handled_total", "svc.n0", ""}:                  0,
		{"drlee_rpc_calls_total", "svc.extra1", "call"}:            0,
		{"drlee_rpc_call_errors_total", "svc.extra1", "ETIMEDOUT"}: 0,
	} {
		if got[k] != want {
			t.Errorf("%v = %v, want %v", k, got[k], want)
		}
	}
	// One series per name and kind seen, nothing for the names beyond the bound; no
	// handler series for names that were only called.
	if n := series["drlee_rpc_calls_total"]; n != maxNames+2 {
		t.Errorf("%d drlee_rpc_calls_total series, want %d", n, maxNames+2)
	}
	if n := series["drlee_rpc_handled_total"] + series["drlee_rpc_handler_errors_total"]; n != 0 {
		t.Errorf("%d handler series for names no handler served", n)
	}
}

// TestMetricsNoAllocForKnownName: counting a call to a name seen before allocates nothing.
func TestMetricsNoAllocForKnownName(t *testing.T) {
	m := &workerMetrics{id: 1, names: map[string]*nameStats{}}
	start := time.Now()
	m.callDone("add", kindCall, start, "")
	var n atomic.Int64
	allocs := testing.AllocsPerRun(1000, func() {
		m.callDone("add", kindCall, start, "")
		m.callDone("add", kindCall, start, "ETIMEDOUT")
		n.Add(1)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per counted call", allocs)
	}
	if v := m.names["add"].calls[kindCall].Load(); v != uint64(2*n.Load()+1) {
		t.Errorf("%d calls counted, want %d", v, 2*n.Load()+1)
	}
}
