package shdict_test

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/drlee/drlee/bindings/shdict"
	"github.com/drlee/drlee/packed"
)

// getString reads key's value as a string ("" and false when absent).
func getString(t testing.TB, d *shdict.Dict, key string) (string, bool) {
	t.Helper()
	var w packed.Writer
	if !d.Get([]byte(key), &w) {
		return "", false
	}
	v, err := packed.Decode(w.B)
	if err != nil {
		t.Fatalf("get %q: %v", key, err)
	}
	s, ok := v.(string)
	if !ok {
		t.Fatalf("get %q: %T %v, want a string", key, v, v)
	}
	return s, true
}

func mustSet(t testing.TB, d *shdict.Dict, key, val string, ttl float64) bool {
	t.Helper()
	forcible, err := d.Set([]byte(key), shdict.String(val), ttl, shdict.Always)
	if err != nil {
		t.Fatalf("set %q: %v", key, err)
	}
	return forcible
}

// entrySize is what an entry of a string value counts for.
func entrySize(key, val string) int64 {
	return int64(len(key) + len(shdict.String(val).Packed) + shdict.EntryOverhead)
}

func TestSetGetModes(t *testing.T) {
	t.Parallel()
	d := shdict.NewDict("t", 1<<20, 0)
	mustSet(t, d, "a", "1", 0)
	if s, ok := getString(t, d, "a"); !ok || s != "1" {
		t.Fatalf("get a = %q, %v", s, ok)
	}
	if _, err := d.Set([]byte("a"), shdict.String("2"), 0, shdict.IfAbsent); !errors.Is(err, shdict.ErrExists) {
		t.Fatalf("add over a: %v, want exists", err)
	}
	if _, err := d.Set([]byte("b"), shdict.String("2"), 0, shdict.IfPresent); !errors.Is(err, shdict.ErrNotFound) {
		t.Fatalf("replace of b: %v, want not found", err)
	}
	if _, err := d.Set([]byte("a"), shdict.String("3"), 0, shdict.IfPresent); err != nil {
		t.Fatal(err)
	}
	if s, _ := getString(t, d, "a"); s != "3" {
		t.Fatalf("after replace a = %q", s)
	}
	if !d.Delete([]byte("a")) || d.Delete([]byte("a")) {
		t.Fatal("delete twice: want true then false")
	}
	if d.Size() != 0 || d.Len() != 0 {
		t.Fatalf("empty dict: size %d, len %d", d.Size(), d.Len())
	}
}

func TestTTLExpiry(t *testing.T) {
	t.Parallel()
	d := shdict.NewDict("t", 1<<20, 0)
	mustSet(t, d, "short", "x", 0.3) // long enough for a loaded machine to read it back in time
	mustSet(t, d, "long", "y", 60)
	mustSet(t, d, "never", "z", 0)
	if left, err := d.TTL([]byte("long")); err != nil || left <= 59 || left > 60 {
		t.Fatalf("ttl long = %v, %v", left, err)
	}
	if left, err := d.TTL([]byte("never")); err != nil || left != 0 {
		t.Fatalf("ttl never = %v, %v", left, err)
	}
	if _, ok := getString(t, d, "short"); !ok {
		t.Fatal("short gone at once")
	}
	time.Sleep(400 * time.Millisecond)
	if _, ok := getString(t, d, "short"); ok {
		t.Fatal("short still there after its ttl")
	}
	if _, err := d.TTL([]byte("short")); !errors.Is(err, shdict.ErrNotFound) {
		t.Fatalf("ttl of expired: %v", err)
	}
	// add over an expired key succeeds; expire changes and removes a ttl.
	mustSet(t, d, "e", "1", 0.01)
	time.Sleep(20 * time.Millisecond)
	if _, err := d.Set([]byte("e"), shdict.String("2"), 0, shdict.IfAbsent); err != nil {
		t.Fatalf("add over expired: %v", err)
	}
	if err := d.Expire([]byte("e"), 0.01); err != nil {
		t.Fatal(err)
	}
	if err := d.Expire([]byte("nope"), 1); !errors.Is(err, shdict.ErrNotFound) {
		t.Fatalf("expire absent: %v", err)
	}
	mustSet(t, d, "f", "1", 0.01)
	time.Sleep(20 * time.Millisecond)
	if n := d.FlushExpired(0); n != 2 { // e and f
		t.Fatalf("flush_expired = %d, want 2", n)
	}
	if got := d.Keys(0); len(got) != 2 {
		t.Fatalf("keys after flush = %v, want long and never", got)
	}
	want := entrySize("long", "y") + entrySize("never", "z")
	if d.Size() != want {
		t.Fatalf("size %d, want %d", d.Size(), want)
	}
}

func TestLRUOrder(t *testing.T) {
	t.Parallel()
	// One shard: exact LRU. Room for 3 entries of this size.
	per := entrySize("k1", "v")
	d := shdict.NewDict("t", 3*per, 1)
	mustSet(t, d, "k1", "v", 0)
	mustSet(t, d, "k2", "v", 0)
	mustSet(t, d, "k3", "v", 0)
	getString(t, d, "k1") // k1 is now the most recent; k2 the least
	if !mustSet(t, d, "k4", "v", 0) {
		t.Fatal("set k4: want forcible (an eviction)")
	}
	if _, ok := getString(t, d, "k2"); ok {
		t.Fatal("k2 (least recently used) not evicted")
	}
	for _, k := range []string{"k1", "k3", "k4"} {
		if _, ok := getString(t, d, k); !ok {
			t.Fatalf("%s evicted", k)
		}
	}
	// An overwrite is a use too: k3 is now the least recent.
	mustSet(t, d, "k1", "v", 0)
	mustSet(t, d, "k5", "v", 0)
	if _, ok := getString(t, d, "k3"); ok {
		t.Fatal("k3 not evicted")
	}
	if d.Size() != 3*per || d.Len() != 3 {
		t.Fatalf("size %d len %d, want %d and 3", d.Size(), d.Len(), 3*per)
	}
}

func TestTooLargeIsNoMemory(t *testing.T) {
	t.Parallel()
	d := shdict.NewDict("t", 1000, 0)
	mustSet(t, d, "small", "x", 0)
	big := string(make([]byte, 1000))
	if _, err := d.Set([]byte("big"), shdict.String(big), 0, shdict.Always); !errors.Is(err, shdict.ErrNoMemory) {
		t.Fatalf("set of a value larger than the dict: %v", err)
	}
	if _, ok := getString(t, d, "small"); !ok {
		t.Fatal("a refused value evicted small")
	}
	// Largest that fits: exactly max bytes, evicting everything else.
	fit := string(make([]byte, 1000-shdict.EntryOverhead-len("big")-5))
	if !mustSet(t, d, "big", fit, 0) {
		t.Fatal("want forcible")
	}
	if d.Size() != 1000 || d.Len() != 1 {
		t.Fatalf("size %d len %d", d.Size(), d.Len())
	}
}

func TestByteAccounting(t *testing.T) {
	t.Parallel()
	d := shdict.NewDict("t", 1<<20, 0)
	want := int64(0)
	for i := 0; i < 100; i++ {
		k, v := "key"+strconv.Itoa(i), fmt.Sprint(make([]byte, i))
		mustSet(t, d, k, v, 0)
		want += entrySize(k, v)
	}
	if d.Size() != want || d.FreeSpace() != d.Capacity()-want {
		t.Fatalf("size %d free %d, want %d", d.Size(), d.FreeSpace(), want)
	}
	// Overwrite with a shorter value: the difference goes.
	mustSet(t, d, "key99", "", 0)
	want += entrySize("key99", "") - entrySize("key99", fmt.Sprint(make([]byte, 99)))
	if d.Size() != want {
		t.Fatalf("after overwrite size %d, want %d", d.Size(), want)
	}
	if _, _, err := d.Incr([]byte("n"), 1, true, 0, 0); err != nil {
		t.Fatal(err)
	}
	want += int64(len("n") + 8 + shdict.EntryOverhead)
	if d.Size() != want {
		t.Fatalf("after incr size %d, want %d", d.Size(), want)
	}
	d.FlushAll()
	if d.Size() != 0 || d.Len() != 0 || len(d.Keys(0)) != 0 {
		t.Fatalf("after flush_all: size %d len %d", d.Size(), d.Len())
	}
}

func TestIncr(t *testing.T) {
	t.Parallel()
	d := shdict.NewDict("t", 1<<20, 0)
	if _, _, err := d.Incr([]byte("n"), 1, false, 0, 0); !errors.Is(err, shdict.ErrNotFound) {
		t.Fatalf("incr absent without init: %v", err)
	}
	if sum, _, err := d.Incr([]byte("n"), 2, true, 10, 0); err != nil || sum != 12 {
		t.Fatalf("incr with init = %v, %v; want 12", sum, err)
	}
	if sum, _, _ := d.Incr([]byte("n"), -0.5, true, 100, 0); sum != 11.5 {
		t.Fatalf("second incr = %v, want 11.5 (init ignored)", sum)
	}
	mustSet(t, d, "s", "x", 0)
	if _, _, err := d.Incr([]byte("s"), 1, true, 0, 0); !errors.Is(err, shdict.ErrNotNumber) {
		t.Fatalf("incr of a string: %v", err)
	}
}

// TestConcurrentIncr: many goroutines incrementing the same keys give the exact totals.
func TestConcurrentIncr(t *testing.T) {
	t.Parallel()
	d := shdict.NewDict("t", 1<<20, 0)
	const goroutines, each = 16, 5000
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if _, _, err := d.Incr([]byte("total"), 1, true, 0, 0); err != nil {
					t.Error(err)
					return
				}
				d.Incr([]byte("k"+strconv.Itoa(i%8)), 2, true, 0, 0)
			}
		}()
	}
	wg.Wait()
	v, ok := d.Lookup("total")
	if !ok || !v.IsNum || v.Num != goroutines*each {
		t.Fatalf("total = %+v, want %d", v, goroutines*each)
	}
	sum := 0.0
	keys := d.Keys(0)
	sort.Strings(keys)
	for _, k := range keys {
		if k != "total" {
			v, _ := d.Lookup(k)
			sum += v.Num
		}
	}
	if sum != 2*goroutines*each {
		t.Fatalf("sum of k0..k7 = %v, want %d", sum, 2*goroutines*each)
	}
}

// TestConcurrentEviction: writers on every shard keep the dictionary within its bytes
// once they are done, and the accounting matches the entries left.
func TestConcurrentEviction(t *testing.T) {
	t.Parallel()
	const max = 20000
	d := shdict.NewDict("t", max, 0)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 3000; i++ {
				k := "g" + strconv.Itoa(g) + "-" + strconv.Itoa(i)
				if _, err := d.Set([]byte(k), shdict.String("value"), 0, shdict.Always); err != nil {
					t.Error(err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	mustSet(t, d, "last", "value", 0) // a write after the burst evicts what it left over
	if d.Size() > max {
		t.Fatalf("size %d over max %d", d.Size(), max)
	}
	var total int64
	for _, k := range d.Keys(0) {
		s, _ := getString(t, d, k)
		total += entrySize(k, s)
	}
	if total != d.Size() {
		t.Fatalf("entries count %d bytes, size says %d", total, d.Size())
	}
}

func BenchmarkStore(b *testing.B) {
	d := shdict.NewDict("bench", 64<<20, 0)
	keys := make([][]byte, 1024)
	for i := range keys {
		keys[i] = []byte("key:" + strconv.Itoa(i))
		d.Set(keys[i], shdict.String("a value of some bytes"), 0, shdict.Always)
	}
	val := shdict.String("a value of some bytes")
	counters := make([][]byte, 1024)
	for i := range counters {
		counters[i] = []byte("n:" + strconv.Itoa(i))
	}
	b.Run("op=get", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			var w packed.Writer
			i := 0
			for pb.Next() {
				w.Reset()
				d.Get(keys[i&1023], &w)
				i++
			}
		})
	})
	b.Run("op=set", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				d.Set(keys[i&1023], val, 0, shdict.Always)
				i++
			}
		})
	})
	b.Run("op=incr/keys=1", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				d.Incr([]byte("hits"), 1, true, 0, 0)
			}
		})
	})
	b.Run("op=incr/keys=1024", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				d.Incr(counters[i&1023], 1, true, 0, 0)
				i++
			}
		})
	})
}

// TestEvictsExpiredFirst: an expired entry goes before a live one that is less recently
// used.
func TestEvictsExpiredFirst(t *testing.T) {
	t.Parallel()
	per := entrySize("k1", "v")
	d := shdict.NewDict("t", 3*per, 1)
	mustSet(t, d, "k1", "v", 0) // the least recently used
	mustSet(t, d, "k2", "v", 0.01)
	mustSet(t, d, "k3", "v", 0)
	time.Sleep(20 * time.Millisecond)
	if mustSet(t, d, "k4", "v", 0) {
		t.Error("removing an expired entry is not forcible")
	}
	for _, k := range []string{"k1", "k3", "k4"} {
		if _, ok := getString(t, d, k); !ok {
			t.Errorf("%s evicted, not the expired k2", k)
		}
	}
	if d.Len() != 3 {
		t.Fatalf("len %d", d.Len())
	}
}
