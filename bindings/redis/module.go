// Package redis is the Lua module "redis": a client of Redis servers on go-redis.
//
//	local redis = require "redis"
//	local client = redis.new("redis://:secret@127.0.0.1:6379/0", {pool_size = 20})
//	client:call("SET", "k", "v", function(err, ok) end)       -- cb(err, reply)
//	local v, err = client:call("GET", "k")                      -- await style
//	client:pipeline({{"INCR", "n"}, {"GET", "n"}}, cb)           -- cb(err, {reply, ...})
//	local sub = client:subscribe({"news"}, function(err, m) print(m.channel, m.message) end)
//	sub:ready(cb); sub:close(); client:close()
//
// Replies become Lua values as Redis's own Lua scripting converts them (RESP2): bulk and
// status replies are strings (binary-safe), integers numbers, arrays lists (tables with
// json.array_mt), an error inside an array the table {err = "EREDIS: ..."}, and a nil
// inside an array false; a nil reply at the top is nil. An error reply of a command is
// the callback's err, "EREDIS: " then the server's text, so that a script tells it apart
// from a connection error (ECONNREFUSED, ECONNRESET, ETIMEDOUT...).
//
// Clients with the same URI and options share one go-redis client, and so one bounded
// connection pool, per engine (all workers); the pool closes when its last client does, or
// with the engine. Commands run on the engine's I/O pool; a subscription reads on a
// goroutine of its own (Engine.Go), never on a pool slot, and holds its worker until it is
// closed, fails, or the engine shuts down.
package redis

import (
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/drlee/drlee/bindings/internal/tlsopt"
	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/packed"
)

var (
	clientClass = &engine.Class{Name: "redisClient"}
	subClass    = &engine.Class{Name: "redisSubscription"}
)

func init() {
	clientClass.Methods = []engine.Function{
		{Name: "call", Fn: clientCall},
		{Name: "pipeline", Fn: clientPipeline},
		{Name: "subscribe", Fn: func(c *engine.Call) int { return clientSubscribe(c, false) }},
		{Name: "psubscribe", Fn: func(c *engine.Call) int { return clientSubscribe(c, true) }},
		{Name: "close", Fn: clientClose},
	}
	clientClass.Meta = []engine.Function{{Name: "__tostring", Fn: clientString}}
	// A client the script dropped gives its share of the pool back; its subscriptions
	// hold shares of their own and go on (see subscription).
	clientClass.Finalize = func(w *engine.Worker, v any) { v.(*client).shut(w, false) }
	// A subscription's object stays valid after it ended (sub:ready reports why), until
	// Lua collects it; collecting it does not end a live one (see subscription).
	subClass.Finalize = func(*engine.Worker, any) {}
	subClass.Methods = []engine.Function{
		{Name: "ready", Fn: subReady},
		{Name: "close", Fn: subClose},
	}
	subClass.Meta = []engine.Function{{Name: "__tostring", Fn: subString}}
	engine.Register(&engine.Module{
		Name:    "redis",
		Funcs:   []engine.Function{{Name: "new", Fn: newClient}},
		Classes: []*engine.Class{clientClass, subClass},
	})
	engine.RegisterErrorCodes(errorCode)
	// go-redis logs dial failures and the like to stderr on its own; the script gets each
	// of them as an err, with its code, which is where they belong.
	goredis.SetLogger(silentLogger{})
}

type silentLogger struct{}

func (silentLogger) Printf(context.Context, string, ...any) {}

// errorCode names go-redis's errors. The network's and the system's (a refused
// connection, a reset, a timeout) the engine names by itself.
func errorCode(err error) string {
	if _, ok := err.(goredis.Error); ok && err != goredis.Nil {
		return "EREDIS" // an error reply of the server: ERR, WRONGTYPE, NOAUTH...
	}
	switch err {
	case goredis.ErrClosed:
		return "ECLOSED"
	case goredis.ErrPoolTimeout, goredis.ErrPoolExhausted:
		return "EBUSY"
	}
	return ""
}

// Limits of the options, in milliseconds for the timeouts.
const (
	maxPoolSize = 10000
	maxTimeout  = 24 * 60 * 60 * 1000 // a day
)

// options are what a client is made with; two clients with equal options share a pool.
type options struct {
	base              string // the URI without its options
	poolSize          int
	dial, read, write time.Duration // read, write: 0 is none
	poolWait          time.Duration // 0: go-redis's default (read + 1 s; 30 s with no read timeout)
	tls               *tlsopt.Options
	parsed            *goredis.Options
}

func (o *options) key() string {
	return fmt.Sprintf("%s\x00%d\x00%d\x00%d\x00%d\x00%d\x00%s", o.base, o.poolSize, o.dial, o.read, o.write, o.poolWait, o.tls.Key())
}

// optionNames lists redis.new's options, for the error that names an unknown one.
const optionNames = "pool_size, dial_timeout, read_timeout, write_timeout, pool_timeout"

// uriForm is what a bad URI is told; a message never quotes the URI: it may hold a password.
const uriForm = "a URI redis://[[user]:password@]host[:port][/db], rediss://... (TLS) or unix:///path[?db=N]"

// parseURI reads the URI of redis.new and its options in the query.
func parseURI(c *engine.Call, i int, s string) *options {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix") {
		c.ArgError(i, "expected "+uriForm)
	}
	o := &options{poolSize: 10 * runtime.GOMAXPROCS(0), dial: 5 * time.Second, read: 5 * time.Second, write: 5 * time.Second}
	q := u.Query()
	keep := url.Values{}
	for name, vs := range q {
		v := vs[len(vs)-1]
		switch name {
		case "db":
			if u.Scheme != "unix" {
				c.ArgError(i, "the database of a redis:// URI is its path (/db), not ?db=")
			}
			keep.Set(name, v)
			continue
		case "pool_size", "dial_timeout", "read_timeout", "write_timeout", "pool_timeout":
		default:
			c.ArgError(i, fmt.Sprintf("unknown option %q in the URI (%s)", name, optionNames))
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			c.ArgError(i, fmt.Sprintf("option %s in the URI must be a number, got %q", name, v))
		}
		if msg := o.set(name, f); msg != "" {
			c.ArgError(i, msg+" (in the URI)")
		}
	}
	u.RawQuery = keep.Encode()
	o.base = u.String()
	p, err := goredis.ParseURL(o.base)
	if err != nil {
		// go-redis's message may quote the URI, password and all: say what it wants.
		c.ArgError(i, "expected "+uriForm)
	}
	if p.Network == "tcp" {
		_, port, err := net.SplitHostPort(p.Addr)
		if n, e := strconv.Atoi(port); err != nil || e != nil || n < 1 || n > 65535 {
			c.ArgError(i, "expected "+uriForm+", with a port from 1 to 65535")
		}
	}
	o.parsed = p
	return o
}

// set sets an option from a number; it returns what is wrong with it, or "".
func (o *options) set(name string, f float64) string {
	if f != f || math.IsInf(f, 0) {
		return fmt.Sprintf("option %s must be a finite number", name)
	}
	if name == "pool_size" {
		if f != math.Trunc(f) || f < 1 || f > maxPoolSize {
			return fmt.Sprintf("option pool_size must be an integer from 1 to %d", maxPoolSize)
		}
		o.poolSize = int(f)
		return ""
	}
	lo := 0.0
	if name == "dial_timeout" || name == "pool_timeout" {
		lo = math.SmallestNonzeroFloat64
	}
	if f < lo || f > maxTimeout {
		if lo > 0 {
			return fmt.Sprintf("option %s must be a number of milliseconds above 0 and at most %d", name, maxTimeout)
		}
		return fmt.Sprintf("option %s must be a number of milliseconds from 0 (none) to %d", name, maxTimeout)
	}
	// Rounded up to a whole nanosecond: a tiny positive timeout stays a timeout.
	d := time.Duration(math.Ceil(f * float64(time.Millisecond)))
	switch name {
	case "dial_timeout":
		o.dial = d
	case "read_timeout":
		o.read = d
	case "write_timeout":
		o.write = d
	case "pool_timeout":
		o.poolWait = d
	}
	return ""
}

// parseOptions reads the options table of redis.new (argument i), which wins over the URI.
func parseOptions(c *engine.Call, i int, o *options) {
	switch c.Type(i) {
	case engine.TypeNil, engine.TypeNone:
		return
	case engine.TypeTable:
	default:
		c.TypeError(i, "table")
	}
	v, err := packed.Decode(append([]byte(nil), c.Encode(i)...))
	if err != nil {
		c.ArgError(i, err.Error())
	}
	var m map[any]any
	switch t := v.(type) {
	case map[any]any:
		m = t
	case []any:
		if len(t) > 0 {
			c.ArgError(i, "options must be a table of named options")
		}
		return
	}
	for k, val := range m {
		name, ok := k.(string)
		if !ok {
			c.ArgError(i, "options must be a table of named options")
		}
		switch name {
		case "pool_size", "dial_timeout", "read_timeout", "write_timeout", "pool_timeout":
		case "tls":
			parseTLS(c, i, o, val)
			continue
		default:
			c.ArgError(i, fmt.Sprintf("unknown option '%s' (%s, tls)", name, optionNames))
		}
		f, ok := val.(float64)
		if !ok {
			c.ArgError(i, fmt.Sprintf("option %s must be a number", name))
		}
		if msg := o.set(name, f); msg != "" {
			c.ArgError(i, msg)
		}
	}
}

// parseTLS reads options.tls: the connections use TLS (as with rediss://), verified as it
// says. The name verified defaults to the URI's host; over a unix socket it must be given.
func parseTLS(c *engine.Call, i int, o *options, v any) {
	t := tlsopt.Parse(c, i, "options.tls", v)
	if t != nil && t.ServerName == "" && !t.Insecure {
		if o.parsed.Network == "unix" {
			c.ArgError(i, "options.tls.server_name is needed to verify a TLS server over a unix socket (or tls.insecure = true)")
		}
		host, _, err := net.SplitHostPort(o.parsed.Addr)
		if err != nil || host == "" {
			host = "localhost"
		}
		t.ServerName = host
	}
	o.tls = t
}

// goredisOptions are the options of the shared go-redis client.
func (o *options) goredisOptions() *goredis.Options {
	p := *o.parsed
	p.Protocol = 2 // replies are RESP2's types, as Redis's own Lua scripting has them
	p.PoolSize = o.poolSize
	// go-redis 9.23 gives pipelines a pool of their own by default, 10 connections beyond
	// PoolSize: pool_size would then not bound the sockets, and a pipeline would not wait
	// for (or fail on) a full pool as a call does. One pool for both.
	p.PipelinePoolSize = -1
	if o.tls != nil {
		p.TLSConfig = o.tls.Config()
	}
	p.DialTimeout = o.dial
	p.ReadTimeout, p.WriteTimeout = noneIsMinusOne(o.read), noneIsMinusOne(o.write)
	p.PoolTimeout = o.poolWait // 0: go-redis's default, ReadTimeout + 1 s
	if o.poolWait == 0 && o.read == 0 {
		p.PoolTimeout = 30 * time.Second
	}
	// No retries: go-redis would send a command again after a connection error, and a
	// command that had been applied (INCR, LPUSH) would apply twice. The script decides.
	p.MaxRetries = -1
	p.DialerRetries = 1 // one attempt: a refused connection is an error at once
	p.DisableIdentity = true
	p.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	return &p
}

func noneIsMinusOne(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// shared is one go-redis client of an engine, shared by the clients (and subscriptions)
// made with the same options.
type shared struct {
	key  string
	rc   *goredis.Client
	refs int // protected by registry.mu
}

// registry is an engine's shared clients and live subscriptions.
type registry struct {
	ctx    context.Context // cancelled when the engine closes: dials in flight end
	cancel context.CancelFunc

	mu      sync.Mutex // protects clients, subs, closed
	clients map[string]*shared
	subs    map[*subscription]struct{}
	closed  bool
}

var registries = engine.NewEngineLocal(func(e *engine.Engine) *registry {
	ctx, cancel := context.WithCancel(context.Background())
	r := &registry{ctx: ctx, cancel: cancel, clients: map[string]*shared{}, subs: map[*subscription]struct{}{}}
	e.OnClose(r.closeAll)
	return r
})

// acquire returns the shared client for o, making it the first time; nil once the engine
// has closed.
func (r *registry) acquire(o *options) *shared {
	k := o.key()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	sh := r.clients[k]
	if sh == nil {
		sh = &shared{key: k, rc: goredis.NewClient(o.goredisOptions())}
		r.clients[k] = sh
	}
	sh.refs++
	return sh
}

// release gives a share back; the last one closes the go-redis client and its pool.
func (r *registry) release(sh *shared) {
	r.mu.Lock()
	sh.refs--
	last := sh.refs == 0 && r.clients[sh.key] == sh
	if last {
		delete(r.clients, sh.key)
	}
	r.mu.Unlock()
	if last {
		sh.rc.Close() // closes connections: no I/O to wait for
	}
}

// closeAll runs when the engine closes, after its workers ended: it ends what is left.
func (r *registry) closeAll() {
	r.cancel()
	r.mu.Lock()
	r.closed = true
	clients, subs := r.clients, r.subs
	r.clients, r.subs = map[string]*shared{}, map[*subscription]struct{}{}
	r.mu.Unlock()
	for s := range subs {
		s.stopIO()
	}
	for _, sh := range clients {
		sh.rc.Close()
	}
}

// client is a Lua client object. Loop only.
type client struct {
	reg      *registry
	sh       *shared
	opts     *options
	id       uint64
	inflight int  // calls and pipelines not completed yet
	closed   bool // close() or collected: no new calls
	released bool // its share is given back (once inflight reached 0)
	subs     map[*subscription]struct{}
}

// Closed reports a client closed with nothing of it in flight, which Open (drlee test's
// leak check) then does not count (engine.ClosedReporter). Loop only.
func (cl *client) Closed() bool { return cl.closed && cl.released }

// redis.new(uri, options?) -> client. No connection is made until the first command.
func newClient(c *engine.Call) int {
	w := engine.WorkerOf(c)
	o := parseURI(c, 1, c.CheckString(1))
	parseOptions(c, 2, o)
	if c.Type(3) != engine.TypeNone {
		c.ArgError(3, "no more arguments expected (redis.new(uri, options?))")
	}
	reg := registries.Get(w.Engine())
	sh := reg.acquire(o)
	if sh == nil {
		c.Raise("redis.new: the engine is shutting down")
	}
	cl := &client{reg: reg, sh: sh, opts: o, subs: map[*subscription]struct{}{}}
	out := c.Out()
	cl.id = w.NewObject(out, clientClass, cl)
	return c.Return()
}

// shut stops new calls; the share goes back once the calls in flight are done. With
// subs (an explicit close), the client's subscriptions end too.
func (cl *client) shut(w *engine.Worker, subs bool) {
	if subs {
		for s := range cl.subs {
			s.end(w, errSubClosed)
		}
	}
	if cl.closed {
		return
	}
	cl.closed = true
	cl.maybeRelease()
}

func (cl *client) maybeRelease() {
	if cl.closed && cl.inflight == 0 && !cl.released {
		cl.released = true
		cl.reg.release(cl.sh)
	}
}

// done counts out a call that completed. Loop only.
func (cl *client) done() {
	cl.inflight--
	cl.maybeRelease()
}

// client:close(): no more commands; those in flight finish, and the client's
// subscriptions end.
func clientClose(c *engine.Call) int {
	w := engine.WorkerOf(c)
	id := w.ObjectID(c, 1, clientClass)
	if id == 0 {
		c.TypeError(1, "redisClient")
	}
	v, ok := w.Lookup(id)
	if !ok {
		return 0 // closed already
	}
	w.Release(id)
	v.(*client).shut(w, true)
	return 0
}

func clientString(c *engine.Call) int {
	w := engine.WorkerOf(c)
	id := w.ObjectID(c, 1, clientClass)
	v, ok := w.Lookup(id)
	if id == 0 || !ok {
		return c.ReturnString("redis client (closed)")
	}
	o := v.(*client).opts.parsed
	return c.ReturnString(fmt.Sprintf("redis client %s db %d", o.Addr, o.DB))
}

// refused are commands that would break a pooled connection for the next user (its
// database, its authentication, its protocol state) or that have an API of their own.
var refused = map[string]string{
	"SUBSCRIBE": "use client:subscribe", "PSUBSCRIBE": "use client:psubscribe",
	"SSUBSCRIBE": "use client:subscribe", "UNSUBSCRIBE": "use subscription:close",
	"PUNSUBSCRIBE": "use subscription:close", "SUNSUBSCRIBE": "use subscription:close",
	"MONITOR": "it takes the connection over", "SYNC": "it takes the connection over",
	"PSYNC": "it takes the connection over", "QUIT": "use client:close",
	"RESET": "it resets a pooled connection", "HELLO": "the protocol is RESP2",
	"SELECT": "put the database in the URI (redis://host:port/db)",
	"AUTH":   "put the password in the URI (redis://:password@host:port)",
}

// needOneConn are commands whose effect lasts on their connection until a later command:
// a pipeline sends its commands on one connection, single calls may each get another.
var needOneConn = map[string]bool{"MULTI": true, "EXEC": true, "DISCARD": true, "WATCH": true, "UNWATCH": true}

// checkCommand raises for a command this module does not send.
func checkCommand(c *engine.Call, i int, name string, inPipeline bool, what string) {
	var up [16]byte
	if len(name) > len(up) || name == "" {
		if name == "" {
			c.ArgError(i, what+"the command name is empty")
		}
		return
	}
	for j := 0; j < len(name); j++ {
		b := name[j]
		if 'a' <= b && b <= 'z' {
			b -= 'a' - 'A'
		}
		up[j] = b
	}
	if why, ok := refused[string(up[:len(name)])]; ok {
		c.ArgError(i, fmt.Sprintf("%s%s is not available here: %s", what, string(up[:len(name)]), why))
	}
	if !inPipeline && needOneConn[string(up[:len(name)])] {
		c.ArgError(i, fmt.Sprintf("%s needs one connection for the whole transaction: send MULTI ... EXEC in client:pipeline", string(up[:len(name)])))
	}
}

// formatNumber is a number argument as Redis reads numbers: an integer without a
// fraction, "+inf" and "-inf" for the infinities, others in the shortest form that reads
// back the same; false for NaN.
func formatNumber(f float64) (string, bool) {
	switch {
	case f != f:
		return "", false
	case math.IsInf(f, 1):
		return "+inf", true
	case math.IsInf(f, -1):
		return "-inf", true
	case f == math.Trunc(f) && f >= -(1<<63) && f < 1<<63:
		return strconv.FormatInt(int64(f), 10), true
	}
	return strconv.FormatFloat(f, 'g', -1, 64), true
}

// appendArg appends argument i of a call to a command's bytes.
func appendArg(c *engine.Call, i int, b []byte) []byte {
	switch c.Type(i) {
	case engine.TypeString:
		return append(b, c.CheckBytes(i)...)
	case engine.TypeNumber:
		s, ok := formatNumber(c.CheckNumber(i))
		if !ok {
			c.ArgError(i, "NaN is no redis argument")
		}
		return append(b, s...)
	case engine.TypeBoolean:
		c.ArgError(i, "a boolean is no redis argument (pass 1 or 0, or a string)")
	}
	c.TypeError(i, "string or number")
	return nil
}

// readArgs reads arguments from..to of a call as a command for go-redis, in three
// allocations whatever their number: their bytes in one buffer, which is never written
// again and so is shared by the strings cut from it; the strings; and the arguments, each
// a *string (go-redis writes those as the string) but the command's name, a string, which
// go-redis reads for the command's name. Its usual names are boxed once, at init.
func readArgs(c *engine.Call, from, to int) []any {
	n := to - from + 1
	var endsBuf [16]int
	ends := endsBuf[:0]
	b := make([]byte, 0, 64)
	for i := from; i <= to; i++ {
		b = appendArg(c, i, b)
		ends = append(ends, len(b))
	}
	all := unsafe.String(unsafe.SliceData(b), len(b))
	strs := make([]string, n)
	args := make([]any, n)
	prev := 0
	for j, e := range ends {
		strs[j] = all[prev:e]
		prev = e
		args[j] = &strs[j]
	}
	if boxed, ok := commandNames[strs[0]]; ok {
		args[0] = boxed
	} else {
		args[0] = strs[0]
	}
	return args
}

// commandNames are the names of the usual commands, boxed once (see readArgs).
var commandNames = func() map[string]any {
	m := map[string]any{}
	for _, name := range strings.Fields(`GET SET DEL EXISTS EXPIRE PEXPIRE TTL PTTL INCR INCRBY
		DECR DECRBY MGET MSET SETEX SETNX GETDEL GETEX APPEND STRLEN HGET HSET HDEL HGETALL HMGET
		HINCRBY HEXISTS HLEN LPUSH RPUSH LPOP RPOP LRANGE LLEN BLPOP BRPOP SADD SREM SMEMBERS
		SISMEMBER SCARD ZADD ZREM ZRANGE ZSCORE ZINCRBY ZRANGEBYSCORE ZCARD PUBLISH PING ECHO
		SCAN TYPE EVAL EVALSHA XADD XREAD XRANGE XLEN`) {
		m[name] = name
		m[strings.ToLower(name)] = strings.ToLower(name)
	}
	return m
}()

// liveClient is the client of method call c, raising when it is closed.
func liveClient(c *engine.Call) (*engine.Worker, *client) {
	w := engine.WorkerOf(c)
	cl := w.Object(c, 1, clientClass).(*client)
	return w, cl
}

// client:call(cmd, args..., cb?): cb(err, reply).
func clientCall(c *engine.Call) int {
	w, cl := liveClient(c)
	n := c.N()
	cbArg := n + 1
	if c.Type(n) == engine.TypeFunction && n > 1 {
		cbArg = n
		n--
	}
	if n < 2 {
		c.ArgError(2, "command expected, got no value")
	}
	if t := c.Type(2); t != engine.TypeString {
		c.TypeError(2, "command name (string)")
	}
	args := readArgs(c, 2, n)
	checkCommand(c, 2, args[0].(string), false, "")
	rc, ctx := cl.sh.rc, cl.reg.ctx
	cl.inflight++
	return w.AsyncCall(c, cbArg, func() engine.Completion {
		v, err := rc.Do(ctx, args...).Result()
		var buf *packed.Writer
		if err == nil {
			buf = getBuf()
			if err = writeReply(buf, v, 1); err != nil {
				putBuf(buf)
				buf = nil
			}
		}
		return func(w *engine.Worker, a *engine.Args) {
			cl.done()
			switch {
			case err == goredis.Nil:
				a.Nil()
				a.Nil()
			case err != nil:
				a.Error(commandError(args[0], err))
			default:
				a.Nil()
				a.Raw(buf.B)
				putBuf(buf)
			}
		}
	})
}

// client:pipeline({{cmd, args...}, ...}, cb?): cb(err, results), the commands sent on one
// connection in one go.
func clientPipeline(c *engine.Call) int {
	w, cl := liveClient(c)
	if c.Type(2) != engine.TypeTable {
		c.TypeError(2, "table")
	}
	cmds := readCommands(c, 2)
	if c.Type(3) != engine.TypeNone && c.Type(3) != engine.TypeNil && c.Type(3) != engine.TypeFunction {
		c.TypeError(3, "function")
	}
	rc, ctx := cl.sh.rc, cl.reg.ctx
	if len(cmds) == 0 {
		op := w.ReserveCall(c, 3)
		return op.ReturnNow(c, func(w *engine.Worker, a *engine.Args) {
			a.Nil()
			a.Array(0)
		})
	}
	cl.inflight++
	return w.AsyncCall(c, 3, func() engine.Completion {
		pipe := rc.Pipeline()
		rcmds := make([]*goredis.Cmd, len(cmds))
		for i, args := range cmds {
			rcmds[i] = pipe.Do(ctx, args...)
		}
		pipe.Exec(ctx) // each command has its own result
		buf := getBuf()
		err := writeResults(buf, rcmds)
		return func(w *engine.Worker, a *engine.Args) {
			cl.done()
			if err != nil {
				a.Error(commandError("pipeline", err))
			} else {
				a.Nil()
				a.Raw(buf.B)
			}
			putBuf(buf)
		}
	})
}

// commandError words an error of the connection for scripts, with the command's name; an
// error reply of the server is its own text.
func commandError(name any, err error) error {
	if _, ok := err.(goredis.Error); ok {
		return err
	}
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("redis %s: the server closed the connection (%w)", name, err)
	}
	return fmt.Errorf("redis %s: %w", name, err)
}

// writeResults writes the list of a pipeline's results: each reply as client:call gives
// it (nil as false, as in any list), an error reply as {err = "EREDIS: ..."}. An error
// of the connection fails the whole pipeline: it is what it returns.
func writeResults(buf *packed.Writer, cmds []*goredis.Cmd) error {
	buf.Array(len(cmds))
	for _, cmd := range cmds {
		v, err := cmd.Result()
		switch {
		case err == goredis.Nil:
			buf.Bool(false)
		case err != nil:
			if _, ok := err.(goredis.Error); !ok {
				return err
			}
			writeErrorEntry(buf, err)
		default:
			if err := writeReply(buf, v, 2); err != nil {
				return err
			}
		}
	}
	return nil
}

// readCommands reads the list of lists of client:pipeline, raising for anything else.
func readCommands(c *engine.Call, i int) [][]any {
	r := packed.Reader{B: c.Encode(i)}
	k, _, _, narr, nrec, err := r.Next()
	if err != nil || (k != packed.TagTable && k != packed.TagArray) || nrec != 0 {
		c.ArgError(i, "commands must be a list of lists ({{\"SET\", \"k\", \"v\"}, {\"GET\", \"k\"}})")
	}
	cmds := make([][]any, 0, narr)
	for j := 1; j <= narr; j++ {
		what := fmt.Sprintf("command #%d: ", j)
		k, _, _, n, nrec, err := r.Next()
		if err != nil || (k != packed.TagTable && k != packed.TagArray) || nrec != 0 {
			c.ArgError(i, what+"a list {cmd, args...} expected")
		}
		if n == 0 {
			c.ArgError(i, what+"empty")
		}
		args := make([]any, n)
		for a := 0; a < n; a++ {
			k, num, str, _, _, err := r.Next()
			switch {
			case err != nil:
				c.ArgError(i, what+err.Error())
			case k == packed.TagString:
				args[a] = string(str)
			case (k == packed.TagInt || k == packed.TagFloat) && a > 0:
				s, ok := formatNumber(num)
				if !ok {
					c.ArgError(i, fmt.Sprintf("%sargument #%d: NaN is no redis argument", what, a))
				}
				args[a] = s
			case a == 0:
				c.ArgError(i, what+"the command name must be a string")
			case k == packed.TagTrue || k == packed.TagFalse:
				c.ArgError(i, fmt.Sprintf("%sargument #%d: a boolean is no redis argument (pass 1 or 0, or a string)", what, a))
			case k == packed.TagNil:
				c.ArgError(i, fmt.Sprintf("%sargument #%d is nil (a hole in the list)", what, a))
			default:
				c.ArgError(i, fmt.Sprintf("%sargument #%d: string or number expected", what, a))
			}
		}
		checkCommand(c, i, args[0].(string), true, what)
		cmds = append(cmds, args)
	}
	return cmds
}

var bufs = sync.Pool{New: func() any { return new(packed.Writer) }}

func getBuf() *packed.Writer { return bufs.Get().(*packed.Writer) }

// putBuf keeps b for reuse unless it grew large (a big reply must not stay pinned).
func putBuf(b *packed.Writer) {
	if cap(b.B) > 1<<20 {
		return
	}
	b.Reset()
	bufs.Put(b)
}

var errReplyTooDeep = engine.NewError("EPROTO", "redis: reply nested too deep for Lua")

// errSubClosed is what sub:ready callers waiting get when the subscription is closed.
var errSubClosed = engine.NewError("ECLOSED", "redis: subscription closed")
