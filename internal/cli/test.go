package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/packed"
)

// TestOptions configure `drlee test`.
type TestOptions struct {
	Filter  *regexp.Regexp // run only the tests whose name it matches (nil: all)
	Timeout time.Duration  // per test; also the callback timeout of the test engines
	Verbose bool           // a line per test, passed ones too
	Out     io.Writer      // the runner's report
	Events  io.Writer      // in a child process, the pipe to its parent (process.go)
}

// Totals are the counts of a run.
type Totals struct{ Passed, Failed, Skipped, Files int }

// FindTests returns the test files of paths: a file is taken as it is, a directory for
// its *_test.lua files, those of its subdirectories included (not those whose name starts
// with "."). The list is sorted, without duplicates.
func FindTests(paths []string) ([]string, error) {
	seen := map[string]bool{}
	var files []string
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			files = append(files, p)
		}
	}
	for _, root := range paths {
		st, err := os.Stat(root)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			add(filepath.Clean(root))
			continue
		}
		err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if p != root && strings.HasPrefix(d.Name(), ".") {
					return filepath.SkipDir
				}
				return nil
			}
			if strings.HasSuffix(d.Name(), "_test.lua") {
				add(p)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Strings(files)
	return files, nil
}

// RunTestFile runs the tests of one file in an engine of its own made from cfg (its
// Script, Workers and timeouts are set here) and adds their outcome to tot. ctx ends the
// run early (SIGINT).
func RunTestFile(ctx context.Context, cfg engine.Config, path string, o TestOptions, tot *Totals) {
	cfg.Script = path
	cfg.Workers = 1
	cfg.CallbackTimeout = o.Timeout // a test that never returns to the loop is interrupted
	if cfg.ShutdownTimeout <= 0 || cfg.ShutdownTimeout > time.Second {
		cfg.ShutdownTimeout = time.Second // what a timed-out test left running
	}
	r := &fileRun{path: path, opts: o}
	settings.Ptr(&cfg).kind = "test"
	settings.Ptr(&cfg).test = r
	tot.Files++
	e, err := engine.New(cfg)
	if err == nil {
		err = e.Run(ctx)
	}
	tot.Passed += r.passed
	tot.Failed += r.failed
	tot.Skipped += r.skipped
	if err != nil && ctx.Err() == nil {
		// The file did not load, or its main chunk raised (the engine logged it): the
		// tests it declared before did not run.
		msg := err.Error()
		var pe *os.PathError
		if !errors.As(err, &pe) {
			msg = "the file did not run: " + strings.TrimPrefix(msg, "script failed: ")
		}
		fmt.Fprintf(o.Out, "FAIL %s\n%s", path, indent(firstPart(msg, true)))
		tot.Failed++
		o.event("end fail")
	}
}

// fileRun is the run of one test file, on its worker's loop.
type fileRun struct {
	path    string
	opts    TestOptions
	tests   []*testCase
	nextIdx int // the next test to consider

	passed, failed, skipped int
}

// testCase is one test; it is its scope's owner.
type testCase struct {
	run         *fileRun
	id          int
	name, where string
	failures    []string
	more        int // failures beyond maxFailures
	skip        string
	skipped     bool
	finished    bool
	began       time.Time
	timer       *engine.Timer
	base        engine.Open
}

// __drlee_cli_add_test(name, where) -> id
func addTest(c *engine.Call) int {
	w := engine.WorkerOf(c)
	name, where := c.CheckString(1), c.CheckString(2)
	r := settings.Get(w.Engine()).test
	if r == nil {
		c.Raise("test: not in drlee test")
	}
	tc := &testCase{run: r, id: len(r.tests) + 1, name: shortName(name), where: where}
	r.tests = append(r.tests, tc)
	return c.ReturnNumber(float64(tc.id))
}

// testOf is the test id at argument 1 names; it raises for none.
func testOf(c *engine.Call) *testCase {
	r := settings.Get(engine.WorkerOf(c).Engine()).test
	if r == nil {
		c.Raise("not in drlee test")
	}
	id := c.CheckIntRange(1, 1, int64(len(r.tests)))
	return r.tests[id-1]
}

// __drlee_cli_record(id, where, msg): an assertion failed.
func recordFailure(c *engine.Call) int {
	tc := testOf(c)
	where, msg := c.CheckString(2), c.CheckString(3)
	if tc.finished {
		c.Raise("%s: an assertion of test %q after its end: %s", where, tc.name, msg)
	}
	tc.fail(where + ": " + msg)
	return 0
}

// maxFailures bounds the messages kept per test: an assertion in a loop may fail a million
// times, and the first few say what there is to say.
const maxFailures = 10

func (tc *testCase) fail(msg string) {
	if len(tc.failures) < maxFailures {
		tc.failures = append(tc.failures, msg)
		return
	}
	tc.more++
}

// __drlee_cli_skip(id, msg)
func skipTest(c *engine.Call) int {
	tc := testOf(c)
	msg := c.CheckString(2)
	if !tc.finished {
		tc.skipped, tc.skip = true, msg
	}
	return 0
}

// next starts the next test the filter lets through, or ends the engine when none is left.
// It runs as a task of its own (Defer), never inside a test's scope: the timer it starts
// must not belong to the test.
func (r *fileRun) next(w *engine.Worker) {
	for r.nextIdx < len(r.tests) {
		tc := r.tests[r.nextIdx]
		r.nextIdx++
		if r.opts.Filter != nil && !r.opts.Filter.MatchString(tc.name) {
			continue
		}
		r.opts.event("start %s", strings.ReplaceAll(shortName(tc.name), "\n", " "))
		tc.start(w)
		return
	}
	w.Engine().Shutdown()
}

func (tc *testCase) start(w *engine.Worker) {
	h := workerHooks.Get(w)
	tc.base = w.Open()
	tc.began = time.Now()
	tc.timer = w.After(tc.run.opts.Timeout, tc.timedOut)
	var v packed.Writer
	v.Int(int64(tc.id))
	w.RunScoped(w.NewScope(tc), h.runTest, v.B) // its error goes to ScopeFailed
}

// ScopeFailed: the test raised (an assertion that stopped it has recorded its failure).
func (tc *testCase) ScopeFailed(w *engine.Worker, sc *engine.Scope, err error) {
	msg := err.Error()
	if stop := workerHooks.Get(w).stop; stop != "" && strings.Contains(msg, stop) {
		return
	}
	if tc.finished {
		w.Logf("ERROR", "test %q, after its end: %s", tc.name, msg)
		return
	}
	tc.fail(firstPart(cleanTraceback(msg), tc.run.opts.Verbose))
}

// ScopeIdle: the test's thread returned and nothing it started is pending: it is over,
// and fails if it left anything open. What it dropped is collected first (on the next
// turn: a scope's owner must not call into Lua), so that only what is still reachable
// counts: a file kept in a global or an upvalue, a server still listening, a ticker still
// ticking. (A file dropped unclosed is closed by the collector, and not reported.)
func (tc *testCase) ScopeIdle(w *engine.Worker, sc *engine.Scope) {
	if tc.finished {
		return
	}
	tc.timer.Stop()
	tc.finished = true // nothing of it can come any more; the timer is stopped
	w.Defer(func(w *engine.Worker) {
		if h := workerHooks.Get(w); h.collect != 0 {
			w.CallRef(h.collect, nil)
		}
		if left := openDiff(tc.base, w.Open()); left != "" {
			tc.failures = append(tc.failures, tc.where+": left open after the test: "+left)
		}
		tc.finish(w)
	})
}

func (tc *testCase) timedOut(w *engine.Worker) {
	if tc.finished {
		return
	}
	msg := fmt.Sprintf("%s: timeout: the test did not end within %s", tc.where, tc.run.opts.Timeout)
	if left := openDiff(tc.base, w.Open()); left != "" {
		msg += " (still open: " + left + ")"
	}
	tc.failures = append(tc.failures, msg)
	tc.finish(w)
}

func (tc *testCase) finish(w *engine.Worker) {
	tc.finished = true
	r := tc.run
	d := time.Since(tc.began)
	var b strings.Builder
	outcome := "pass"
	switch {
	case len(tc.failures) > 0:
		r.failed++
		outcome = "fail"
		fmt.Fprintf(&b, "FAIL %s: %s (%s)\n", r.path, tc.name, round(d))
		for _, f := range tc.failures {
			b.WriteString(indent(f))
		}
		if tc.more > 0 {
			fmt.Fprintf(&b, "    ... and %d more\n", tc.more)
		}
	case tc.skipped:
		r.skipped++
		outcome = "skip"
		if r.opts.Verbose {
			fmt.Fprintf(&b, "skip %s: %s: %s\n", r.path, tc.name, tc.skip)
		}
	default:
		r.passed++
		if r.opts.Verbose {
			fmt.Fprintf(&b, "ok   %s: %s (%s)\n", r.path, tc.name, round(d))
		}
	}
	if b.Len() > 0 {
		writeOut(w.Engine(), r.opts.Out, b.String())
	}
	r.opts.event("end %s", outcome)
	w.Defer(r.next)
}

// writeOut writes the report, through the engine's stdout lock when it goes to the same
// place as the tests' prints.
func writeOut(e *engine.Engine, out io.Writer, s string) {
	if out == e.Config().Stdout {
		e.WriteStdout([]byte(s))
		return
	}
	io.WriteString(out, s)
}

// openDiff says what is open in now and was not in base: "" when nothing.
func openDiff(base, now engine.Open) string {
	var parts []string
	if d := now.Holds - base.Holds; d > 0 {
		parts = append(parts, fmt.Sprintf("%d held (a server, a ticker, a subscription)", d))
	}
	if d := now.Timers - base.Timers; d > 0 {
		parts = append(parts, fmt.Sprintf("%d timer(s)", d))
	}
	if d := now.Pending - base.Pending; d > 0 {
		parts = append(parts, fmt.Sprintf("%d operation(s) pending", d))
	}
	names := make([]string, 0, len(now.Objects))
	for n := range now.Objects {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if d := now.Objects[n] - base.Objects[n]; d > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", d, n))
		}
	}
	return strings.Join(parts, ", ")
}

// maxNameLen bounds a test's name in reports.
const maxNameLen = 200

// shortName is a test's name as reports show it: cut to maxNameLen bytes.
func shortName(name string) string {
	if len(name) <= maxNameLen {
		return name
	}
	return fmt.Sprintf("%s... (%d bytes)", name[:maxNameLen], len(name))
}

// firstPart is an error message without its traceback, unless full.
func firstPart(msg string, full bool) string {
	if !full {
		if i := strings.Index(msg, "\nstack traceback:"); i >= 0 {
			msg = msg[:i]
		}
	}
	return msg
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ") + "\n"
}

func round(d time.Duration) time.Duration {
	if d > time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(10 * time.Microsecond)
}
