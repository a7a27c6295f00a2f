package sqlite

// Checkpoints: copying the WAL into the database file, with no disk sync on
// the writer's path.
//
// SQLite's own checkpoint keeps two rules with two syncs: it syncs the WAL
// before copying frames (no frame reaches the database file ahead of its own
// sync) and, once it has copied up to the WAL's end, the database file (the
// WAL restarts from its start, overwriting frames, only when every frame is
// copied; the copies must be on disk first). The syncer already syncs the
// WAL after every commit, so the checkpointer runs SQLite's checkpoint on a
// connection with synchronous=OFF, which syncs nothing, and keeps both rules
// itself with a pin: a read transaction. SQLite copies no frame past the read
// mark of a reader, and restarts the WAL for no connection (of this process
// or another, such as the CLI) while a reader holds a mark past its start.
//
// A pass (every checkpointInterval):
//  1. pins the WAL: its mark is the WAL's end at that moment;
//  2. waits until the syncer has synced every commit the pin can see;
//  3. copies the frames up to the pin's mark;
//  4. if it copied up to the WAL's end, fdatasyncs the database file before
//     it ends the pin; otherwise no restart is possible until a later pass
//     does, and it only asks the kernel to start writing the copies back
//     (sync_file_range), so that the later sync finds little left to write.
//
// Under steady load the writer commits while every pass copies, so no pass
// reaches the end. Past walLimit a catch-up makes one that does: it runs
// steps 1–3 under restartMu, between two of the writer's transactions, so
// the WAL's end does not move, then lets the writer go on and does step 4
// beside the writer's next batch, counted in flight with the syncer, so that
// the writer gathers meanwhile as it does while the WAL syncs. That batch's
// transaction began with every frame copied; its commit restarts the WAL,
// once the pin has ended (if it commits before, it appends).
//
// Before, a RESTART checkpoint did the catch-up's work holding the write
// lock, with both syncs and a wait for readers: 3–15 ms every ~0.4 s under
// tokenize load, which every request in flight waited out. The catch-up
// holds the writer for 0.3–3 ms (the WAL sync of the batch just committed
// and a copy of a few dozen frames). And SQLite's WAL sync in every pass,
// beside the syncer's, cost pay 4–12 % once passes ran every 50 ms.
//
// If the database file's sync fails, the store fails as on a failed WAL
// sync: nothing more commits, the pin is kept until Close, and the WAL
// still holds every frame for the next Open to copy again.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// checkpointInterval and walLimit pace the checkpointer. A pass copies in
// one stretch of CPU that nothing preempts below 10 ms, and goroutines
// queued behind it wait: at 200 ms a pass under tokenize load copied for
// ~6 ms, at 50 ms for ~1.5 ms (tokenize +5–13 % req/s, p99 −1 to −2 ms).
const (
	checkpointInterval = 50 * time.Millisecond
	walLimit           = 4096 // pages (16 MiB): past this, restart the WAL from its start
)

// checkpointer runs a pass whenever something was committed since the last,
// and a catch-up when the WAL has grown past walLimit.
func (s *Store) checkpointer() {
	defer close(s.cpDone)
	t := time.NewTicker(checkpointInterval)
	defer t.Stop()
	var copied uint64 // every commit up to this one is copied
	for {
		select {
		case <-s.quit:
			return
		case <-t.C:
		}
		c := s.sy.committed.Load()
		if c == copied || s.sy.failure() != nil || s.cpPaused.Load() {
			continue // nothing new, nothing may be copied after a failed sync, or a test paused it
		}
		s.cpBusy.Lock()
		frames, err := s.pass()
		if err == nil && frames > walLimit {
			s.catchUp()
		}
		s.cpBusy.Unlock()
		if err != nil {
			continue // another process's checkpoint, a failed store, or closing: try next tick
		}
		copied = c
	}
}

// pass copies into the database file every frame of the WAL whose commit
// is synced, and returns the WAL's size in frames.
func (s *Store) pass() (frames int, err error) {
	pin, err := s.pinWAL()
	if err != nil {
		return 0, err
	}
	if err := s.sy.await(); err != nil {
		pin.end()
		return 0, err
	}
	frames, end, err := s.copyFrames()
	if err != nil || !end {
		startWriteback(s.db)
		pin.end()
		return frames, err
	}
	return frames, s.syncAndUnpin(pin)
}

// catchUp copies the WAL's last frames between the writer's transactions,
// so that its next transaction begins with every frame copied and restarts
// the WAL from its start when it commits.
func (s *Store) catchUp() error {
	conn, err := s.pinConn() // not under restartMu: the writer must not wait for it
	if err != nil {
		return err
	}
	s.restartMu.Lock()
	pin, err := s.catchUpLocked(conn)
	if pin == nil {
		s.restartMu.Unlock()
		return err
	}
	s.sy.inflight.Add(1)
	s.restartMu.Unlock()
	serr := s.syncAndUnpin(pin)
	s.sy.settle(1)
	return errors.Join(err, serr)
}

// catchUpLocked runs under restartMu: it pins the WAL, waits for the sync
// of every commit, and copies the rest. A pin it returns must end after the
// database file's sync, even when the copy failed part-way.
func (s *Store) catchUpLocked(conn *sql.Conn) (p *pin, err error) {
	if p, err = s.pinOn(conn); err != nil {
		return nil, err
	}
	if err := s.sy.await(); err != nil {
		p.end()
		return nil, err
	}
	_, _, err = s.copyFrames()
	return p, err
}

// pin is a read transaction held open on the checkpoint connection.
type pin struct {
	conn *sql.Conn
	tx   *sql.Tx
}

func (p *pin) end() {
	p.tx.Rollback()
	p.conn.Close()
}

// pinWAL begins a read transaction on the checkpoint connection (s.cp),
// which only pins use while the store runs. A pin kept after a failed sync
// holds it until Close, so waiting for it ends then (s.stop), and at once
// once a pin is kept.
func (s *Store) pinWAL() (*pin, error) {
	conn, err := s.pinConn()
	if err != nil {
		return nil, err
	}
	return s.pinOn(conn)
}

// pinConn waits for the checkpoint connection.
func (s *Store) pinConn() (*sql.Conn, error) {
	conn, err := s.cp.Conn(s.stop)
	if err != nil {
		if f := s.sy.failure(); f != nil {
			return nil, f // a pin kept after a failed sync holds the connection
		}
		return nil, fmt.Errorf("sqlite: pin the WAL: %w", err)
	}
	return conn, nil
}

// pinOn begins the pin's read transaction on conn, which it then owns.
func (s *Store) pinOn(conn *sql.Conn) (*pin, error) {
	// Not s.stop: a pin must outlive Close's start until its sync is done.
	tx, err := conn.BeginTx(context.Background(), nil)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("sqlite: pin the WAL: %w", err)
	}
	p := &pin{conn: conn, tx: tx}
	// A read transaction takes its read mark only once it reads a page.
	var v int
	if err := tx.QueryRow(`SELECT version FROM schema_migrations LIMIT 1`).Scan(&v); err != nil {
		p.end()
		return nil, fmt.Errorf("sqlite: pin the WAL: %w", err)
	}
	return p, nil
}

// copyFrames runs a PASSIVE checkpoint that syncs nothing (s.cq). end
// reports that it copied up to the WAL's end.
func (s *Store) copyFrames() (frames int, end bool, err error) {
	var busy, copied int
	err = s.cq.QueryRow(`PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &copied)
	return frames, err == nil && busy == 0 && frames > 0 && copied == frames, err
}

// syncAndUnpin makes the copied pages durable, then ends the pin.
func (s *Store) syncAndUnpin(p *pin) error {
	if err := s.syncDB(); err != nil {
		// The copies may not be on disk, and Linux may not report that
		// twice: keep the pin until Close, so that no connection restarts
		// the WAL over their frames; the next Open copies them again.
		s.keptPin.Store(p)
		err = s.sy.fail(fmt.Errorf("database file: %w", err))
		s.cancel() // no other pin can have the connection now: end every wait for it
		return err
	}
	p.end()
	return nil
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
