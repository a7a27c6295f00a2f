// Package postgres is the scale-out store: PostgreSQL through pgx's
// database/sql driver, shared by any number of `coffer serve` processes.
//
// Each Write is one READ COMMITTED transaction whose reads of the records it
// may change lock them (sqlstore's RowLocks: SELECT … FOR UPDATE, and a named
// advisory lock for a count whose row may not exist yet), and whose inserts
// meet unique constraints (an idempotency claim, a customer's reference, a
// customer's card). So a Write that reads and then writes behaves as it does
// on SQLite, where one writer runs writes one after another, while writes of
// different records never wait for or abort each other. SERIALIZABLE would
// give the same answers without the locks, but at the price of aborting
// writers whose reads merely touched the same index pages: under load a
// merchant's concurrent payments were aborted until their retries ran out
// (409 operation_in_progress) where SQLite would have served every one.
//
// PostgreSQL already commits concurrent transactions together (one WAL flush
// for many commits), so no batching is needed here for group commit.
// synchronous_commit is forced on for every session, so a nil Write is
// durable whatever the server's or the database's defaults say.
//
// A transaction that PostgreSQL aborts to break a deadlock (40P01) or to keep
// a serial order (40001) is run again, whole: fn may be called more than once
// and must not depend on state it changed in an earlier attempt.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/store/sqlstore"
	"github.com/coffer-vault/coffer/internal/vault"
)

//go:embed migrations/*.sql
var migrations embed.FS

// PoolSize is the most connections one process holds. Requests beyond it wait
// for a connection; a commit is mostly waiting on the server's WAL flush, so a
// few connections per core keep a small server busy without thrashing it.
const PoolSize = 16

// MaxAttempts bounds how often a Write is run when PostgreSQL reports a
// serialization failure or a deadlock.
const MaxAttempts = 10

// migrateLock is the pg_advisory_xact_lock key that serialises migrations
// between processes starting at the same time ("coffer" in ASCII).
const migrateLock int64 = 0x636f66666572

// commitTimeout bounds a write transaction once it has begun. The caller's
// context does not cancel the COMMIT: a caller must learn whether its write
// became durable, not see it abandoned half way.
const commitTimeout = 30 * time.Second

// ErrClosed is returned by Read, Write and Ping after Close.
var ErrClosed = errors.New("postgres: store closed")

// SQLSTATE codes this package acts on.
const (
	codeUniqueViolation      = "23505"
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
)

var dialect = &sqlstore.Dialect{Positional: true, EventSeqSequence: true, IsUniqueViolation: func(err error) bool {
	return errors.Is(err, errNothingInserted) || sqlState(err) == codeUniqueViolation
}, JSONText: func(column, key string) string { return `(` + column + `::jsonb ->> '` + key + `')` }}

// writeDialect is dialect for Writes: their reads of what they may change
// take row locks (a read-only transaction may not).
var writeDialect = func() *sqlstore.Dialect { d := *dialect; d.RowLocks = true; return &d }()

func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

func retryable(err error) bool {
	c := sqlState(err)
	return c == codeSerializationFailure || c == codeDeadlockDetected
}

// Store is the PostgreSQL backend.
type Store struct {
	db     *sql.DB
	closed atomic.Bool
	once   sync.Once
}

// Open connects to databaseURL (a postgres:// URL or a key=value DSN, as pgx
// accepts) and migrates the database. Several processes may Open the same
// database at once: migrations run under an advisory lock.
func Open(ctx context.Context, databaseURL string) (*Store, error) {
	cfg, err := pgx.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	// Sent in the startup packet, these are session settings that outrank
	// postgresql.conf, ALTER SYSTEM and per-database or per-role defaults.
	cfg.RuntimeParams["synchronous_commit"] = "on"
	if cfg.RuntimeParams["application_name"] == "" {
		cfg.RuntimeParams["application_name"] = "coffer"
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(PoolSize)
	db.SetMaxIdleConns(PoolSize)
	db.SetConnMaxIdleTime(5 * time.Minute)
	db.SetConnMaxLifetime(time.Hour)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	if err := migrate(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	return &Store{db: db}, nil
}

// PeekKeys reads what the database remembers of its key-encryption keys
// (see sqlstore.PeekKeys) in a read-only transaction, without migrating, so
// a command started with the wrong key can be refused before it changes
// anything.
func PeekKeys(ctx context.Context, databaseURL string) (checks map[uint32][]byte, sample []vault.DataKey, err error) {
	cfg, err := pgx.ParseConfig(databaseURL)
	if err != nil {
		return nil, nil, fmt.Errorf("postgres: %w", err)
	}
	if cfg.RuntimeParams["application_name"] == "" {
		cfg.RuntimeParams["application_name"] = "coffer"
	}
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	tx, err := db.BeginTx(ctx, readOptions)
	if err != nil {
		return nil, nil, fmt.Errorf("postgres: connect: %w", err)
	}
	defer tx.Rollback()
	checks, sample, err = sqlstore.PeekKeys(ctx, tx, dialect, func(name string) (bool, error) {
		var ok bool
		err := tx.QueryRowContext(ctx, `SELECT to_regclass($1) IS NOT NULL`, name).Scan(&ok)
		return ok, err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("postgres: %w", err)
	}
	return checks, sample, nil
}

func migrate(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	defer tx.Rollback()
	// Held until this transaction ends: a second process starting now waits
	// here, then finds the migrations applied.
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, migrateLock); err != nil {
		return fmt.Errorf("postgres: migrate: lock: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	var cur int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&cur); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, n := range names {
		base := path.Base(n)
		ver, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("postgres: migration %s: bad name", base)
		}
		if ver <= cur {
			continue
		}
		body, err := migrations.ReadFile(n)
		if err != nil {
			return err
		}
		// No arguments: pgx sends it with the simple protocol, so a file may
		// hold several statements.
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			return fmt.Errorf("postgres: migration %s: %w", base, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied) VALUES ($1, $2)`, ver, time.Now().UnixMicro()); err != nil {
			return fmt.Errorf("postgres: migration %s: %w", base, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("postgres: migrate: commit: %w", err)
	}
	return nil
}

// A Read sees one snapshot (REPEATABLE READ, which is a snapshot in
// PostgreSQL) and cannot write; a Write is READ COMMITTED with row locks (see
// the package comment).
var (
	readOptions  = &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
	writeOptions = &sql.TxOptions{Isolation: sql.LevelReadCommitted}
)

// Read runs fn in a read-only transaction on one consistent snapshot.
func (s *Store) Read(ctx context.Context, fn func(store.Tx) error) error {
	if s.closed.Load() {
		return ErrClosed
	}
	tx, err := s.db.BeginTx(ctx, readOptions)
	if err != nil {
		return s.connErr("begin", err)
	}
	defer tx.Rollback()
	return fn(sqlstore.NewTx(ctx, tx, dialect))
}

// Write runs fn in a READ COMMITTED transaction with row locks and commits
// it; nil means the commit is durable. A deadlock or serialization failure
// runs fn again (up to
// MaxAttempts in all, with a short random back-off between attempts).
func (s *Store) Write(ctx context.Context, fn func(store.Tx) error) error {
	backoff := 2 * time.Millisecond
	for attempt := 1; ; attempt++ {
		if s.closed.Load() {
			return ErrClosed
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		retry, err := s.write(ctx, fn)
		if !retry {
			return err
		}
		if attempt == MaxAttempts {
			return fmt.Errorf("%w: %v", store.ErrContention, err)
		}
		t := time.NewTimer(rand.N(backoff) + time.Millisecond)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return err
		}
		backoff = min(2*backoff, 100*time.Millisecond)
	}
}

// write makes one attempt; retry reports a serialization failure or deadlock.
func (s *Store) write(ctx context.Context, fn func(store.Tx) error) (retry bool, err error) {
	// Wait for a pooled connection as long as the caller is willing to...
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return false, s.connErr("connect", err)
	}
	defer conn.Close()
	// ...but once the transaction has begun, the caller's context ending
	// aborts fn's statements, never the COMMIT.
	tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	tx, err := conn.BeginTx(tctx, writeOptions)
	if err != nil {
		return false, fmt.Errorf("postgres: begin: %w", err)
	}
	defer tx.Rollback() // a no-op after Commit
	q := &querier{tx: tx}
	if err := call(fn, sqlstore.NewTx(ctx, q, writeDialect)); err != nil {
		var p panicError
		return !errors.As(err, &p) && (q.retry || retryable(err)), err
	}
	if err := tx.Commit(); err != nil {
		return q.retry || retryable(err), fmt.Errorf("postgres: commit: %w", err)
	}
	return false, nil
}

func (s *Store) connErr(op string, err error) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

type panicError struct{ v any }

func (p panicError) Error() string { return fmt.Sprintf("postgres: write panicked: %v", p.v) }

// call turns a panic in fn into its Write's error, as the SQLite backend does,
// so both backends fail a panicking Write the same way.
func call(fn func(store.Tx) error, t store.Tx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = panicError{r}
		}
	}()
	return fn(t)
}

// querier runs fn's statements in the transaction.
//
// In PostgreSQL a failed statement aborts the whole transaction, whereas
// SQLite only undoes that statement. So that fn may carry on after
// store.ErrConflict on both backends (say, to fetch the record it collided
// with), a unique violation must not abort the transaction:
//   - an INSERT gets ON CONFLICT DO NOTHING, and inserting no row is the
//     conflict (sqlstore's INSERTs are single-row VALUES). This costs no
//     extra round trip, and INSERTs are where conflicts happen;
//   - an UPDATE runs under a savepoint that a unique violation rolls back to
//     (two more round trips; an UPDATE conflicts only when it brings a
//     deleted token back while the card has a live one).
//
// Any other error leaves the transaction aborted, and fn has to fail.
// querier also notes serialization failures and deadlocks, even ones fn
// swallows, so that Write runs fn again.
type querier struct {
	tx    *sql.Tx
	retry bool
}

// errNothingInserted is an INSERT … ON CONFLICT DO NOTHING that inserted no
// row: the dialect reports it as store.ErrConflict.
var errNothingInserted = errors.New("postgres: a row with the same unique key exists")

func (q *querier) note(err error) error {
	if err != nil && retryable(err) {
		q.retry = true
	}
	return err
}

func verb(query string) string {
	query = strings.TrimSpace(query)
	if i := strings.IndexFunc(query, func(r rune) bool { return r == ' ' || r == '\n' || r == '\t' }); i > 0 {
		return strings.ToUpper(query[:i])
	}
	return strings.ToUpper(query)
}

func (q *querier) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	switch verb(query) {
	case "INSERT":
		if strings.Contains(strings.ToUpper(query), "ON CONFLICT") || strings.Contains(strings.ToUpper(query), "RETURNING") {
			break
		}
		res, err := q.tx.ExecContext(ctx, query+` ON CONFLICT DO NOTHING`, args...)
		if err != nil {
			return nil, q.note(err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return nil, errors.Join(errNothingInserted, err)
		}
		return res, nil
	case "UPDATE":
		return q.savepoint(ctx, query, args)
	}
	res, err := q.tx.ExecContext(ctx, query, args...)
	return res, q.note(err)
}

func (q *querier) savepoint(ctx context.Context, query string, args []any) (sql.Result, error) {
	if _, err := q.tx.ExecContext(ctx, `SAVEPOINT stmt`); err != nil {
		return nil, q.note(err)
	}
	res, err := q.tx.ExecContext(ctx, query, args...)
	if err != nil {
		q.note(err)
		if sqlState(err) != codeUniqueViolation {
			return nil, err
		}
		if _, rerr := q.tx.ExecContext(ctx, `ROLLBACK TO SAVEPOINT stmt`); rerr != nil {
			return nil, errors.Join(err, q.note(rerr))
		}
	}
	if _, rerr := q.tx.ExecContext(ctx, `RELEASE SAVEPOINT stmt`); rerr != nil {
		return nil, errors.Join(err, q.note(rerr))
	}
	return res, err
}

func (q *querier) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	rs, err := q.tx.QueryContext(ctx, query, args...)
	return rs, q.note(err)
}

func (q *querier) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	r := q.tx.QueryRowContext(ctx, query, args...)
	q.note(r.Err())
	return r
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if s.closed.Load() {
		return ErrClosed
	}
	return s.db.PingContext(ctx)
}

// Close closes the pool; transactions already running finish first. Calling
// it again does nothing.
func (s *Store) Close() error {
	var err error
	s.once.Do(func() {
		s.closed.Store(true)
		err = s.db.Close()
	})
	return err
}
