package main

import (
	"fmt"
	"io"
	"runtime"

	"github.com/drlee/drlee/internal/cli"
)

// printVersion is `drlee version`: drlee's version, the linked LuaJIT's (jit.version, read
// in a state) and the Go toolchain's.
func printVersion(stdout, stderr io.Writer) int {
	jit, err := cli.LuaJITVersion()
	if err != nil {
		fmt.Fprintf(stderr, "drlee: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "drlee %s\n%s\n%s %s/%s\n", version, jit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return 0
}
