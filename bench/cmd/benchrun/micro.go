package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// microPatterns are the packages whose Go benchmarks `make bench` runs:
// engine crossings, the completion round trip, the HTTP request path.
var microPatterns = []string{"./cgo/", "./engine/...", "./bindings/..."}

type microResult struct {
	file    string   // raw go test output, for benchstat
	pkgs    []string // patterns that had packages
	skipped []string // patterns with none (yet)
	note    string   // what went wrong, if anything
	lines   int      // benchmark result lines
}

// runMicro runs the micro-benchmarks, streaming go test's output to stdout
// and to bench/results/micro-<time>.txt. A failure is reported, not fatal:
// the HTTP comparison still runs.
func (b *bench) runMicro(ctx context.Context) {
	m := &b.micro
	for _, pat := range microPatterns {
		out, err := run(ctx, 2*time.Minute, "go list", nil, "go", "list", "-tags", "luajit", pat)
		if err != nil || strings.TrimSpace(out) == "" {
			m.skipped = append(m.skipped, pat)
			continue
		}
		m.pkgs = append(m.pkgs, pat)
	}
	if len(m.skipped) > 0 {
		fmt.Printf("no packages (yet) for %s: skipped\n", strings.Join(m.skipped, " "))
	}
	if len(m.pkgs) == 0 {
		m.note = "no micro-benchmark packages yet"
		return
	}
	if err := os.MkdirAll(resultsDir, 0o755); err != nil {
		m.note = err.Error()
		return
	}
	m.file = filepath.Join(resultsDir, "micro-"+b.stamp()+".txt")
	f, err := os.Create(m.file)
	if err != nil {
		m.note = err.Error()
		return
	}
	defer f.Close()
	// -vet=off: vet is make test's job, and here it only adds seconds.
	argv := append([]string{"go", "test", "-tags", "luajit", "-vet=off", "-run", "^$", "-bench", ".", "-benchmem",
		"-count", strconv.Itoa(b.cfg.microCount), "-benchtime", b.cfg.microTime, "-timeout", "10m"}, m.pkgs...)
	fmt.Println(strings.Join(argv, " "))
	counter := &lineCounter{}
	p, err := start("go test", nil, io.MultiWriter(os.Stdout, f, counter), argv...)
	if err == nil {
		err = p.wait(ctx, 12*time.Minute)
	}
	m.lines = counter.n
	if err != nil {
		m.note = "go test failed: " + err.Error()
		if len(counter.failed) > 0 { // go test reports a package's failure on stdout
			m.note = "go test failed in " + strings.Join(counter.failed, ", ")
		}
		fmt.Println(m.note)
	}
}

// lineCounter counts benchmark result lines ("Benchmark... ns/op") and
// collects the packages that failed.
type lineCounter struct {
	n       int
	failed  []string
	partial string
}

func (c *lineCounter) Write(p []byte) (int, error) {
	lines := strings.Split(c.partial+string(p), "\n")
	c.partial = lines[len(lines)-1]
	for _, l := range lines[:len(lines)-1] {
		if strings.HasPrefix(l, "Benchmark") && strings.Contains(l, "ns/op") {
			c.n++
		}
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "FAIL" {
			c.failed = append(c.failed, strings.TrimPrefix(f[1], "github.com/drlee/drlee/"))
		}
	}
	return len(p), nil
}
