package shdict

import (
	"errors"
	"hash/maphash"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/drlee/drlee/packed"
)

// EntryOverhead is what each entry costs on top of its key and value bytes in the byte
// accounting (Dict.Size, max_bytes): about what the entry struct, its map slot and its list
// links take, so that a dictionary of many tiny keys is bounded too.
const EntryOverhead = 64

// numberSize is what a number value counts for (a float64).
const numberSize = 8

// The outcomes that are not misuse: Lua sees their texts as the error string, the same as
// OpenResty's ngx.shared.DICT gives, so that code written for it reads them as it did.
var (
	ErrExists    = errors.New("exists")
	ErrNotFound  = errors.New("not found")
	ErrNotNumber = errors.New("not a number")
	ErrNoMemory  = errors.New("no memory")
)

// Value is what an entry holds: a number (Num, with IsNum), or any other value in the packed
// format (a string, a boolean, a table: one packed value, as Call.Encode gives it).
type Value struct {
	IsNum  bool
	Num    float64
	Packed []byte
}

// Number is a number Value.
func Number(f float64) Value { return Value{IsNum: true, Num: f} }

// String is a string Value (its packed form).
func String(s string) Value {
	var w packed.Writer
	w.String(s)
	return Value{Packed: w.B}
}

func (v Value) size() int {
	if v.IsNum {
		return numberSize
	}
	return len(v.Packed)
}

type entry struct {
	key        string
	val        Value
	expires    int64 // clock() at which it expires; 0: never
	size       int64 // what it counts for: key + value + EntryOverhead
	prev, next *entry
}

// shard is one part of the map, with its own lock and its own LRU list (head: the most
// recently used). Keys are spread over shards by hash, so workers touching different keys
// rarely wait for each other.
type shard struct {
	mu         sync.Mutex
	m          map[string]*entry
	head, tail *entry
	_          [32]byte // keeps two shards' locks off one cache line
}

// Dict is a dictionary shared by goroutines: every method is safe for concurrent use. Its
// entries, key and value bytes plus EntryOverhead each, stay within max bytes: a write that
// would go beyond evicts the least recently used entries (of its own shard first, then of
// the others: the order is LRU within a shard, approximately LRU across them).
type Dict struct {
	name   string
	max    int64
	used   atomic.Int64
	seed   maphash.Seed
	shards []shard
	mask   uint64
}

// MaxShards is how many shards NewDict makes at most for 0: enough that the workers of a
// machine rarely meet on one lock.
const MaxShards = 16

// ShardBytes is the capacity per shard NewDict aims at for 0: a small dictionary has few
// shards (one below 128 KiB), so that its eviction order is LRU, or close to it; a large
// one has MaxShards, where an entry more or less in one shard's LRU order matters little.
const ShardBytes = 64 << 10

// NewDict makes a dictionary of at most maxBytes bytes (> 0) in shards shards (a power of
// two, rounded up; 0: maxBytes/ShardBytes, from 1 to MaxShards).
func NewDict(name string, maxBytes int64, shards int) *Dict {
	if shards <= 0 {
		shards = int(min(max(maxBytes/ShardBytes, 1), MaxShards))
	}
	n := 1
	for n < shards {
		n <<= 1
	}
	d := &Dict{name: name, max: maxBytes, seed: maphash.MakeSeed(), shards: make([]shard, n), mask: uint64(n - 1)}
	for i := range d.shards {
		d.shards[i].m = map[string]*entry{}
	}
	return d
}

// Name is the dictionary's name.
func (d *Dict) Name() string { return d.name }

// Capacity is its max bytes.
func (d *Dict) Capacity() int64 { return d.max }

// Size is the bytes its entries count for now (expired ones not yet removed included).
func (d *Dict) Size() int64 { return d.used.Load() }

// FreeSpace is Capacity - Size (0 when a burst of writes is over it for a moment).
func (d *Dict) FreeSpace() int64 { return max(0, d.max-d.used.Load()) }

// epoch is where clock counts from: a monotonic clock, immune to wall-clock steps.
var epoch = time.Now()

func clock() int64 { return int64(time.Since(epoch)) }

// MaxTTL is the longest ttl, in seconds: about 100 years (as time.MaxDelay). Longer is a
// mistake, and would overflow the clock arithmetic.
const MaxTTL = 100 * 365 * 24 * 3600

// deadline is the expiry of an entry written now with ttl seconds (0: none).
func deadline(ttl float64) int64 {
	if ttl <= 0 {
		return 0
	}
	return clock() + max(1, int64(ttl*1e9))
}

func (d *Dict) shardOf(key []byte) (*shard, int) {
	i := int(maphash.Bytes(d.seed, key) & d.mask)
	return &d.shards[i], i
}

func (s *shard) unlink(e *entry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		s.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		s.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

func (s *shard) pushFront(e *entry) {
	e.next = s.head
	if s.head != nil {
		s.head.prev = e
	}
	s.head = e
	if s.tail == nil {
		s.tail = e
	}
}

func (s *shard) touch(e *entry) {
	if s.head != e {
		s.unlink(e)
		s.pushFront(e)
	}
}

func (d *Dict) remove(s *shard, e *entry) {
	s.unlink(e)
	delete(s.m, e.key)
	d.used.Add(-e.size)
}

// live returns the entry of key, removing it when it has expired. Shard locked.
func (d *Dict) live(s *shard, key []byte) *entry {
	e := s.m[string(key)] // no allocation: the compiler looks up with the bytes
	if e == nil {
		return nil
	}
	if e.expires != 0 && clock() >= e.expires {
		d.remove(s, e)
		return nil
	}
	return e
}

// Get appends the value of key to out (packed) and reports whether there was one; an
// expired entry is none (and is removed).
func (d *Dict) Get(key []byte, out *packed.Writer) bool {
	s, _ := d.shardOf(key)
	s.mu.Lock()
	e := d.live(s, key)
	if e == nil {
		s.mu.Unlock()
		return false
	}
	s.touch(e)
	if e.val.IsNum {
		out.Number(e.val.Num)
	} else {
		out.Raw(e.val.Packed)
	}
	s.mu.Unlock()
	return true
}

// Lookup is Get for Go: a copy of the value.
func (d *Dict) Lookup(key string) (Value, bool) {
	var w packed.Writer
	s, _ := d.shardOf([]byte(key))
	s.mu.Lock()
	defer s.mu.Unlock()
	e := d.live(s, []byte(key))
	if e == nil {
		return Value{}, false
	}
	s.touch(e)
	if e.val.IsNum {
		return e.val, true
	}
	w.Raw(e.val.Packed)
	return Value{Packed: w.B}, true
}

// Modes of Set.
const (
	Always    = iota // set
	IfAbsent         // add: ErrExists when present
	IfPresent        // replace: ErrNotFound when absent
)

// Set stores v (whose Packed bytes it copies) under key with ttl seconds (0: none),
// according to mode. forcible says that other entries were evicted to make room. A value
// that cannot fit even in an empty dictionary is ErrNoMemory, and evicts nothing.
func (d *Dict) Set(key []byte, v Value, ttl float64, mode int) (forcible bool, err error) {
	size := int64(len(key) + v.size() + EntryOverhead)
	if size > d.max {
		return false, ErrNoMemory
	}
	s, i := d.shardOf(key)
	s.mu.Lock()
	e := d.live(s, key)
	switch {
	case e != nil && mode == IfAbsent:
		s.mu.Unlock()
		return false, ErrExists
	case e == nil && mode == IfPresent:
		s.mu.Unlock()
		return false, ErrNotFound
	case e != nil:
		d.used.Add(size - e.size)
		if !v.IsNum {
			// An overwrite reuses the old bytes when they are not much larger than the
			// new ones (readers copy under the lock, so none holds them): a counter kept
			// as a string, a session rewritten, allocate nothing. Much larger, they go,
			// so that what is held stays close to what is counted.
			if old := e.val.Packed; !e.val.IsNum && cap(old) >= len(v.Packed) && cap(old) <= 2*len(v.Packed) {
				v.Packed = append(old[:0], v.Packed...)
			} else {
				v.Packed = append([]byte(nil), v.Packed...)
			}
		}
		e.val, e.size, e.expires = v, size, deadline(ttl)
		s.touch(e)
	default:
		if !v.IsNum {
			v.Packed = append([]byte(nil), v.Packed...)
		}
		e = &entry{key: string(key), val: v, size: size, expires: deadline(ttl)}
		s.m[e.key] = e
		s.pushFront(e)
		d.used.Add(size)
	}
	s.mu.Unlock()
	return d.evict(i, e), nil
}

// expiredScan is how many of a shard's least recently used entries an eviction looks at
// for expired ones, before it evicts live ones.
const expiredScan = 16

// evict removes least recently used entries until the dictionary is within its bytes,
// from shard first then the others in turn, never keep (the entry just written). It takes
// one shard's lock at a time, so it never deadlocks with another eviction. Writes racing
// with it may leave the dictionary over its bytes until the next write's eviction.
func (d *Dict) evict(first int, keep *entry) bool {
	if d.used.Load() <= d.max {
		return false
	}
	evicted := false
	now := clock()
	for n := 0; n < len(d.shards) && d.used.Load() > d.max; n++ {
		s := &d.shards[(first+n)&int(d.mask)]
		s.mu.Lock()
		// Expired entries among the least recently used go first. Only a few are looked
		// at: a scan of the whole list would make every write to a full dictionary cost
		// as much as its size.
		for e, k := s.tail, 0; e != nil && k < expiredScan && d.used.Load() > d.max; k++ {
			prev := e.prev
			if e != keep && e.expires != 0 && now >= e.expires {
				d.remove(s, e)
			}
			e = prev
		}
		for d.used.Load() > d.max {
			e := s.tail
			if e == nil || e == keep {
				break
			}
			d.remove(s, e)
			evicted = true
		}
		s.mu.Unlock()
	}
	return evicted
}

// Incr adds n to the number under key and returns the sum. An absent key is ErrNotFound
// unless hasInit: then it becomes init + n, with ttl seconds (0: none); an existing entry
// keeps its ttl. A value that is not a number is ErrNotNumber.
func (d *Dict) Incr(key []byte, n float64, hasInit bool, init, ttl float64) (sum float64, forcible bool, err error) {
	s, i := d.shardOf(key)
	s.mu.Lock()
	e := d.live(s, key)
	switch {
	case e != nil && !e.val.IsNum:
		s.mu.Unlock()
		return 0, false, ErrNotNumber
	case e != nil:
		e.val.Num += n
		sum = e.val.Num
		s.touch(e)
		s.mu.Unlock()
		return sum, false, nil
	case !hasInit:
		s.mu.Unlock()
		return 0, false, ErrNotFound
	}
	size := int64(len(key) + numberSize + EntryOverhead)
	if size > d.max {
		s.mu.Unlock()
		return 0, false, ErrNoMemory
	}
	sum = init + n
	e = &entry{key: string(key), val: Number(sum), size: size, expires: deadline(ttl)}
	s.m[e.key] = e
	s.pushFront(e)
	d.used.Add(size)
	s.mu.Unlock()
	return sum, d.evict(i, e), nil
}

// Delete removes key and reports whether it was there (an expired entry was not).
func (d *Dict) Delete(key []byte) bool {
	s, _ := d.shardOf(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	e := d.live(s, key)
	if e == nil {
		return false
	}
	d.remove(s, e)
	return true
}

// TTL returns the seconds key has left (0: no expiry), or ErrNotFound.
func (d *Dict) TTL(key []byte) (float64, error) {
	s, _ := d.shardOf(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	e := d.live(s, key)
	if e == nil {
		return 0, ErrNotFound
	}
	if e.expires == 0 {
		return 0, nil
	}
	return math.Max(0, float64(e.expires-clock())/1e9), nil
}

// Expire gives key a new ttl of ttl seconds from now (0: none), or ErrNotFound.
func (d *Dict) Expire(key []byte, ttl float64) error {
	s, _ := d.shardOf(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	e := d.live(s, key)
	if e == nil {
		return ErrNotFound
	}
	e.expires = deadline(ttl)
	return nil
}

// Keys returns up to limit keys (0: all) that have not expired, in no particular order.
func (d *Dict) Keys(limit int) []string {
	var keys []string
	now := clock()
	for i := range d.shards {
		s := &d.shards[i]
		s.mu.Lock()
		for k, e := range s.m {
			if limit > 0 && len(keys) >= limit {
				break
			}
			if e.expires == 0 || now < e.expires {
				keys = append(keys, k)
			}
		}
		s.mu.Unlock()
		if limit > 0 && len(keys) >= limit {
			break
		}
	}
	return keys
}

// FlushAll removes every entry.
func (d *Dict) FlushAll() {
	for i := range d.shards {
		s := &d.shards[i]
		s.mu.Lock()
		for e := s.head; e != nil; e = e.next {
			d.used.Add(-e.size)
		}
		s.m = map[string]*entry{}
		s.head, s.tail = nil, nil
		s.mu.Unlock()
	}
}

// FlushExpired removes up to limit expired entries (0: all) and returns how many it did.
func (d *Dict) FlushExpired(limit int) int {
	n := 0
	now := clock()
	for i := range d.shards {
		s := &d.shards[i]
		s.mu.Lock()
		for e := s.tail; e != nil && (limit == 0 || n < limit); {
			prev := e.prev
			if e.expires != 0 && now >= e.expires {
				d.remove(s, e)
				n++
			}
			e = prev
		}
		s.mu.Unlock()
	}
	return n
}

// Len is the number of entries (expired ones not yet removed included).
func (d *Dict) Len() int {
	n := 0
	for i := range d.shards {
		s := &d.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}
