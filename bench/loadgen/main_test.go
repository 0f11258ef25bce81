package loadgen

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/drlee/drlee/internal/leaktest"
)

// TestMain fails the package when any goroutine is left once every test has run: Run's
// connection goroutines, and the test server's. Exempt are only fasthttp's server
// goroutines that end on their own timers (leaktest.FasthttpServer).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m, leaktest.FasthttpServer()...) }
