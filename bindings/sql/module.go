// Package sql is the Lua module "sql": PostgreSQL (pgx's pool) and SQLite (modernc.org's
// pure-Go driver through database/sql), with every statement run on the engine's I/O pool
// and its result delivered to a callback, or to an await, on the worker's loop.
//
//	local sql = require "sql"
//	sql.open("postgres://user:pw@127.0.0.1/app", {max_conns = 8, statement_timeout = 2000}, function(err, db)
//	  db:query("select id, name from users where id = $1", 42, function(err, rows)
//	    print(rows[1].name)
//	  end)
//	end)
//	local db = assert(sql.open("sqlite:app.db"))          -- await style
//	local r = assert(db:exec("insert into t(v) values (?)", "x"))
//	print(r.rows_affected, r.last_insert_id)
//	local tx = assert(db:begin())
//	tx:exec("update t set v = ? where id = ?", "y", 1)
//	assert(tx:commit())
//	db:close()
//
// Rows are tables keyed by column name; NULL is json.null (sql.null), integers are numbers
// while exact (|v| <= 2^53) and decimal strings beyond, floats numbers, text and
// bytea/blob strings (binary-safe), booleans booleans, timestamps Timestamps of the time
// module, numeric strings, json/jsonb decoded as json.decode does. Parameters are $1.. for
// PostgreSQL and ? for SQLite, given after the SQL text: nil and json.null are NULL, and
// booleans, numbers, strings and Timestamps are what they are; anything else raises.
//
// Errors are the callback's err (an awaited call's nil, err): a database's own error is
// "ESQL: <SQLSTATE> <message>" (SQLite's constraint violations get PostgreSQL's SQLSTATE,
// its other errors SQLITE_<NAME>), a statement past its timeout "ETIMEDOUT: ...", a
// server that is not there "ECONNREFUSED: ...". Wrong arguments raise.
//
// Concurrency: a db runs at most max_conns operations at once; the others wait in a queue
// on the loop (lane.go), costing no goroutine, up to max_queue of them (EBUSY beyond), each
// until its statement_timeout at most. A transaction holds one of those places, its
// connection, until it ends, and runs its statements one at a time in the order issued. A
// db or transaction that Lua collects is closed (a transaction rolled back); when the
// worker ends, every db it opened is closed by force (running statements are cancelled,
// open transactions rolled back).
package sql

import (
	"context"
	_ "embed"
	"fmt"
	"strings"
	"sync"
	"time"

	ltime "github.com/drlee/drlee/bindings/time"
	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/packed"
)

//go:embed sql.lua
var prelude string

var (
	dbClass = &engine.Class{Name: "sql.db"}
	txClass = &engine.Class{Name: "sql.tx"}
)

func init() {
	dbClass.Methods = []engine.Function{
		{Name: "query", Fn: dbQuery},
		{Name: "exec", Fn: dbExec},
		{Name: "begin", Fn: dbBegin},
		{Name: "close", Fn: dbClose},
	}
	dbClass.Meta = []engine.Function{{Name: "__tostring", Fn: dbString}}
	dbClass.Finalize = func(w *engine.Worker, v any) { v.(*db).collected(w) }
	txClass.Methods = []engine.Function{
		{Name: "query", Fn: txQuery},
		{Name: "exec", Fn: txExec},
		{Name: "commit", Fn: txCommit},
		{Name: "rollback", Fn: txRollback},
	}
	txClass.Meta = []engine.Function{{Name: "__tostring", Fn: txString}}
	txClass.Finalize = func(w *engine.Worker, v any) { v.(*tx).abandon(w) }
	engine.Register(&engine.Module{
		Name:    "sql",
		Funcs:   []engine.Function{{Name: "open", Fn: open}, {Name: "__null", Fn: null}},
		Classes: []*engine.Class{dbClass, txClass},
		Lua:     prelude,
	})
}

// sql.__null() -> json.null, for sql.lua's sql.null.
func null(c *engine.Call) int {
	c.Out().Null()
	return c.Return()
}

// failed is the completion of an operation that failed.
func failed(err error) engine.Completion {
	return func(w *engine.Worker, a *engine.Args) { a.Error(err) }
}

// Options, with their ranges.
type options struct {
	maxConns       int
	maxQueue       int
	timeout        time.Duration // statement_timeout; 0: none
	connectTimeout time.Duration
}

const (
	defaultMaxConns       = 4
	maxMaxConns           = 1000
	defaultMaxQueue       = 4096
	maxMaxQueue           = 1 << 20
	defaultConnectTimeout = 10 * time.Second
	maxTimeoutMS          = 24 * 3600 * 1000 // a day: a longer statement timeout is a mistake
)

// readOptions reads sql.open's options table at argument i.
func readOptions(c *engine.Call, i int) options {
	o := options{maxConns: defaultMaxConns, maxQueue: defaultMaxQueue, connectTimeout: defaultConnectTimeout}
	if c.Type(i) != engine.TypeTable {
		return o
	}
	v, err := packed.Decode(c.Encode(i))
	m, ok := v.(map[any]any)
	if err != nil || (!ok && len(v.([]any)) > 0) {
		c.ArgError(i, "options must be a table of named options")
	}
	num := func(name string, lo, hi float64, integer bool) (float64, bool) {
		x, present := m[name]
		if !present {
			return 0, false
		}
		f, isNum := x.(float64)
		if !isNum || f != f || f < lo || f > hi || (integer && f != float64(int64(f))) {
			what := "a number"
			if integer {
				what = "an integer"
			}
			c.ArgError(i, fmt.Sprintf("option '%s' must be %s from %g to %g", name, what, lo, hi))
		}
		return f, true
	}
	for k := range m {
		switch k {
		case "max_conns", "max_queue", "statement_timeout", "connect_timeout":
		default:
			c.ArgError(i, fmt.Sprintf("unknown option '%v' (max_conns, max_queue, statement_timeout, connect_timeout)", k))
		}
	}
	if f, ok := num("max_conns", 1, maxMaxConns, true); ok {
		o.maxConns = int(f)
	}
	if f, ok := num("max_queue", 0, maxMaxQueue, true); ok {
		o.maxQueue = int(f)
	}
	if f, ok := num("statement_timeout", 0, maxTimeoutMS, false); ok {
		o.timeout = time.Duration(f * float64(time.Millisecond))
	}
	if f, ok := num("connect_timeout", 1, maxTimeoutMS, false); ok {
		o.connectTimeout = time.Duration(f * float64(time.Millisecond))
	}
	return o
}

// db is one sql.open's database: a pool of connections and the queue of what waits for one.
type db struct {
	be      backend
	pg      bool
	what    string // "postgres" or "sqlite", for tostring
	base    context.Context
	cancel  context.CancelFunc // ends every statement: the db closed by force
	timeout time.Duration
	lane    lane
	txs     map[*tx]struct{}
	closed  bool // db:close() or collected: no new operation
	shut    bool // the pool is being closed
	id      uint64
	e       *engine.Engine
}

// Closed reports a closed db, which Open (drlee test's leak check) then does not count
// (engine.ClosedReporter). Loop only.
func (d *db) Closed() bool { return d.closed }

// liveDBs are the dbs a worker opened and has not shut yet: the worker's end closes them
// by force (AfterClose: once the state is closed, no completion can run any more).
var liveDBs *engine.WorkerLocal[map[*db]struct{}]

func init() { // not in the declaration: force refers back to liveDBs
	liveDBs = engine.NewWorkerLocal(func(w *engine.Worker) *map[*db]struct{} {
		m := map[*db]struct{}{}
		w.AfterClose(func() {
			for d := range m {
				d.force(w)
			}
		})
		return &m
	})
}

// sql.open(uri, [options,] cb): cb(nil, db).
func open(c *engine.Call) int {
	w := engine.WorkerOf(c)
	uri := c.CheckString(1)
	cbArg := 2
	var o options
	if t := c.Type(2); t == engine.TypeTable {
		o, cbArg = readOptions(c, 2), 3
	} else {
		o = readOptions(c, 0)
		if t != engine.TypeFunction && t != engine.TypeNil && t != engine.TypeNone {
			c.TypeError(2, "table or function")
		}
	}
	op := w.ReserveCall(c, cbArg)
	received := op.Awaits() || op.HasCallback()
	e := w.Engine()
	base, cancel := context.WithCancel(context.Background())
	connect := func() (engine.Completion, backend) {
		ctx, stop := context.WithTimeout(base, o.connectTimeout)
		defer stop()
		var be backend
		var err error
		what := ""
		switch {
		case strings.HasPrefix(uri, "postgres://"), strings.HasPrefix(uri, "postgresql://"):
			what = "postgres"
			be, err = openPG(ctx, uri, o)
		case strings.HasPrefix(uri, "sqlite:"):
			what = "sqlite"
			be, err = openSQLite(ctx, base, uri[len("sqlite:"):], o)
		default:
			err = engine.NewError("EINVAL", "sql.open: unsupported URI (postgres://... or sqlite:path)")
		}
		if err != nil {
			cancel()
			if ctx.Err() == context.DeadlineExceeded {
				return failed(engine.WithCode("ETIMEDOUT", fmt.Errorf("sql.open: no connection within %v: %w", o.connectTimeout, err))), nil
			}
			return failed(sqlErr(err)), nil
		}
		if !received { // nobody could ever close it
			cancel()
			be.close()
			return func(w *engine.Worker, a *engine.Args) { a.Nil() }, nil
		}
		return func(w *engine.Worker, a *engine.Args) {
			d := &db{be: be, pg: what == "postgres", what: what, base: base, cancel: cancel, timeout: o.timeout,
				lane: lane{limit: o.maxConns, maxQueue: o.maxQueue}, txs: map[*tx]struct{}{}, e: e}
			if what == "sqlite" && strings.HasPrefix(uri, "sqlite::memory:") {
				d.lane.limit = 1
			}
			(*liveDBs.Get(w))[d] = struct{}{}
			a.Nil()
			d.id = w.NewObject(&a.Writer, dbClass, d)
		}, be
	}
	id := w.ID
	if err := e.Pool(func() {
		var fn engine.Completion
		var be backend
		func() {
			defer func() {
				if p := recover(); p != nil {
					e.InternalError(id, "sql.open", p)
					fn = failed(engine.ErrInternal)
				}
			}()
			fn, be = connect()
		}()
		if !op.Complete(fn) && be != nil { // the worker ended first: nobody will close it
			cancel()
			be.close()
		}
	}); err != nil {
		cancel()
		op.CompleteSoon(failed(err))
	}
	return op.Return(c)
}

// newJob is an operation of d (or of one of its transactions) with d's statement timeout
// counted from now: the time it waits for a connection counts.
func (d *db) newJob(op *engine.Op, run func(ctx context.Context) engine.Completion) *job {
	j := &job{op: op, run: run, base: d.base, timeout: d.timeout}
	if d.timeout > 0 {
		j.deadline = time.Now().Add(d.timeout)
	}
	return j
}

// classify is the error a statement's failure gives Lua: its timeout, the db closed by
// force, or what the database said.
func (d *db) classify(ctx context.Context, err error) error {
	if ctx.Err() == context.DeadlineExceeded {
		return timeoutError(d.timeout, false)
	}
	if d.base.Err() != nil {
		return errClosed
	}
	return sqlErr(err)
}

// statement reads the arguments of query and exec on d or a transaction: self, the SQL
// text, its parameters, and a callback if the last argument is a function. It returns the
// text, the parameters and the callback's index.
func statement(c *engine.Call, d *db) (string, []any, int) {
	text := c.CheckString(2)
	last := c.N()
	cbArg := last + 1
	if last >= 3 && c.Type(last) == engine.TypeFunction {
		cbArg = last
		last--
	}
	return text, readArgs(c, 3, last, d.pg), cbArg
}

func queryJob(d *db, q func() querier, text string, args []any) func(ctx context.Context) engine.Completion {
	return func(ctx context.Context) engine.Completion {
		res, err := q().query(ctx, text, args)
		if err != nil {
			return failed(d.classify(ctx, err))
		}
		return func(w *engine.Worker, a *engine.Args) {
			a.Nil()
			writeRows(&a.Writer, res, func(out *packed.Writer, t time.Time) { ltime.WriteTimestamp(w, out, t) })
		}
	}
}

func execJob(d *db, q func() querier, text string, args []any) func(ctx context.Context) engine.Completion {
	return func(ctx context.Context) engine.Completion {
		r, err := q().exec(ctx, text, args)
		if err != nil {
			return failed(d.classify(ctx, err))
		}
		return func(w *engine.Worker, a *engine.Args) {
			a.Nil()
			n := 1
			if r.hasLastID {
				n = 2
			}
			a.Table(0, n)
			a.String("rows_affected")
			a.Int(r.rows)
			if r.hasLastID {
				a.String("last_insert_id")
				a.Int(r.lastID)
			}
		}
	}
}

// db:query(sql, args..., cb): cb(nil, rows).
func dbQuery(c *engine.Call) int {
	w := engine.WorkerOf(c)
	d := w.Object(c, 1, dbClass).(*db)
	text, args, cbArg := statement(c, d)
	op := w.ReserveCall(c, cbArg)
	be := d.be
	d.submit(w, d.newJob(op, queryJob(d, func() querier { return be }, text, args)))
	return op.Return(c)
}

// db:exec(sql, args..., cb): cb(nil, {rows_affected, last_insert_id}).
func dbExec(c *engine.Call) int {
	w := engine.WorkerOf(c)
	d := w.Object(c, 1, dbClass).(*db)
	text, args, cbArg := statement(c, d)
	op := w.ReserveCall(c, cbArg)
	be := d.be
	d.submit(w, d.newJob(op, execJob(d, func() querier { return be }, text, args)))
	return op.Return(c)
}

func (d *db) submit(w *engine.Worker, j *job) {
	done := j.done
	j.done = func(w *engine.Worker) {
		if done != nil {
			done(w)
		}
		d.maybeShut(w)
	}
	d.lane.submit(w, j)
}

// db:begin(cb): cb(nil, tx).
func dbBegin(c *engine.Call) int {
	w := engine.WorkerOf(c)
	d := w.Object(c, 1, dbClass).(*db)
	op := w.ReserveCall(c, 2)
	t := &tx{db: d, lane: lane{limit: 1, maxQueue: d.lane.maxQueue}}
	var j *job
	j = d.newJob(op, func(ctx context.Context) engine.Completion {
		bt, err := d.be.begin(ctx)
		if err != nil {
			return failed(d.classify(ctx, err))
		}
		t.be = bt
		j.keep = true // the transaction holds its connection's place until it ends
		j.lost = func() { rollbackNow(bt) }
		return func(w *engine.Worker, a *engine.Args) {
			d.txs[t] = struct{}{}
			a.Nil()
			t.id = w.NewObject(&a.Writer, txClass, t)
		}
	})
	d.submit(w, j)
	return op.Return(c)
}

// db:close(): no new operation; what was issued finishes, open transactions stay usable
// until they end, and the connections close once all that is done.
func dbClose(c *engine.Call) int {
	w := engine.WorkerOf(c)
	d := w.Object(c, 1, dbClass).(*db)
	w.Release(d.id)
	d.closed = true
	d.maybeShut(w)
	return c.ReturnBool(true)
}

func dbString(c *engine.Call) int {
	w := engine.WorkerOf(c)
	if id := w.ObjectID(c, 1, dbClass); id != 0 {
		if v, ok := w.Lookup(id); ok {
			return c.ReturnString("sql.db (" + v.(*db).what + ")")
		}
	}
	return c.ReturnString("sql.db (closed)")
}

// collected: Lua dropped the db without closing it. As db:close(), except at the worker's
// end, where liveDBs closes it by force.
func (d *db) collected(w *engine.Worker) {
	if w.Closing() {
		return
	}
	d.closed = true
	d.maybeShut(w)
}

// maybeShut closes the pool once a closed db has nothing left to do.
func (d *db) maybeShut(w *engine.Worker) {
	if d.closed && !d.shut && d.lane.idle() && len(d.txs) == 0 {
		d.shutdown(w)
	}
}

func (d *db) shutdown(w *engine.Worker) {
	d.shut = true
	delete(*liveDBs.Get(w), d)
	be, cancel := d.be, d.cancel
	closeAll := func() {
		cancel()
		be.close() // pgxpool waits for the connections still out (a rollback's) to come back
	}
	if !d.e.Go("sql: close "+d.what, closeAll) {
		closeAll()
	}
}

// force closes d at the worker's end: running statements are cancelled, waiting ones
// dropped, open transactions rolled back.
func (d *db) force(w *engine.Worker) {
	if d.shut {
		return
	}
	d.closed = true
	d.cancel()
	d.lane.fail(w, errClosed)
	for t := range d.txs {
		t.abandon(w)
	}
	if !d.shut {
		d.shutdown(w)
	}
}

// tx is one transaction. Its statements run one at a time (its lane), on its connection.
type tx struct {
	db   *db
	be   txBackend
	lane lane
	id   uint64
	// ended: commit or rollback was issued, or the tx was abandoned; loop only.
	ended bool

	// Between the loop and the pool: a statement running (busy), the transaction over
	// (finished), or left to roll back when the running statement ends (abandoned).
	mu                        sync.Mutex
	busy, finished, abandoned bool
}

var errTxDone = engine.NewError("ECLOSED", "sql: the transaction was rolled back (it was collected, or its worker ended)")

// run wraps a statement of t: it runs only while t is open, and a t abandoned meanwhile is
// rolled back right after it.
func (t *tx) run(fn func(ctx context.Context) engine.Completion) func(ctx context.Context) engine.Completion {
	return func(ctx context.Context) engine.Completion {
		t.mu.Lock()
		if t.finished {
			t.mu.Unlock()
			return failed(errTxDone)
		}
		t.busy = true
		t.mu.Unlock()
		c := fn(ctx)
		t.mu.Lock()
		t.busy = false
		roll := t.abandoned && !t.finished
		if roll {
			t.finished = true
		}
		t.mu.Unlock()
		if roll {
			rollbackNow(t.be)
		}
		return c
	}
}

// rollbackNow rolls bt back with a context of its own (the db's may be cancelled).
func rollbackNow(bt txBackend) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	bt.rollback(ctx)
}

// abandon rolls back a transaction Lua collected, or one open at the worker's end, and
// gives its db's place back. Loop only.
func (t *tx) abandon(w *engine.Worker) {
	if t.ended {
		return
	}
	t.ended = true
	t.lane.fail(w, errTxDone)
	d := t.db
	t.mu.Lock()
	roll := false
	if !t.finished {
		if t.busy {
			t.abandoned = true // the statement's task rolls back when it ends
		} else {
			t.finished, roll = true, true
		}
	}
	t.mu.Unlock()
	if roll {
		be := t.be
		if !d.e.Go("sql: rollback", func() { rollbackNow(be) }) {
			rollbackNow(be)
		}
	}
	delete(d.txs, t)
	if w.Closing() {
		return
	}
	d.lane.release(w)
	d.maybeShut(w)
}

func (t *tx) submit(w *engine.Worker, j *job) {
	j.run = t.run(j.run)
	t.lane.submit(w, j)
}

func txStatement(c *engine.Call, fn func(d *db, q func() querier, text string, args []any) func(ctx context.Context) engine.Completion) int {
	w := engine.WorkerOf(c)
	t := w.Object(c, 1, txClass).(*tx)
	text, args, cbArg := statement(c, t.db)
	op := w.ReserveCall(c, cbArg)
	t.submit(w, t.db.newJob(op, fn(t.db, func() querier { return t.be }, text, args)))
	return op.Return(c)
}

// tx:query(sql, args..., cb), tx:exec(sql, args..., cb): as the db's, inside the transaction.
func txQuery(c *engine.Call) int { return txStatement(c, queryJob) }
func txExec(c *engine.Call) int  { return txStatement(c, execJob) }

// tx:commit(cb), tx:rollback(cb): cb(nil) once done; the transaction is closed at once
// (its methods raise) and its connection goes back to the db when it is done.
func txCommit(c *engine.Call) int   { return txEnd(c, true) }
func txRollback(c *engine.Call) int { return txEnd(c, false) }

func txEnd(c *engine.Call, commit bool) int {
	w := engine.WorkerOf(c)
	t := w.Object(c, 1, txClass).(*tx)
	op := w.ReserveCall(c, 2)
	w.Release(t.id)
	t.ended = true
	d := t.db
	j := d.newJob(op, func(ctx context.Context) engine.Completion {
		t.mu.Lock()
		if t.finished {
			t.mu.Unlock()
			return failed(errTxDone)
		}
		t.busy = true
		t.mu.Unlock()
		var err error
		if commit {
			err = t.be.commit(ctx)
		} else {
			err = t.be.rollback(ctx)
		}
		t.mu.Lock()
		t.busy, t.finished = false, true
		t.mu.Unlock()
		if err != nil {
			if !commit {
				// The transaction is over whatever the server said: a failed rollback
				// has its connection closed.
				return failed(d.classify(ctx, err))
			}
			rollbackNow(t.be) // releases the connection if commit did not get that far
			return failed(d.classify(ctx, err))
		}
		return func(w *engine.Worker, a *engine.Args) { a.Nil() }
	})
	j.done = func(w *engine.Worker) {
		delete(d.txs, t)
		d.lane.release(w)
		d.maybeShut(w)
	}
	t.lane.submit(w, j)
	return op.Return(c)
}

func txString(c *engine.Call) int {
	w := engine.WorkerOf(c)
	if id := w.ObjectID(c, 1, txClass); id != 0 {
		if _, ok := w.Lookup(id); ok {
			return c.ReturnString("sql.tx")
		}
	}
	return c.ReturnString("sql.tx (closed)")
}
