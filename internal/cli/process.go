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
// The parent kills a child that stays silent for longer than the per-test timeout plus
// childGrace: the timeout inside the child did not end the test, so its loop is stuck.

// ChildEnv marks a drlee test process started by another to run one file.
const ChildEnv = "DRLEE_TEST_CHILD"

// childGrace is what the parent adds to the per-test timeout before it calls a silent child
// stuck: the child's own timeout, its callback watchdog (twice the timeout at most) and its
// shutdown must have had their chance.
const childGrace = 5 * time.Second

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
		for sc.Scan() {
			events <- sc.Text()
		}
	}()
	limit := o.Timeout + childGrace
	silence := time.NewTimer(limit)
	defer silence.Stop()
	current, gotTotals := "", false
	for done := false; !done; {
		select {
		case ev, ok := <-events:
			if !ok {
				done = true
				break
			}
			silence.Reset(limit)
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
		case <-silence.C:
			cmd.Process.Kill()
			if current != "" {
				fmt.Fprintf(o.Out, "FAIL %s: %s\n%s", file, current, indent(fmt.Sprintf(
					"timeout: the test did not return to the loop within %s (a loop the JIT compiled cannot be interrupted): its process was killed; the file's later tests did not run", limit)))
				tot.Failed++
			} else {
				fail("timeout: the file's main chunk did not end within %s: its process was killed", limit)
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
