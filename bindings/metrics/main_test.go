package metrics_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/drlee/drlee/internal/leaktest"
)

// TestMain fails the package when a test leaves a goroutine behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, leaktest.AtInit())
}
