package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// httpRow is one line of the HTTP table: a server on a scenario at a number
// of connections, over all repetitions.
type httpRow struct {
	server   string
	scenario string
	conns    int      // 0 for a row that only carries a note
	samples  []sample // one per repetition that ran
	ratios   []float64
	// vsCallback: for the await-style rows, requests/s over the callback style's (the
	// Dr.LEE row) in the same repetition.
	vsCallback []float64
	note       string // why it did not run, or what went wrong
}

func (b *bench) row(srv, scn string, conns int) *httpRow {
	for _, r := range b.http {
		if r.server == srv && r.scenario == scn && r.conns == conns {
			return r
		}
	}
	r := &httpRow{server: srv, scenario: scn, conns: conns}
	b.http = append(b.http, r)
	return r
}

// runHTTP runs every scenario on every server. For one scenario all servers
// are started (and idle while not loaded), then loaded in turn, A B C A B C,
// so that a slow patch of a noisy machine hits every server alike; the ratio
// to raw fasthttp is taken within each repetition.
func (b *bench) runHTTP(ctx context.Context) error {
	servers := b.servers()
	available := 0
	for _, s := range servers {
		if s.missing == "" {
			available++
		} else {
			fmt.Printf("skipping %s: %s\n", s.name, s.missing)
		}
	}
	total := available * len(b.cfg.scenarios) * len(b.cfg.conns) * b.cfg.reps
	per := b.cfg.duration
	if b.useWrk {
		per = time.Duration(int(per.Seconds()+0.999)) * time.Second
	}
	fmt.Printf("%d runs of %v each, about %v in all\n", total, per,
		(time.Duration(total)*(per+300*time.Millisecond) + time.Duration(available*len(b.cfg.scenarios))*(b.cfg.warmup+300*time.Millisecond)).Round(time.Second))
	maxConns := slices.Max(b.cfg.conns)
	done := 0
	// The data servers stop once every scenario ran (stopAll would stop them too, but
	// PostgreSQL deserves its fast shutdown).
	defer b.stopData()
	for _, scn := range b.cfg.scenarios {
		if why := b.dataFor(ctx, scn); why != "" {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			for _, srv := range servers {
				b.row(srv.name, scn, 0).note = "not available: " + why
			}
			done += available * len(b.cfg.conns) * b.cfg.reps
			continue
		}
		// Start them all at once (startup is mostly waiting), then warm up
		// one at a time.
		type launched struct {
			r   *running
			err error
		}
		started := make([]launched, len(servers))
		ports, err := freePorts(len(servers))
		if err != nil {
			return err
		}
		var wg sync.WaitGroup
		for i, srv := range servers {
			if srv.missingFor(scn) == "" {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r, err := b.launch(ctx, srv, scn, ports[i])
					started[i] = launched{r, err}
				}()
			}
		}
		wg.Wait()
		var live []*running
		for i, srv := range servers {
			if why := srv.missingFor(scn); why != "" {
				b.row(srv.name, scn, 0).note = "not available: " + why
				continue
			}
			r, err := started[i].r, started[i].err
			if err == nil {
				// Warm-up: JIT traces, connection pools, goroutine stacks.
				_, err = b.load(ctx, r, scn, maxConns, b.cfg.warmup, false)
				if err != nil {
					r.p.stop()
				}
			}
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				b.row(srv.name, scn, 0).note = "failed: " + err.Error()
				fmt.Printf("%-10s %-28s failed: %v\n", scn, srv.name, err)
				done += len(b.cfg.conns) * b.cfg.reps
				continue
			}
			live = append(live, r)
		}
		for _, conns := range b.cfg.conns {
			for rep := 1; rep <= b.cfg.reps; rep++ {
				got := map[string]sample{}
				for _, r := range live {
					done++
					row := b.row(r.srv.name, scn, conns)
					select {
					case <-r.p.done:
						if row.note == "" {
							row.note = fmt.Sprintf("failed: server exited (%v): %s", r.p.err, r.p.out.lastLines(3))
						}
						continue
					default:
					}
					s, err := b.load(ctx, r, scn, conns, b.cfg.duration, b.useWrk)
					if ctx.Err() != nil {
						return ctx.Err()
					}
					prefix := fmt.Sprintf("[%3d/%d %5s] %-9s c=%-3d rep %d/%d %-27s", done, total,
						time.Since(b.started).Round(time.Second), scn, conns, rep, b.cfg.reps, r.srv.name)
					if err != nil {
						row.note = "failed: " + err.Error()
						fmt.Printf("%s failed: %v\n", prefix, err)
						continue
					}
					row.samples = append(row.samples, s)
					got[r.srv.name] = s
					errs := ""
					if s.errors > 0 {
						errs = fmt.Sprintf("  %d errors", s.errors)
					}
					fmt.Printf("%s %9.0f req/s  p50 %-8s p99 %-8s cpu %s/req%s\n", prefix, s.rps,
						fmtDur(s.p50), fmtDur(s.p99), fmtDur(s.cpuPerReq), errs)
				}
				if base, ok := got[fasthttpName]; ok && base.rps > 0 {
					for name, s := range got {
						row := b.row(name, scn, conns)
						row.ratios = append(row.ratios, s.rps/base.rps)
					}
				}
				if cb, ok := got[drleeName]; ok && cb.rps > 0 {
					if aw, ok := got[drleeAwaitName]; ok {
						row := b.row(drleeAwaitName, scn, conns)
						row.vsCallback = append(row.vsCallback, aw.rps/cb.rps)
					}
				}
			}
		}
		for _, r := range live {
			r.p.stop()
		}
	}
	return nil
}

// fmtDur prints a latency with 3 significant digits in µs, ms or s.
func fmtDur(d time.Duration) string {
	switch {
	case d <= 0:
		return "–"
	case d < time.Millisecond:
		return fmt.Sprintf("%.3gµs", float64(d)/float64(time.Microsecond))
	case d < time.Second:
		return fmt.Sprintf("%.3gms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.3gs", d.Seconds())
}
