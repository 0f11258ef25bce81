package engine

import "time"

// Collections on request. Some things are known to be over only once Lua no longer reaches
// an object: an HTTP response that a callback-style handler left unfinished, with nothing of
// the handler still to run, is finished by its finalizer, and only if no table keeps it (a
// feed written from a shared ticker). Lua's own collector would get there, but on a quiet
// worker that may take minutes, holding a connection; CollectSoon makes it seconds.

// collectEvery bounds the collections CollectSoon asks for: at most one a second, so that
// a burst of such handlers costs one full collection, not one each.
const collectEvery = time.Second

// CollectSoon asks for a full collection of the worker's Lua state (finalizers run), once
// the loop is done with the work in hand and no sooner than collectEvery after the last one
// it ran. It does not keep the worker alive. Loop only.
func (w *Worker) CollectSoon() {
	if w.gcWanted {
		return
	}
	w.gcWanted = true
	if due := w.lastGC + int64(collectEvery); w.lastGC != 0 && due > w.now() {
		w.gcDue = due
	} else {
		w.gcDue = w.now()
	}
}

// collectIfDue runs the collection CollectSoon asked for when it is due (it reports
// whether it ran), and returns the delay until the loop must look again: next (its next
// timer; -1 for none), or sooner when the collection is still to come.
func (w *Worker) collectIfDue(next time.Duration) (time.Duration, bool) {
	if !w.gcWanted {
		return next, false
	}
	now := w.now()
	if wait := time.Duration(w.gcDue - now); wait > 0 {
		if next < 0 || wait < next {
			return wait, false
		}
		return next, false
	}
	w.gcWanted = false
	w.lastGC = now
	w.st.FullGC() // finalizers run, and may end what they find over (AtTickEnd)
	w.finishTick()
	return next, true
}
