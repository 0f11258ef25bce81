package deadline

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when any goroutine is left once every test has run: a
// sweeper that outlived its connections, or a test's own. No goroutine is exempt.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
