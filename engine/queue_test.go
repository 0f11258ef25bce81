package engine

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// mark is a task that records that it ran.
type mark struct {
	producer, seq int
}

func (mark) Run(*Worker) {}

func notified(q *queue) bool {
	select {
	case <-q.notify:
		return true
	default:
		return false
	}
}

func TestQueueBound(t *testing.T) {
	t.Parallel()
	q := newQueue(3)
	for i := 0; i < 3; i++ {
		if err := q.push(mark{seq: i}, true); err != nil {
			t.Fatalf("admit %d: %v", i, err)
		}
	}
	if err := q.push(mark{seq: 3}, true); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("admit beyond the bound: %v, want ErrQueueFull", err)
	}
	// Completions of work already reserved bypass the bound.
	for i := 3; i < 10; i++ {
		if err := q.push(mark{seq: i}, false); err != nil {
			t.Fatalf("completion %d: %v", i, err)
		}
	}
	if q.len() != 10 {
		t.Fatalf("len = %d, want 10", q.len())
	}
	items := q.swap(nil)
	if len(items) != 10 {
		t.Fatalf("swap gave %d items, want 10", len(items))
	}
	for i, it := range items {
		if it.(mark).seq != i {
			t.Fatalf("item %d is %v: order lost", i, it)
		}
	}
	// Drained: new work is admitted again.
	if err := q.push(mark{}, true); err != nil {
		t.Fatalf("admit after drain: %v", err)
	}
}

// TestQueueBoundCountsAdmittedOnly: completions queued ahead (a handler's own operations)
// leave the bound on new work untouched.
func TestQueueBoundCountsAdmittedOnly(t *testing.T) {
	t.Parallel()
	q := newQueue(3)
	for i := 0; i < 1000; i++ {
		if err := q.push(mark{seq: i}, false); err != nil {
			t.Fatalf("completion %d: %v", i, err)
		}
	}
	for i := 0; i < 3; i++ {
		if err := q.push(mark{seq: i}, true); err != nil {
			t.Fatalf("admit %d behind 1000 completions: %v", i, err)
		}
	}
	if err := q.push(mark{}, true); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("admit beyond the bound: %v, want ErrQueueFull", err)
	}
	q.swap(nil)
	if err := q.push(mark{}, true); err != nil {
		t.Fatalf("admit after drain: %v", err)
	}
}

func TestQueueNotify(t *testing.T) {
	t.Parallel()
	q := newQueue(100)
	if notified(q) {
		t.Fatal("notified while empty")
	}
	q.push(mark{}, true)
	q.push(mark{}, false) // not empty -> no second signal, and no blocking
	q.push(mark{}, true)
	if !notified(q) {
		t.Fatal("no signal on empty -> non-empty")
	}
	if notified(q) {
		t.Fatal("second signal for a queue that was not empty")
	}
	spare := q.swap(make([]Task, 0, 8))
	if len(spare) != 3 {
		t.Fatalf("swap: %d items", len(spare))
	}
	q.push(mark{}, true)
	if !notified(q) {
		t.Fatal("no signal after the queue was drained and refilled")
	}
	// The spare slice handed in is reused for the next pushes.
	got := q.swap(spare[:0])
	if len(got) != 1 {
		t.Fatalf("swap: %d items", len(got))
	}
}

func TestQueueCloseIfEmpty(t *testing.T) {
	t.Parallel()
	q := newQueue(10)
	q.push(mark{}, true)
	if q.closeIfEmpty() {
		t.Fatal("closeIfEmpty closed a queue holding a task")
	}
	if err := q.push(mark{}, false); err != nil {
		t.Fatalf("push after a refused closeIfEmpty: %v", err)
	}
	q.swap(nil)
	if !q.closeIfEmpty() {
		t.Fatal("closeIfEmpty refused an empty queue")
	}
	for _, admit := range []bool{true, false} {
		if err := q.push(mark{}, admit); !errors.Is(err, ErrWorkerStopped) {
			t.Fatalf("push(admit=%v) after close: %v, want ErrWorkerStopped", admit, err)
		}
	}
	if q.len() != 0 {
		t.Fatalf("closed queue holds %d tasks", q.len())
	}
}

func TestQueueClose(t *testing.T) {
	t.Parallel()
	q := newQueue(10)
	q.push(mark{seq: 1}, true)
	q.push(mark{seq: 2}, false)
	left := q.close()
	if len(left) != 2 {
		t.Fatalf("close returned %d tasks, want 2", len(left))
	}
	if err := q.push(mark{}, false); !errors.Is(err, ErrWorkerStopped) {
		t.Fatalf("push after close: %v", err)
	}
	if items := q.close(); len(items) != 0 {
		t.Fatalf("second close returned %d tasks", len(items))
	}
}

// TestQueueConcurrentProducers: many producers, one consumer that drains as the loop does.
// Every accepted task is run exactly once, in each producer's order; refused admits are
// ErrQueueFull, never a block.
func TestQueueConcurrentProducers(t *testing.T) {
	t.Parallel()
	const producers, perProducer = 8, 5000
	q := newQueue(64)
	var accepted, full atomic.Int64
	var wg sync.WaitGroup
	for p := 0; p < producers; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perProducer; {
				admit := i%2 == 0
				err := q.push(mark{producer: p, seq: i}, admit)
				switch {
				case err == nil:
					accepted.Add(1)
					i++
				case errors.Is(err, ErrQueueFull) && admit:
					full.Add(1)
					time.Sleep(time.Microsecond) // back off, retry the same item
				default:
					t.Errorf("push: %v", err)
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	next := make([]int, producers)
	var spare []Task
	ran := 0
	deadline := time.After(30 * time.Second)
	for finished := false; ; {
		items := q.swap(spare)
		for i, it := range items {
			m := it.(mark)
			if m.seq != next[m.producer] {
				t.Fatalf("producer %d: got seq %d, want %d", m.producer, m.seq, next[m.producer])
			}
			next[m.producer]++
			ran++
			items[i] = nil
		}
		spare = items
		if finished && len(items) == 0 {
			break
		}
		select {
		case <-q.notify:
		case <-done:
			finished = true
		case <-deadline:
			t.Fatalf("consumer stuck: ran %d of %d", ran, producers*perProducer)
		}
	}
	if ran != producers*perProducer || accepted.Load() != int64(ran) {
		t.Fatalf("ran %d, accepted %d, want %d", ran, accepted.Load(), producers*perProducer)
	}
	t.Logf("%d admits refused with ErrQueueFull", full.Load())
}

// TestQueueCloseIfEmptyRace: a consumer ending (closeIfEmpty) while producers push: a task
// is either run or refused with ErrWorkerStopped, never lost.
func TestQueueCloseIfEmptyRace(t *testing.T) {
	t.Parallel()
	for round := 0; round < 50; round++ {
		q := newQueue(1 << 20)
		var accepted atomic.Int64
		var wg sync.WaitGroup
		for p := 0; p < 4; p++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					if err := q.push(mark{}, i%2 == 0); err != nil {
						if !errors.Is(err, ErrWorkerStopped) {
							t.Errorf("push: %v", err)
						}
						return
					}
					accepted.Add(1)
				}
			}()
		}
		ran := 0
		for spins := 0; ; spins++ {
			ran += len(q.swap(nil))
			if spins > 20 && q.closeIfEmpty() {
				break
			}
		}
		wg.Wait()
		if left := len(q.swap(nil)); left != 0 {
			t.Fatalf("round %d: %d tasks left in a closed queue", round, left)
		}
		if int64(ran) != accepted.Load() {
			t.Fatalf("round %d: ran %d, accepted %d", round, ran, accepted.Load())
		}
	}
}

func TestOpCompleteTwicePanics(t *testing.T) {
	t.Parallel()
	w := &Worker{q: newQueue(1)}
	op := w.Reserve(0)
	if w.pending != 1 {
		t.Fatalf("pending = %d after Reserve", w.pending)
	}
	if !op.Complete(func(*Worker, *Args) {}) {
		t.Fatal("Complete on a live worker reported no delivery")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("second Complete did not panic")
		}
	}()
	op.Complete(func(*Worker, *Args) {})
}

func TestOpCompleteAfterWorkerEnded(t *testing.T) {
	t.Parallel()
	w := &Worker{q: newQueue(1)}
	op := w.Reserve(0)
	w.q.close()
	if op.Complete(func(*Worker, *Args) {}) {
		t.Fatal("Complete on an ended worker reported delivery")
	}
}
