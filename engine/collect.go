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

// WantFinalize makes Lua run the Finalize of cls (a class with FinalizeOnDemand) for the
// objects of cls it collects, until as many DoneFinalize calls: for an object that only the
// collector can tell is over. Loop only.
func (w *Worker) WantFinalize(cls *Class) {
	if w.finalizeWanted == nil {
		w.finalizeWanted = map[uint32]int{}
	}
	if w.finalizeWanted[cls.id]++; w.finalizeWanted[cls.id] == 1 {
		w.setFinalizer(cls, true)
	}
}

// DoneFinalize ends a WantFinalize. Loop only.
func (w *Worker) DoneFinalize(cls *Class) {
	if n := w.finalizeWanted[cls.id]; n > 0 {
		if w.finalizeWanted[cls.id] = n - 1; n == 1 {
			w.setFinalizer(cls, false)
		}
	}
}

func (w *Worker) setFinalizer(cls *Class, on bool) {
	if cls.Finalize == nil || !cls.FinalizeOnDemand {
		panic("engine: WantFinalize for class " + cls.Name + ", which does not finalize on demand")
	}
	if w.closing {
		return // lua_close finalizes every object anyway, with what is set now
	}
	if err := w.st.SetClassFinalizer(w.classMeta[cls.id], on); err != nil {
		// Out of memory: the objects of cls stay as they were (finalized or not); the
		// collector's own pace ends them, or the shutdown does.
		w.Logf("WARN", "%s: the finalizer could not be switched %v: %v", cls.Name, map[bool]string{true: "on", false: "off"}[on], err)
	}
}
