package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/internal/cli"
)

// runREPL is `drlee repl [flags] [script.lua [args...]]`: a Lua prompt on one worker
// (internal/cli). It reads stdin itself: lines, no line editing.
func runREPL(argv []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("drlee repl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg engine.Config
	fs.StringVar(&cfg.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", 2*time.Second, "at the end of input, time given to in-flight work")
	fs.StringVar(&cfg.Node, "node", "", "this node's name (env.node)")
	engine.Flags(fs, &cfg)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: drlee repl [flags] [script.lua [args...]]")
		fs.PrintDefaults()
	}
	if !applyEnv(fs, stderr) {
		return 2
	}
	if err := fs.Parse(argv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		cfg.Script, cfg.Args = fs.Arg(0), fs.Args()[1:]
	}
	cfg.Stdout, cfg.Stderr = stdout, stderr
	return cli.REPL(cfg, stdin)
}
