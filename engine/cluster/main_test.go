package cluster

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when any goroutine is left once every test has run: this
// package's, nats.go's and the embedded nats-server's (Node.Shutdown ends them all), the
// tests' own. No goroutine is exempt. (TestShutdownLeavesNoGoroutines checks the same of
// one set of nodes right after their Shutdown.)
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
