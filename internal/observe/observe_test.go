package observe_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/goleak"

	_ "github.com/drlee/drlee/bindings/core"
	_ "github.com/drlee/drlee/bindings/time"
	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/internal/drleetest"
	"github.com/drlee/drlee/internal/leaktest"
	"github.com/drlee/drlee/internal/observe"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, leaktest.AtInit())
}

// TestEngineMetrics: the engine's numbers, scraped over HTTP from a running engine: an
// interrupted callback and an uncaught error are counted on their worker, the Lua heaps
// and queues are there for both workers, and the I/O pool's size is --pool-size.
func TestEngineMetrics(t *testing.T) {
	var scraped string
	scrapedDone := make(chan struct{})
	res := drleetest.Run(t, `local time = require "time"
if env.worker_id == 1 then
  time.timeout(1, function() jit.off(); while true do end end) -- interrupted (the JIT off: a compiled loop would not look)
  time.timeout(1, function() error("uncaught") end)
end
time.sleep(1500) -- the test scrapes meanwhile
`, drleetest.Options{
		Workers: 2, PoolSize: 7, CallbackTimeout: 100 * time.Millisecond,
		Started: func(e *engine.Engine) {
			// Serve is for before Run; Started runs once Run began, which is what a
			// late scrape sees too.
			addr, err := observe.Serve(e, "127.0.0.1:0")
			if err != nil {
				t.Error(err)
				close(scrapedDone)
				return
			}
			go func() {
				defer close(scrapedDone)
				// After the interruption (at 100 ms), well before the script ends.
				time.Sleep(500 * time.Millisecond)
				resp, err := http.Get("http://" + addr.String() + "/metrics")
				if err != nil {
					t.Error(err)
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				scraped = string(b)
			}()
		},
	})
	<-scrapedDone
	if !strings.Contains(res.Stderr, "uncaught") {
		t.Fatalf("the script did not run as planned:\n%s", res.Stderr)
	}
	if scraped == "" {
		t.Fatal("no scrape")
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(scraped))
	if err != nil {
		t.Fatal(err)
	}
	value := func(name, worker string) (float64, bool) {
		f := fams[name]
		if f == nil {
			return 0, false
		}
		for _, m := range f.Metric {
			if worker == "" || label(m, "worker") == worker {
				switch {
				case m.Counter != nil:
					return m.Counter.GetValue(), true
				case m.Gauge != nil:
					return m.Gauge.GetValue(), true
				}
			}
		}
		return 0, false
	}
	for _, c := range []struct {
		name, worker string
		want         float64
	}{
		{"drlee_callbacks_interrupted_total", "1", 1},
		{"drlee_callbacks_interrupted_total", "2", 0},
		{"drlee_callback_errors_total", "1", 2}, // the interruption is an error too
		{"drlee_callback_errors_total", "2", 0},
		{"drlee_io_pool_size", "", 7},
		{"drlee_worker_queue_capacity", "2", 4096},
	} {
		if got, ok := value(c.name, c.worker); !ok || got != c.want {
			t.Errorf("%s{worker=%q} = %v (%v), want %v", c.name, c.worker, got, ok, c.want)
		}
	}
	for _, w := range []string{"1", "2"} {
		if got, ok := value("drlee_lua_memory_bytes", w); !ok || got < 10<<10 {
			t.Errorf("drlee_lua_memory_bytes{worker=%s} = %v", w, got)
		}
	}
	if _, ok := value("go_goroutines", ""); !ok {
		t.Error("no go_goroutines")
	}
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.Label {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
