package main

import (
	"testing"
	"time"
)

// wrkOutput is wrk 4.1's --latency report, abridged.
const wrkOutput = `Running 1s test @ http://127.0.0.1:40000/hello
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   540.12us  100.00us   3.01ms   90.00%
    Req/Sec   110.31k     4.00k  117.00k    80.00%
  Latency Distribution
     50%  512.00us
     75%  580.00us
     90%  640.00us
     99%    1.25ms
  110312 requests in 1.00s, 12.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec: 110300.55
Transfer/sec:     12.00MB
`

func TestParseWrk(t *testing.T) {
	t.Parallel()
	s, err := parseWrk(wrkOutput)
	if err != nil {
		t.Fatal(err)
	}
	want := sample{rps: 110300.55, p50: 512 * time.Microsecond, p99: 1250 * time.Microsecond, requests: 110312, errors: 7}
	if s != want {
		t.Errorf("parseWrk = %+v, want %+v", s, want)
	}
	if _, err := parseWrk("unable to connect to 127.0.0.1:1 Connection refused"); err == nil {
		t.Error("parseWrk of an error message: no error")
	}
}
