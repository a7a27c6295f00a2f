package sqlite

// The catch-up: restarting the WAL without stopping the writer for disk syncs.
//
// SQLite restarts the WAL from its start (overwriting old frames instead of
// appending) at a commit whose transaction began with every frame already
// copied into the database file. Its own rule makes that safe: a checkpoint
// marks frames copied up to the WAL's end only after syncing the database
// file, so the frames a restart overwrites are on disk elsewhere. Under
// steady load the writer never begins at such a moment: it commits again
// while each checkpoint copies. A RESTART checkpoint forced one by holding
// the write lock while it synced the WAL, copied the last frames and synced
// the database file: 3–15 ms every ~0.4 s under tokenize load, during which
// every request in flight waited (most of tokenize's p99).
//
// A catch-up keeps only the copy on the writer's path and moves the
// database file's sync beside the writer's next batch:
//  1. Under restartMu (between the writer's transactions) it waits until
//     the syncer has synced every commit (normally the one just made), so
//     the frames it copies are durable in the WAL first, as SQLite's own
//     checkpoint ensures by syncing the WAL before it copies.
//  2. It pins the WAL: a read transaction begun now holds a read mark past
//     the first frame, and SQLite does not restart the WAL while any reader
//     holds one. No connection, of this process or another (the CLI), can
//     then overwrite frames whose copy is not yet synced.
//  3. It copies the remaining frames on a connection with synchronous=OFF,
//     which syncs nothing, and counts the coming sync as in flight with the
//     syncer, so the writer gathers its next batch as it does while the WAL
//     syncs.
//  4. Off the mutex, it fdatasyncs the database file, ends the pin, and
//     settles: the writer's next commit restarts the WAL. Should the writer
//     commit before that (a full batch), the pin makes it append instead.
// If the database file's sync fails, the store fails as on a failed WAL
// sync: nothing more commits, and the WAL still holds every frame.

import (
	"context"
	"database/sql"
	"fmt"
)

// catchUp copies the WAL's last frames into the database file between the
// writer's transactions, so that its next transaction begins with every
// frame copied and restarts the WAL from its start when it commits.
func (s *Store) catchUp() error {
	s.restartMu.Lock()
	pin, err := s.catchUpLocked()
	if pin == nil {
		s.restartMu.Unlock()
		return err
	}
	s.sy.inflight.Add(1)
	s.restartMu.Unlock()

	if serr := s.syncDB(); serr != nil {
		// The copied pages may not be on disk, and Linux may not report that
		// twice: keep the pin until Close, so that no connection restarts the
		// WAL over their frames; the next Open copies them again.
		s.keptPin = pin
		err = s.sy.fail(fmt.Errorf("database file: %w", serr))
	} else {
		pin.Rollback()
	}
	s.sy.settle(1)
	return err
}

// catchUpLocked runs under restartMu: it waits for the WAL's sync, pins the
// WAL and copies the rest. A pin it returns must end after the database
// file's sync, even when the copy failed part-way (what it copied is
// unsynced either way).
func (s *Store) catchUpLocked() (pin *sql.Tx, err error) {
	if err := s.sy.waitFor(s.sy.committed.Load()); err != nil {
		return nil, err
	}
	if pin, err = s.pinWAL(); err != nil {
		return nil, err
	}
	_, err = s.checkpoint(s.cq, "PASSIVE")
	return pin, err
}

// pinWAL begins a read transaction on the checkpoint connection (s.cp),
// which the checkpointer does not use while it catches up.
func (s *Store) pinWAL() (*sql.Tx, error) {
	tx, err := s.cp.BeginTx(context.Background(), nil)
	if err != nil {
		return nil, fmt.Errorf("sqlite: pin the WAL: %w", err)
	}
	// A read transaction takes its read mark only once it reads a page.
	var v int
	if err := tx.QueryRow(`SELECT version FROM schema_migrations LIMIT 1`).Scan(&v); err != nil {
		tx.Rollback()
		return nil, fmt.Errorf("sqlite: pin the WAL: %w", err)
	}
	return tx, nil
}

// syncDB makes the database file's copied pages durable.
func (s *Store) syncDB() error {
	if h := s.beforeDBSync.Load(); h != nil {
		if err := (*h)(); err != nil {
			return err
		}
	}
	return datasync(s.db)
}
