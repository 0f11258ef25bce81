package shdict_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/drlee/drlee/internal/leaktest"
)

// TestMain fails the package when a goroutine is left once every test has run: the
// engines the Lua tests start, their HTTP servers and the tests' own clients must be gone.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, append(leaktest.FasthttpServer(), leaktest.AtInit())...)
}
