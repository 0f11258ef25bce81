package httpclient

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/drlee/drlee/internal/leaktest"
)

// TestMain fails the package when any goroutine is left once every test has run: a body
// reader that outlived its response, or a test's own servers. Exempt are only fasthttp's
// cleaners of a client, which end on their own timers (leaktest.FasthttpClient).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m, leaktest.FasthttpClient()...) }
