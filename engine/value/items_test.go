package value

import (
	"testing"

	"github.com/drlee/drlee/packed"
)

// item is one decoded value, tables flattened into their header and elements: what the JSON
// tests compare a buffer with.
type item struct {
	k          packed.Kind
	num        float64
	str        string
	narr, nrec int
}

func readAll(t *testing.T, b []byte) []item {
	t.Helper()
	r := packed.Reader{B: b}
	var out []item
	for !r.Done() {
		k, num, str, narr, nrec, err := r.Next()
		if err != nil {
			t.Fatalf("Next at %d: %v", r.Pos, err)
		}
		out = append(out, item{k, num, string(str), narr, nrec})
	}
	return out
}
