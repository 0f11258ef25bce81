package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Each test file runs in a process of its own (drlee test, as a child): a test stuck in a
// loop the JIT compiled never returns to the loop and cannot be interrupted (the callback
// watchdog says so), so only killing its process ends it and lets the run go on. The child
// tells its parent what it is doing on a pipe (its fd 3), one line per event:
//
//	start <name>         a test started
//	end pass|fail|skip   it ended so (or the file failed to load: end fail)
//	done                 the file is done
//
// The parent kills a child whose test has run for twice the per-test timeout plus a second:
// by then the child's callback watchdog has tried to interrupt it (at the timeout) and
// given up (at twice the timeout), so its loop is stuck. Between tests (the main chunk,
// the shutdown at the end) the child gets the timeout plus childGrace.

// ChildEnv marks a drlee test process started by another to run one file.
const ChildEnv = "DRLEE_TEST_CHILD"

// childGrace is what the parent adds to the per-test timeout before it calls a child stuck
// outside a test: its shutdown (one second, then two for a stuck worker) must have had its
// chance.
const childGrace = 5 * time.Second

// limit is how long the child may stay silent: within a test, or outside one.
func limit(o TestOptions, inTest bool) time.Duration {
	if inTest {
		return 2*o.Timeout + time.Second
	}
	return o.Timeout + childGrace
}

// event writes one line to the parent (o.Events, nil when this is not a child).
func (o TestOptions) event(format string, args ...any) {
	if o.Events != nil {
		fmt.Fprintf(o.Events, format+"\n", args...)
	}
}

// ChildDone ends a child's run.
func ChildDone(o TestOptions) { o.event("done") }

// RunTestProcess runs the tests of file in a child process: exe test [args] -- file, with
// ChildEnv set and the event pipe as its fd 3, its stdout and stderr ours. It adds the
// outcome to tot; a child killed for a stuck test, or one that ended without its totals,
// counts as one failed test.
func RunTestProcess(ctx context.Context, exe string, args []string, file string, o TestOptions, stdout, stderr io.Writer, tot *Totals) {
	tot.Files++
	fail := func(format string, a ...any) {
		fmt.Fprintf(o.Out, "FAIL %s\n%s", file, indent(fmt.Sprintf(format, a...)))
		tot.Failed++
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		fail("cannot start its process: %v", err)
		return
	}
	defer pr.Close()
	cmd := exec.Command(exe, append(append(append([]string{"test"}, args...), "--"), file)...)
	cmd.Env = append(os.Environ(), ChildEnv+"=1")
	cmd.ExtraFiles = []*os.File{pw}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err = cmd.Start()
	pw.Close() // the child has its copy: EOF on pr when it ends
	if err != nil {
		fail("cannot start its process: %v", err)
		return
	}
	events := make(chan string)
	go func() { // ends at EOF: when the child ends, or is killed
		defer close(events)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 4096), 1<<20) // names are cut to maxNameLen: lines are short
		for sc.Scan() {
			events <- sc.Text()
		}
		io.Copy(io.Discard, pr) // after a line too long: the child must never block on us
	}()
	silence := time.NewTimer(limit(o, false))
	defer silence.Stop()
	current, gotTotals := "", false
	for done := false; !done; {
		select {
		case ev, ok := <-events:
			if !ok {
				done = true
				break
			}
			kind, rest, _ := strings.Cut(ev, " ")
			switch kind {
			case "start":
				current = rest
			case "end":
				current = ""
				switch rest {
				case "pass":
					tot.Passed++
				case "fail":
					tot.Failed++
				case "skip":
					tot.Skipped++
				}
			case "done":
				gotTotals = true
			}
			silence.Reset(limit(o, current != ""))
		case <-silence.C:
			cmd.Process.Kill()
			if current != "" {
				fmt.Fprintf(o.Out, "FAIL %s: %s\n%s", file, current, indent(fmt.Sprintf(
					"timeout: the test did not return to the loop within %s (a loop the JIT compiled cannot be interrupted): its process was killed; the file's later tests did not run", limit(o, true))))
				tot.Failed++
			} else {
				fail("timeout: the file's main chunk (or its end) took longer than %s: its process was killed", limit(o, false))
			}
			gotTotals = true
			for range events { // until EOF
			}
			done = true
		case <-ctx.Done():
			cmd.Process.Kill()
			for range events {
			}
			done = true
		}
	}
	werr := cmd.Wait()
	if !gotTotals && ctx.Err() == nil {
		fail("its process ended without its results (%v)", werr)
	}
}
