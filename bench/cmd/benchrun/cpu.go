package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// cpuSizes is the N each bench/cpu script gets (its arg[1]): full and quick.
// Full sizes keep LuaJIT near 0.2-0.3 s and gopher-lua under ~7 s a run.
var cpuSizes = map[string][2]int{
	"fib":       {5, 1},
	"strings":   {5, 1},
	"tablewalk": {4, 1},
}

// A cpuRuntime runs a Lua script file with arguments.
type cpuRuntime struct {
	name    string
	missing string
	argv    func(script, n string) []string
}

// The runtimes, in table order; the first is the baseline of the ratios.
const luajitName = "luajit CLI"

func (b *bench) cpuRuntimes() []cpuRuntime {
	lookup := func(bin string) string {
		if _, err := exec.LookPath(bin); err != nil {
			return bin + " not installed"
		}
		return ""
	}
	return []cpuRuntime{
		{luajitName, lookup("luajit"), func(s, n string) []string { return []string{"luajit", s, n} }},
		// The script's top-level code runs once per worker: one worker.
		{drleeName, b.drleeMissing, func(s, n string) []string { return []string{b.drlee, "run", "--workers", "1", s, n} }},
		{"lua5.1", lookup("lua5.1"), func(s, n string) []string { return []string{"lua5.1", s, n} }},
		{"gopher-lua", "", func(s, n string) []string { return []string{filepath.Join(b.tmp, "gopherlua-run"), s, n} }},
	}
}

// cpuRow is one script of the CPU table.
type cpuRow struct {
	script string
	n      int
	times  map[string][]time.Duration // wall time of each run, by runtime
	notes  map[string]string          // by runtime: why there is no time
	output string                     // what the first runtime printed
}

// runCPU times every script on every runtime, whole process (startup
// included), repetitions interleaved; it checks that all print the same.
// Processes are not pinned: each is one Lua thread, and the Go runtimes'
// garbage collectors may use the other CPU, as they would in real use.
func (b *bench) runCPU(ctx context.Context) error {
	scripts, _ := filepath.Glob("bench/cpu/*.lua")
	runtimes := b.cpuRuntimes()
	reps := 3
	if b.cfg.quick {
		reps = 1
	}
	for _, script := range scripts {
		name := strings.TrimSuffix(filepath.Base(script), ".lua")
		row := &cpuRow{script: name, n: 1, times: map[string][]time.Duration{}, notes: map[string]string{}}
		if sz, ok := cpuSizes[name]; ok {
			row.n = sz[0]
			if b.cfg.quick {
				row.n = sz[1]
			}
		}
		b.cpu = append(b.cpu, row)
		for _, rt := range runtimes {
			if rt.missing != "" {
				row.notes[rt.name] = "not available: " + rt.missing
			}
		}
	}
	for rep := 1; rep <= reps; rep++ {
		for i, script := range scripts {
			row := b.cpu[i]
			for _, rt := range runtimes {
				if row.notes[rt.name] != "" {
					continue
				}
				t0 := time.Now()
				out, err := run(ctx, 2*time.Minute, rt.name, nil, rt.argv(script, strconv.Itoa(row.n))...)
				took := time.Since(t0)
				if ctx.Err() != nil {
					return ctx.Err()
				}
				first, _, _ := strings.Cut(strings.TrimSpace(out), "\n")
				switch {
				case err != nil:
					row.notes[rt.name] = "failed: " + err.Error()
				case row.output == "":
					row.output = first
				case first != row.output:
					row.notes[rt.name] = fmt.Sprintf("printed %q, others %q", first, row.output)
				}
				status := fmt.Sprintf("%.2fs", took.Seconds())
				if n := row.notes[rt.name]; n != "" {
					status = n
				} else {
					row.times[rt.name] = append(row.times[rt.name], took)
				}
				fmt.Printf("[%5s] cpu %-10s N=%d rep %d/%d %-12s %s\n", time.Since(b.started).Round(time.Second),
					row.script, row.n, rep, reps, rt.name, status)
			}
		}
	}
	return nil
}
