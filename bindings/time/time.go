// Package time is the Lua module "time": time.now() returns a Timestamp,
// time.timeout(ms, cb) calls cb once after ms milliseconds and returns a timer with
// :cancel(), time.tick(ms) returns a ticker whose :next_tick(cb) waits for the next tick,
// :stop() ends it (the callbacks still waiting get "ECLOSED: ticker stopped") and .period
// is its period in milliseconds. Timers live in the worker's timer heap, not in a
// goroutine each.
//
// A Timestamp is a table with year, month, day, weekday (0 = Sunday), hour, minute, second,
// millisecond and milliunix, in local time, with :format(layout) (a Go layout, such as
// "2006-01-02 15:04:05") and tostring() (RFC 3339 with milliseconds). Other bindings write
// Timestamps with WriteTimestamp.
package time

import (
	_ "embed"
	"math"
	gotime "time"

	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/packed"
)

//go:embed time.lua
var prelude string

var (
	timerClass  = &engine.Class{Name: "timer"}
	tickerClass = &engine.Class{Name: "ticker"}
)

func init() {
	// Methods are set here, not in the declarations: they refer to their class.
	timerClass.Methods = []engine.Function{{Name: "cancel", Fn: timerCancel}}
	tickerClass.Methods = []engine.Function{
		{Name: "next_tick", Fn: tickerNext},
		{Name: "stop", Fn: tickerStop},
	}
	tickerClass.Getters = []engine.Function{{Name: "period", Fn: tickerPeriod}}
	// Finalize runs inside Lua's collector (or lua_close): it must not call Lua, so
	// callbacks still waiting are released without being called.
	tickerClass.Finalize = func(w *engine.Worker, v any) {
		tk := v.(*ticker)
		tk.stopped = true
		tk.t.Stop()
		delete(*liveTickers.Get(w), tk)
		for _, op := range tk.waiting {
			op.Drop()
		}
		tk.waiting = nil
	}
	engine.Register(&engine.Module{
		Name: "time",
		Funcs: []engine.Function{
			{Name: "now", Fn: now},
			{Name: "timeout", Fn: timeout},
			{Name: "sleep", Fn: sleep},
			{Name: "tick", Fn: tick},
			{Name: "__format", Fn: format},
			{Name: "__set_timestamp_meta", Fn: timestampMeta.Setter()},
		},
		Classes: []*engine.Class{timerClass, tickerClass},
		Lua:     prelude,
	})
}

// timestampMeta is the Timestamp metatable, which time.lua hands over.
var timestampMeta = engine.NewMetatable()

// WriteTimestamp writes t as a Timestamp table (with its methods). Loop only.
func WriteTimestamp(w *engine.Worker, out *packed.Writer, t gotime.Time) {
	t = t.Local()
	if mt, ok := timestampMeta.Ref(w); ok {
		out.Meta(mt)
	}
	out.Table(0, 9)
	out.String("year")
	out.Int(int64(t.Year()))
	out.String("month")
	out.Int(int64(t.Month()))
	out.String("day")
	out.Int(int64(t.Day()))
	out.String("weekday")
	out.Int(int64(t.Weekday()))
	out.String("hour")
	out.Int(int64(t.Hour()))
	out.String("minute")
	out.Int(int64(t.Minute()))
	out.String("second")
	out.Int(int64(t.Second()))
	out.String("millisecond")
	out.Int(int64(t.Nanosecond() / 1e6))
	out.String("milliunix")
	out.Int(t.UnixMilli())
}

func now(c *engine.Call) int {
	out := c.Out()
	WriteTimestamp(engine.WorkerOf(c), out, gotime.Now())
	return c.Return()
}

// time.__format(milliunix, layout)
func format(c *engine.Call) int {
	ms := c.CheckInt(1)
	layout := c.OptString(2, "2006-01-02T15:04:05.000Z07:00")
	return c.ReturnString(gotime.UnixMilli(ms).Format(layout))
}

// MaxDelay is the longest delay a timer or ticker takes: longer ones (1e300 ms, 2^63 ms)
// are clamped to it. About 100 years: any delay a script means is shorter, and any longer
// would overflow the runtime's clock arithmetic.
const MaxDelay = 100 * 365 * 24 * gotime.Hour

// duration reads a delay in milliseconds: a finite, non-negative number (fractions allowed),
// clamped to MaxDelay. NaN, the infinities and negative numbers raise: they used to become
// a timer that fired at once.
func duration(c *engine.Call, i int) gotime.Duration {
	ms := c.CheckNumber(i)
	switch {
	case ms != ms || math.IsInf(ms, 0):
		c.ArgError(i, "delay must be a finite number of milliseconds")
	case ms < 0:
		c.ArgError(i, "negative duration")
	case ms >= float64(MaxDelay/gotime.Millisecond):
		return MaxDelay
	}
	return gotime.Duration(ms * float64(gotime.Millisecond))
}

// timer is a time.timeout: the engine's Timer, the callback's op and the Lua object, in
// one allocation.
type timer struct {
	engine.Timer
	op engine.Op // calls the callback when the timer fires
	id uint64    // the Lua object; 0 for an await, which nothing can cancel
}

// Fire completes the timeout on the loop.
func (tm *timer) Fire(w *engine.Worker) {
	if tm.id != 0 {
		w.Release(tm.id)
	}
	tm.op.CompleteNow(w, nil)
}

// TimerDone spares tm once the engine let go of it (engine.TimerDone): its callback ran
// (or its thread resumed) and its scope was released, so nothing holds it.
func (tm *timer) TimerDone(w *engine.Worker) { freeTimer(w, tm) }

// spareTimers are timers whose timeout ended, for the worker's next ones: a timed request
// allocates nothing in Go, where one allocation per request cost the timer scenario ~1,400
// instructions a request in Go's collector (callgrind), more than the binding itself. A
// timer is spared only once nothing can reach it: out of the timer heap and the object
// table (a stale Lua timer object finds its id gone), its op ended. Loop only.
var spareTimers = engine.NewWorkerLocal(func(w *engine.Worker) *[]*timer {
	s := make([]*timer, 0, maxSpareTimers)
	return &s
})

// maxSpareTimers bounds what a burst of timeouts leaves kept.
const maxSpareTimers = 256

// newTimer is a zero timer, spared or new. Loop only.
func newTimer(w *engine.Worker) *timer {
	s := spareTimers.Get(w)
	if n := len(*s); n > 0 {
		tm := (*s)[n-1]
		(*s)[n-1] = nil
		*s = (*s)[:n-1]
		return tm
	}
	return new(timer)
}

// freeTimer spares tm, whose timeout ended, zeroed. Loop only.
func freeTimer(w *engine.Worker, tm *timer) {
	s := spareTimers.Get(w)
	if len(*s) >= maxSpareTimers {
		return
	}
	*tm = timer{}
	*s = append(*s, tm)
}

// time.timeout(ms, cb) -> timer; without cb in a runtime thread, waits ms, then true.
func timeout(c *engine.Call) int {
	w := engine.WorkerOf(c)
	d := duration(c, 1)
	tm := newTimer(w)
	w.ReserveCallIn(&tm.op, c, 2)
	if tm.op.Awaits() { // nothing can cancel a wait: no timer object
		w.StartTimer(&tm.Timer, d, tm)
		return tm.op.Return(c)
	}
	out := c.Out()
	tm.id = w.NewObject(out, timerClass, tm)
	w.StartTimer(&tm.Timer, d, tm)
	return c.Return()
}

// time.sleep(ms): waits ms (time.timeout without a callback). Only a runtime thread can
// wait: elsewhere (a coroutine the script made) it raises rather than return at once.
func sleep(c *engine.Call) int {
	w := engine.WorkerOf(c)
	d := duration(c, 1)
	if c.Type(2) != engine.TypeNone {
		c.ArgError(2, "no callback expected (time.timeout takes one)")
	}
	if !c.CanAwait() {
		c.Raise("time.sleep: only a callback, a handler or the main chunk can wait, not a coroutine of the script's own (use time.timeout(ms, cb) there)")
	}
	tm := newTimer(w)
	w.ReserveCallIn(&tm.op, c, 2)
	w.StartTimer(&tm.Timer, d, tm)
	return tm.op.Return(c)
}

// timer:cancel() -> true if the timer had not fired or been cancelled yet
func timerCancel(c *engine.Call) int {
	w := engine.WorkerOf(c)
	id := w.ObjectID(c, 1, timerClass)
	if id == 0 {
		c.TypeError(1, "timer")
	}
	v, ok := w.Lookup(id)
	if !ok {
		return c.ReturnBool(false) // fired or cancelled already
	}
	tm := v.(*timer)
	tm.Stop()
	w.Release(id)
	tm.op.Drop()
	freeTimer(w, tm)
	return c.ReturnBool(true)
}

type ticker struct {
	t       *engine.Timer
	period  gotime.Duration // between ticks (time.tick's ms, clamped to MaxDelay)
	waiting []*engine.Op    // the next_tick calls, first in first out
	stopped bool
}

// Closed reports a stopped ticker, which Open (drlee test's leak check) then does not
// count (engine.ClosedReporter). Loop only.
func (tk *ticker) Closed() bool { return tk.stopped }

// liveTickers is the set of a worker's running tickers. On shutdown they stop, as servers
// stop accepting, so that a ticker nobody stops does not hold the process until the
// shutdown timeout. One hook per worker, installed with the first ticker.
var liveTickers *engine.WorkerLocal[map[*ticker]struct{}]

func init() { // not in the declaration: stop refers back to liveTickers
	liveTickers = engine.NewWorkerLocal(func(w *engine.Worker) *map[*ticker]struct{} {
		m := map[*ticker]struct{}{}
		w.OnShutdown(func() {
			for tk := range m {
				tk.stop(w)
			}
		})
		return &m
	})
}

// errTickerStopped is what the next_tick calls still waiting get when the ticker stops
// (ticker:stop(), or the shutdown): the object is closed.
var errTickerStopped = engine.NewError("ECLOSED", "ticker stopped")

// time.tick(ms) -> ticker
func tick(c *engine.Call) int {
	w := engine.WorkerOf(c)
	d := duration(c, 1)
	if d <= 0 {
		c.ArgError(1, "interval must be positive")
	}
	tk := &ticker{period: d}
	tk.t = w.Every(d, func(w *engine.Worker) {
		if len(tk.waiting) == 0 {
			return // a tick nobody waits for is dropped, as with Go's time.Ticker
		}
		op := tk.waiting[0]
		tk.waiting[0] = nil
		tk.waiting = tk.waiting[1:]
		op.CompleteNow(w, func(w *engine.Worker, a *engine.Args) {
			a.Nil()
			WriteTimestamp(w, &a.Writer, gotime.Now())
		})
	})
	(*liveTickers.Get(w))[tk] = struct{}{}
	out := c.Out()
	w.NewObject(out, tickerClass, tk)
	return c.Return()
}

// ticker:next_tick(cb): cb(nil, timestamp) at the next tick; without cb in a runtime
// thread, waits for it and returns the timestamp.
func tickerNext(c *engine.Call) int {
	w := engine.WorkerOf(c)
	tk := w.Object(c, 1, tickerClass).(*ticker)
	if tk.stopped {
		c.Raise("ticker stopped")
	}
	op := w.ReserveCall(c, 2)
	tk.waiting = append(tk.waiting, op)
	return op.Return(c)
}

// ticker.period: the time between ticks, in milliseconds (what time.tick was given, up to
// MaxDelay), also once the ticker has stopped.
func tickerPeriod(c *engine.Call) int {
	tk := engine.WorkerOf(c).Object(c, 1, tickerClass).(*ticker)
	return c.ReturnNumber(float64(tk.period) / float64(gotime.Millisecond))
}

// ticker:stop(): no more ticks; callbacks still waiting get an error.
func tickerStop(c *engine.Call) int {
	w := engine.WorkerOf(c)
	tk := w.Object(c, 1, tickerClass).(*ticker)
	tk.stop(w)
	return 0
}

func (tk *ticker) stop(w *engine.Worker) {
	if tk.stopped {
		return
	}
	tk.stopped = true
	tk.t.Stop()
	delete(*liveTickers.Get(w), tk)
	waiting := tk.waiting
	tk.waiting = nil
	for _, op := range waiting {
		op.CompleteNow(w, func(w *engine.Worker, a *engine.Args) { a.Error(errTickerStopped) })
	}
}
