package websocket_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/drlee/drlee/internal/leaktest"
)

// TestMain fails the package when any goroutine is left once every test has run: each
// test's engine must have ended its dials, servers and lanes, and the tests their peers.
// Exempt: fasthttp's server goroutines that end on their own timers (leaktest).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, append([]goleak.Option{leaktest.AtInit()}, leaktest.FasthttpServer()...)...)
}
