package shdict_test

// The fuzz target of this package: FuzzOps (a sequence of operations against a model).

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/drlee/drlee/bindings/shdict"
	"github.com/drlee/drlee/packed"
)

// model is the dictionary's meaning in the plainest Go: a map and a recency list (least
// recent first), evicting from the front.
type model struct {
	max   int64
	vals  map[string]shdict.Value
	order []string
}

func modelSize(k string, v shdict.Value) int64 {
	n := 8
	if !v.IsNum {
		n = len(v.Packed)
	}
	return int64(len(k) + n + shdict.EntryOverhead)
}

func (m *model) size() int64 {
	var n int64
	for k, v := range m.vals {
		n += modelSize(k, v)
	}
	return n
}

func (m *model) touch(k string) {
	if i := slices.Index(m.order, k); i >= 0 {
		m.order = slices.Delete(m.order, i, i+1)
	}
	m.order = append(m.order, k)
}

func (m *model) put(k string, v shdict.Value) bool {
	m.vals[k] = v
	m.touch(k)
	evicted := false
	for m.size() > m.max && m.order[0] != k {
		delete(m.vals, m.order[0])
		m.order = m.order[1:]
		evicted = true
	}
	return evicted
}

func (m *model) del(k string) bool {
	if _, ok := m.vals[k]; !ok {
		return false
	}
	delete(m.vals, k)
	m.order = slices.Delete(m.order, slices.Index(m.order, k), slices.Index(m.order, k)+1)
	return true
}

// FuzzOps runs the operations the input spells (three bytes each: operation, key, value
// length) on a one-shard dictionary, whose LRU order is exact, and on the model, and
// compares every result, the size and the entries.
func FuzzOps(f *testing.F) {
	f.Add([]byte{0, 1, 10, 1, 1, 5, 2, 2, 7, 3, 1, 1, 4, 1, 0, 5, 1, 0})
	f.Add([]byte{3, 0, 0, 3, 0, 0, 0, 0, 200, 0, 1, 200, 0, 2, 200, 4, 0, 0})
	f.Add([]byte{0, 7, 255, 0, 6, 255, 0, 5, 255, 0, 4, 255, 6, 3, 1, 4, 7, 0})
	f.Fuzz(func(t *testing.T, ops []byte) {
		const max = 1000
		d := shdict.NewDict("fuzz", max, 1)
		m := &model{max: max, vals: map[string]shdict.Value{}}
		for i := 0; i+2 < len(ops); i += 3 {
			op, k, n := ops[i]%7, "k"+string(rune('0'+ops[i+1]%8)), int(ops[i+2])
			key := []byte(k)
			// Values up to 255*4 bytes: some larger than the whole dictionary.
			v := shdict.String(strings.Repeat("v", n*4))
			switch op {
			case 0, 1, 2: // set, add, replace
				mode := []int{shdict.Always, shdict.IfAbsent, shdict.IfPresent}[op]
				forcible, err := d.Set(key, v, 0, mode)
				_, present := m.vals[k]
				var want error
				switch {
				case modelSize(k, v) > max:
					want = shdict.ErrNoMemory
				case present && mode == shdict.IfAbsent:
					want = shdict.ErrExists
				case !present && mode == shdict.IfPresent:
					want = shdict.ErrNotFound
				}
				if !errors.Is(err, want) || (want == nil) != (err == nil) {
					t.Fatalf("op %d: set mode %d %s: %v, want %v", i/3, mode, k, err, want)
				}
				if err == nil {
					if ev := m.put(k, v); ev != forcible {
						t.Fatalf("op %d: set %s: forcible %v, model evicted %v", i/3, k, forcible, ev)
					}
				}
			case 3: // incr, with init when n is odd
				hasInit := n%2 == 1
				sum, _, err := d.Incr(key, float64(n), hasInit, 1, 0)
				cur, present := m.vals[k]
				switch {
				case present && !cur.IsNum:
					if !errors.Is(err, shdict.ErrNotNumber) {
						t.Fatalf("op %d: incr of a string: %v", i/3, err)
					}
				case present:
					cur.Num += float64(n)
					m.vals[k] = cur
					m.touch(k)
					if err != nil || sum != cur.Num {
						t.Fatalf("op %d: incr %s = %v, %v; want %v", i/3, k, sum, err, cur.Num)
					}
				case !hasInit:
					if !errors.Is(err, shdict.ErrNotFound) {
						t.Fatalf("op %d: incr absent: %v", i/3, err)
					}
				default:
					m.put(k, shdict.Number(1+float64(n)))
					if err != nil || sum != 1+float64(n) {
						t.Fatalf("op %d: incr init %s = %v, %v", i/3, k, sum, err)
					}
				}
			case 4, 6: // get
				var w packed.Writer
				ok := d.Get(key, &w)
				want, present := m.vals[k]
				if ok != present {
					t.Fatalf("op %d: get %s: %v, model has it: %v", i/3, k, ok, present)
				}
				if ok {
					m.touch(k)
					var ww packed.Writer
					if want.IsNum {
						ww.Number(want.Num)
					} else {
						ww.Raw(want.Packed)
					}
					if string(w.B) != string(ww.B) {
						t.Fatalf("op %d: get %s: %q, want %q", i/3, k, w.B, ww.B)
					}
				}
			case 5:
				if got, want := d.Delete(key), m.del(k); got != want {
					t.Fatalf("op %d: delete %s: %v, want %v", i/3, k, got, want)
				}
			}
			if d.Size() != m.size() || d.Len() != len(m.vals) {
				t.Fatalf("op %d: size %d len %d, model %d and %d", i/3, d.Size(), d.Len(), m.size(), len(m.vals))
			}
		}
		keys := d.Keys(0)
		slices.Sort(keys)
		var want []string
		for k := range m.vals {
			want = append(want, k)
		}
		slices.Sort(want)
		if !slices.Equal(keys, want) {
			t.Fatalf("keys %v, model %v", keys, want)
		}
	})
}
