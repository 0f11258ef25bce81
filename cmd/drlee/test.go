package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/internal/cli"
)

// maxTestTimeout bounds --timeout: beyond a day it is a typo, not a test.
const maxTestTimeout = 24 * time.Hour

// runTests is `drlee test [flags] [paths...]`: every *_test.lua file of paths (default
// ".") in an engine of its own (internal/cli). Exit 0 when every test passed, 1 when one
// failed (or a file did not load, or none was found), 2 on a usage error.
func runTests(argv []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("drlee test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg engine.Config
	pattern := fs.String("run", "", "run only the tests whose name matches this regular expression")
	verbose := fs.Bool("v", false, "a line for every test, passed and skipped ones too")
	timeout := fs.Duration("timeout", 10*time.Second, "fail a test that has not ended after this long, and go on")
	fs.StringVar(&cfg.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.IntVar(&cfg.PoolSize, "pool-size", 1024, "goroutines in the shared blocking-I/O pool")
	engine.Flags(fs, &cfg)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: drlee test [flags] [paths...]   (files, or directories for their *_test.lua files; default .)")
		fs.PrintDefaults()
	}
	if !applyEnv(fs, stderr) {
		return 2
	}
	// Flags may come after the paths (drlee test dir -v): parse again after each path.
	var paths []string
	for args := argv; ; {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		paths = append(paths, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if *timeout <= 0 || *timeout > maxTestTimeout {
		fmt.Fprintf(stderr, "drlee test: --timeout must be from 1ns to %s, not %s\n", maxTestTimeout, *timeout)
		return 2
	}
	opts := cli.TestOptions{Timeout: *timeout, Verbose: *verbose, Out: stdout}
	if *pattern != "" {
		re, err := regexp.Compile(*pattern)
		if err != nil {
			fmt.Fprintf(stderr, "drlee test: --run: %v\n", err)
			return 2
		}
		opts.Filter = re
	}
	if len(paths) == 0 {
		paths = []string{"."}
	}
	files, err := cli.FindTests(paths)
	if err != nil {
		fmt.Fprintf(stderr, "drlee test: %v\n", err)
		return 2
	}
	if len(files) == 0 {
		fmt.Fprintf(stderr, "drlee test: no test files (*_test.lua) in %s\n", strings.Join(paths, " "))
		return 1
	}
	cfg.Stdout, cfg.Stderr = stdout, stderr
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var tot cli.Totals
	if os.Getenv(cli.ChildEnv) == "1" {
		// A child of the process below: the files here, events to the parent on fd 3.
		opts.Events = os.NewFile(3, "drlee test events")
		for _, f := range files {
			cli.RunTestFile(ctx, cfg, f, opts, &tot)
		}
		cli.ChildDone(opts)
		return 0
	}
	// Each file in a process of its own (internal/cli/process.go), given the flags this
	// one was.
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "drlee test: %v\n", err)
		return 1
	}
	var childArgs []string
	fs.Visit(func(f *flag.Flag) { childArgs = append(childArgs, "-"+f.Name+"="+f.Value.String()) })
	for _, f := range files {
		if ctx.Err() != nil {
			break
		}
		cli.RunTestProcess(ctx, exe, childArgs, f, opts, stdout, stderr, &tot)
	}
	summary := fmt.Sprintf("%d passed, %d failed", tot.Passed, tot.Failed)
	if tot.Skipped > 0 {
		summary += fmt.Sprintf(", %d skipped", tot.Skipped)
	}
	fmt.Fprintln(stdout, summary)
	if tot.Failed > 0 || ctx.Err() != nil {
		return 1
	}
	return 0
}
