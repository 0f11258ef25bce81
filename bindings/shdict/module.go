// Package shdict is the Lua module "shdict": a dictionary in memory shared by every worker
// of the process, what OpenResty's ngx.shared.DICT is to nginx's workers.
//
//	local shdict = require "shdict"
//	local hits = shdict.new("hits", {max_bytes = 1024 * 1024}) -- the same in every worker
//	local n = hits:incr("/", 1, 0)                              -- atomic across workers
//	hits:set("greeting", "hello", 60)                           -- expires in 60 s
//
// shdict.new(name, options) gives, in every worker, an object for the same dictionary: the
// first new of a name makes it and fixes its max_bytes (default DefaultMaxBytes); a later
// new without max_bytes, or with the same, gets it; one with another max_bytes raises. The
// dictionaries belong to the engine (an EngineLocal): they live as long as it, and two
// engines in one process share none.
//
// Every method is synchronous: the dictionary is memory, guarded by locks (one per shard of
// keys, see Dict), so a call never waits for another worker's loop. Values are strings
// (any bytes), numbers, booleans and tables (stored in the packed format, as RPC carries
// them: a table comes back as a copy, its array and json.null marks kept). Misuse (a key
// that is not a string, a bad ttl, a function as value) raises; outcomes a script must
// handle are returned as false or nil and OpenResty's error strings: "exists",
// "not found", "not a number", "no memory". The README's shdict section is the reference.
package shdict

import (
	"fmt"
	"strconv"
	"sync"

	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/packed"
)

// DefaultMaxBytes is a dictionary's size when its first new gives no max_bytes: 1 MiB.
const DefaultMaxBytes = 1 << 20

// MaxMaxBytes bounds max_bytes (1 TiB): more is a typo, not a plan.
const MaxMaxBytes = 1 << 40

// MaxName bounds a dictionary's name, in bytes.
const MaxName = 255

// MaxKey bounds a key, in bytes (OpenResty's limit too).
const MaxKey = 65535

// DefaultKeys is how many keys d:keys() returns without a max.
const DefaultKeys = 1024

var dictClass = &engine.Class{Name: "shdict"}

// registry is an engine's dictionaries, by name.
type registry struct {
	mu    sync.Mutex
	dicts map[string]*Dict
}

var dicts = engine.NewEngineLocal(func(e *engine.Engine) *registry {
	return &registry{dicts: map[string]*Dict{}}
})

func init() {
	// Methods are set here, not in the declaration: they refer to their class.
	dictClass.Methods = []engine.Function{
		{Name: "get", Fn: get},
		{Name: "set", Fn: func(c *engine.Call) int { return set(c, Always) }},
		{Name: "add", Fn: func(c *engine.Call) int { return set(c, IfAbsent) }},
		{Name: "replace", Fn: func(c *engine.Call) int { return set(c, IfPresent) }},
		{Name: "incr", Fn: incr},
		{Name: "delete", Fn: del},
		{Name: "ttl", Fn: ttlOf},
		{Name: "expire", Fn: expire},
		{Name: "keys", Fn: keys},
		{Name: "flush_all", Fn: flushAll},
		{Name: "flush_expired", Fn: flushExpired},
		{Name: "size", Fn: size},
		{Name: "free_space", Fn: freeSpace},
		{Name: "capacity", Fn: capacity},
	}
	dictClass.Getters = []engine.Function{{Name: "name", Fn: name}}
	dictClass.Meta = []engine.Function{{Name: "__tostring", Fn: str}}
	engine.Register(&engine.Module{
		Name:    "shdict",
		Funcs:   []engine.Function{{Name: "new", Fn: newDict}},
		Classes: []*engine.Class{dictClass},
	})
}

// Open returns e's dictionary name, making it with maxBytes (0: DefaultMaxBytes) if it is
// new. A maxBytes that is not 0 and not the dictionary's is an error. Safe from any
// goroutine: Go code beside the scripts (a test, an embedding program) shares the
// dictionaries this way.
func Open(e *engine.Engine, name string, maxBytes int64) (*Dict, error) {
	if name == "" || len(name) > MaxName {
		return nil, fmt.Errorf("name must be 1 to %d bytes", MaxName)
	}
	if maxBytes < 0 || maxBytes > MaxMaxBytes {
		return nil, fmt.Errorf("max_bytes must be from 1 to %d", int64(MaxMaxBytes))
	}
	r := dicts.Get(e)
	r.mu.Lock()
	defer r.mu.Unlock()
	if d := r.dicts[name]; d != nil {
		if maxBytes != 0 && maxBytes != d.max {
			return nil, fmt.Errorf("dictionary %q exists with max_bytes %d, not %d", name, d.max, maxBytes)
		}
		return d, nil
	}
	if maxBytes == 0 {
		maxBytes = DefaultMaxBytes
	}
	d := NewDict(name, maxBytes, 0)
	r.dicts[name] = d
	return d, nil
}

// shdict.new(name, {max_bytes = n}) -> dict
func newDict(c *engine.Call) int {
	if c.Type(1) != engine.TypeString {
		c.TypeError(1, "string")
	}
	n := c.CheckString(1)
	if n == "" || len(n) > MaxName {
		c.ArgError(1, fmt.Sprintf("name must be 1 to %d bytes", MaxName))
	}
	maxBytes := newOptions(c, 2)
	w := engine.WorkerOf(c)
	d, err := Open(w.Engine(), n, maxBytes)
	if err != nil {
		c.Raise("shdict.new: %v", err)
	}
	w.NewObject(c.Out(), dictClass, d)
	return c.Return()
}

// newOptions reads shdict.new's options (nil or absent: none) and returns max_bytes (0 when
// not given).
func newOptions(c *engine.Call, i int) int64 {
	switch c.Type(i) {
	case engine.TypeNil, engine.TypeNone:
		return 0
	case engine.TypeTable:
	default:
		c.TypeError(i, "table")
	}
	const bad = "options must be a table of named options"
	r := packed.Reader{B: c.Encode(i)}
	k, _, _, narr, nrec, err := r.Next()
	if err != nil || k != packed.TagTable || narr > 0 {
		if err == nil && k == packed.TagArray && narr == 0 {
			return 0 // json.empty_array-like: no options
		}
		c.ArgError(i, bad)
	}
	var maxBytes int64
	for j := 0; j < nrec; j++ {
		k, _, key, _, _, err := r.Next()
		if err != nil || k != packed.TagString {
			c.ArgError(i, bad)
		}
		if string(key) != "max_bytes" {
			c.ArgError(i, "unknown option '"+string(key)+"'")
		}
		vk, num, _, _, _, err := r.Next()
		if err != nil || vk != packed.TagInt || num < 1 || num > MaxMaxBytes {
			c.ArgError(i, fmt.Sprintf("option 'max_bytes' must be an integer from 1 to %d", int64(MaxMaxBytes)))
		}
		maxBytes = int64(num)
	}
	return maxBytes
}

func dictOf(c *engine.Call) *Dict {
	return engine.WorkerOf(c).Object(c, 1, dictClass).(*Dict)
}

// key reads the key at argument i: a string (a number is converted, as Lua does) of 1 to
// MaxKey bytes. The bytes are Lua's, valid during the call only.
func key(c *engine.Call, i int) []byte {
	k := c.CheckBytes(i)
	if len(k) == 0 {
		c.ArgError(i, "key must not be empty")
	}
	if len(k) > MaxKey {
		c.ArgError(i, fmt.Sprintf("key must be at most %d bytes", MaxKey))
	}
	return k
}

// ttl reads an optional ttl in seconds at argument i: a finite number from 0 to MaxTTL
// (fractions allowed); nil, absent or 0 is no expiry.
func ttl(c *engine.Call, i int) float64 {
	switch c.Type(i) {
	case engine.TypeNil, engine.TypeNone:
		return 0
	case engine.TypeNumber:
	default:
		c.TypeError(i, "number")
	}
	s := c.CheckNumber(i)
	if s != s || s < 0 || s > MaxTTL {
		c.ArgError(i, fmt.Sprintf("ttl must be a number of seconds from 0 to %d", MaxTTL))
	}
	return s
}

// finite reads number argument i (a number, not a numeric string: a count is not text),
// raising for NaN and the infinities.
func finite(c *engine.Call, i int, what string) float64 {
	if c.Type(i) != engine.TypeNumber {
		c.TypeError(i, "number")
	}
	f := c.CheckNumber(i)
	if f != f || f-f != 0 {
		c.ArgError(i, what+" must be a finite number")
	}
	return f
}

// d:get(key) -> value, or nil when absent or expired
func get(c *engine.Call) int {
	d := dictOf(c)
	k := key(c, 2)
	out := c.Out()
	if !d.Get(k, out) {
		out.Nil()
	}
	return c.Return()
}

// value reads the value at argument i. Numbers stay numbers (incr adds to them); anything
// else is kept packed. The packed bytes are the state's, valid until the next Encode: Set
// copies them.
func value(c *engine.Call, i int) Value {
	switch c.Type(i) {
	case engine.TypeNumber:
		return Number(c.CheckNumber(i))
	case engine.TypeNone:
		c.ArgError(i, "value expected")
	}
	return Value{Packed: c.Encode(i)}
}

// d:set(key, value, ttl?), d:add(...) (only when absent), d:replace(...) (only when present)
// -> true, nil, forcible; or false and "exists", "not found", "no memory". set with a nil
// value deletes the key.
func set(c *engine.Call, mode int) int {
	d := dictOf(c)
	k := key(c, 2)
	if c.Type(3) == engine.TypeNil && mode == Always {
		ttl(c, 4)
		d.Delete(k)
		return c.ReturnBool(true)
	}
	if t := c.Type(3); t == engine.TypeNil {
		c.ArgError(3, "value expected, got nil (set with nil deletes)")
	}
	s := ttl(c, 4)
	v := value(c, 3)
	forcible, err := d.Set(k, v, s, mode)
	return result(c, err, forcible)
}

// result writes true, nil, forcible or false, err.
func result(c *engine.Call, err error, forcible bool) int {
	out := c.Out()
	if err != nil {
		out.Bool(false)
		out.String(err.Error())
		return c.Return()
	}
	out.Bool(true)
	out.Nil()
	out.Bool(forcible)
	return c.Return()
}

// d:incr(key, n, init?, init_ttl?) -> sum, nil, forcible; or nil and "not found" (absent
// without init), "not a number", "no memory". init_ttl applies only when init is used.
func incr(c *engine.Call) int {
	d := dictOf(c)
	k := key(c, 2)
	n := finite(c, 3, "increment")
	hasInit := false
	var init float64
	if t := c.Type(4); t != engine.TypeNil && t != engine.TypeNone {
		hasInit, init = true, finite(c, 4, "init")
	}
	s := ttl(c, 5)
	sum, forcible, err := d.Incr(k, n, hasInit, init, s)
	out := c.Out()
	if err != nil {
		out.Nil()
		out.String(err.Error())
		return c.Return()
	}
	out.Number(sum)
	if forcible {
		out.Nil()
		out.Bool(true)
	}
	return c.Return()
}

// d:delete(key) -> true if the key was there (and had not expired), else false
func del(c *engine.Call) int {
	d := dictOf(c)
	return c.ReturnBool(d.Delete(key(c, 2)))
}

// d:ttl(key) -> seconds left (0: no expiry), or nil, "not found"
func ttlOf(c *engine.Call) int {
	d := dictOf(c)
	left, err := d.TTL(key(c, 2))
	if err != nil {
		out := c.Out()
		out.Nil()
		out.String(err.Error())
		return c.Return()
	}
	return c.ReturnNumber(left)
}

// d:expire(key, ttl) -> true, or false, "not found"; ttl 0 removes the expiry.
func expire(c *engine.Call) int {
	d := dictOf(c)
	k := key(c, 2)
	if c.Type(3) == engine.TypeNone || c.Type(3) == engine.TypeNil {
		c.ArgError(3, "ttl expected")
	}
	if err := d.Expire(k, ttl(c, 3)); err != nil {
		out := c.Out()
		out.Bool(false)
		out.String(err.Error())
		return c.Return()
	}
	return c.ReturnBool(true)
}

// limit reads an optional count at argument i: 0 (all) to 2^31, default def.
func limit(c *engine.Call, i int, def int64) int {
	if t := c.Type(i); t == engine.TypeNil || t == engine.TypeNone {
		return int(def)
	}
	if c.Type(i) != engine.TypeNumber {
		c.TypeError(i, "number")
	}
	return int(c.CheckIntRange(i, 0, 1<<31))
}

// d:keys(max?) -> a table of at most max keys (default DefaultKeys, 0: all), in no order
func keys(c *engine.Call) int {
	d := dictOf(c)
	ks := d.Keys(limit(c, 2, DefaultKeys))
	out := c.Out()
	out.Table(len(ks), 0)
	for _, k := range ks {
		out.String(k)
	}
	return c.Return()
}

// d:flush_all(): every entry goes.
func flushAll(c *engine.Call) int {
	dictOf(c).FlushAll()
	return 0
}

// d:flush_expired(max?) -> how many expired entries were removed (at most max; 0 or
// absent: all)
func flushExpired(c *engine.Call) int {
	d := dictOf(c)
	return c.ReturnNumber(float64(d.FlushExpired(limit(c, 2, 0))))
}

// d:size() -> the bytes the entries count for
func size(c *engine.Call) int { return c.ReturnNumber(float64(dictOf(c).Size())) }

// d:free_space() -> capacity - size
func freeSpace(c *engine.Call) int { return c.ReturnNumber(float64(dictOf(c).FreeSpace())) }

// d:capacity() -> max_bytes
func capacity(c *engine.Call) int { return c.ReturnNumber(float64(dictOf(c).Capacity())) }

// d.name
func name(c *engine.Call) int { return c.ReturnString(dictOf(c).Name()) }

// tostring(d) -> shdict "name" (size/capacity bytes)
func str(c *engine.Call) int {
	d := dictOf(c)
	return c.ReturnString("shdict " + strconv.Quote(d.Name()) + " (" + strconv.FormatInt(d.Size(), 10) + "/" + strconv.FormatInt(d.Capacity(), 10) + " bytes)")
}
