package engine_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/drlee/drlee/internal/leaktest"
)

// TestMain fails the package when any goroutine is left once every test has run: the
// engine's own (Go), the I/O pool's, and those of the tests. Exempt are only what package
// initialisers started (leaktest.AtInit).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m, leaktest.AtInit()) }
