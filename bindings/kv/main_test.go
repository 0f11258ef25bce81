package kv_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/drlee/drlee/internal/drleetest"
	"github.com/drlee/drlee/internal/leaktest"
)

// drleeBin is the binary TestMain built, for the nodes the cluster tests start as
// processes.
var drleeBin string

// TestMain builds drlee once, then checks that no goroutine is left once every test has
// run: the engines' (watchers' readers included: each in-process engine must have ended
// them), nats.go's and the embedded nats-server's with JetStream (Node.Shutdown ends them),
// and the tests' own. Exempt is only what package initialisers started (leaktest.AtInit).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(drleetest.WithDrlee(m, &drleeBin), leaktest.AtInit())
}
