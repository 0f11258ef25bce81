package main

import (
	"fmt"
	"strconv"

	"github.com/drlee/drlee/bench/scenario"
)

// shdictIncr is a scenario of benchrun's own (bench/scenario's set is the Go peers' too):
// a counter shared by every worker, incremented per request (d:incr in Dr.LEE,
// ngx.shared.DICT:incr in nginx), which answers the count. The Go peers have no version: a
// counter in one process's memory is not what is measured.
const shdictIncr = "shdict-incr"

// scenarioNames is every scenario benchrun runs, in report order.
var scenarioNames = append(append([]string(nil), scenario.Names...), shdictIncr)

// lacksShdict is the lacks of the servers with no shdict-incr.
func lacksShdict(scn string) string {
	if scn == shdictIncr {
		return "no shared dictionary across workers"
	}
	return ""
}

// either is the lacks of a server lacking what a or b says it lacks.
func either(a, b func(string) string) func(string) string {
	return func(scn string) string {
		if why := a(scn); why != "" {
			return why
		}
		return b(scn)
	}
}

// checkScenario is scenario.Check, and shdict-incr's: a positive count.
func checkScenario(scn string, status int, body []byte) error {
	if scn != shdictIncr {
		return scenario.Check(scn, status, body)
	}
	if status != 200 {
		return fmt.Errorf("status %d, body %.80q", status, body)
	}
	if n, err := strconv.ParseInt(string(body), 10, 64); err != nil || n < 1 {
		return fmt.Errorf("body %.80q, want a count", body)
	}
	return nil
}
