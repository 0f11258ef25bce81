// Package kv is the Lua module "kv": key-value buckets shared by every worker of every node
// of a Dr.LEE cluster, on NATS JetStream key-value stores.
//
//	local b = kv.bucket("sessions", {ttl = 3600, replicas = 3, history = 1})  -- await, or a cb
//	b:put(key, value, cb)               -> revision
//	b:get(key, cb)                      -> {key, value, revision}, or nil when absent
//	b:create(key, value, cb)            -> revision; EEXIST when the key exists
//	b:update(key, value, revision, cb)  -> revision; ECONFLICT when revision is not the key's
//	b:delete(key, cb)                   -> true
//	b:keys(cb)                          -> {key, ...} sorted, {} when none
//	local w = b:watch(prefix, function(err, change) end)  -- change {key, value, revision, op}
//	w:ready(cb)  w:stop()
//
// Every call takes its callback last, or, without one in code the runtime runs, waits for
// its result (see "Await" in docs/ARCHITECTURE.md). kv.bucket too is such a call: binding a
// bucket is a round trip to JetStream (and, the first time, creating it), so it is not
// hidden behind the first operation, where its errors (a bucket that exists with other
// settings, too few nodes for its replicas) would look like the operation's.
//
// The bucket talks through the engine's cluster node, the one rpc uses (rpc.Node): the
// embedded NATS server, which runs JetStream with its store in --data-dir, or the NATS
// cluster of --nats. The operations are short blocking calls of nats.go's jetstream
// package, so they run on the engine's I/O pool, each bounded by the bucket's timeout. A
// watcher reads its updates on a goroutine of the engine's and hands each to its worker's
// loop, in order; it holds the worker until it is stopped, and the worker's shutdown stops
// it.
package kv

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/drlee/drlee/bindings/rpc"
	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/packed"
)

var (
	bucketClass  = &engine.Class{Name: "kvBucket"}
	watcherClass = &engine.Class{Name: "kvWatcher"}
)

func init() {
	bucketClass.Methods = []engine.Function{
		{Name: "get", Fn: bucketGet},
		{Name: "put", Fn: bucketPut},
		{Name: "create", Fn: bucketCreate},
		{Name: "update", Fn: bucketUpdate},
		{Name: "delete", Fn: bucketDelete},
		{Name: "keys", Fn: bucketKeys},
		{Name: "watch", Fn: bucketWatch},
	}
	bucketClass.Getters = []engine.Function{{Name: "name", Fn: bucketName}}
	watcherClass.Methods = []engine.Function{
		{Name: "ready", Fn: watcherReady},
		{Name: "stop", Fn: watcherStop},
	}
	engine.Register(&engine.Module{
		Name:    "kv",
		Funcs:   []engine.Function{{Name: "bucket", Fn: openBucket}},
		Classes: []*engine.Class{bucketClass, watcherClass},
	})
}

// Limits of the arguments. JetStream's own: a stream name ("KV_" + bucket) has at most 255
// bytes, a bucket at most 5 replicas and 64 values of history per key.
const (
	maxBucketName  = 255 - len("KV_")
	maxKey         = 1024 // a subject token list; NATS has no hard limit, but each key is in every message header
	maxReplicas    = 5
	maxHistory     = 64
	maxTTLSeconds  = 100 * 365 * 24 * 3600
	minTTLSeconds  = 0.1 // JetStream refuses a shorter max age of a stream with a duplicates window
	defaultTimeout = 5 * time.Second
	maxTimeout     = time.Hour
	attemptTimeout = 2 * time.Second // one try of kv.bucket's, within its timeout
)

// streams are each engine's JetStream contexts, on the engine's cluster node.
var streams = engine.NewEngineLocal(func(*engine.Engine) *jsState { return &jsState{} })

type jsState struct {
	once sync.Once
	js   jetstream.JetStream
	err  error
}

// jetStreamOf returns engine e's JetStream context, starting the cluster node if rpc has
// not yet. Loop only (it may start the node, which takes a few milliseconds, as rpc's first
// call does).
func jetStreamOf(e *engine.Engine) (jetstream.JetStream, error) {
	st := streams.Get(e)
	st.once.Do(func() {
		node, err := rpc.Node(e)
		if err != nil {
			st.err = err
			return
		}
		st.js, st.err = jetstream.New(node.Conn())
	})
	return st.js, st.err
}

// bucket is a kvBucket object: one worker's handle on a JetStream bucket. The handle is
// safe for concurrent use, so pool tasks share it.
type bucket struct {
	name    string
	kv      jetstream.KeyValue
	timeout time.Duration
}

// bucketConfig is what kv.bucket's options ask for.
type bucketConfig struct {
	given    bool // an options table named at least one setting
	ttl      time.Duration
	replicas int
	history  int
	timeout  time.Duration
}

// kv.bucket(name, options?, cb?) -> cb(err, bucket)
func openBucket(c *engine.Call) int {
	w := engine.WorkerOf(c)
	name := c.CheckString(1)
	if err := validBucket(name); err != nil {
		c.ArgError(1, err.Error())
	}
	cbArg := 3
	cfg := bucketConfig{replicas: 1, history: 1, timeout: defaultTimeout}
	switch c.Type(2) {
	case engine.TypeFunction:
		cbArg = 2
	case engine.TypeTable:
		readOptions(c, 2, &cfg)
	case engine.TypeNil, engine.TypeNone:
	default:
		c.TypeError(2, "table")
	}
	js, err := jetStreamOf(w.Engine())
	if err != nil {
		c.Raise("kv: %v", err)
	}
	return w.AsyncCall(c, cbArg, func() engine.Completion {
		kvh, err := bind(js, name, cfg)
		if err != nil {
			return failed(err)
		}
		b := &bucket{name: name, kv: kvh, timeout: cfg.timeout}
		return func(w *engine.Worker, a *engine.Args) {
			a.Nil()
			w.NewObject(&a.Writer, bucketClass, b)
		}
	})
}

// readOptions reads kv.bucket's options table at argument i.
func readOptions(c *engine.Call, i int, cfg *bucketConfig) {
	v, err := packed.Decode(append([]byte(nil), c.Encode(i)...))
	if err != nil {
		c.ArgError(i, err.Error())
	}
	m, ok := v.(map[any]any)
	if !ok { // an empty table, or a list
		if l, _ := v.([]any); len(l) > 0 {
			c.ArgError(i, "options must be a table of named settings (ttl, replicas, history, timeout)")
		}
		return
	}
	num := func(key string, v any) float64 {
		f, ok := v.(float64)
		if !ok {
			c.ArgError(i, fmt.Sprintf("options.%s must be a number", key))
		}
		if f != f || math.IsInf(f, 0) {
			c.ArgError(i, fmt.Sprintf("options.%s must be a finite number", key))
		}
		return f
	}
	integer := func(key string, v any, lo, hi int) int {
		f := num(key, v)
		if f != math.Trunc(f) || f < float64(lo) || f > float64(hi) {
			c.ArgError(i, fmt.Sprintf("options.%s must be an integer from %d to %d", key, lo, hi))
		}
		return int(f)
	}
	for k, v := range m {
		key, _ := k.(string)
		switch key {
		case "ttl":
			s := num(key, v)
			if s != 0 && (s < minTTLSeconds || s > maxTTLSeconds) {
				c.ArgError(i, fmt.Sprintf("options.ttl must be 0 (no expiry) or %g to %d seconds", minTTLSeconds, maxTTLSeconds))
			}
			cfg.ttl = time.Duration(s * float64(time.Second))
		case "replicas":
			cfg.replicas = integer(key, v, 1, maxReplicas)
		case "history":
			cfg.history = integer(key, v, 1, maxHistory)
		case "timeout":
			ms := num(key, v)
			if ms <= 0 || ms > float64(maxTimeout/time.Millisecond) {
				c.ArgError(i, fmt.Sprintf("options.timeout must be a positive number of milliseconds, at most %d", maxTimeout/time.Millisecond))
			}
			cfg.timeout = time.Duration(math.Ceil(ms * float64(time.Millisecond)))
			continue // not a setting of the bucket's
		default:
			c.ArgError(i, fmt.Sprintf("unknown option %v (ttl, replicas, history and timeout are)", k))
		}
		cfg.given = true
	}
}

// bind creates the bucket or binds to it. On the pool.
//
// With settings given, the bucket must have them: JetStream's create gives the existing
// bucket when its settings are the same, and an error when they differ, which is reported
// rather than silently changing a bucket other nodes use. With none, an existing bucket is
// bound as it is, and a missing one created with the defaults.
//
// A cluster's JetStream answers "temporarily unavailable" until its nodes have elected a
// leader, which takes a few seconds after they start; bind tries again until its timeout
// rather than fail the first kv.bucket of a script that starts with its cluster.
func bind(js jetstream.JetStream, name string, cfg bucketConfig) (jetstream.KeyValue, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cfg.timeout)
	defer cancel()
	jcfg := jetstream.KeyValueConfig{Bucket: name, TTL: cfg.ttl, Replicas: cfg.replicas, History: uint8(cfg.history)}
	for {
		// Each attempt gets at most attemptTimeout: a request made while the cluster has
		// no leader may get no answer at all, and must not use up the whole timeout.
		actx, acancel := context.WithTimeout(ctx, attemptTimeout)
		var kvh jetstream.KeyValue
		var err error
		if !cfg.given {
			kvh, err = js.KeyValue(actx, name)
			if errors.Is(err, jetstream.ErrBucketNotFound) {
				kvh, err = js.CreateKeyValue(actx, jcfg)
			}
		} else {
			kvh, err = js.CreateKeyValue(actx, jcfg)
		}
		acancel()
		if err == nil {
			return kvh, nil
		}
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			continue // the attempt's own deadline: try again
		}
		if !retryable(err) || ctx.Err() != nil {
			return nil, bucketError(name, cfg, err, ctx.Err() != nil)
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return nil, bucketError(name, cfg, err, true)
		}
	}
}

// JetStream's API error codes that kv names (nats-server's errors.json).
const (
	jsClusterNotAvailable  = 10008 // no meta leader yet
	jsInsufficientRes      = 10023
	jsNoSuitablePeers      = 10005
	jsReplicasNotSupported = 10074 // a single node without --cluster
)

func apiCode(err error) jetstream.ErrorCode {
	var ae *jetstream.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode
	}
	return 0
}

// retryable: errors of a JetStream cluster that is forming (no leader yet, or peers not
// known yet for the replicas asked for).
func retryable(err error) bool {
	switch apiCode(err) {
	case jsClusterNotAvailable, jsInsufficientRes, jsNoSuitablePeers:
		return true
	}
	return errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrJetStreamNotEnabled)
}

func bucketError(name string, cfg bucketConfig, err error, timedOut bool) error {
	prefix := "kv.bucket " + name + ": "
	switch code := apiCode(err); {
	case errors.Is(err, jetstream.ErrBucketExists):
		return engine.WithCode("EEXIST", fmt.Errorf("%sthe bucket exists with other settings (ttl, replicas, history): open it without options to use it as it is", prefix))
	case code == jsReplicasNotSupported:
		return engine.WithCode("ENOTSUP", fmt.Errorf("%s%d replicas need a cluster (--cluster): %w", prefix, cfg.replicas, err))
	case code == jsInsufficientRes || code == jsNoSuitablePeers:
		return engine.WithCode("EAGAIN", fmt.Errorf("%snot enough nodes with JetStream for %d replicas: %w", prefix, cfg.replicas, err))
	case code == jsClusterNotAvailable && timedOut:
		return engine.WithCode("ETIMEDOUT", fmt.Errorf("%sJetStream had no leader within %v (is a majority of the cluster's nodes up?): %w", prefix, cfg.timeout, err))
	}
	return opError("kv.bucket", name, err)
}

// opError words an operation's error with its code: the outermost code wins, so the ones
// named here come before the NATS client's generic classification (rpc's: no responders
// there means no rpc handler, here it means no JetStream).
func opError(op, subject string, err error) error {
	what := op + " " + subject + ": "
	switch {
	case errors.Is(err, jetstream.ErrKeyRevisionMismatch):
		return engine.WithCode("ECONFLICT", fmt.Errorf("%sthe key's revision is not the one given (another write came first)", what))
	case errors.Is(err, jetstream.ErrKeyExists):
		return engine.WithCode("EEXIST", fmt.Errorf("%sthe key exists", what))
	case errors.Is(err, jetstream.ErrBucketNotFound), errors.Is(err, jetstream.ErrStreamNotFound):
		return engine.WithCode("ENOENT", fmt.Errorf("%sthe bucket does not exist (deleted?)", what))
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout):
		return engine.WithCode("ETIMEDOUT", fmt.Errorf("%stimed out: %w", what, err))
	case errors.Is(err, nats.ErrNoResponders), errors.Is(err, jetstream.ErrNoStreamResponse),
		errors.Is(err, jetstream.ErrJetStreamNotEnabled), errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount):
		return engine.WithCode("ENOTSUP", fmt.Errorf("%sno JetStream answers (is it on in the NATS servers?): %w", what, err))
	case errors.Is(err, nats.ErrMaxPayload):
		return engine.WithCode("EMSGSIZE", fmt.Errorf("%s%w", what, err))
	case errors.Is(err, nats.ErrConnectionClosed), errors.Is(err, nats.ErrConnectionDraining):
		return engine.WithCode("ECLOSED", fmt.Errorf("%sthe node has left the cluster: %w", what, err))
	}
	return fmt.Errorf("%s%w", what, err)
}

func failed(err error) engine.Completion {
	return func(w *engine.Worker, a *engine.Args) { a.Error(err) }
}

// validBucket is JetStream's rule for bucket names, with a clear message.
func validBucket(name string) error {
	if name == "" {
		return errors.New("bucket name is empty")
	}
	if len(name) > maxBucketName {
		return fmt.Errorf("bucket name is longer than %d bytes", maxBucketName)
	}
	for i := 0; i < len(name); i++ {
		if ch := name[i]; !isAlnum(ch) && ch != '_' && ch != '-' {
			return fmt.Errorf("bucket name %q has %q at byte %d: only letters, digits, '_' and '-' are allowed", short(name), ch, i+1)
		}
	}
	return nil
}

// validKey is JetStream's rule for keys: letters, digits and -/_=. , not starting or
// ending with '.', no empty token ("a..b").
func validKey(key string) error {
	if key == "" {
		return errors.New("key is empty")
	}
	return validKeyChars(key, "key", true)
}

// validPrefix: a watch prefix is any start of a valid key ("" for every key).
func validPrefix(p string) error { return validKeyChars(p, "prefix", false) }

func validKeyChars(key, what string, whole bool) error {
	if len(key) > maxKey {
		return fmt.Errorf("%s is longer than %d bytes", what, maxKey)
	}
	for i := 0; i < len(key); i++ {
		ch := key[i]
		if !isAlnum(ch) && !strings.ContainsRune("-/_=.", rune(ch)) {
			return fmt.Errorf("%s %q has %q at byte %d: only letters, digits and - / _ = . are allowed", what, short(key), ch, i+1)
		}
	}
	switch {
	case key == "":
	case key[0] == '.':
		return fmt.Errorf("%s %q starts with '.'", what, short(key))
	case whole && key[len(key)-1] == '.':
		return fmt.Errorf("%s %q ends with '.'", what, short(key))
	case strings.Contains(key, ".."):
		return fmt.Errorf("%s %q has an empty token ('..')", what, short(key))
	}
	return nil
}

func isAlnum(ch byte) bool {
	return ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9'
}

// short cuts a long name for an error message.
func short(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// bucketOf returns the kvBucket at argument 1 (self).
func bucketOf(c *engine.Call) (*engine.Worker, *bucket) {
	w := engine.WorkerOf(c)
	return w, w.Object(c, 1, bucketClass).(*bucket)
}

func checkKey(c *engine.Call, i int) string {
	key := c.CheckString(i)
	if err := validKey(key); err != nil {
		c.ArgError(i, err.Error())
	}
	return key
}

// checkValue copies string argument i: values are bytes, binary-safe. A number is not a
// string here: kv stores what it was given, and 1 and "1" read back the same.
func checkValue(c *engine.Call, i int) []byte {
	if c.Type(i) != engine.TypeString {
		c.TypeError(i, "string")
	}
	return append([]byte(nil), c.CheckBytes(i)...)
}

// ctx is an operation's context, bounded by the bucket's timeout.
func (b *bucket) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), b.timeout)
}

// revision writes a revision as Lua's number: JetStream's sequence numbers stay far below
// 2^53.
func revision(rev uint64) engine.Completion {
	return func(w *engine.Worker, a *engine.Args) {
		a.Nil()
		a.Int(int64(rev))
	}
}

// b.name
func bucketName(c *engine.Call) int {
	_, b := bucketOf(c)
	return c.ReturnString(b.name)
}

// b:get(key, cb) -> cb(nil, {key, value, revision}) or cb(nil, nil) when absent.
func bucketGet(c *engine.Call) int {
	w, b := bucketOf(c)
	key := checkKey(c, 2)
	return w.AsyncCall(c, 3, func() engine.Completion {
		ctx, cancel := b.ctx()
		defer cancel()
		e, err := b.kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return func(w *engine.Worker, a *engine.Args) {
				a.Nil()
				a.Nil()
			}
		}
		if err != nil {
			return failed(opError("kv.get", b.name+"/"+key, err))
		}
		return func(w *engine.Worker, a *engine.Args) {
			a.Nil()
			writeEntry(a, e, false)
		}
	})
}

// writeEntry writes {key, value, revision} (and op, for a watch).
func writeEntry(a *engine.Args, e jetstream.KeyValueEntry, withOp bool) {
	n := 3
	if withOp {
		n = 4
	}
	a.Table(0, n)
	a.String("key")
	a.String(e.Key())
	a.String("value")
	a.Bytes(e.Value())
	a.String("revision")
	a.Int(int64(e.Revision()))
	if withOp {
		a.String("op")
		if e.Operation() == jetstream.KeyValuePut {
			a.String("put")
		} else {
			a.String("delete") // a delete or a purge (an expiry by the bucket's ttl sends nothing)
		}
	}
}

// b:put(key, value, cb) -> cb(nil, revision)
func bucketPut(c *engine.Call) int {
	w, b := bucketOf(c)
	key := checkKey(c, 2)
	value := checkValue(c, 3)
	return w.AsyncCall(c, 4, func() engine.Completion {
		ctx, cancel := b.ctx()
		defer cancel()
		rev, err := b.kv.Put(ctx, key, value)
		if err != nil {
			return failed(opError("kv.put", b.name+"/"+key, err))
		}
		return revision(rev)
	})
}

// b:create(key, value, cb) -> cb(nil, revision); EEXIST when the key has a value.
func bucketCreate(c *engine.Call) int {
	w, b := bucketOf(c)
	key := checkKey(c, 2)
	value := checkValue(c, 3)
	return w.AsyncCall(c, 4, func() engine.Completion {
		ctx, cancel := b.ctx()
		defer cancel()
		rev, err := b.kv.Create(ctx, key, value)
		if err != nil {
			if errors.Is(err, jetstream.ErrKeyExists) {
				// Create's conflict carries the revision mismatch too: it is an EEXIST.
				return failed(engine.WithCode("EEXIST", fmt.Errorf("kv.create %s/%s: the key exists", b.name, key)))
			}
			return failed(opError("kv.create", b.name+"/"+key, err))
		}
		return revision(rev)
	})
}

// b:update(key, value, revision, cb) -> cb(nil, revision); ECONFLICT when the key's latest
// revision is not the one given.
func bucketUpdate(c *engine.Call) int {
	w, b := bucketOf(c)
	key := checkKey(c, 2)
	value := checkValue(c, 3)
	rev := uint64(c.CheckIntRange(4, 1, 1<<53))
	if f := c.CheckNumber(4); f != math.Trunc(f) {
		c.ArgError(4, "revision must be an integer")
	}
	return w.AsyncCall(c, 5, func() engine.Completion {
		ctx, cancel := b.ctx()
		defer cancel()
		nrev, err := b.kv.Update(ctx, key, value, rev)
		if err != nil {
			return failed(opError("kv.update", b.name+"/"+key, err))
		}
		return revision(nrev)
	})
}

// b:delete(key, cb) -> cb(nil, true). Deleting an absent key is no error.
func bucketDelete(c *engine.Call) int {
	w, b := bucketOf(c)
	key := checkKey(c, 2)
	return w.AsyncCall(c, 3, func() engine.Completion {
		ctx, cancel := b.ctx()
		defer cancel()
		if err := b.kv.Delete(ctx, key); err != nil {
			return failed(opError("kv.delete", b.name+"/"+key, err))
		}
		return func(w *engine.Worker, a *engine.Args) {
			a.Nil()
			a.Bool(true)
		}
	})
}

// b:keys(cb) -> cb(nil, {key, ...}), sorted; {} when the bucket has none.
func bucketKeys(c *engine.Call) int {
	w, b := bucketOf(c)
	return w.AsyncCall(c, 2, func() engine.Completion {
		ctx, cancel := b.ctx()
		defer cancel()
		keys, err := b.kv.Keys(ctx)
		if err != nil && !errors.Is(err, jetstream.ErrNoKeysFound) {
			return failed(opError("kv.keys", b.name, err))
		}
		return func(w *engine.Worker, a *engine.Args) {
			a.Nil()
			a.Array(len(keys))
			for _, k := range keys {
				a.String(k)
			}
		}
	})
}
