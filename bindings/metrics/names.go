package metrics

import (
	"fmt"
	"unicode/utf8"
)

// Prometheus' rules for names (https://prometheus.io/docs/concepts/data_model/): a metric
// name is [a-zA-Z_:][a-zA-Z0-9_:]*, a label name [a-zA-Z_][a-zA-Z0-9_]*, and label names
// starting with "__" are Prometheus' own. Scripts may not take the runtime's prefixes
// (drlee_, go_, process_), whose metrics are already exported, and a histogram may not
// have a label named "le", which its buckets use.

// maxNameLen bounds names and label values: a metric is not a place for documents.
const (
	maxNameLen  = 200
	maxValueLen = 1024
	maxHelpLen  = 1024
)

var reservedPrefixes = []string{"drlee_", "go_", "process_", "promhttp_"}

// checkMetricName returns why name is not a metric name a script may declare, or nil.
func checkMetricName(name string) error {
	if name == "" {
		return fmt.Errorf("metric name is empty")
	}
	if len(name) > maxNameLen {
		return fmt.Errorf("metric name is longer than %d bytes", maxNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9')
		if !ok {
			return fmt.Errorf("metric name %q is not [a-zA-Z_:][a-zA-Z0-9_:]*", name)
		}
	}
	for _, p := range reservedPrefixes {
		if len(name) >= len(p) && name[:len(p)] == p {
			return fmt.Errorf("metric name %q: the prefix %s is the runtime's", name, p)
		}
	}
	return nil
}

// checkLabelName returns why name is not a label name a script may use, or nil.
func checkLabelName(name string, histogram bool) error {
	if name == "" {
		return fmt.Errorf("label name is empty")
	}
	if len(name) > maxNameLen {
		return fmt.Errorf("label name is longer than %d bytes", maxNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9')
		if !ok {
			return fmt.Errorf("label name %q is not [a-zA-Z_][a-zA-Z0-9_]*", name)
		}
	}
	if len(name) >= 2 && name[:2] == "__" {
		return fmt.Errorf("label name %q: names starting with __ are reserved", name)
	}
	if histogram && name == "le" {
		return fmt.Errorf(`label name "le" is a histogram's bucket label`)
	}
	return nil
}

// checkLabelValue returns why v cannot be a label value, or nil: any UTF-8 text does.
func checkLabelValue(v string) error {
	if len(v) > maxValueLen {
		return fmt.Errorf("label value is longer than %d bytes", maxValueLen)
	}
	if !utf8.ValidString(v) {
		return fmt.Errorf("label value %q is not valid UTF-8", v)
	}
	return nil
}
