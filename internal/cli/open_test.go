package cli_test

import (
	"fmt"
	"testing"

	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/internal/drleetest"
)

// The engine's Worker.Open (engine/open.go, what drlee test reads) is tested here, with the
// real modules whose objects it counts.
// res is a resource that stays in the worker's table once closed, as a stopped ticker does,
// but says so (engine.ClosedReporter).
type res struct{ closed bool }

func (r *res) Closed() bool { return r.closed }

var resClass = &engine.Class{Name: "testres", Finalize: func(*engine.Worker, any) {}}

func init() {
	resClass.Methods = []engine.Function{{Name: "close", Fn: func(c *engine.Call) int {
		engine.WorkerOf(c).Object(c, 1, resClass).(*res).closed = true
		return 0
	}}}
	engine.Register(&engine.Module{
		Name:    "testopen",
		Classes: []*engine.Class{resClass},
		Funcs: []engine.Function{
			// open() -> "pending holds timers files tickers testres"
			{Name: "open", Fn: func(c *engine.Call) int {
				o := engine.WorkerOf(c).Open()
				return c.ReturnString(fmt.Sprintf("%d %d %d %d %d %d", o.Pending, o.Holds, o.Timers, o.Objects["file"], o.Objects["ticker"], o.Objects["testres"]))
			}},
			{Name: "new", Fn: func(c *engine.Call) int {
				out := c.Out()
				engine.WorkerOf(c).NewObject(out, resClass, &res{})
				return c.Return()
			}},
			{Name: "conns", Fn: func(c *engine.Call) int {
				return c.ReturnNumber(float64(engine.WorkerOf(c).Open().Objects["conn"]))
			}},
			{Name: "hold", Fn: func(c *engine.Call) int { engine.WorkerOf(c).Hold(); return 0 }},
			{Name: "unhold", Fn: func(c *engine.Call) int { engine.WorkerOf(c).Unhold(); return 0 }},
		},
	})
}

// TestWorkerOpen: what Worker.Open counts as a script opens and closes things. A stopped
// ticker stays in the worker's table (its methods answer ECLOSED) but reports Closed, so
// it does not count, as any object whose value reports Closed.
func TestWorkerOpen(t *testing.T) {
	res := drleetest.Run(t, `local o, fs, time = require "testopen", require "fs", require "time"
print("start", o.open())
local tk = time.tick(1000)
print("ticker", o.open())
tk:stop()
print("stopped", o.open())
tk = nil
collectgarbage(); collectgarbage()
print("collected", o.open())
o.hold()
print("held", o.open())
o.unhold()
local tm = time.timeout(60000, function() end) -- cancelled below: it never fires here
print("timer", o.open())
local f = assert(fs.open(os.tmpname(), fs.flags.CREATE + fs.flags.READ_WRITE, 420))
print("file", o.open())
f:close()
print("closed", o.open())
local r = o.new()
print("res", o.open())
r:close()
print("res closed", o.open())
fs.stat(".", function() end)
print("stat", o.open())
tm:cancel()
-- Network connections closed, still reachable: not counted.
local network = require "network"
local accepted
local srv = network.create_server("tcp", "127.0.0.1:0", function(conn) accepted = conn end)
assert(srv:start())
local c = assert(network.dial("tcp", srv.addr))
for _ = 1, 200 do
  if accepted then break end
  time.sleep(10)
end
local before = o.conns()
assert(c:close())
assert(accepted:close())
print("conn", before, o.conns())
srv:stop()
`)
	res.MustSucceed(t)
	res.Contains(t, "start\t0 0 0 0 0 0\n", "ticker\t0 0 1 0 1 0\n", "stopped\t0 0 0 0 0 0\n",
		"collected\t0 0 0 0 0 0\n", "held\t0 1 0 0 0 0\n", "timer\t1 0 1 0 0 0\n", "file\t1 0 1 1 0 0\n",
		"closed\t1 0 1 0 0 0\n", "res\t1 0 1 0 0 1\n", "res closed\t1 0 1 0 0 0\n", "stat\t2 0 1 0 0 0\n", "conn\t2\t0\n")
}
