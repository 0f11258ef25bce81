package loadgen

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

func TestHistogramQuantile(t *testing.T) {
	t.Parallel()
	var h Histogram
	for i := 1; i <= 1000; i++ {
		h.Record(time.Duration(i) * time.Microsecond)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Microsecond}, {0.99, 990 * time.Microsecond}} {
		got := h.Quantile(tc.q)
		if diff := float64(got-tc.want) / float64(tc.want); diff > 0.02 || diff < -0.02 {
			t.Errorf("Quantile(%v) = %v, want %v ±2%%", tc.q, got, tc.want)
		}
	}
}

func TestBucketRoundTrip(t *testing.T) {
	t.Parallel()
	for _, ns := range []uint64{0, 1, 127, 128, 129, 1000, 65536, 1e9, 1 << 40} {
		v := bucketValue(bucket(ns))
		if v > ns || float64(ns-v)/float64(ns+1) > 1.0/64 {
			t.Errorf("bucketValue(bucket(%d)) = %d", ns, v)
		}
	}
}

func TestRun(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Path()) == "/bad" {
			ctx.SetStatusCode(500)
		}
		ctx.SetBodyString("hi")
	}}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown() })

	res, err := Run(context.Background(), Config{Addr: ln.Addr().String(), Path: "/", Conns: 4, Duration: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests == 0 || res.Errors != 0 || res.P50 <= 0 || res.P99 < res.P50 {
		t.Errorf("Run: %+v", res)
	}
	res, _ = Run(context.Background(), Config{Addr: ln.Addr().String(), Path: "/bad", Body: []byte("{}"), Method: "POST", Conns: 1, Duration: 100 * time.Millisecond})
	if res.Requests != 0 || res.Errors == 0 {
		t.Errorf("Run /bad: %+v, want only errors", res)
	}
}
