package engine

// What a worker has open, for tools that check that a piece of code cleaned up after
// itself: `drlee test` takes it before a test and after the test's scope ended, and fails a
// test that left a server, a ticker, a timer or a file behind. The engine already counts
// all of it to know when a worker is idle (alive); this only reads the counts.

// Open is a snapshot of what keeps a worker alive or holds a resource.
type Open struct {
	Pending int // reserved operations not completed yet (Reserve)
	Holds   int // Hold without its Unhold: open servers, tickers, subscriptions
	Timers  int // scheduled timers, periodic ones (tickers) included
	// Objects counts the live objects of the classes that have a Finalize, by class name:
	// those hold a Go resource (a file, a socket, a client) that closing releases. Objects
	// of the other classes hold nothing worth reporting. An object that stays in the
	// worker's table once closed (so that its methods answer ECLOSED rather than raise) is
	// not counted when its Go value says it is closed (ClosedReporter); without that, it
	// counts until Lua collects it.
	Objects map[string]int
}

// ClosedReporter is implemented by the Go value of an object that is not Released when it
// is closed, so that Open does not count it once it is.
type ClosedReporter interface{ Closed() bool }

// Open returns what w has open now. It walks the worker's objects: for tests and tools,
// not for a hot path. Loop only.
func (w *Worker) Open() Open {
	o := Open{Pending: w.pending, Holds: w.holds, Timers: len(w.timers)}
	for i := range w.objs.slots {
		s := &w.objs.slots[i]
		if cls := s.cls; cls != nil && cls.Finalize != nil {
			if c, ok := s.v.(ClosedReporter); ok && c.Closed() {
				continue
			}
			if o.Objects == nil {
				o.Objects = map[string]int{}
			}
			o.Objects[cls.Name]++
		}
	}
	return o
}
