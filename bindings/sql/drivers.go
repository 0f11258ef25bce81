package sql

import (
	"context"
	gosql "database/sql"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/drlee/drlee/engine"
)

// What both drivers do, on the pool. A querier is a db or one of its transactions.
type querier interface {
	query(ctx context.Context, text string, args []any) (*result, error)
	exec(ctx context.Context, text string, args []any) (execResult, error)
}

type backend interface {
	querier
	begin(ctx context.Context) (txBackend, error)
	close()
}

type txBackend interface {
	querier
	commit(ctx context.Context) error
	rollback(ctx context.Context) error
}

type execResult struct {
	rows      int64
	lastID    int64
	hasLastID bool
}

// PostgreSQL: pgx's pool, bounded by max_conns.

type pgBackend struct{ pool *pgxpool.Pool }

func openPG(ctx context.Context, uri string, o options) (backend, error) {
	cfg, err := pgxpool.ParseConfig(uri)
	if err != nil {
		return nil, engine.WithCode("EINVAL", err)
	}
	cfg.MaxConns = int32(o.maxConns)
	cfg.MinConns = 0
	if cfg.ConnConfig.ConnectTimeout == 0 || cfg.ConnConfig.ConnectTimeout > o.connectTimeout {
		cfg.ConnConfig.ConnectTimeout = o.connectTimeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	// A first connection, so that a wrong address, password or database name is open's
	// error (ECONNREFUSED, ESQL 28P01...) rather than the first query's.
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return &pgBackend{pool}, nil
}

// pgConn is what pgxpool.Pool and pgx.Tx have in common.
type pgConn interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

func (b *pgBackend) query(ctx context.Context, text string, args []any) (*result, error) {
	return pgQuery(ctx, b.pool, text, args)
}
func (b *pgBackend) exec(ctx context.Context, text string, args []any) (execResult, error) {
	return pgExec(ctx, b.pool, text, args)
}
func (b *pgBackend) begin(ctx context.Context) (txBackend, error) {
	t, err := b.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return &pgTx{t}, nil
}
func (b *pgBackend) close() { b.pool.Close() }

type pgTx struct{ tx pgx.Tx }

func (t *pgTx) query(ctx context.Context, text string, args []any) (*result, error) {
	return pgQuery(ctx, t.tx, text, args)
}
func (t *pgTx) exec(ctx context.Context, text string, args []any) (execResult, error) {
	return pgExec(ctx, t.tx, text, args)
}
func (t *pgTx) commit(ctx context.Context) error   { return t.tx.Commit(ctx) }
func (t *pgTx) rollback(ctx context.Context) error { return t.tx.Rollback(ctx) }

func pgExec(ctx context.Context, c pgConn, text string, args []any) (execResult, error) {
	if len(args) == 0 {
		// The simple protocol: a script of several statements (a schema) runs whole.
		args = []any{pgx.QueryExecModeSimpleProtocol}
	}
	tag, err := c.Exec(ctx, text, args...)
	if err != nil {
		return execResult{}, err
	}
	return execResult{rows: tag.RowsAffected()}, nil
}

func pgQuery(ctx context.Context, c pgConn, text string, args []any) (*result, error) {
	rows, err := c.Query(ctx, text, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	fds := rows.FieldDescriptions()
	res := &result{cols: make([]string, len(fds))}
	for i, fd := range fds {
		res.cols[i] = fd.Name
	}
	tm := rows.Conn().TypeMap()
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return nil, err
		}
		raw := rows.RawValues()
		for i, v := range vals {
			res.cells = append(res.cells, pgCell(tm, fds[i], v, raw[i]))
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return res, nil
}

// pgCell normalises one value pgx decoded (Rows.Values) to a kind writeCell knows: json
// and jsonb as their text (decoded on the loop as json.decode does), date as
// "YYYY-MM-DD" (a day is no instant), numeric as its exact decimal text, and whatever has
// no Lua counterpart (uuid, interval, inet, time, money, ranges...) as PostgreSQL's text
// form of it.
func pgCell(tm *pgtype.Map, fd pgconn.FieldDescription, v any, raw []byte) any {
	if v == nil {
		return nil
	}
	switch fd.DataTypeOID {
	case pgtype.JSONOID, pgtype.JSONBOID:
		b := raw
		if fd.DataTypeOID == pgtype.JSONBOID && fd.Format == pgtype.BinaryFormatCode && len(b) > 0 && b[0] == 1 {
			b = b[1:] // jsonb's binary format: a version byte, then the text
		}
		return jsonText(append([]byte(nil), b...))
	case pgtype.DateOID:
		if t, ok := v.(time.Time); ok {
			return t.Format("2006-01-02")
		}
	}
	return pgNormalize(tm, fd.DataTypeOID, v)
}

func pgNormalize(tm *pgtype.Map, oid uint32, v any) any {
	switch v := v.(type) {
	case nil, int64, float64, string, bool, []byte:
		return v
	case time.Time:
		return v
	case int16:
		return int64(v)
	case int32:
		return int64(v)
	case uint32:
		return int64(v)
	case float32:
		// The float4's shortest decimal, not its exact binary value: real '1.1' is 1.1.
		f, _ := strconv.ParseFloat(strconv.FormatFloat(float64(v), 'g', -1, 32), 64)
		return f
	case pgtype.Numeric:
		if s, err := v.Value(); err == nil {
			if s, ok := s.(string); ok {
				return s
			}
		}
	case []any:
		elem := uint32(0)
		if t, ok := tm.TypeForOID(oid); ok {
			if ac, ok := t.Codec.(*pgtype.ArrayCodec); ok {
				elem = ac.ElementType.OID
			}
		}
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = pgNormalize(tm, elem, e)
		}
		return out
	}
	if oid != 0 {
		if b, err := tm.Encode(oid, pgtype.TextFormatCode, v, nil); err == nil && b != nil {
			return string(b)
		}
	}
	return fmt.Sprint(v)
}

// SQLite: database/sql over modernc.org/sqlite (pure Go).

type sqliteBackend struct {
	db   *gosql.DB
	base context.Context // a transaction lives until it ends, not until its begin's deadline
}

// sqliteDSN turns "sqlite:path[?query]" into the driver's DSN: a file URI with WAL (readers
// do not wait for the writer), a busy timeout (a writer waits up to 5 s for another
// connection's write to end, rather than failing with SQLITE_BUSY at once), foreign keys
// on, and BEGIN IMMEDIATE for transactions (a transaction takes the write lock when it
// begins, so that two transactions that read then write cannot deadlock into SQLITE_BUSY).
// The query's own parameters come first and win. ":memory:" is a database of its own per
// connection, so open keeps it to one connection.
func sqliteDSN(rest string) (dsn string, memory bool, err error) {
	path, query, _ := strings.Cut(rest, "?")
	if path == "" {
		return "", false, errors.New("sqlite: no path (sqlite:path or sqlite::memory:)")
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return "", false, fmt.Errorf("sqlite: bad query: %w", err)
	}
	memory = path == ":memory:"
	pragmas := []string{"busy_timeout(5000)", "foreign_keys(1)"}
	if !memory {
		pragmas = append(pragmas, "journal_mode(WAL)", "synchronous(NORMAL)")
	}
	have := map[string]bool{}
	for _, p := range q["_pragma"] {
		name, _, _ := strings.Cut(p, "(")
		have[strings.ToLower(strings.TrimSpace(name))] = true
	}
	for _, p := range pragmas {
		name, _, _ := strings.Cut(p, "(")
		if !have[name] {
			q.Add("_pragma", p)
		}
	}
	if q.Get("_txlock") == "" {
		q.Set("_txlock", "immediate")
	}
	u := url.URL{Path: path}
	return "file:" + u.EscapedPath() + "?" + q.Encode(), memory, nil
}

func openSQLite(ctx context.Context, base context.Context, rest string, o options) (backend, error) {
	dsn, memory, err := sqliteDSN(rest)
	if err != nil {
		return nil, engine.WithCode("EINVAL", err)
	}
	db, err := gosql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	n := o.maxConns
	if memory {
		n = 1
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return &sqliteBackend{db: db, base: base}, nil
}

// sqlExec is what *sql.DB and *sql.Tx have in common.
type sqlExec interface {
	QueryContext(ctx context.Context, query string, args ...any) (*gosql.Rows, error)
	ExecContext(ctx context.Context, query string, args ...any) (gosql.Result, error)
}

func (b *sqliteBackend) query(ctx context.Context, text string, args []any) (*result, error) {
	return sqliteQuery(ctx, b.db, text, args)
}
func (b *sqliteBackend) exec(ctx context.Context, text string, args []any) (execResult, error) {
	return sqliteExec(ctx, b.db, text, args)
}
func (b *sqliteBackend) begin(ctx context.Context) (txBackend, error) {
	// database/sql rolls a transaction back when the context given to BeginTx ends: the
	// db's, which ends only when the db is closed by force.
	t, err := b.db.BeginTx(b.base, nil)
	if err != nil {
		return nil, err
	}
	return &sqliteTx{t}, nil
}
func (b *sqliteBackend) close() { b.db.Close() }

type sqliteTx struct{ tx *gosql.Tx }

func (t *sqliteTx) query(ctx context.Context, text string, args []any) (*result, error) {
	return sqliteQuery(ctx, t.tx, text, args)
}
func (t *sqliteTx) exec(ctx context.Context, text string, args []any) (execResult, error) {
	return sqliteExec(ctx, t.tx, text, args)
}
func (t *sqliteTx) commit(context.Context) error   { return t.tx.Commit() }
func (t *sqliteTx) rollback(context.Context) error { return t.tx.Rollback() }

func sqliteExec(ctx context.Context, c sqlExec, text string, args []any) (execResult, error) {
	r, err := c.ExecContext(ctx, text, args...)
	if err != nil {
		return execResult{}, err
	}
	n, _ := r.RowsAffected()
	id, err := r.LastInsertId()
	return execResult{rows: n, lastID: id, hasLastID: err == nil}, nil
}

func sqliteQuery(ctx context.Context, c sqlExec, text string, args []any) (*result, error) {
	rows, err := c.QueryContext(ctx, text, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cts, err := rows.ColumnTypes()
	if err != nil {
		return nil, err
	}
	res := &result{cols: make([]string, len(cts))}
	kinds := make([]string, len(cts))
	for i, ct := range cts {
		res.cols[i] = ct.Name()
		kinds[i] = strings.ToUpper(ct.DatabaseTypeName())
	}
	vals := make([]any, len(cts))
	ptrs := make([]any, len(cts))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		for i, v := range vals {
			res.cells = append(res.cells, sqliteCell(kinds[i], v))
			vals[i] = nil
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return res, nil
}

// sqliteCell normalises a value by its column's declared type: SQLite has no booleans and
// no JSON, so an integer in a column declared BOOLEAN (or BOOL) is a boolean, and text in
// a column declared JSON is decoded. Times come as the driver parsed them (columns
// declared DATE, DATETIME or TIMESTAMP).
func sqliteCell(kind string, v any) any {
	switch v := v.(type) {
	case int64:
		if kind == "BOOLEAN" || kind == "BOOL" {
			return v != 0
		}
	case string:
		if kind == "JSON" {
			return jsonText(v)
		}
	case []byte:
		if kind == "JSON" {
			return jsonText(v)
		}
	}
	return v
}

// Errors.

// sqlError is an error the database reported about the statement: its code is ESQL (EBUSY
// for SQLite's busy and locked), and its text starts with the SQLSTATE, so that a script
// tells a unique violation ("ESQL: 23505 ...") from a syntax error ("ESQL: 42601 ...").
type sqlError struct {
	code, state, msg string
	err              error
}

func (e *sqlError) Error() string     { return e.state + " " + e.msg }
func (e *sqlError) ErrorCode() string { return e.code }
func (e *sqlError) Unwrap() error     { return e.err }

// SQLite's constraint violations, with the SQLSTATE PostgreSQL gives the same violation:
// a script checks for 23505 whichever database it talks to.
var sqliteStates = map[int]string{
	sqlite3.SQLITE_CONSTRAINT_UNIQUE:     "23505",
	sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY: "23505",
	sqlite3.SQLITE_CONSTRAINT_NOTNULL:    "23502",
	sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY: "23503",
	sqlite3.SQLITE_CONSTRAINT_CHECK:      "23514",
}

var sqliteNames = map[int]string{
	1: "ERROR", 2: "INTERNAL", 3: "PERM", 4: "ABORT", 5: "BUSY", 6: "LOCKED", 7: "NOMEM",
	8: "READONLY", 9: "INTERRUPT", 10: "IOERR", 11: "CORRUPT", 12: "NOTFOUND", 13: "FULL",
	14: "CANTOPEN", 15: "PROTOCOL", 16: "EMPTY", 17: "SCHEMA", 18: "TOOBIG", 19: "CONSTRAINT",
	20: "MISMATCH", 21: "MISUSE", 22: "NOLFS", 23: "AUTH", 24: "FORMAT", 25: "RANGE",
	26: "NOTADB",
}

// sqlErr gives a database's error its code and its SQLSTATE; other errors (the network's,
// a context's) are left to the engine's classification.
func sqlErr(err error) error {
	if errors.Is(err, pgx.ErrTxCommitRollback) {
		// PostgreSQL answers COMMIT of a failed transaction with ROLLBACK, not an error.
		return &sqlError{code: "ESQL", state: "25P02", msg: "the transaction had failed: commit rolled it back", err: err}
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		msg := pe.Message
		if pe.Detail != "" {
			msg += " (" + pe.Detail + ")"
		}
		return &sqlError{code: "ESQL", state: pe.Code, msg: msg, err: err}
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		code := se.Code()
		state, ok := sqliteStates[code]
		if !ok {
			name := sqliteNames[code&0xff]
			if name == "" {
				name = strconv.Itoa(code)
			}
			state = "SQLITE_" + name
		}
		c := "ESQL"
		if p := code & 0xff; p == sqlite3.SQLITE_BUSY || p == sqlite3.SQLITE_LOCKED {
			c = "EBUSY"
		}
		return &sqlError{code: c, state: state, msg: se.Error(), err: err}
	}
	return err
}
