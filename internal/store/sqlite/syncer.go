package sqlite

// Pipelined commits. The writer commits with synchronous=NORMAL: in WAL mode
// a commit then only write(2)s its frames to the WAL, and SQLite syncs the WAL
// itself only when the log restarts (its header); checkpoints copy only
// frames this syncer has synced (checkpoint.go). Durability of each commit is this
// file's job: the syncer fdatasyncs the WAL from its own goroutine and only
// then releases the answers of the batches the sync covers. While it syncs,
// the writer already executes and commits the next batch, so the disk's
// latency no longer serialises with the work of building the next commit.
//
// The rule every answer obeys: it is released only after an fdatasync that
// started after the commit it reports, or that it read, had returned.
//   - Writes: a batch's answers wait for a sync that began after its commit.
//   - Reads: a snapshot may include commits not yet synced (readers see what
//     the writer committed as soon as it committed). Read therefore waits,
//     after its snapshot closed, for a sync covering every commit that could
//     have been visible to it. Commits are numbered before they start
//     (visible), so a snapshot can never hold a commit whose number the
//     reader does not see afterwards.
//   - A failed sync (EIO, ENOSPC) leaves the committed frames' fate unknown:
//     the batches waiting on it fail, and so does every later call; the
//     store must be reopened (a restart replays the WAL as far as it is
//     valid). Retrying fdatasync would be wrong: Linux may report a write-back
//     error once and then forget it.

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// ErrSyncFailed is returned once the WAL could not be synced: answers that
// depend on unsynced commits are withheld, and the store refuses further use.
var ErrSyncFailed = errors.New("sqlite: WAL sync failed; the store must be reopened")

// inFlight bounds how many committed batches may wait for their sync: past
// it the writer blocks, which is the back-pressure a slow disk must apply.
const inFlight = 64

// pending is a batch that has run (committed or not) and waits for the sync
// that covers what it wrote or read before its answers are released.
type pending struct {
	began time.Time // when its transaction began; zero: nothing committed
	seq   uint64    // the commit number that must be synced first
	ops   []*op
	errs  []error // per op; nil slice: err applies to all
	err   error
}

// syncer owns the WAL's durability: one goroutine, one file handle.
type syncer struct {
	path string
	f    *os.File

	visible   atomic.Uint64 // commits numbered; a commit is numbered before it may become visible
	committed atomic.Uint64 // commits whose Commit returned (each number once committed or failed)
	synced    atomic.Uint64 // every commit up to this number is on disk

	syncs     atomic.Uint64
	syncNanos atomic.Uint64

	queue    chan *pending
	done     chan struct{}
	inflight atomic.Int64  // batches handed and not yet released
	idle     chan struct{} // a token when inflight drops to zero (capacity 1)

	mu      sync.Mutex
	changed chan struct{} // closed and replaced after each sync (or on failure)
	failed  error

	// Test hooks: beforeSync runs before each fdatasync and may fail it;
	// blocking runs when a reader is about to wait for a sync.
	beforeSync atomic.Pointer[func() error]
	blocking   atomic.Pointer[func()]

	// observe, when set, is told of each committed batch once released.
	observe atomic.Pointer[func(writes int, took time.Duration)]
}

func newSyncer(walPath string) (*syncer, error) {
	sy := &syncer{path: walPath, queue: make(chan *pending, inFlight), done: make(chan struct{}),
		changed: make(chan struct{}), idle: make(chan struct{}, 1)}
	if err := sy.reopen(); err != nil {
		return nil, err
	}
	go sy.run()
	return sy, nil
}

// reopen (re)binds the handle to the WAL file now at path. SQLite keeps one
// WAL file for as long as any connection is open, so this normally happens
// once; it is checked before every sync in case the file was replaced.
func (sy *syncer) reopen() error {
	f, err := os.OpenFile(sy.path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("sqlite: open WAL for syncing: %w", err)
	}
	if sy.f != nil {
		sy.f.Close()
	}
	sy.f = f
	return nil
}

// number assigns the next commit its number; call it before COMMIT.
func (sy *syncer) number() uint64 { return sy.visible.Add(1) }

// landed records that commit n's COMMIT returned (successfully or not).
func (sy *syncer) landed(n uint64) { sy.committed.Store(n) }

// hand passes a batch's answers to the syncer; it blocks while inFlight
// batches already wait.
func (sy *syncer) hand(p *pending) {
	sy.inflight.Add(1)
	sy.queue <- p
}

// busy reports whether a handed batch still waits for its sync: while it
// does, the writer keeps its transaction open and adds to it.
func (sy *syncer) busy() bool { return sy.inflight.Load() > 0 }

// run syncs and releases answers until the queue is closed.
func (sy *syncer) run() {
	defer close(sy.done)
	var held []*pending
	for p := range sy.queue {
		held = append(held[:0], p)
	drain:
		for {
			select {
			case q, ok := <-sy.queue:
				if !ok {
					break drain
				}
				held = append(held, q)
			default:
				break drain
			}
		}
		need := uint64(0)
		for _, q := range held {
			need = max(need, q.seq)
		}
		err := sy.cover(need)
		obs := sy.observe.Load()
		for _, q := range held {
			release(q, err)
			if obs != nil && err == nil && !q.began.IsZero() {
				(*obs)(len(q.ops), time.Since(q.began))
			}
		}
		sy.settle(len(held))
	}
}

// settle ends n of the jobs counted in flight (handed batches, a
// catch-up's sync of the database file) and tells the writer when none is
// left. The writer waits for this token only while it is not handing and
// holds no catch-up off (restartMu): a token sent here is never missed.
func (sy *syncer) settle(n int) {
	if sy.inflight.Add(-int64(n)) == 0 {
		select {
		case sy.idle <- struct{}{}:
		default:
		}
	}
}

// cover makes every commit up to need durable, syncing only when the last
// sync did not already cover it.
func (sy *syncer) cover(need uint64) error {
	if err := sy.failure(); err != nil {
		return err
	}
	if sy.synced.Load() >= need {
		return nil
	}
	// Everything whose COMMIT returned before the sync starts is covered.
	upTo := sy.committed.Load()
	var err error
	if h := sy.beforeSync.Load(); h != nil {
		err = (*h)()
	}
	start := time.Now()
	if err == nil {
		err = sy.sync()
	}
	sy.syncNanos.Add(uint64(time.Since(start)))
	sy.syncs.Add(1)
	if err != nil {
		return sy.fail(err)
	}
	sy.mu.Lock()
	defer sy.mu.Unlock()
	sy.synced.Store(max(sy.synced.Load(), upTo))
	close(sy.changed)
	sy.changed = make(chan struct{})
	return nil
}

func (sy *syncer) sync() error {
	if unlinked(sy.f) {
		if err := sy.reopen(); err != nil {
			return err
		}
	}
	return datasync(sy.f)
}

func release(p *pending, syncErr error) {
	for i, o := range p.ops {
		if o.fence != nil {
			continue // answered already (answerEarly, or when it ran); its fence waits for this sync
		}
		o.seq = p.seq
		switch {
		case syncErr != nil:
			o.err <- syncErr
		case p.errs == nil:
			o.err <- p.err
		default:
			o.err <- p.errs[i]
		}
	}
}

// fail records that a sync failed, wakes every waiter, and returns the
// error the store answers from now on.
func (sy *syncer) fail(err error) error {
	sy.mu.Lock()
	defer sy.mu.Unlock()
	if sy.failed == nil {
		sy.failed = fmt.Errorf("%w: %v", ErrSyncFailed, err)
		close(sy.changed)
		sy.changed = make(chan struct{})
	}
	return sy.failed
}

func (sy *syncer) failure() error {
	sy.mu.Lock()
	defer sy.mu.Unlock()
	return sy.failed
}

// await blocks until every commit numbered so far is synced: a reader calls
// it after its snapshot closed, so whatever it saw is on disk before it answers.
func (sy *syncer) await() error { return sy.waitFor(sy.visible.Load()) }

// waitFor blocks until every commit up to need is synced.
func (sy *syncer) waitFor(need uint64) error {
	for {
		if sy.synced.Load() >= need {
			return nil
		}
		sy.mu.Lock()
		ch, failed := sy.changed, sy.failed
		sy.mu.Unlock()
		if failed != nil {
			return failed
		}
		if sy.synced.Load() >= need {
			return nil
		}
		if h := sy.blocking.Load(); h != nil {
			(*h)()
		}
		<-ch
	}
}

// close waits for every handed batch to be released, then closes the handle.
func (sy *syncer) close() error {
	close(sy.queue)
	<-sy.done
	return sy.f.Close()
}
