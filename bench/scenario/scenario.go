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
	RedisGet  = "redis-get" // GET RedisKey from a Redis server, answer its value
	PGSelect  = "pg-select" // select one row of PGTable by primary key, answer it as JSON
)

// Names lists every scenario, in report order.
var Names = []string{Hello, HelloCB, JSON, Timer, CPU, Stream64K, RedisGet, PGSelect}

// The data servers a scenario may need; the harness starts each once, when a scenario
// that needs it is selected.
const (
	Redis    = "redis"
	Postgres = "postgres"
)

// Needs is the data server a scenario talks to, or "" for none.
func Needs(name string) string {
	switch name {
	case RedisGet:
		return Redis
	case PGSelect:
		return Postgres
	}
	return ""
}

// The redis-get scenario: the harness SETs RedisKey to RedisValue once, after starting
// redis-server; every request GETs it and answers the value as text/plain.
const (
	RedisKey   = "bench:greeting"
	RedisValue = "hello from redis"
)

// The pg-select scenario: the harness runs PGSchema once after starting PostgreSQL (a
// table bench_items of 1000 rows); every request runs PGQuery with PGID and answers the
// row as a JSON object, PGRow.
const (
	PGID     = 42
	PGQuery  = "select id, name, qty from bench_items where id = $1"
	PGSchema = `drop table if exists bench_items;
create table bench_items (id integer primary key, name text not null, qty integer not null);
insert into bench_items select i, 'item-' || i, i * 7 % 101 from generate_series(1, 1000) i;
analyze bench_items`
)

// PGRow is the pg-select scenario's answer as a Go type.
type PGRow struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
	Qty  int    `json:"qty"`
}

// PGWant is the row PGQuery returns for PGID, as PGSchema fills the table.
func PGWant() PGRow {
	return PGRow{ID: PGID, Name: "item-" + strconv.Itoa(PGID), Qty: PGID * 7 % 101}
}

// Pool sizes of the data scenarios, the same on every server: connections to Redis at
// most (one pool per server process: Dr.LEE's redis clients share one per process), and
// to PostgreSQL per server core (Dr.LEE's sql pools are per worker, one worker a core;
// the Go baseline's pgxpool gets PGPoolPerCore times its GOMAXPROCS).
const (
	RedisPoolSize = 16
	PGPoolPerCore = 16
)

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
	case RedisGet:
		if string(body) != RedisValue {
			return fmt.Errorf("body %.80q, want %q", body, RedisValue)
		}
	case PGSelect:
		var row PGRow
		if err := json.Unmarshal(body, &row); err != nil {
			return fmt.Errorf("body %.80q: %v", body, err)
		}
		if want := PGWant(); row != want {
			return fmt.Errorf("body %.80q, want %+v", body, want)
		}
	default:
		return fmt.Errorf("unknown scenario %q", name)
	}
	return nil
}
