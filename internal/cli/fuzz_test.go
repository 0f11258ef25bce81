package cli

import (
	"strings"
	"testing"
)

// FuzzReportText: what the runner does to the messages it reports (tracebacks cleaned of
// the runtime's frames, cut before the traceback, names cut short) never panics, only
// removes whole lines, and keeps the first line (the message itself).
func FuzzReportText(f *testing.F) {
	f.Add("a_test.lua:3: boom\nstack traceback:\n\t[C]: in function 'error'\n\ta_test.lua:3: in function 'fn'\n\t[drlee globals]:210: in function <[drlee globals]:207>\n\t[C]: in function 'xpcall'\n\t[drlee runner]:8: in function <[drlee runner]:2>")
	f.Add("no traceback")
	f.Add("")
	f.Add("\nstack traceback:\n[drlee globals]")
	f.Add("\t[C]: in function 'xpcall'\nstack traceback:\n\t[C]: in function 'xpcall'")
	f.Add(strings.Repeat("x", 300))
	f.Fuzz(func(t *testing.T, msg string) {
		clean := cleanTraceback(msg)
		in := map[string]bool{}
		for _, l := range strings.Split(msg, "\n") {
			in[l] = true
		}
		for _, l := range strings.Split(clean, "\n") {
			if !in[l] {
				t.Fatalf("cleanTraceback(%q) made up the line %q", msg, l)
			}
		}
		first, _, _ := strings.Cut(msg, "\n")
		if got, _, _ := strings.Cut(firstPart(clean, false), "\n"); got != first {
			t.Fatalf("first line %q, want %q (message %q)", got, first, msg)
		}
		if full := firstPart(clean, true); full != clean {
			t.Fatalf("firstPart(full) changed %q", clean)
		}
		if s := shortName(msg); len(msg) <= maxNameLen && s != msg || len(s) > maxNameLen+40 {
			t.Fatalf("shortName(%d bytes) = %d bytes", len(msg), len(s))
		}
	})
}
