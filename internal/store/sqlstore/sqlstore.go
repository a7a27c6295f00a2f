// Package sqlstore implements store.Tx once, in portable SQL over
// database/sql, for every SQL backend. Backends supply the connection
// handling (and group commit) and a Dialect for the few differences.
//
// This file holds the Tx type, the statement cache and the helpers every
// query shares; each entity's queries live in a file named as its
// repository's file in package store (tokens.go implements store.TokenTx…).
package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coffer-vault/coffer/internal/plainjson"
	"github.com/coffer-vault/coffer/internal/store"
)

// Dialect is what differs between SQL backends.
type Dialect struct {
	// Positional reports whether placeholders are $1, $2… rather than ?.
	Positional bool
	// IsUniqueViolation recognises the backend's unique-constraint error.
	IsUniqueViolation func(error) bool
	// EventSeqSequence numbers events from the database sequence
	// event_seq (increasing per merchant, with gaps) instead of the
	// merchant's MAX(seq)+1: where writers of one merchant run side by side
	// that read would make them take the same number.
	EventSeqSequence bool
	// RowLocks is set on backends whose writes run under READ COMMITTED
	// (PostgreSQL): a write's single-row reads of records it may go on to
	// change take the row's lock (SELECT … FOR UPDATE), and a read of a
	// count it may go on to raise takes a lock named after it. Two writes of
	// one record then run one after the other, each seeing the other's
	// result, as SQLite's one writer runs every write; writes of different
	// records never wait for each other.
	RowLocks bool
	// JSONText is the SQL expression for the text of key in the JSON
	// object stored in column (NULL when absent): each backend spells it
	// its own way.
	JSONText func(column, key string) string
}

// Querier is satisfied by *sql.Tx and *sql.Conn.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// conn is what every entity's queries share: the transaction, its context,
// the dialect and the statement cache.
type conn struct {
	ctx   context.Context
	q     Querier
	d     *Dialect
	tx    *sql.Tx
	stmts *Stmts
	seqs  *EventSeqs // the single writer's memory of event numbers, or nil
	// bound holds the statements bound to tx so far: a writer's batch runs
	// the same few queries for every request in it, and binding a statement
	// again each time cost an allocation and a lock per query.
	bound map[*sql.Stmt]*sql.Stmt
}

// Tx adapts a Querier to store.Tx: one value per entity's queries, each in
// the file named after its repository in package store, all on one conn.
type Tx struct {
	*conn
	auditQueries
	challengeQueries
	customerQueries
	dataKeyQueries
	deliveryQueries
	eventQueries
	idempotencyQueries
	instanceQueries
	merchantQueries
	paymentQueries
	sessionQueries
	tokenQueries
	processorAccountQueries
	apiKeyQueries
	simulatorQueries
	dashboardQueries
}

func newTx(c *conn) *Tx {
	return &Tx{conn: c, auditQueries: auditQueries{c}, challengeQueries: challengeQueries{c}, customerQueries: customerQueries{c},
		dataKeyQueries: dataKeyQueries{c}, deliveryQueries: deliveryQueries{c}, eventQueries: eventQueries{c},
		idempotencyQueries: idempotencyQueries{c}, instanceQueries: instanceQueries{c}, merchantQueries: merchantQueries{c},
		paymentQueries: paymentQueries{c}, sessionQueries: sessionQueries{c}, tokenQueries: tokenQueries{c},
		processorAccountQueries: processorAccountQueries{c}, simulatorQueries: simulatorQueries{c},
		apiKeyQueries: apiKeyQueries{c}, dashboardQueries: dashboardQueries{c}}
}

// NewTx wraps q, valid for the life of the transaction it belongs to.
func NewTx(ctx context.Context, q Querier, d *Dialect) *Tx { return newTx(&conn{ctx: ctx, q: q, d: d}) }

// NewCachedTx wraps a transaction whose statements come from a cache of
// prepared statements: parsing SQL on every call costs more CPU than running
// the small queries a request makes.
func NewCachedTx(ctx context.Context, tx *sql.Tx, d *Dialect, stmts *Stmts) *Tx {
	return newTx(&conn{ctx: ctx, q: tx, d: d, tx: tx, stmts: stmts})
}

// Stmts caches prepared statements of one *sql.DB by query text. The set of
// queries is fixed by this package, so the cache is bounded.
//
// Preparing needs a free connection, and inside a transaction there may be
// none (the SQLite writer has exactly one, and it is in the transaction). So
// a miss runs the query unprepared and queues it; PrepareQueued, called when
// the caller holds no connection, prepares the queue.
type Stmts struct {
	db *sql.DB
	m  sync.Map // query → *sql.Stmt

	mu     sync.Mutex
	queued map[string]bool
}

// NewStmts returns an empty cache for db.
func NewStmts(db *sql.DB) *Stmts { return &Stmts{db: db, queued: map[string]bool{}} }

// lookup returns the prepared statement, or nil after queueing the query.
func (c *Stmts) lookup(query string) *sql.Stmt {
	if v, ok := c.m.Load(query); ok {
		return v.(*sql.Stmt)
	}
	c.mu.Lock()
	c.queued[query] = true
	c.mu.Unlock()
	return nil
}

// PrepareQueued prepares the queries that missed. Call it only while holding
// no connection of the pool. A query that fails to prepare is dropped: it
// keeps running unprepared and reports its own error there.
func (c *Stmts) PrepareQueued(ctx context.Context) {
	c.mu.Lock()
	if len(c.queued) == 0 {
		c.mu.Unlock()
		return
	}
	qs := make([]string, 0, len(c.queued))
	for q := range c.queued {
		qs = append(qs, q)
	}
	clear(c.queued)
	c.mu.Unlock()
	for _, q := range qs {
		if _, ok := c.m.Load(q); ok {
			continue
		}
		st, err := c.db.PrepareContext(ctx, q)
		if err != nil {
			continue
		}
		if _, loaded := c.m.LoadOrStore(q, st); loaded {
			st.Close()
		}
	}
}

// Len reports how many statements are prepared and how many wait to be.
func (c *Stmts) Len() (prepared, queued int) {
	c.m.Range(func(any, any) bool { prepared++; return true })
	c.mu.Lock()
	queued = len(c.queued)
	c.mu.Unlock()
	return prepared, queued
}

// Close closes every cached statement.
func (c *Stmts) Close() {
	c.m.Range(func(k, v any) bool {
		v.(*sql.Stmt).Close()
		c.m.Delete(k)
		return true
	})
}

// stmt returns the transaction-bound prepared statement for q, or nil when
// this Tx does not cache.
func (t *conn) stmt(q string) (*sql.Stmt, error) {
	if t.stmts == nil {
		return nil, nil
	}
	st := t.stmts.lookup(q)
	if st == nil {
		return nil, nil
	}
	// A statement prepared on the pool is reused on this transaction's
	// connection (database/sql prepares it there once, then keeps it).
	if b, ok := t.bound[st]; ok {
		return b, nil
	}
	b := t.tx.StmtContext(t.ctx, st)
	if t.bound == nil {
		t.bound = make(map[*sql.Stmt]*sql.Stmt, 8)
	}
	t.bound[st] = b
	return b, nil
}

// Exec runs a statement without arguments through the cache (savepoints).
func (t *conn) Exec(q string) error {
	_, err := t.exec(q)
	return err
}

var _ store.Tx = (*Tx)(nil)

// rebind rewrites ? placeholders as $n for positional dialects.
func (t *conn) rebind(q string) string {
	if !t.d.Positional {
		return q
	}
	return Rebind(q)
}

// Rebind rewrites ? placeholders as $1, $2…. Queries here never contain a
// literal '?', so a plain scan is safe.
func Rebind(q string) string {
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (t *conn) exec(q string, args ...any) (sql.Result, error) {
	q = t.rebind(q)
	var res sql.Result
	st, err := t.stmt(q)
	switch {
	case err != nil:
	case st != nil:
		res, err = st.ExecContext(t.ctx, args...)
	default:
		res, err = t.q.ExecContext(t.ctx, q, args...)
	}
	if err != nil && t.d.IsUniqueViolation != nil && t.d.IsUniqueViolation(err) {
		return nil, fmt.Errorf("%w: %v", store.ErrConflict, err)
	}
	return res, err
}

// row runs a single-row query through the statement cache when there is one.
func (t *conn) row(q string, args ...any) *sql.Row {
	q = t.rebind(q)
	if st, _ := t.stmt(q); st != nil {
		return st.QueryRowContext(t.ctx, args...)
	}
	return t.q.QueryRowContext(t.ctx, q, args...)
}

// rowForUpdate is row for a record the transaction may go on to change: with
// RowLocks it holds the record's row lock until the transaction ends. Under
// READ COMMITTED the row it returns is the newest committed version, even
// when it had to wait for another writer's lock.
func (t *conn) rowForUpdate(q string, args ...any) *sql.Row {
	if t.d.RowLocks {
		q += ` FOR UPDATE`
	}
	return t.row(q, args...)
}

// lockName takes, with RowLocks, a lock named name until the transaction
// ends: for a record that may not exist yet, which no row lock can cover.
func (t *conn) lockName(name string) error {
	if !t.d.RowLocks {
		return nil
	}
	var ok string
	return t.row(`SELECT pg_advisory_xact_lock(hashtextextended(?, 0))::text`, name).Scan(&ok)
}

func (t *conn) rows(q string, args ...any) (*sql.Rows, error) {
	q = t.rebind(q)
	st, err := t.stmt(q)
	if err != nil {
		return nil, err
	}
	if st != nil {
		return st.QueryContext(t.ctx, args...)
	}
	return t.q.QueryContext(t.ctx, q, args...)
}

// Times are stored as Unix microseconds: portable, compact and sortable.
func ts(t time.Time) int64 { return t.UnixMicro() }

func fromTS(v int64) time.Time { return time.UnixMicro(v).UTC() }

func nullTS(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMicro()
}

func fromNullTS(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromTS(v.Int64)
	return &t
}

func nullStr(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only plain structs and maps are stored; failure is a programming error
	}
	return string(b)
}

func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}

func affected(res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// scanner is *sql.Row or *sql.Rows.
type scanner interface{ Scan(...any) error }

// collect scans every row of a query's result.
func collect[T any](rs *sql.Rows, err error, scan func(scanner) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []T
	for rs.Next() {
		v, err := scan(rs)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rs.Err()
}

// page returns one newest-first page of a merchant's rows of table matching
// cond. The cursor is the id of the previous page's last row: its (created,
// id) position continues the order, so inserts never shift a page.
func page[T any](t *conn, table, cols, cond string, args []any, merchantID, after string, limit int, scan func(scanner) (T, error)) ([]T, bool, error) {
	q := `SELECT ` + cols + ` FROM ` + table + ` WHERE merchant_id = ?` + cond
	args = append([]any{merchantID}, args...)
	if after != "" {
		var c int64
		if err := t.row(`SELECT created FROM `+table+` WHERE merchant_id = ? AND id = ?`, merchantID, after).Scan(&c); err != nil {
			return nil, false, notFound(err)
		}
		q += ` AND (created < ? OR (created = ? AND id < ?))`
		args = append(args, c, c, after)
	}
	q += ` ORDER BY created DESC, id DESC LIMIT ?`
	args = append(args, limit+1)
	rs, err := t.rows(q, args...)
	out, err := collect(rs, err, scan)
	if err != nil {
		return nil, false, err
	}
	if len(out) > limit {
		return out[:limit], true, nil
	}
	return out, false, nil
}

// metadataJSON is a record's metadata as stored: a JSON object, "{}" when
// empty, byte for byte what json.Marshal writes otherwise. It runs in the
// single writer for every token and payment.
func metadataJSON(m map[string]string) string {
	if len(m) == 0 {
		return "{}"
	}
	if b, ok := plainjson.StringMap(nil, m); ok {
		return string(b)
	}
	return mustJSON(m)
}

// nullJSON is v as JSON, or NULL for a nil pointer, so that "none" reads
// back as nil rather than as a zero value.
func nullJSON[T any](v *T) any {
	if v == nil {
		return nil
	}
	return mustJSON(v)
}

// fromNullJSON is the inverse of nullJSON.
func fromNullJSON[T any](s sql.NullString) (*T, error) {
	if !s.Valid {
		return nil, nil
	}
	v := new(T)
	if err := json.Unmarshal([]byte(s.String), v); err != nil {
		return nil, err
	}
	return v, nil
}
