package metrics_test

import (
	"os"
	"testing"

	dto "github.com/prometheus/client_model/go"

	_ "github.com/drlee/drlee/bindings/core"
	_ "github.com/drlee/drlee/bindings/metrics"
	_ "github.com/drlee/drlee/bindings/time"
	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/internal/drleetest"
	"github.com/drlee/drlee/internal/observe"
)

func checkLua(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../core/testdata/check.lua")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestOddValues: every function under pcall with odd values (testdata/odd_values.lua).
func TestOddValues(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile("testdata/odd_values.lua")
	if err != nil {
		t.Fatal(err)
	}
	res := drleetest.Run(t, string(src), drleetest.Options{Files: map[string]string{"check.lua": checkLua(t)}})
	res.MustSucceed(t)
	res.Contains(t, "PASS\n")
}

// TestSummedOverWorkers: 3 workers declare the same metrics and move them by their id;
// the engine's registry (what /metrics serves) has one metric of each, summed.
func TestSummedOverWorkers(t *testing.T) {
	t.Parallel()
	var e *engine.Engine
	res := drleetest.Run(t, `local metrics = require "metrics"
local c = metrics.counter("sum_total", "Summed.", {"kind"})
local g = metrics.gauge("sum_gauge", "Summed.")
local h = metrics.histogram("sum_seconds", "Summed.", {1, 10})
local id = env.worker_id
c:inc(id, {kind = "a"})
c:inc({kind = "b"})
g:set(id * 10)
h:observe(id) -- 1, 2, 3: one in le=1, all in le=10
`, drleetest.Options{Workers: 3, Started: func(en *engine.Engine) { e = en }})
	res.MustSucceed(t)
	fams, err := observe.Of(e).Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		by[f.GetName()] = f
	}
	c := by["sum_total"]
	if c == nil || len(c.Metric) != 2 {
		t.Fatalf("sum_total: %v", c)
	}
	got := map[string]float64{}
	for _, m := range c.Metric {
		got[m.Label[0].GetValue()] = m.Counter.GetValue()
	}
	if got["a"] != 1+2+3 || got["b"] != 3 {
		t.Errorf("sum_total: %v, want a=6 b=3", got)
	}
	if g := by["sum_gauge"]; g == nil || g.Metric[0].Gauge.GetValue() != 60 {
		t.Errorf("sum_gauge: %v, want 60", g)
	}
	h := by["sum_seconds"].GetMetric()[0].GetHistogram()
	if h.GetSampleCount() != 3 || h.GetSampleSum() != 6 || h.Bucket[0].GetCumulativeCount() != 1 || h.Bucket[1].GetCumulativeCount() != 3 {
		t.Errorf("sum_seconds: %v", h)
	}
}
