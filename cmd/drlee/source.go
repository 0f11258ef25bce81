package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/internal/cli"
)

// chooseSource sets what `drlee run` runs, once its flags are parsed: the code of -e (all
// positional arguments are then the script's), the script on stdin ("-"), or a script file;
// with --check, only compiled (see cli.Check). It returns -1 to go on, or the exit code:
// 2 for a usage error, 1 when the script cannot be read.
func chooseSource(fs *flag.FlagSet, cfg *engine.Config, expr *string, exprSet, check bool, stdin io.Reader, stderr io.Writer) int {
	args := fs.Args()
	var code, name, file string
	switch {
	case exprSet:
		code, name = *expr, "(command line)"
	case len(args) == 0:
		fs.Usage()
		return 2
	case args[0] == "-":
		b, err := io.ReadAll(stdin)
		if err != nil {
			fmt.Fprintf(stderr, "drlee: reading the script from stdin: %v\n", err)
			return 1
		}
		code, name, args = string(b), "(stdin)", args[1:]
	default:
		cfg.Script, cfg.Args = args[0], args[1:]
		if !check {
			return -1
		}
		b, err := os.ReadFile(args[0])
		if err != nil {
			fmt.Fprintf(stderr, "drlee: %v\n", err)
			return 1
		}
		code, file, args = string(b), displayName(args[0]), args[1:]
	}
	if len(code) > 1 && code[0] == '#' && code[1] == '!' { // a shebang line, as for a file
		code = "--" + code[2:]
	}
	cfg.Args = args
	if check {
		cli.Check(cfg, code, name, file)
	} else {
		cli.Code(cfg, code, name)
	}
	return -1
}

// displayName is a script's name in messages as the engine writes it: relative to the
// working directory when that is shorter.
func displayName(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return path
	}
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, abs); err == nil && len(rel) < len(abs) {
			return rel
		}
	}
	return abs
}

// isFlagSet reports whether name was given (on the command line or by its DRLEE_ variable).
func isFlagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
