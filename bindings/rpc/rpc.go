// Package rpc is the Lua module "rpc": scripts on every worker of every node call each
// other as if on one machine, over NATS (package engine/cluster).
//
//	rpc.register(name, function(message, reply) reply(nil, result) end)
//	rpc.call(name, message, {timeout = ms}, function(err, result) end)
//	rpc.broadcast(name, message, {timeout = ms}, function(err, replies) end)
//
// A handler registered in every worker shares the calls among them; one registered handler
// anywhere in the cluster answers a call (no handler anywhere: an immediate error, not a
// timeout); every handler answers a broadcast, and replies lists those that answered before
// the timeout (default 5000 ms), each {node, worker_id, result} or {node, worker_id, error}.
// Messages are nil, booleans, numbers, strings and tables of them, in the packed format (package packed)
// (integers, floats, binary strings and empty tables stay apart); a function, userdata or a
// cycle raises at the call. Replying twice, or after the caller gave up, is harmless and
// logged once.
//
// The node (an embedded NATS server, or a connection to --nats) starts on first use, of rpc
// or of another binding that shares it (Node: bindings/kv). The embedded server runs
// JetStream, its store in --data-dir (default: a temporary directory removed when the node
// stops). On
// SIGTERM each worker unregisters its handlers first, so calls move to other nodes, and the
// node then leaves the cluster once what it was handed is answered.
package rpc

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	ltime "github.com/drlee/drlee/bindings/time"
	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/engine/cluster"
	"github.com/drlee/drlee/internal/nodename"
	"github.com/drlee/drlee/packed"
)

var replyClass = &engine.Class{Name: "rpcReply"}

func init() {
	replyClass.Meta = []engine.Function{{Name: "__call", Fn: replyCall}}
	engine.Register(&engine.Module{
		Name: "rpc",
		Funcs: []engine.Function{
			{Name: "register", Fn: register},
			{Name: "call", Fn: call},
			{Name: "broadcast", Fn: broadcast},
		},
		Classes:   []*engine.Class{replyClass},
		Flags:     flags,
		Configure: configure,
	})
	engine.RegisterErrorCodes(natsErrorCode)
}

// natsErrorCode names the codes of the NATS client's errors that reach a script (through
// "drlee: send call: ..."). engine/cluster's own errors name theirs.
func natsErrorCode(err error) string {
	switch err {
	case nats.ErrMaxPayload:
		return "EMSGSIZE"
	case nats.ErrTimeout:
		return "ETIMEDOUT"
	case nats.ErrNoResponders:
		return "ENOHANDLER"
	case nats.ErrConnectionClosed, nats.ErrConnectionDraining, nats.ErrDrainTimeout:
		return "ECLOSED"
	case nats.ErrNoServers:
		return "ECONNREFUSED"
	case nats.ErrBadSubject:
		return "EINVAL"
	}
	return ""
}

// Options are the cluster settings: the flags of `drlee run`.
type Options struct {
	ClusterAddr string   // listen for cluster routes on host:port (embedded NATS)
	Join        []string // routes of peers to join
	NATSURL     string   // an existing NATS cluster instead of the embedded server
	DataDir     string   // the embedded server's JetStream store (bindings/kv); "": a temporary one
}

// Settings are the engine's Options.
var Settings = engine.NewSetting("rpc", Options{})

func flags(fs *flag.FlagSet, cfg *engine.Config) {
	o := Settings.Ptr(cfg)
	fs.StringVar(&o.ClusterAddr, "cluster", o.ClusterAddr, "listen for cluster routes on host:port (embedded NATS)")
	fs.Func("join", "comma-separated host:port routes of cluster peers to join", func(v string) error {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				o.Join = append(o.Join, p)
			}
		}
		return nil
	})
	fs.StringVar(&o.NATSURL, "nats", o.NATSURL, "use an existing NATS cluster (nats://host:4222) instead of the embedded server")
	fs.StringVar(&o.DataDir, "data-dir", o.DataDir, "keep the embedded server's JetStream data (kv buckets) in this directory across restarts (default: a temporary directory removed at exit)")
}

// configure names a clustered node after its cluster port when no name was given, so that
// the nodes of one host tell themselves apart (env.node, broadcast replies).
func configure(cfg *engine.Config) error {
	o := Settings.Of(cfg)
	if o.DataDir != "" && o.NATSURL != "" {
		return errors.New("--data-dir is for the embedded NATS server: with --nats, JetStream's data is the NATS servers'")
	}
	if o.ClusterAddr == "" {
		return nil
	}
	_, port, err := net.SplitHostPort(o.ClusterAddr)
	if err != nil {
		return fmt.Errorf("--cluster %q: %w", o.ClusterAddr, err)
	}
	if cfg.Node == "" {
		cfg.Node = nodename.Default(port)
	}
	return nil
}

// nodes is each engine's node, started on first use.
var nodes = engine.NewEngineLocal(func(*engine.Engine) *nodeState {
	return &nodeState{down: make(chan struct{})}
})

type nodeState struct {
	once sync.Once
	node *cluster.Node
	err  error
	down chan struct{} // closed when the node has shut down
}

// nodeOf returns the engine's node, starting it (and arranging its shutdown) the first time.
func nodeOf(c *engine.Call) *cluster.Node {
	n, err := Node(engine.WorkerOf(c).Engine())
	if err != nil {
		c.Raise("rpc: %v", err)
	}
	return n
}

// Node returns engine e's cluster node, starting it the first time (it leaves the cluster
// on SIGTERM, or when e's workers have ended), or the error that stopped it from starting.
// Other bindings that speak NATS (bindings/kv) share it rather than start one of their own:
// one embedded server per process, one set of flags. Safe from any goroutine.
func Node(e *engine.Engine) (*cluster.Node, error) {
	ns := nodes.Get(e)
	ns.once.Do(func() { ns.start(e) })
	return ns.node, ns.err
}

func (ns *nodeState) start(e *engine.Engine) {
	o := Settings.Get(e)
	cfg := cluster.Config{
		Node: e.NodeName(), ClusterAddr: o.ClusterAddr, Join: o.Join, NATSURL: o.NATSURL,
		Logf: func(f string, a ...any) { e.Log("WARN", "rpc: "+f, a...) },
		// Always on, so that every node of a cluster can hold kv replicas whatever its
		// script uses. It costs the node's start a few milliseconds (the node starts only
		// when a script first uses rpc or kv) and a store directory.
		JetStream: true, StoreDir: o.DataDir,
	}
	ns.node, ns.err = cluster.Start(cfg)
	if ns.err != nil {
		close(ns.down)
		return
	}
	shutdown := sync.OnceFunc(func() {
		ctx, cancel := context.WithTimeout(context.Background(), e.Config().ShutdownTimeout)
		defer cancel()
		if err := ns.node.Shutdown(ctx); err != nil {
			e.Log("WARN", "rpc: node shutdown: %v", err)
		}
		close(ns.down)
	})
	// On SIGTERM the node leaves while the workers still run, so that requests it was
	// handed are answered; when the script simply ends, it leaves after the workers. The
	// goroutine that waits for SIGTERM is the engine's, and ends with the node's shutdown
	// either way (the OnClose function at the latest). Node.Shutdown ends the goroutines
	// of nats.go (the subscriptions' deliveries) and of the embedded nats-server.
	e.Go("rpc: leave on shutdown", func() {
		select {
		case <-e.Stopping():
			shutdown()
		case <-ns.down:
		}
	})
	e.OnClose(shutdown)
}

// handler is one worker's registration of a name.
type handler struct {
	name       string
	fn         int32 // registry ref of the Lua handler
	unregister func()
	stats      *nameStats // the worker's counters for name (metrics.go); nil: not counted
}

// rpc.register(name, handler)
func register(c *engine.Call) int {
	w := engine.WorkerOf(c)
	name := c.CheckString(1)
	if c.Type(2) != engine.TypeFunction {
		c.TypeError(2, "function")
	}
	if err := cluster.ValidName(name); err != nil {
		c.ArgError(1, err.Error())
	}
	node := nodeOf(c)
	h := &handler{name: name, fn: c.RefArg(2)}
	if m := metricsOf(w); m != nil {
		h.stats = m.stats(name)
	}
	unregister, err := node.Register(name, w.ID, func(req *cluster.Request) {
		// NATS delivery never blocks on a worker: a full queue sends the call elsewhere.
		if w.Submit(&delivery{h: h, req: req}) != nil {
			req.Busy()
		}
	})
	if err != nil {
		w.Unref(h.fn)
		select {
		case <-w.Engine().Stopping():
			// The engine shuts down (SIGTERM while the main chunk still ran): the node has
			// left or is leaving, and a handler would get no calls anyway. Not an error
			// of the script's.
			return 0
		default:
		}
		c.Raise("rpc.register: %v", err)
	}
	h.unregister = unregister
	w.Hold() // a registered handler keeps the worker serving
	w.OnShutdown(func() {
		h.unregister()
		w.Unhold()
	})
	return 0
}

// delivery is a call or broadcast handed to a worker.
type delivery struct {
	h     *handler
	req   *cluster.Request
	scope engine.Scope // the handler's (Run), in the delivery's own memory
}

type replyState struct {
	req    *cluster.Request
	stats  *nameStats // nil: not counted
	logged bool
}

// Run calls the Lua handler with (message, reply).
func (d *delivery) Run(w *engine.Worker) {
	// The message came from the network: C trusts what it decodes, so check it first.
	if d.h.stats != nil {
		d.h.stats.handled.Add(1)
	}
	if err := packed.ValidateOne(d.req.Payload); err != nil {
		d.req.Reply(nil, engine.ErrorString(errMalformedMessage))
		return
	}
	args := w.NewArgs()
	args.Raw(d.req.Payload)
	rs := &replyState{req: d.req, stats: d.h.stats}
	w.NewObject(&args.Writer, replyClass, rs)
	// The handler runs in a scope the delivery owns: a raise in it, or in a callback of
	// what it started, before or after an await, answers the caller at once.
	w.RunScoped(w.InitScope(&d.scope, d), d.h.fn, args.B)
}

// ScopeFailed: the handler (or a callback it started) raised. The traceback goes to the
// log; the caller gets the error's first line, with the code EHANDLER, unless it was
// answered already.
func (d *delivery) ScopeFailed(w *engine.Worker, _ *engine.Scope, err error) {
	w.Logf("ERROR", "rpc: handler for '%s': %s", d.h.name, err.Error())
	if d.req.Reply(nil, "EHANDLER: rpc: handler for '"+d.h.name+"' failed: "+firstLine(err.Error())) && d.h.stats != nil {
		d.h.stats.handlerErrors.Add(1)
	}
}

// ScopeIdle: nothing of the handler is left to run. A reply not sent yet may still come
// (the reply function may be kept for later, for a long poll), so nothing is done.
func (d *delivery) ScopeIdle(*engine.Worker, *engine.Scope) {}

// Panicked answers the caller after a Go panic in Run (a bug; the loop reports it), so that
// it does not wait for its timeout. A reply already sent stays the only one.
func (d *delivery) Panicked(w *engine.Worker) {
	if d.req.Reply(nil, "EINTERNAL: rpc: handler for '"+d.h.name+"' failed: "+engine.ErrInternal.Error()) && d.h.stats != nil {
		d.h.stats.handlerErrors.Add(1)
	}
}

func firstLine(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			return s[:i]
		}
	}
	return s
}

// reply(err, result): the handler's answer. Only the first counts.
func replyCall(c *engine.Call) int {
	w := engine.WorkerOf(c)
	rs := w.Object(c, 1, replyClass).(*replyState)
	var errMsg string
	switch c.Type(2) {
	case engine.TypeNil, engine.TypeNone:
	case engine.TypeString, engine.TypeNumber:
		errMsg = c.CheckString(2)
		if errMsg == "" {
			errMsg = "error"
		}
	default:
		errMsg = fmt.Sprintf("error (a %s value)", typeName(c.Type(2)))
	}
	var result []byte
	if errMsg == "" && c.Type(3) != engine.TypeNone {
		result = append([]byte(nil), c.Encode(3)...)
	}
	// Reply reports false for a second reply; a reply after the caller's deadline is
	// delivered to nobody, and is worth the same warning.
	late := time.Now().After(rs.req.Deadline)
	first := rs.req.Reply(result, errMsg)
	if first && errMsg != "" && rs.stats != nil {
		rs.stats.handlerErrors.Add(1)
	}
	if (!first || late) && !rs.logged {
		rs.logged = true
		w.Logf("WARN", "rpc: reply to '%s' ignored: it was already answered or its caller gave up", rs.req.Name)
	}
	return 0
}

func typeName(t int) string {
	switch t {
	case engine.TypeBoolean:
		return "boolean"
	case engine.TypeTable:
		return "table"
	case engine.TypeFunction:
		return "function"
	}
	return "userdata"
}

// callArgs reads (name, message, options?, cb?) and encodes the message; cbArg is where
// the callback is (or would be).
func callArgs(c *engine.Call) (name string, payload []byte, timeout time.Duration, cbArg int) {
	name = c.CheckString(1)
	if err := cluster.ValidName(name); err != nil {
		c.ArgError(1, err.Error())
	}
	payload = append([]byte(nil), c.Encode(2)...)
	timeout = 5 * time.Second
	cbArg = 4
	switch c.Type(3) {
	case engine.TypeFunction:
		cbArg = 3
	case engine.TypeTable:
		opts, _ := packed.Decode(append([]byte(nil), c.Encode(3)...))
		if m, ok := opts.(map[any]any); ok {
			if v, present := m["timeout"]; present {
				ms, ok := v.(float64)
				switch {
				case !ok:
					c.ArgError(3, "options.timeout must be a number of milliseconds")
				case ms != ms || math.IsInf(ms, 0):
					c.ArgError(3, "options.timeout must be a finite number of milliseconds")
				case ms <= 0:
					c.ArgError(3, "options.timeout must be positive")
				}
				// Rounded up to a whole nanosecond (1e-9 ms used to become 0, which the
				// transport read as "use the default"), clamped to the timers' maximum.
				timeout = ltime.MaxDelay
				if ms < float64(ltime.MaxDelay/time.Millisecond) {
					timeout = time.Duration(math.Ceil(ms * float64(time.Millisecond)))
				}
			}
		}
	case engine.TypeNil, engine.TypeNone:
	default:
		c.TypeError(3, "table")
	}
	return
}

// rpc.call(name, message, options?, cb?)
func call(c *engine.Call) int {
	w := engine.WorkerOf(c)
	name, payload, timeout, cbArg := callArgs(c)
	node := nodeOf(c)
	op := w.ReserveCall(c, cbArg)
	m := metricsOf(w)
	var start time.Time
	if m != nil {
		start = time.Now()
	}
	node.Call(name, payload, timeout, func(result []byte, errMsg string, err error) {
		op.Complete(func(w *engine.Worker, a *engine.Args) {
			// Counted on the caller's loop (the owner of m), when the result is handed over.
			switch {
			case err != nil:
				err = callError(name, err)
				if m != nil {
					m.callDone(name, kindCall, start, engine.ErrorCode(err))
				}
				a.Error(err)
			case errMsg != "":
				// The handler's reply(err), as it gave it (its code, if any, is its
				// own), or a text the handler's node made with its code.
				if m != nil {
					m.callDone(name, kindCall, start, engine.ParseErrorCode(errMsg))
				}
				a.Error(engine.ScriptError(errMsg))
			case len(result) > 0 && packed.ValidateOne(result) != nil:
				if m != nil {
					m.callDone(name, kindCall, start, engine.ErrorCode(errMalformedResult))
				}
				a.Error(errMalformedResult)
			default:
				if m != nil {
					m.callDone(name, kindCall, start, "")
				}
				a.Nil()
				if len(result) == 0 {
					a.Nil()
				} else {
					a.Raw(result)
				}
			}
		})
	})
	return op.Return(c)
}

var (
	errMalformedMessage = engine.NewError("EPROTO", "rpc: malformed message")
	errMalformedResult  = engine.NewError("EPROTO", "rpc: malformed result")
)

// callError words transport errors the way scripts see them.
func callError(name string, err error) error {
	if errors.Is(err, cluster.ErrNoHandler) {
		return engine.WithCode("ENOHANDLER", fmt.Errorf("no handler for '%s'", name))
	}
	return err
}

// rpc.broadcast(name, message, options?, cb?) -> cb(err, replies)
func broadcast(c *engine.Call) int {
	w := engine.WorkerOf(c)
	name, payload, timeout, cbArg := callArgs(c)
	node := nodeOf(c)
	op := w.ReserveCall(c, cbArg)
	m := metricsOf(w)
	var start time.Time
	if m != nil {
		start = time.Now()
	}
	node.Broadcast(name, payload, timeout, func(replies []cluster.Reply, err error) {
		op.Complete(func(w *engine.Worker, a *engine.Args) {
			if m != nil {
				m.callDone(name, kindBroadcast, start, engine.ErrorCode(err))
			}
			a.Error(err)
			if err != nil {
				return
			}
			a.Table(len(replies), 0)
			for _, r := range replies {
				a.Table(0, 3)
				a.String("node")
				a.String(r.Node)
				a.String("worker_id")
				a.Int(int64(r.WorkerID))
				switch {
				case r.Cause != nil: // the node answered for the handler (busy, shutting down)
					a.String("error")
					a.String(engine.ErrorString(r.Cause))
				case r.Err != "":
					a.String("error")
					a.String(r.Err) // the handler's, as it gave it
				case len(r.Result) == 0 || packed.ValidateOne(r.Result) != nil:
					a.String("result")
					a.Nil()
				default:
					a.String("result")
					a.Raw(r.Result)
				}
			}
		})
	})
	return op.Return(c)
}
