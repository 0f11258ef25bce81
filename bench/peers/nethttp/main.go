// Command nethttp is the Go standard library peer: each bench scenario written
// natively on net/http.
//
// Usage: nethttp -addr 127.0.0.1:8080
package main

import (
	"encoding/json"
	"flag"
	"log"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/drlee/drlee/bench/scenario"
)

var chunk = []byte(strings.Repeat("x", scenario.StreamChunkSize))

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	flag.Parse()

	mux := http.NewServeMux()
	hello := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte(scenario.HelloBody))
	}
	mux.HandleFunc("/hello", hello)
	mux.HandleFunc("/hello-cb", hello) // no callbacks here: the same work
	mux.HandleFunc("/json", func(w http.ResponseWriter, r *http.Request) {
		var in scenario.JSONIn
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		out, _ := json.Marshal(scenario.JSONOut{OK: true, ID: in.ID, Name: in.Name, Count: len(in.Tags)})
		w.Header().Set("Content-Type", "application/json")
		w.Write(out)
	})
	mux.HandleFunc("/timer", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(time.Millisecond)
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("ok"))
	})
	mux.HandleFunc("/cpu", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write(strconv.AppendInt(nil, scenario.CPUSum(), 10))
	})
	mux.HandleFunc("/stream64k", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		f := w.(http.Flusher)
		for range scenario.StreamChunks {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			f.Flush() // send each chunk now, as the Lua servers do
		}
	})
	log.Fatal(http.ListenAndServe(*addr, mux))
}
