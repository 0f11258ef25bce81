package main

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when any goroutine is left once every test has run.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
