package http_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/drlee/drlee/internal/leaktest"
)

// TestMain fails the package when any goroutine is left once every test has run: the
// engines' (each test's engine must have ended them all), fasthttp's connection goroutines
// and the tests' own clients and servers. Exempt are only what package initialisers started
// and fasthttp's goroutines that end on their own timers (leaktest).
func TestMain(m *testing.M) {
	opts := append([]goleak.Option{leaktest.AtInit()}, leaktest.FasthttpServer()...)
	goleak.VerifyTestMain(m, append(opts, leaktest.FasthttpClient()...)...)
}
