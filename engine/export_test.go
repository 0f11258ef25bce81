package engine

import "time"

// SetGrace shortens how long Run waits for the goroutines the engine owns, for tests of a
// goroutine that never ends. Call it before Run.
func SetGrace(e *Engine, d time.Duration) { e.grace = d }
