package json_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/drlee/drlee/internal/drleetest"
)

// Benchmarks of json_encode/json_decode as scripts call them: a Lua loop of b.N calls in a
// real worker (trampoline, C walk or push of the packed value, codec), timed from Lua with
// jsonbench.start/stop so that the engine's start-up is not counted. Go allocations are
// the process's during the loop.
//
//	go test -tags luajit -run '^$' -bench 'LuaJSON' -count 10 ./bindings/json/

var benchClock = drleetest.NewBenchClock("jsonbench")

// benchDocs are the documents of engine/value's JSON benchmarks: a small request body
// like the bench scenario's, and a listing of 100 records.
func benchDocs() []struct{ name, doc string } {
	var list strings.Builder
	list.WriteString(`{"total":100,"items":[`)
	for i := 0; i < 100; i++ {
		if i > 0 {
			list.WriteByte(',')
		}
		list.WriteString(`{"id":12345,"name":"user name","email":"user@example.org","active":true,"score":17.25,"tags":["a","bb","ccc"]}`)
	}
	list.WriteString(`]}`)
	return []struct{ name, doc string }{
		{"small", `{"name":"drlee","id":42,"tags":["a","b","c"],"score":3.5}`},
		{"list", list.String()},
	}
}

const benchScript = `
local bench = require "jsonbench"
local n, op, doc = tonumber(arg[1]), arg[2], arg[3]
local v = json_decode(doc)
assert(type(v) == "table")
local encode, decode = json_encode, json_decode
bench.start()
if op == "encode" then
  for i = 1, n do encode(v) end
else
  for i = 1, n do decode(doc) end
end
bench.stop()
`

func BenchmarkLuaJSON(b *testing.B) {
	for _, op := range []string{"encode", "decode"} {
		for _, d := range benchDocs() {
			b.Run(fmt.Sprintf("op=%s/doc=%s", op, d.name), func(b *testing.B) {
				benchClock.Set(b)
				b.ReportAllocs()
				b.SetBytes(int64(len(d.doc)))
				res := drleetest.Run(b, benchScript, drleetest.Options{Args: []string{fmt.Sprint(b.N), op, d.doc}})
				res.MustSucceed(b)
			})
		}
	}
}
