package kv_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/drlee/drlee/engine/cluster"
	"github.com/drlee/drlee/internal/drleetest"
)

// benchScript does arg[1] operations arg[2] ("get" or "put") of a 100-byte value on one
// key, one at a time (await style), on one node with no flags; it prints the count done.
// The engine's start, the node's and the bucket's are in the time too: they are paid once,
// and b.N makes them small beside the operations.
const benchScript = `
local kv = require "kv"
local n, op = tonumber(arg[1]), arg[2]
local b = assert(kv.bucket("bench"))
local value = string.rep("v", 100)
assert(b:put("key", value))
local done = 0
if op == "get" then
  for _ = 1, n do
    local e = assert(b:get("key"))
    if #e.value == 100 then done = done + 1 end
  end
else
  for _ = 1, n do
    if b:put("key", value) then done = done + 1 end
  end
end
print("completed " .. done)
`

// BenchmarkLuaKV: b:get and b:put from Lua, each an await of a pool task that makes the
// JetStream request. Compare with BenchmarkRawKV, the same requests from Go.
func BenchmarkLuaKV(b *testing.B) {
	for _, op := range []string{"get", "put"} {
		b.Run("op="+op, func(b *testing.B) {
			b.ReportAllocs()
			res := drleetest.Run(b, benchScript, drleetest.Options{Args: []string{strconv.Itoa(b.N), op}})
			if res.Failed || res.Stdout != fmt.Sprintf("completed %d\n", b.N) {
				b.Fatalf("stdout:\n%s\nstderr:\n%s", res.Stdout, res.Stderr)
			}
		})
	}
}

// BenchmarkRawKV is BenchmarkLuaKV's twin: jetstream's KeyValue Get and Put called from
// Go, one at a time, on a node like the one drlee starts (embedded server, JetStream, an
// in-process connection). The node's and the bucket's start are not timed.
func BenchmarkRawKV(b *testing.B) {
	node, err := cluster.Start(cluster.Config{JetStream: true})
	if err != nil {
		b.Fatal(err)
	}
	defer node.Shutdown(context.Background())
	js, err := jetstream.New(node.Conn())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	kvh, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	value := make([]byte, 100)
	if _, err := kvh.Put(ctx, "key", value); err != nil {
		b.Fatal(err)
	}
	b.Run("op=get", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if e, err := kvh.Get(ctx, "key"); err != nil || len(e.Value()) != 100 {
				b.Fatal(err)
			}
		}
	})
	b.Run("op=put", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := kvh.Put(ctx, "key", value); err != nil {
				b.Fatal(err)
			}
		}
	})
}
