// Command fasthttp is the baseline peer: each bench scenario written natively
// in Go on a raw fasthttp server. Every other server is reported as a ratio
// to it. GOMAXPROCS is whatever the harness sets in the environment.
//
// Usage: fasthttp -addr 127.0.0.1:8080
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"log"
	"strconv"
	"strings"
	"time"

	"github.com/drlee/drlee/bench/scenario"
	"github.com/valyala/fasthttp"
)

var chunk = []byte(strings.Repeat("x", scenario.StreamChunkSize))

func handler(ctx *fasthttp.RequestCtx) {
	switch string(ctx.Path()) { // the compiler does not allocate for a switch on string(bytes)
	case "/hello", "/hello-cb": // no callbacks here: the same work
		ctx.SetContentType("text/plain")
		ctx.SetBodyString(scenario.HelloBody)
	case "/json":
		var in scenario.JSONIn
		if err := json.Unmarshal(ctx.PostBody(), &in); err != nil {
			ctx.Error(err.Error(), fasthttp.StatusBadRequest)
			return
		}
		out, _ := json.Marshal(scenario.JSONOut{OK: true, ID: in.ID, Name: in.Name, Count: len(in.Tags)})
		ctx.SetContentType("application/json")
		ctx.SetBody(out)
	case "/timer":
		time.Sleep(time.Millisecond)
		ctx.SetContentType("text/plain")
		ctx.SetBodyString("ok")
	case "/cpu":
		ctx.SetContentType("text/plain")
		ctx.SetBody(strconv.AppendInt(nil, scenario.CPUSum(), 10))
	case "/stream64k":
		ctx.SetContentType("application/octet-stream")
		ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
			for range scenario.StreamChunks {
				w.Write(chunk)
				if w.Flush() != nil {
					return
				}
			}
		})
	default:
		ctx.NotFound()
	}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	flag.Parse()
	s := &fasthttp.Server{Handler: handler, Name: "fasthttp"}
	log.Fatal(s.ListenAndServe(*addr))
}
