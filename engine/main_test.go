package engine_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when any goroutine is left once every test has run: the
// engine's own (Go), the I/O pool's, and those of the tests.
//
// IgnoreCurrent: the goroutines that exist before the first test, that is those package
// initialisers started. The only ones are ants' (its process-wide default pool, made by
// its init for ants.Submit, which the engine does not use); the engine's own pool is made
// by Run and must be gone.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m, goleak.IgnoreCurrent()) }
