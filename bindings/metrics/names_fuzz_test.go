package metrics

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/prometheus/common/model"
)

var (
	metricNameRE = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	labelNameRE  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// FuzzNames: the checks accept exactly Prometheus' legacy names (checked against a regexp
// and against Prometheus' own model package), less the reserved ones, and never panic.
func FuzzNames(f *testing.F) {
	for _, s := range []string{"", "a", "app_total", "9x", "a:b", "__x", "le", "drlee_x", "go_y", "x y", "é", "a\x00", strings.Repeat("a", 201)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := checkMetricName(s)
		reserved := false
		for _, p := range reservedPrefixes {
			reserved = reserved || strings.HasPrefix(s, p)
		}
		want := metricNameRE.MatchString(s) && len(s) <= maxNameLen && !reserved
		if (err == nil) != want {
			t.Fatalf("checkMetricName(%q) = %v, want ok=%v", s, err, want)
		}
		if err == nil && !model.LegacyValidation.IsValidMetricName(s) {
			t.Fatalf("checkMetricName(%q) accepted a name Prometheus refuses", s)
		}
		for _, hist := range []bool{false, true} {
			err = checkLabelName(s, hist)
			want = labelNameRE.MatchString(s) && len(s) <= maxNameLen && !strings.HasPrefix(s, "__") && !(hist && s == "le")
			if (err == nil) != want {
				t.Fatalf("checkLabelName(%q, %v) = %v, want ok=%v", s, hist, err, want)
			}
			if err == nil && !model.LegacyValidation.IsValidLabelName(s) {
				t.Fatalf("checkLabelName(%q) accepted a name Prometheus refuses", s)
			}
		}
		err = checkLabelValue(s)
		if want := utf8.ValidString(s) && len(s) <= maxValueLen; (err == nil) != want {
			t.Fatalf("checkLabelValue(%q) = %v, want ok=%v", s, err, want)
		}
	})
}
