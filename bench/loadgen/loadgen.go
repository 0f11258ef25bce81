// Package loadgen is bench's built-in HTTP load generator, used for warm-ups
// and when wrk is not installed: a fixed number of keep-alive connections,
// each sending one request at a time for a fixed duration, with latencies in
// a log-linear histogram (HDR-style, about 1.5% precision).
//
//	res, err := loadgen.Run(ctx, loadgen.Config{Addr: "127.0.0.1:8080", Path: "/hello", Conns: 64, Duration: 3 * time.Second})
//
// It targets what Config.Addr names; the harness only ever passes 127.0.0.1.
package loadgen

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/bits"
	"net"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// Config describes one load run.
type Config struct {
	Addr     string // host:port
	Method   string // default GET
	Path     string // default /
	Body     []byte // sent with Content-Type: application/json when non-nil
	Conns    int    // concurrent keep-alive connections, one request in flight each
	Duration time.Duration
}

// Result is what one run measured.
type Result struct {
	Requests int64         `json:"requests"` // completed with a 2xx/3xx status
	Errors   int64         `json:"errors"`   // failed, timed out, or non-2xx/3xx
	Elapsed  time.Duration `json:"elapsed"`
	RPS      float64       `json:"rps"`
	P50      time.Duration `json:"p50"`
	P99      time.Duration `json:"p99"`
}

// Run loads cfg.Addr until cfg.Duration has passed or ctx is done.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Conns < 1 || cfg.Duration <= 0 {
		return Result{}, errors.New("loadgen: need Conns >= 1 and Duration > 0")
	}
	if cfg.Method == "" {
		cfg.Method = "GET"
	}
	if cfg.Path == "" {
		cfg.Path = "/"
	}
	req := buildRequest(cfg)

	ctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total Histogram
		res   Result
	)
	start := time.Now()
	for range cfg.Conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var h Histogram
			ok, bad := worker(ctx, cfg.Addr, req, &h)
			mu.Lock()
			total.Merge(&h)
			res.Requests += ok
			res.Errors += bad
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	res.RPS = float64(res.Requests) / res.Elapsed.Seconds()
	res.P50 = total.Quantile(0.50)
	res.P99 = total.Quantile(0.99)
	return res, nil
}

func buildRequest(cfg Config) []byte {
	b := fmt.Appendf(nil, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: drlee-bench\r\n", cfg.Method, cfg.Path, cfg.Addr)
	if cfg.Body != nil {
		b = fmt.Appendf(b, "Content-Type: application/json\r\nContent-Length: %d\r\n", len(cfg.Body))
	}
	b = append(b, "\r\n"...)
	return append(b, cfg.Body...)
}

// worker runs one connection until ctx is done, reconnecting after an error.
func worker(ctx context.Context, addr string, req []byte, h *Histogram) (ok, bad int64) {
	var resp fasthttp.Response
	for ctx.Err() == nil {
		c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		if err != nil {
			if ctx.Err() == nil {
				bad++
				time.Sleep(10 * time.Millisecond) // do not spin on a refused port
			}
			continue
		}
		// Unblocks a read in flight when the run ends.
		stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
		br := bufio.NewReaderSize(c, 16<<10)
		for ctx.Err() == nil {
			t0 := time.Now()
			if _, err = c.Write(req); err == nil {
				err = resp.Read(br)
			}
			if err != nil {
				if ctx.Err() == nil {
					bad++
				}
				break
			}
			h.Record(time.Since(t0))
			if code := resp.StatusCode(); code >= 200 && code < 400 {
				ok++
			} else {
				bad++
			}
			if resp.ConnectionClose() {
				break
			}
		}
		stop()
		c.Close()
	}
	return ok, bad
}

// Histogram counts durations in log-linear buckets: exact below 128 ns, then
// 64 buckets per power of two (at most 1/64 relative error).
type Histogram struct {
	counts [64 * 64]int64
	n      int64
}

func bucket(ns uint64) int {
	if ns < 128 {
		return int(ns)
	}
	shift := bits.Len64(ns) - 7 // ns>>shift is in [64, 128)
	return 64*(shift+1) + int(ns>>shift) - 64
}

func bucketValue(i int) uint64 {
	if i < 128 {
		return uint64(i)
	}
	shift := i/64 - 1
	return uint64(i%64+64) << shift
}

// Record adds one duration.
func (h *Histogram) Record(d time.Duration) {
	i := bucket(uint64(max(d, 0)))
	if i >= len(h.counts) {
		i = len(h.counts) - 1
	}
	h.counts[i]++
	h.n++
}

// Merge adds o's counts to h.
func (h *Histogram) Merge(o *Histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
}

// Quantile returns the smallest recorded bucket value at or above quantile q (0..1).
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := int64(q*float64(h.n) + 0.5)
	rank = min(max(rank, 1), h.n)
	var seen int64
	for i, c := range h.counts {
		if seen += c; seen >= rank {
			return time.Duration(bucketValue(i))
		}
	}
	return 0
}
