// Package scenario defines the HTTP scenarios that bench compares servers on:
// the request each one sends, what a correct answer looks like, and the Go
// versions of the handlers' work. The peers, the load generator and the
// harness all use it, so there is one definition of "the same work".
//
// Every server serves scenario NAME at path "/NAME" (Dr.LEE's scripts, one per
// scenario, answer any path).
package scenario

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// The scenario names, in report order.
const (
	Hello     = "hello"     // "hello world", 11 bytes
	HelloCB   = "hello-cb"  // hello, in the seed's idiom: finish in the write's callback
	JSON      = "json"      // POST JSONRequest, decode it, answer an encoded object
	Timer     = "timer"     // wait on a 1 ms timer, then answer "ok"
	CPU       = "cpu"       // a loop the JIT compiles, answer its result
	Stream64K = "stream64k" // 64 KB written as StreamChunks chunks, each after the last was sent
)

// Names lists every scenario, in report order.
var Names = []string{Hello, HelloCB, JSON, Timer, CPU, Stream64K}

// HelloBody is the hello scenario's answer.
const HelloBody = "hello world"

// JSONRequest is the body POSTed in the json scenario. The answer is
// {"ok":true,"id":<id>,"name":<name>,"count":<number of tags>}.
const JSONRequest = `{"name":"drlee","id":42,"tags":["a","b","c"],"score":3.5}`

// JSONIn and JSONOut are the json scenario's request and answer as Go types.
type (
	JSONIn struct {
		Name  string   `json:"name"`
		ID    int      `json:"id"`
		Tags  []string `json:"tags"`
		Score float64  `json:"score"`
	}
	JSONOut struct {
		OK    bool   `json:"ok"`
		ID    int    `json:"id"`
		Name  string `json:"name"`
		Count int    `json:"count"`
	}
)

// The cpu scenario computes s = (s + i*i) % CPUModulus for i = 1..CPUIterations.
// Every value stays below 2^53, so Lua's doubles and Go's int64 agree.
const (
	CPUIterations = 10000
	CPUModulus    = 1000003
)

// CPUSum is the cpu scenario's work in Go.
func CPUSum() int64 {
	var s int64
	for i := int64(1); i <= CPUIterations; i++ {
		s = (s + i*i) % CPUModulus
	}
	return s
}

// The stream64k scenario writes StreamChunks chunks of StreamChunkSize bytes ('x').
const (
	StreamChunkSize = 4096
	StreamChunks    = 16
)

// Method is the HTTP method the load generator uses for a scenario.
func Method(name string) string {
	if name == JSON {
		return "POST"
	}
	return "GET"
}

// Body is the request body the load generator sends for a scenario (nil for none).
func Body(name string) []byte {
	if name == JSON {
		return []byte(JSONRequest)
	}
	return nil
}

// Check reports whether status and body are a correct answer for the scenario.
// The harness calls it once per server before loading it, so a server that
// answers quickly but wrongly is not reported as fast.
func Check(name string, status int, body []byte) error {
	if status != 200 {
		return fmt.Errorf("status %d, body %.80q", status, body)
	}
	switch name {
	case Hello, HelloCB:
		if string(body) != HelloBody {
			return fmt.Errorf("body %.80q, want %q", body, HelloBody)
		}
	case JSON:
		var out JSONOut
		if err := json.Unmarshal(body, &out); err != nil {
			return fmt.Errorf("body %.80q: %v", body, err)
		}
		if want := (JSONOut{OK: true, ID: 42, Name: "drlee", Count: 3}); out != want {
			return fmt.Errorf("body %.80q, want %+v", body, want)
		}
	case Timer:
		if string(body) != "ok" {
			return fmt.Errorf("body %.80q, want \"ok\"", body)
		}
	case CPU:
		if want := strconv.FormatInt(CPUSum(), 10); string(body) != want {
			return fmt.Errorf("body %.80q, want %q", body, want)
		}
	case Stream64K:
		if len(body) != StreamChunkSize*StreamChunks {
			return fmt.Errorf("body of %d bytes, want %d", len(body), StreamChunkSize*StreamChunks)
		}
	default:
		return fmt.Errorf("unknown scenario %q", name)
	}
	return nil
}
