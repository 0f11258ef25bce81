package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// envPrefix starts the environment variables that set flags: DRLEE_WORKERS=4 is
// --workers 4, DRLEE_SHUTDOWN_TIMEOUT=5s is --shutdown-timeout 5s.
const envPrefix = "DRLEE_"

// envName is the variable of a flag: DRLEE_ and the name in capitals, "-" as "_".
func envName(flagName string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// notFromEnv are the flags that choose what a command does rather than how: a DRLEE_CHECK
// left in a shell must not turn every run into a syntax check, nor DRLEE_RUN filter tests.
var notFromEnv = map[string]bool{"check": true, "run": true}

// applyEnv sets the flags of fs that have a DRLEE_ variable in the environment, before the
// command line is parsed, so that a flag given on the command line wins. One-letter flags
// (-w, -e, -v) have none: they are shorthands of others, or not settings; nor have --check
// and drlee test's --run (notFromEnv). Variables that
// name no flag are ignored (DRLEE_CPUPROFILE is not a flag, and a variable meant for
// another command must not break this one). A bad value is an error naming the variable.
func applyEnv(fs *flag.FlagSet, stderr io.Writer) bool {
	ok := true
	fs.VisitAll(func(f *flag.Flag) {
		if !ok || len(f.Name) < 2 || notFromEnv[f.Name] {
			return
		}
		name := envName(f.Name)
		v, set := os.LookupEnv(name)
		if !set {
			return
		}
		if err := fs.Set(f.Name, v); err != nil {
			fmt.Fprintf(stderr, "drlee: %s=%q: invalid value for --%s: %v\n", name, v, f.Name, err)
			ok = false
		}
	})
	return ok
}
