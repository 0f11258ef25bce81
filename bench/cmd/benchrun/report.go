package main

import (
	"fmt"
	"html"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
)

const resultsDir = "bench/results"

// stamp names this run's result files.
func (b *bench) stamp() string { return b.started.Format("20060102-150405") }

func median[T int64 | float64 | time.Duration](xs []T) T {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// stat returns f of every sample of r.
func stat[T int64 | float64 | time.Duration](r *httpRow, f func(sample) T) []T {
	var xs []T
	for _, s := range r.samples {
		xs = append(xs, f(s))
	}
	return xs
}

// report prints the tables and writes <stamp>.md, latest.md and latest.svg.
func (b *bench) report() error {
	md := b.markdown()
	fmt.Println()
	fmt.Print(md)
	if err := os.MkdirAll(resultsDir, 0o755); err != nil {
		return err
	}
	files := map[string]string{
		filepath.Join(resultsDir, b.stamp()+".md"): md,
		filepath.Join(resultsDir, "latest.md"):     md,
	}
	if b.cfg.http {
		files[filepath.Join(resultsDir, "latest.svg")] = b.svg()
	}
	for path, text := range files {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("\nwrote %s/%s.md, latest.md, latest.svg\n", resultsDir, b.stamp())
	if b.cfg.readme {
		return b.updateReadme(md)
	}
	return nil
}

func (b *bench) markdown() string {
	var w strings.Builder
	fmt.Fprintf(&w, "## %s\n\n", b.setup[0])
	for _, line := range b.setup[1:] {
		fmt.Fprintf(&w, "- %s\n", line)
	}
	if b.cfg.http {
		w.WriteString("\n### HTTP\n\n")
		w.WriteString(b.httpTable())
	}
	if b.cfg.cpu {
		w.WriteString("\n### CPU-bound Lua (whole process, startup included; median of the runs)\n\n")
		w.WriteString(b.cpuTable())
	}
	if b.cfg.micro {
		w.WriteString("\n### Go micro-benchmarks\n\n")
		m := b.micro
		switch {
		case m.file != "":
			fmt.Fprintf(&w, "%d results from `%s` in `%s` (compare runs with `benchstat old.txt new.txt`).", m.lines, strings.Join(m.pkgs, " "), m.file)
		default:
			w.WriteString("none run.")
		}
		if len(m.skipped) > 0 {
			fmt.Fprintf(&w, " Not present (yet): `%s`.", strings.Join(m.skipped, " "))
		}
		if m.note != "" {
			fmt.Fprintf(&w, " %s.", strings.TrimSuffix(m.note, "."))
		}
		w.WriteString("\n")
	}
	return w.String()
}

// httpTable: rows by scenario, then connections, then server, in run order.
func (b *bench) httpTable() string {
	var w strings.Builder
	w.WriteString("| server | scenario | conns | requests/s median (min–max) | p50 | p99 | server CPU/req | x raw fasthttp | notes |\n")
	w.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---|\n")
	order := map[string]int{}
	for i, s := range b.servers() {
		order[s.name] = i
	}
	rows := slices.Clone(b.http)
	sort.SliceStable(rows, func(i, j int) bool {
		a, c := rows[i], rows[j]
		if a.scenario != c.scenario {
			return slices.Index(b.cfg.scenarios, a.scenario) < slices.Index(b.cfg.scenarios, c.scenario)
		}
		if a.conns != c.conns {
			return a.conns < c.conns
		}
		return order[a.server] < order[c.server]
	})
	for _, r := range rows {
		if len(r.samples) == 0 && r.note == "" {
			continue
		}
		conns := "–"
		if r.conns > 0 {
			conns = fmt.Sprint(r.conns)
		}
		notes := cell(r.note)
		if len(r.vsCallback) > 0 {
			notes = strings.TrimPrefix(notes+fmt.Sprintf("; %.2fx the callback style", median(r.vsCallback)), "; ")
		}
		if errs := sum(stat(r, func(s sample) int64 { return s.errors })); errs > 0 {
			notes = strings.TrimPrefix(notes+fmt.Sprintf("; %d errors", errs), "; ")
		}
		if len(r.samples) == 0 {
			fmt.Fprintf(&w, "| %s | %s | %s | | | | | | %s |\n", r.server, r.scenario, conns, notes)
			continue
		}
		rps := stat(r, func(s sample) float64 { return s.rps })
		ratio := "–"
		if len(r.ratios) > 0 {
			ratio = fmt.Sprintf("%.2f", median(r.ratios))
		}
		spread := ""
		if len(rps) > 1 {
			spread = fmt.Sprintf(" (%s–%s)", fmtRPS(slices.Min(rps)), fmtRPS(slices.Max(rps)))
		}
		fmt.Fprintf(&w, "| %s | %s | %s | %s%s | %s | %s | %s | %s | %s |\n", r.server, r.scenario, conns,
			fmtRPS(median(rps)), spread,
			fmtDur(median(stat(r, func(s sample) time.Duration { return s.p50 }))),
			fmtDur(median(stat(r, func(s sample) time.Duration { return s.p99 }))),
			fmtDur(median(stat(r, func(s sample) time.Duration { return s.cpuPerReq }))),
			ratio, notes)
	}
	return w.String()
}

func sum(xs []int64) (n int64) {
	for _, x := range xs {
		n += x
	}
	return n
}

// cell makes text safe for one Markdown table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", "/")
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 160 {
		s = s[:157] + "..."
	}
	return s
}

func fmtRPS(v float64) string {
	switch {
	case v >= 10000:
		return fmt.Sprintf("%.0fk", v/1000)
	case v >= 1000:
		return fmt.Sprintf("%.1fk", v/1000)
	}
	return fmt.Sprintf("%.0f", v)
}

func (b *bench) cpuTable() string {
	rts := b.cpuRuntimes()
	var w strings.Builder
	w.WriteString("| script |")
	for _, rt := range rts {
		fmt.Fprintf(&w, " %s |", rt.name)
	}
	w.WriteString(" gopher-lua ÷ Dr.LEE |\n|---|")
	w.WriteString(strings.Repeat("---:|", len(rts)+1) + "\n")
	for _, row := range b.cpu {
		base := median(row.times[luajitName])
		fmt.Fprintf(&w, "| %s (N=%d) |", row.script, row.n)
		for _, rt := range rts {
			ts := row.times[rt.name]
			switch {
			case len(ts) == 0:
				fmt.Fprintf(&w, " %s |", cell(row.notes[rt.name]))
			case base > 0:
				fmt.Fprintf(&w, " %.2f s (%.1fx) |", median(ts).Seconds(), float64(median(ts))/float64(base))
			default:
				fmt.Fprintf(&w, " %.2f s |", median(ts).Seconds())
			}
		}
		g, d := median(row.times["gopher-lua"]), median(row.times[drleeName])
		if g > 0 && d > 0 {
			fmt.Fprintf(&w, " %.1f |\n", float64(g)/float64(d))
		} else {
			w.WriteString(" – |\n")
		}
	}
	fmt.Fprintf(&w, "\n(Nx) is the time relative to the %s on the same script.\n", luajitName)
	return w.String()
}

// svg draws, for each connection count, two panels: requests/s and p99 per
// scenario, one bar per server. Bars are scaled to the largest in their
// scenario (scenarios differ by orders of magnitude) and labelled with values.
func (b *bench) svg() string {
	servers := b.servers()
	colors := map[string]string{ // fixed per server, so charts of different runs match
		"drlee": "#d62728", "drlee-locked": "#ff9896", "drlee-sysmon": "#8c564b", "drlee-await": "#e377c2", "fasthttp": "#1f77b4",
		"nethttp": "#7f7f7f", "gopherlua": "#2ca02c", "nginx": "#9467bd",
	}
	const (
		barW, gap, groupGap = 16, 2, 28
		left, top, panelH   = 50, 60, 170
	)
	groupW := len(servers)*(barW+gap) + groupGap
	width := max(left+len(b.cfg.scenarios)*groupW+20, 760)
	panels := len(b.cfg.conns) * 2
	height := top + panels*(panelH+90) + 10

	var w strings.Builder
	fmt.Fprintf(&w, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">`+"\n", width, height)
	fmt.Fprintf(&w, `<rect width="100%%" height="100%%" fill="white"/><text x="10" y="18" font-size="14" font-weight="bold">%s</text>`+"\n", html.EscapeString(b.setup[0]))
	for i, s := range servers { // legend, 3 a line
		x := 10 + (i%3)*((width-20)/3)
		y := 30 + (i/3)*14
		fmt.Fprintf(&w, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d">%s</text>`+"\n", x, y, colors[s.key], x+14, y+9, html.EscapeString(s.name))
	}
	panel := 0
	for _, conns := range b.cfg.conns {
		for mi, metric := range []string{"requests/s (higher is better)", "p99 latency (lower is better)"} {
			y0 := top + panel*(panelH+90) + 20
			panel++
			fmt.Fprintf(&w, `<text x="10" y="%d"><tspan font-weight="bold">%s, %d connections</tspan> (bars scaled to the largest in each scenario)</text>`+"\n", y0, metric, conns)
			base := y0 + 50 + panelH // room above the tallest bar for its label
			fmt.Fprintf(&w, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`+"\n", left-5, base, width-10, base)
			for g, scn := range b.cfg.scenarios {
				gx := left + g*groupW
				vals := make([]float64, len(servers))
				labels := make([]string, len(servers))
				maxV := 0.0
				for i, s := range servers {
					r := b.find(s.name, scn, conns)
					if r == nil || len(r.samples) == 0 {
						labels[i] = "n/a"
						continue
					}
					if mi == 0 {
						vals[i] = median(stat(r, func(s sample) float64 { return s.rps }))
						labels[i] = fmtRPS(vals[i])
					} else {
						p99 := median(stat(r, func(s sample) time.Duration { return s.p99 }))
						vals[i], labels[i] = float64(p99), fmtDur(p99)
					}
					maxV = max(maxV, vals[i])
				}
				for i := range servers {
					x := gx + i*(barW+gap)
					h := 0
					if maxV > 0 {
						h = int(vals[i] / maxV * panelH)
					}
					fmt.Fprintf(&w, `<rect x="%d" y="%d" width="%d" height="%d" fill="%s"/>`, x, base-h, barW, h, colors[servers[i].key])
					fmt.Fprintf(&w, `<text transform="translate(%d,%d) rotate(-90)" font-size="9">%s</text>`+"\n", x+barW/2+3, base-h-3, html.EscapeString(labels[i]))
				}
				fmt.Fprintf(&w, `<text x="%d" y="%d" text-anchor="middle">%s</text>`+"\n", gx+(groupW-groupGap)/2, base+14, scn)
			}
		}
	}
	w.WriteString("</svg>\n")
	return w.String()
}

func (b *bench) find(srv, scn string, conns int) *httpRow {
	for _, r := range b.http {
		if r.server == srv && r.scenario == scn && r.conns == conns {
			return r
		}
	}
	return nil
}

// updateReadme puts md between the "latest results" markers of bench/README.md.
func (b *bench) updateReadme(md string) error {
	const path = "bench/README.md"
	const begin, end = "<!-- latest results: begin -->", "<!-- latest results: end -->"
	text, err := os.ReadFile(path)
	if err != nil {
		return nil // no README to update
	}
	s := string(text)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		return nil
	}
	// One heading level down: the tables sit under the README's own heading.
	md = strings.ReplaceAll("\n"+md, "\n#", "\n##")[1:]
	s = s[:i+len(begin)] + "\n" + md + s[j:]
	return os.WriteFile(path, []byte(s), 0o644)
}
