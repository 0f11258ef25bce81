package httpclient

import (
	"net"
	"testing"

	"github.com/valyala/fasthttp"
)

func newFastServer(b *testing.B) string {
	b.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("text/plain")
		ctx.SetBodyString("hello world")
	}}
	go srv.Serve(ln) //nolint:errcheck
	b.Cleanup(func() { _ = srv.Shutdown() })
	return "http://" + ln.Addr().String() + "/"
}

// BenchmarkDoReadClose measures Do + ReadAsync to the end + Close of an
// 11-byte response over a keep-alive connection.
func BenchmarkDoReadClose(b *testing.B) {
	u := newFastServer(b)
	c := New(Options{})
	req := &Request{Method: "GET", URL: u}
	ch := make(chan readResult, 1)
	cb := func(data []byte, err error) { ch <- readResult{data, err} }
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		resp, err := c.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			resp.ReadAsync(4096, cb)
			r := <-ch
			if r.err != nil {
				b.Fatal(r.err)
			}
			if len(r.data) == 0 {
				break
			}
			n += len(r.data)
		}
		if n != 11 {
			b.Fatalf("read %d bytes", n)
		}
		resp.Close()
	}
}

func BenchmarkDoReadCloseParallel(b *testing.B) {
	u := newFastServer(b)
	c := New(Options{})
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req := &Request{Method: "GET", URL: u}
		ch := make(chan readResult, 1)
		cb := func(data []byte, err error) { ch <- readResult{data, err} }
		for pb.Next() {
			resp, err := c.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			for {
				resp.ReadAsync(4096, cb)
				r := <-ch
				if r.err != nil {
					b.Fatal(r.err)
				}
				if len(r.data) == 0 {
					break
				}
			}
			resp.Close()
		}
	})
}

// BenchmarkFasthttpBaseline is plain fasthttp.Client.Do with a buffered
// body against the same server, for comparison.
func BenchmarkFasthttpBaseline(b *testing.B) {
	u := newFastServer(b)
	fc := &fasthttp.Client{}
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	req.SetRequestURI(u)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := fc.Do(req, resp); err != nil {
			b.Fatal(err)
		}
		if len(resp.Body()) != 11 {
			b.Fatal("bad body")
		}
	}
}
