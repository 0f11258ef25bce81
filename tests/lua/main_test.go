package luatests

import (
	"testing"

	"github.com/drlee/drlee/internal/leaktest"
	"go.uber.org/goleak"
)

// TestMain fails the package when a goroutine is left once TestLua ran (it waits for the
// drlee process it starts); exempt are only what package initialisers started.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m, leaktest.AtInit()) }
