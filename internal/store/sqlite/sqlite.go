// Package sqlite is the embedded store: SQLite through the pure-Go driver, in
// WAL mode. One writer goroutine owns the write connection and commits the
// writes of concurrent requests together (group commit), each still atomic
// on its own. Commits are pipelined (syncer.go): the writer commits with
// synchronous=NORMAL and a syncer goroutine fdatasyncs the WAL, releasing a
// batch's answers only after the sync that covers it, while the writer
// already runs the next batch. docs/durability.md gives the argument.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/store/sqlite/walvfs"
	"github.com/coffer-vault/coffer/internal/store/sqlstore"
	"github.com/coffer-vault/coffer/internal/vault"
)

//go:embed migrations/*.sql
var migrations embed.FS

// FileName is the database file inside the data folder.
const FileName = "coffer.db"

// maxBatch bounds one group commit so a burst cannot hold the write lock for long.
const maxBatch = 256

// earlyCommit is the batch that commits as soon as the syncer is idle, even
// while writes are still queued. Without it a steady stream (each caller's
// next write arriving while the writer yields) held the batch open until
// every caller waited on it, and the callers moved as one convoy: gather,
// commit, sync, answer, with the syncer idle while they gathered and the
// writer idle while they synced. Committing smaller batches costs the writer
// a commit's fixed part (~200 µs against ~30 µs a write here), so not on
// every idle syncer. Measured with coffer bench, pay (three writes each,
// 32 connections), against no early commit: 16 writes −5 %, 32 ±0, 48
// +10–24 %, 64 +5 %; tokenize (batches of ~13) is unchanged.
const earlyCommit = 48

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("sqlite: store closed")

var dialect = &sqlstore.Dialect{IsUniqueViolation: func(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		c := se.Code()
		return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}, JSONText: func(column, key string) string { return `json_extract(` + column + `, '$.` + key + `')` }}

// Store is the SQLite backend.
type Store struct {
	w  *sql.DB  // exactly one connection, used only by the writer goroutine
	r  *sql.DB  // read-only pool; WAL lets readers run beside the writer
	cp *sql.DB  // one connection for the checkpointer's pins and the last checkpoint at Close
	cq *sql.DB  // one connection that copies WAL frames and syncs nothing (checkpoint.go)
	db *os.File // the database file, for the checkpoints' syncs (checkpoint.go)
	// keptPin is a pin kept after its sync failed (checkpoint.go); Close
	// ends it once the checkpointer has stopped.
	keptPin atomic.Pointer[pin]
	// stop ends with Close, or when a pin is kept: a wait for the checkpoint connection ends with it.
	stop   context.Context
	cancel context.CancelFunc
	// cpPaused and cpBusy let a test stop the checkpointer's own passes:
	// it holds cpBusy for each tick's work.
	cpPaused atomic.Bool
	cpBusy   sync.Mutex
	// beforeDBSync, a test hook, runs before the catch-up's sync of the database file and may fail it.
	beforeDBSync atomic.Pointer[func() error]
	sy           *syncer // makes commits durable and releases their answers
	ws           *sqlstore.Stmts
	rs           *sqlstore.Stmts
	// seqs and dataVersion belong to the writer goroutine: event numbers it
	// remembers, and the PRAGMA data_version that tells it when another
	// process (the CLI) has written, so what it remembers may be stale.
	seqs        *sqlstore.EventSeqs
	dataVersion int64
	dvStmt      *sql.Stmt // PRAGMA data_version, prepared once
	ops         chan *op
	quit        chan struct{}
	done        chan struct{}
	cpDone      chan struct{}
	once        sync.Once

	mu     sync.RWMutex // guards closed against concurrent Write/Close
	closed bool

	// restartMu is held by the writer for each transaction and by the
	// checkpointer for a catch-up, which must run between them (checkpoint.go).
	// Waiting on the mutex, the writer resumes the moment the catch-up ends;
	// a RESTART checkpoint used to meet it as SQLITE_BUSY at BEGIN, and it
	// slept in SQLite's busy handler (1, 2, 5, 10… ms).
	restartMu sync.Mutex

	commits atomic.Uint64 // transactions committed by the writer
	writes  atomic.Uint64 // Write calls those transactions carried
}

// Stats reports group-commit effectiveness: writes per commit above 1 means
// concurrent requests shared commits.
func (s *Store) Stats() (commits, writes uint64) { return s.commits.Load(), s.writes.Load() }

// CommitStats is what the commit pipeline has done since Open.
type CommitStats struct {
	Commits  uint64        // transactions the writer committed
	Writes   uint64        // Write calls they carried
	Syncs    uint64        // fdatasyncs of the WAL
	SyncTime time.Duration // spent in them, in total
	Synced   uint64        // commits known durable
}

// CommitStats reports the pipeline's counters (for metrics and tests).
func (s *Store) CommitStats() CommitStats {
	return CommitStats{Commits: s.commits.Load(), Writes: s.writes.Load(), Syncs: s.sy.syncs.Load(),
		SyncTime: time.Duration(s.sy.syncNanos.Load()), Synced: s.sy.synced.Load()}
}

// SyncStats reports the WAL's fdatasyncs and the time spent in them (metrics).
func (s *Store) SyncStats() (syncs uint64, took time.Duration) {
	return s.sy.syncs.Load(), time.Duration(s.sy.syncNanos.Load())
}

type op struct {
	ctx context.Context
	fn  func(store.Tx) error
	err chan error
	seq uint64 // the commit its answer waited for; set before err is sent
	// fence, when set, takes the op's durability: it is answered as soon as
	// the writer has run it (debt) or, if it ran in a careful re-run, once
	// its batch committed; the fence's owner waits for the commit and sync.
	fence *store.Fence
	debt  *store.Debt // set when answered as it ran or queued; settled by settleDebts
	// answered: it was answered as it ran, so its caller may have acted on
	// it; queued: its caller did not wait at all (store.Unawaited), and
	// learns its failure only from its fence, which debt settles.
	answered, queued bool
	// call is the fence of the call the op belongs to, deferrable or not,
	// looked up by Write (not by the writer): its Lost refuses the op.
	call *store.Fence
}

// ErrCommitLost is what a fence's Wait, and every later write of the
// fence's call, returns once a write of that call answered as it ran (a
// deferred write, store.Deferrable) did not commit after all: the later
// writes may rest on it.
var ErrCommitLost = errors.New("sqlite: a write answered before its commit did not commit")

type connRole int

const (
	roleWriter connRole = iota
	roleReader
	roleCheckpointer
	roleCopier
)

func dsn(path string, role connRole) string {
	v := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "foreign_keys(1)", "secure_delete(1)"} {
		v.Add("_pragma", p)
	}
	switch role {
	case roleWriter:
		// The syncer makes each commit durable before its answer is released
		// (syncer.go); NORMAL keeps the commit itself off the disk's latency.
		v.Add("_pragma", "synchronous(NORMAL)")
		// IMMEDIATE takes the write lock at BEGIN, so a second process (the CLI)
		// waits on busy_timeout instead of failing mid-transaction.
		v.Set("_txlock", "immediate")
		// Checkpoints run on their own connection (checkpointer), not inside
		// a commit of the single writer, which is the throughput limit.
		v.Add("_pragma", "wal_autocheckpoint(0)")
		// A commit's WAL frames go out in one write instead of two per
		// frame (walvfs); only this connection ever appends to the WAL.
		v.Set("vfs", walvfs.Name)
	case roleReader:
		v.Add("_pragma", "synchronous(FULL)")
		v.Add("_pragma", "query_only(1)")
	case roleCopier:
		// Its checkpoints' syncs are the store's own (checkpoint.go).
		v.Add("_pragma", "synchronous(OFF)")
	default:
		// The last checkpoint (Close) syncs the WAL before copying it and the database after.
		v.Add("_pragma", "synchronous(FULL)")
	}
	return "file:" + path + "?" + v.Encode()
}

// Open opens (creating if needed) the database in dir and migrates it.
func Open(ctx context.Context, dir string) (*Store, error) {
	// SQLite's own Linux builds commit with fdatasync(2); this transpiled
	// build defaults to fsync(2), which also waits for timestamp updates.
	// fdatasync still persists the data and the file size (so WAL appends are
	// durable): same guarantee, about half the commit latency on ext4.
	// Unavailable platforms keep fsync.
	sqlite.Fdatasync(true)
	if err := walvfs.Register(); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, FileName)
	// Create the file 0600 ourselves: SQLite gives the WAL and shared-memory
	// files the database's mode, so this keeps all three private.
	if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	} else {
		f.Close()
	}
	w, err := sql.Open("sqlite", dsn(path, roleWriter))
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := migrate(ctx, w); err != nil {
		w.Close()
		return nil, err
	}
	r, err := sql.Open("sqlite", dsn(path, roleReader))
	if err != nil {
		w.Close()
		return nil, err
	}
	r.SetMaxOpenConns(8)
	r.SetMaxIdleConns(8)
	cp, err := sql.Open("sqlite", dsn(path, roleCheckpointer))
	if err != nil {
		w.Close()
		r.Close()
		return nil, err
	}
	cp.SetMaxOpenConns(1)
	cq, err := sql.Open("sqlite", dsn(path, roleCopier))
	if err != nil {
		w.Close()
		r.Close()
		cp.Close()
		return nil, err
	}
	cq.SetMaxOpenConns(1)
	var db *os.File
	closeAll := func() {
		w.Close()
		r.Close()
		cp.Close()
		cq.Close()
		if db != nil {
			db.Close()
		}
	}
	if db, err = os.OpenFile(path, os.O_RDWR, 0); err != nil {
		closeAll()
		return nil, fmt.Errorf("sqlite: open database for syncing: %w", err)
	}
	dv, err := w.PrepareContext(ctx, `PRAGMA data_version`)
	if err != nil {
		closeAll()
		return nil, err
	}
	sy, err := newSyncer(path + "-wal")
	if err != nil {
		closeAll()
		return nil, err
	}
	s := &Store{w: w, r: r, cp: cp, cq: cq, db: db, sy: sy, ws: sqlstore.NewStmts(w), rs: sqlstore.NewStmts(r), seqs: sqlstore.NewEventSeqs(), dvStmt: dv, ops: make(chan *op, maxBatch),
		quit: make(chan struct{}), done: make(chan struct{}), cpDone: make(chan struct{})}
	s.stop, s.cancel = context.WithCancel(context.Background())
	go s.writer()
	go s.checkpointer()
	return s, nil
}

// PeekKeys reads what the database in dir remembers of its key-encryption
// keys (see sqlstore.PeekKeys) without creating, migrating or writing it, so
// a command started with the wrong key can be refused before it changes
// anything. fresh reports a folder with no database yet.
func PeekKeys(ctx context.Context, dir string) (checks map[uint32][]byte, sample []vault.DataKey, fresh bool, err error) {
	path := filepath.Join(dir, FileName)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, nil, true, nil
	} else if err != nil {
		return nil, nil, false, fmt.Errorf("sqlite: %w", err)
	}
	// With no WAL file the database file holds every commit (a clean
	// shutdown checkpoints and removes the WAL), and it is read as
	// immutable: no WAL or shared-memory file is created, not even for a
	// moment. With one (a server runs, or one crashed), it is read
	// normally, through the files that are already there.
	conn := "file:" + path + "?mode=ro&immutable=1"
	if _, err := os.Stat(path + "-wal"); err == nil {
		conn = dsn(path, roleReader)
	}
	db, err := sql.Open("sqlite", conn)
	if err != nil {
		return nil, nil, false, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, nil, false, fmt.Errorf("sqlite: %s: %w", path, err)
	}
	defer tx.Rollback()
	checks, sample, err = sqlstore.PeekKeys(ctx, tx, dialect, func(name string) (bool, error) {
		var n int
		err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, name).Scan(&n)
		return n > 0, err
	})
	if err != nil {
		return nil, nil, false, fmt.Errorf("sqlite: %s: %w", path, err)
	}
	return checks, sample, false, nil
}

func migrate(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	var cur int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&cur); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, n := range names {
		base := filepath.Base(n)
		ver, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("sqlite: migration %s: bad name", base)
		}
		if ver <= cur {
			continue
		}
		body, _ := migrations.ReadFile(n)
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			return fmt.Errorf("sqlite: migration %s: %w", base, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied) VALUES (?, ?)`, ver, time.Now().UnixMicro()); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// Read runs fn in a read-only snapshot. It returns only once everything the
// snapshot could have seen is durable: a reader may see a commit before the
// syncer has made it so, and must not answer from it before then.
func (s *Store) Read(ctx context.Context, fn func(store.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// Not cancellable once begun, for the writer's reason (see commit):
	// reads are short, and a pool connection is freed at their end anyway.
	rctx := context.WithoutCancel(ctx)
	tx, err := s.r.BeginTx(rctx, nil)
	if err != nil {
		return err
	}
	err = fn(sqlstore.NewCachedTx(rctx, tx, dialect, s.rs))
	tx.Rollback()
	s.rs.PrepareQueued(ctx) // the connection is back in the pool now
	if f := store.DeferredTo(ctx); f != nil {
		f.Owe(s.sy.visible.Load(), s.sy.waitFor)
		if serr := s.sy.failure(); serr != nil {
			return serr
		}
		return err
	}
	if serr := s.sy.await(); serr != nil {
		return serr
	}
	return err
}

// Write queues fn for the writer and waits until its batch is committed and
// synced. It waits even if ctx ends meanwhile: the caller must learn whether
// the write became durable, and the writer skips ops whose ctx ended before
// they ran. Under store.Unawaited it returns once fn is queued: the writer
// takes ops in the order they were queued, so the call's later writes run
// after it, and its fence answers for it (a debt settled at its commit).
func (s *Store) Write(ctx context.Context, fn func(store.Tx) error) error {
	if err := s.sy.failure(); err != nil {
		return err
	}
	o := &op{ctx: ctx, fn: fn, err: make(chan error, 1), fence: store.DeferredTo(ctx), call: store.FenceOf(ctx)}
	if f := store.UnawaitedTo(ctx); f != nil {
		o.fence, o.queued, o.debt = f, true, f.Promise()
	}
	if err := s.send(ctx, o); err != nil {
		if o.queued {
			o.debt.Settle(0, nil, err)
		}
		return err
	}
	if o.queued {
		return nil
	}
	return <-o.err
}

func (s *Store) send(ctx context.Context, o *op) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	select {
	case s.ops <- o:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Store) writer() {
	defer close(s.done)
	for {
		var first *op
		select {
		case first = <-s.ops:
		case <-s.quit:
			// Close has stopped new sends; finish whatever is queued.
			for {
				select {
				case o := <-s.ops:
					s.commit(o, false)
				default:
					return
				}
			}
		}
		s.commit(first, true)
		// Between batches the connection is free to prepare what missed.
		s.ws.PrepareQueued(context.Background())
	}
}

// commit runs a batch that starts with first in one transaction and hands
// its answers to the syncer, which releases them once the commit is on disk.
//
// The batch grows while the syncer is busy (gather): the writer executes
// each write as it arrives instead of committing it, and commits when the
// syncer has finished, so commits come about as often as syncs and each
// carries what arrived during one sync. That is the pipeline: batch N+1
// executes during batch N's sync.
//
// Each write must stay atomic on its own, so a failing one must not take
// its batch-mates' writes with it. Savepoints give that, at two extra
// statements per write on the single writer, which is the throughput limit.
// So a batch first runs without them; only if a write fails is the whole
// transaction rolled back and the batch run again with a savepoint per write
// (the store contract lets a backend run fn more than once).
func (s *Store) commit(first *op, gather bool) {
	// A context that never ends: with one that can, the driver starts a
	// goroutine per statement to interrupt it (and database/sql one per
	// transaction), which on the single writer was a large share of each
	// write's cost. What could make a statement wait is bounded anyway:
	// busy_timeout ends a wait for another process's lock (the CLI's).
	ctx := context.Background()
	seq := s.sy.visible.Load()
	began := time.Now()
	s.restartMu.Lock()
	ops, errs, err := s.runGrowing(ctx, first, gather, &seq)
	if err == errRetryCareful {
		errs, err = s.runTx(ctx, ops, true, &seq)
	}
	s.restartMu.Unlock()
	if err == nil {
		s.commits.Add(1)
		s.writes.Add(uint64(len(ops)))
	} else {
		began = time.Time{}
	}
	// Even an answer from a batch that committed nothing (an op's own error,
	// a failed COMMIT) may rest on what it read: it waits for the commits
	// before it to be synced, like a Read.
	p := &pending{began: began, seq: seq, ops: ops, errs: errs, err: err}
	s.settleDebts(p)
	s.answerEarly(p)
	s.sy.hand(p)
}

// settleDebts tells the fences of the ops answered as they ran, or queued
// unawaited, whether their batch committed them. One that did not (its COMMIT failed, or a
// careful re-run gave it another result, which the ops' determinism rules
// out) marks its fence lost: the writer refuses the call's later writes
// (Fence.Lost), which the writer runs after this, so nothing commits resting
// on a write that is not there.
func (s *Store) settleDebts(p *pending) {
	for i, o := range p.ops {
		if o.debt == nil {
			continue
		}
		err := p.err
		if err == nil && p.errs != nil {
			err = p.errs[i]
			if err != nil && o.queued {
				o.debt.Settle(0, nil, err) // its own answer, which its caller did not wait for
				continue
			}
		}
		if err != nil {
			lost := err
			if !errors.Is(err, ErrCommitLost) {
				lost = fmt.Errorf("%w: %v", ErrCommitLost, err)
			}
			o.debt.Settle(0, nil, lost)
			continue
		}
		o.debt.Settle(p.seq, s.sy.waitFor, nil)
	}
}

// answerEarly answers now the ops whose durability a fence took over
// (store.Deferrable): their owner waits on the fence for the sync that
// covers seq, and the syncer skips them.
func (s *Store) answerEarly(p *pending) {
	for i, o := range p.ops {
		if o.fence == nil || o.debt != nil {
			continue
		}
		o.seq = p.seq
		o.fence.Owe(p.seq, s.sy.waitFor)
		if p.errs == nil {
			o.err <- p.err
		} else {
			o.err <- p.errs[i]
		}
	}
}

// errRetryCareful: an optimistic run had a failing write; run it again with savepoints.
var errRetryCareful = errors.New("sqlite: retry batch with savepoints")

// runGrowing executes first and, with gather, every write that arrives
// while the syncer is busy (up to maxBatch), without savepoints, then
// commits. A failing write in a batch of several rolls it all back and
// returns errRetryCareful with the ops gathered so far; a batch of one needs
// no savepoint: its failure rolls back only its own writes and is its answer.
func (s *Store) runGrowing(ctx context.Context, first *op, gather bool, seq *uint64) ([]*op, []error, error) {
	ops := []*op{first}
	tx, t, err := s.begin(ctx)
	if err != nil {
		return ops, nil, err
	}
	errs := make([]error, 0, 8)
	failed := false
	add := func(o *op) {
		e := opRefused(o)
		if e == nil {
			e = call(o.fn, t)
			failed = e != nil
		}
		errs = append(errs, e)
		if e == nil && o.fence != nil && !o.queued {
			// A deferred write is answered as it ran, not at the commit, which
			// waits for the syncer: its caller's next write (a payment's
			// record, then the acquirer's ledger) joins this batch or the next,
			// and the fence waits for the commit and sync of both.
			o.debt, o.answered = o.fence.Promise(), true
			o.err <- nil
		}
	}
	add(first)
	for !failed && gather && len(ops) < maxBatch {
		if len(ops) >= earlyCommit && !s.sy.busy() {
			break
		}
		// Yield between writes. Gathering, the writer would otherwise keep
		// its P while goroutines it made runnable (answered as they ran) or
		// that build the next writes wait behind it: with two Ps that was
		// half the machine. Measured (coffer bench, alternating pairs):
		// tokenize +12–23 % req/s and p99 −2 ms, pay p99 −3 ms.
		runtime.Gosched()
		select {
		case o := <-s.ops:
			ops = append(ops, o)
			add(o)
			continue
		default:
		}
		if !s.sy.busy() {
			break
		}
		select {
		case o := <-s.ops:
			ops = append(ops, o)
			add(o)
		case <-s.sy.idle:
		}
		if !s.sy.busy() && len(s.ops) == 0 {
			break
		}
	}
	if failed {
		tx.Rollback()
		s.seqs.Forget()
		if len(ops) == 1 {
			return ops, errs, nil // nothing else to keep: the op's error is its answer
		}
		return ops, nil, errRetryCareful
	}
	if err := s.commitTx(tx, seq); err != nil {
		return ops, nil, err
	}
	return ops, errs, nil
}

// begin opens the writer's transaction. Under BEGIN IMMEDIATE no other
// connection can commit until it ends, so data_version read now tells
// whether anyone else wrote since the writer's last transaction.
func (s *Store) begin(ctx context.Context) (*sql.Tx, *sqlstore.Tx, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("sqlite: begin: %w", err)
	}
	var v int64
	if err := tx.StmtContext(ctx, s.dvStmt).QueryRowContext(ctx).Scan(&v); err != nil || v != s.dataVersion {
		s.seqs.Forget()
		s.dataVersion = v
	}
	return tx, sqlstore.NewCachedTx(ctx, tx, dialect, s.ws).WithEventSeqs(s.seqs), nil
}

// commitTx commits the writer's transaction and numbers the commit for the syncer.
func (s *Store) commitTx(tx *sql.Tx, seq *uint64) error {
	if err := s.sy.failure(); err != nil {
		// A sync failed: nothing more is committed until the store is
		// reopened (the answers would say it failed anyway).
		tx.Rollback()
		s.seqs.Forget()
		return err
	}
	n := s.sy.number()
	err := tx.Commit()
	s.sy.landed(n)
	*seq = n
	if err != nil {
		s.seqs.Forget()
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	s.seqs.Commit()
	return nil
}

// runTx executes and commits a batch, each write in a savepoint when
// careful and there are several.
func (s *Store) runTx(ctx context.Context, batch []*op, careful bool, seq *uint64) ([]error, error) {
	errs := make([]error, len(batch))
	tx, t, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	// Any rollback below may take back event numbers the memory holds.
	rollback := func() { tx.Rollback(); s.seqs.Forget() }
	single := len(batch) == 1
	// A queued write that fails here is settled as lost only after the
	// batch; a later write of its call in this batch must not run meanwhile.
	var failedCalls map[*store.Fence]bool
	for i, o := range batch {
		if o.call != nil && failedCalls[o.call] {
			errs[i] = fmt.Errorf("%w: an earlier write of this call failed", ErrCommitLost)
			continue
		}
		if !o.answered { // one answered as it ran runs again whatever its context says
			if err := opRefused(o); err != nil {
				errs[i] = err
				continue
			}
		}
		if careful && !single {
			if err := t.Exec(`SAVEPOINT op`); err != nil {
				rollback()
				return nil, fmt.Errorf("sqlite: savepoint: %w", err)
			}
		}
		errs[i] = call(o.fn, t)
		if errs[i] != nil && o.queued && o.call != nil {
			if failedCalls == nil {
				failedCalls = map[*store.Fence]bool{}
			}
			failedCalls[o.call] = true
		}
		switch {
		case errs[i] != nil && o.answered:
			// It was answered as done when it first ran: its caller may have
			// acted on it and a batch-mate may rest on it, so none commits.
			rollback()
			return nil, fmt.Errorf("%w: %v", ErrCommitLost, errs[i])
		case errs[i] != nil && single:
			rollback()
			return errs, nil // nothing else to keep: the op's error is its answer
		case errs[i] != nil && !careful:
			rollback()
			return nil, errRetryCareful
		case errs[i] != nil:
			s.seqs.Forget()
			if err := t.Exec(`ROLLBACK TO op`); err != nil {
				rollback()
				return nil, fmt.Errorf("sqlite: rollback to savepoint: %w", err)
			}
		}
		if careful && !single {
			if err := t.Exec(`RELEASE op`); err != nil {
				rollback()
				return nil, fmt.Errorf("sqlite: release savepoint: %w", err)
			}
		}
	}
	if err := s.commitTx(tx, seq); err != nil {
		return nil, err
	}
	return errs, nil
}

// opRefused is why the writer must not run o: its context ended, or an
// earlier write of its call was answered and then lost (Fence.Lost).
func opRefused(o *op) error {
	if err := o.ctx.Err(); err != nil {
		return err
	}
	return o.call.Lost()
}

// call turns a panic in one op into that op's error, so one bad request
// cannot take down the writer and every other request in its batch.
func call(fn func(store.Tx) error, t store.Tx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("sqlite: write panicked: %v", r)
		}
	}()
	return fn(t)
}

// ObserveCommits has fn told of every committed batch once its answers are
// released: how many writes it carried and how long from its BEGIN to its
// sync's end (metrics). Set it before serving.
func (s *Store) ObserveCommits(fn func(writes int, took time.Duration)) { s.sy.observe.Store(&fn) }

// PoolStats reports the read pool and the writer's connection (metrics).
func (s *Store) PoolStats() map[string]sql.DBStats {
	return map[string]sql.DBStats{"read": s.r.Stats(), "write": s.w.Stats()}
}

// SingleServer: one server process serves a SQLite data folder.
func (s *Store) SingleServer() bool { return true }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	return s.r.QueryRowContext(ctx, `SELECT 1`).Scan(&one)
}

// Close stops accepting writes, lets queued ones commit, then closes.
func (s *Store) Close() error {
	var err error
	s.once.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		close(s.quit)
		s.cancel()
		<-s.done
		// Every batch the writer ran is handed over; release their answers.
		serr := s.sy.close()
		<-s.cpDone
		s.rs.Close()
		s.ws.Close()
		s.dvStmt.Close()
		if p := s.keptPin.Load(); p != nil {
			p.end()
		}
		// A last full checkpoint leaves a small WAL behind for the next start,
		// unless a sync failed: the frames may be all that holds some commits,
		// and a later fsync may succeed without having written them.
		if s.sy.failure() == nil {
			s.cp.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
		}
		err = errors.Join(serr, s.r.Close(), s.cp.Close(), s.cq.Close(), s.db.Close(), s.w.Close())
	})
	return err
}
