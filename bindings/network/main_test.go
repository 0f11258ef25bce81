package network_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/drlee/drlee/internal/leaktest"
)

// TestMain fails the package when any goroutine is left once every test has run: each
// test's engine must have ended its dials, accept and receive loops and lanes, and the
// tests their own servers and clients.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, leaktest.AtInit())
}
