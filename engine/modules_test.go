package engine_test

// The engine's tests run scripts that print, log, read env and arg, and set timers, so they
// link the two modules that give scripts those (core and time); neither pulls in a network
// stack. What else they need they register themselves (testasync in engine_test.go). The
// harness links nothing by itself (enginetest; internal/drleetest links every module).
import (
	_ "github.com/drlee/drlee/bindings/core"
	_ "github.com/drlee/drlee/bindings/time"
)
