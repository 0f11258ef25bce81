package cluster

import (
	"testing"

	"go.uber.org/goleak"
)

// TestShutdownLeavesNoGoroutines runs a routed pair and a single node,
// shuts them down and checks that no goroutine is left: not this package's,
// not nats.go's, not the embedded nats-server's. It does not run in
// parallel, so the goroutines of other tests are not in the way
// (IgnoreCurrent covers the paused parallel tests).
func TestShutdownLeavesNoGoroutines(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	// Sub-test: its cleanups (Shutdown, workers) run before VerifyNone.
	t.Run("cluster", func(t *testing.T) {
		ns := startCluster(t, 2)
		single := startNode(t, Config{})
		for i, n := range append(ns, single) {
			register(t, n, "svc", newWorker(t, i, 8, echo))
		}
		waitCall(t, ns[1], "svc")
		waitNodes(t, ns[0], "svc", 2)
		broadcast(t, ns[0], "svc", nil, 0)
		call(t, single, "svc", nil, 0)
		call(t, single, "none", nil, 0)
	})
}
