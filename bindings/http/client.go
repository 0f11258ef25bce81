package http

import "github.com/drlee/drlee/engine"

// clientFuncs and clientClasses are the client half of the module (see client.go).
func clientFuncs() []engine.Function { return nil }

func clientClasses() []*engine.Class { return nil }
