package sqlite

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/id"
	"github.com/coffer-vault/coffer/internal/store"
)

// holdDBSync makes the database file's sync (of a pass or a catch-up) wait
// until release is called, then return fail: entered gets a token when it is held.
func holdDBSync(t *testing.T, s *Store, fail error) (entered <-chan struct{}, release func()) {
	return holdHook(t, &s.beforeDBSync, fail)
}

// startHeld opens a store whose WAL holds frames not yet copied and starts
// run (a catch-up or a pass) with the database file's sync held. It returns
// once that sync is held, with the WAL's restart count from before.
func startHeld(t *testing.T, run func(*Store) error) (s *Store, m *store.Merchant, before uint32, release func(), done <-chan error) {
	s, m = openWithMerchant(t)
	pauseCheckpointer(s)
	fillWAL(t, s, m)
	before = walRestarts(t, s)
	entered, release := holdDBSync(t, s, nil)
	ch := make(chan error, 1)
	go func() { ch <- run(s) }()
	<-entered
	return s, m, before, release, ch
}

func catchUp(s *Store) error { return s.catchUp() }

func pass(s *Store) error {
	_, err := s.pass()
	return err
}

// pauseCheckpointer stops the checkpointer's own passes and waits for the
// one in progress, so that a test's held or failing hook meets only the
// pass or catch-up the test runs.
func pauseCheckpointer(s *Store) {
	s.cpPaused.Store(true)
	s.cpBusy.Lock()
	s.cpBusy.Unlock()
}

// walRestarts reads the WAL header's checkpoint sequence number, which
// SQLite increments each time the WAL restarts from its start.
func walRestarts(t *testing.T, s *Store) uint32 {
	t.Helper()
	f, err := os.Open(s.sy.path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var hdr [32]byte
	if _, err := f.ReadAt(hdr[:], 0); err != nil {
		t.Fatal(err)
	}
	return binary.BigEndian.Uint32(hdr[12:16])
}

// fillWAL commits writes so the WAL holds frames not yet copied.
func fillWAL(t *testing.T, s *Store, m *store.Merchant) {
	t.Helper()
	for range 5 {
		if err := s.Write(context.Background(), insertCustomer(m, id.New("cus"))); err != nil {
			t.Fatal(err)
		}
	}
}

// While a catch-up syncs the database file, the writer is not stopped: a
// write runs. Its answer waits for that sync (the writer gathers while it
// runs, as while the WAL syncs), and the WAL is not restarted before it;
// the write's commit restarts it afterwards, which is what catch-ups are for.
func TestCatchUpSyncsTheDatabaseBesideTheWriter(t *testing.T) {
	s, m, before, release, caught := startHeld(t, catchUp)

	ran := make(chan struct{})
	wrote := make(chan error, 1)
	go func() {
		wrote <- s.Write(context.Background(), func(tx store.Tx) error {
			close(ran)
			return insertCustomer(m, id.New("cus"))(tx)
		})
	}()
	select {
	case <-ran:
	case <-time.After(5 * time.Second):
		t.Fatal("the writer did not run a write while the catch-up synced the database file")
	}
	unanswered(t, "a write was answered before the database file's sync it may restart the WAL over", wrote, 100*time.Millisecond)
	if got := walRestarts(t, s); got != before {
		t.Fatalf("the WAL restarted (%d → %d) before the database file was synced", before, got)
	}
	release()
	if err := <-caught; err != nil {
		t.Fatal(err)
	}
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	if got := walRestarts(t, s); got == before {
		t.Fatal("the commit after a catch-up did not restart the WAL")
	}
}

// writeFromAnotherProcess commits on a connection of its own, as another
// process (the CLI) would.
func writeFromAnotherProcess(t *testing.T, s *Store) {
	t.Helper()
	other, err := sql.Open("sqlite", "file:"+strings.TrimSuffix(s.sy.path, "-wal")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.Exec(`CREATE TABLE IF NOT EXISTS probe (x INTEGER); INSERT INTO probe VALUES (1)`); err != nil {
		t.Fatal(err)
	}
}

// The pin: until the database file is synced, no connection restarts the
// WAL over the frames just copied, not even another process's (the CLI).
func TestCatchUpPinsTheWALUntilTheDatabaseIsSynced(t *testing.T) { pinnedUntilSynced(t, catchUp) }

// pinnedUntilSynced holds the database file's sync of run (a pass or a
// catch-up that copies to the WAL's end) and checks that another process's
// commit does not restart the WAL meanwhile.
func pinnedUntilSynced(t *testing.T, run func(*Store) error) {
	t.Helper()
	s, _, before, release, done := startHeld(t, run)
	writeFromAnotherProcess(t, s)
	if got := walRestarts(t, s); got != before {
		t.Fatalf("another connection restarted the WAL (%d → %d) before the database file was synced", before, got)
	}
	release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A failed sync of the database file fails the store as a failed WAL sync
// does: nothing more commits, and the WAL keeps every frame for the next
// Open, even when another process writes.
func TestCatchUpFailedDatabaseSyncFailsTheStore(t *testing.T) {
	s, m := openWithMerchant(t)
	pauseCheckpointer(s)
	fillWAL(t, s, m)
	before := walRestarts(t, s)
	_, release := holdDBSync(t, s, syscall.EIO)
	release()
	if err := s.catchUp(); !errors.Is(err, ErrSyncFailed) {
		t.Fatalf("catch-up: %v, want ErrSyncFailed", err)
	}
	if err := s.Write(context.Background(), insertCustomer(m, id.New("cus"))); !errors.Is(err, ErrSyncFailed) {
		t.Fatalf("later write: %v, want ErrSyncFailed", err)
	}
	writeFromAnotherProcess(t, s)
	if got := walRestarts(t, s); got != before {
		t.Fatalf("the WAL restarted (%d → %d) after the database file's sync failed", before, got)
	}
	// The kept pin holds the checkpoint connection until Close: a pass
	// waiting for it (the checkpointer's, which Close waits for before it
	// ends the pin) must end as Close begins, when s.stop is cancelled.
	passed := make(chan error, 1)
	go func() { _, err := s.pass(); passed <- err }()
	s.cancel()
	if err := ended(t, "a pass waiting for the kept pin's connection, once Close began", passed); err == nil {
		t.Fatal("a pass ran after the store failed")
	}
}

// A pass copies no frame before the syncer has synced its commit: while
// that sync is held the pass waits, and the database file does not grow.
func TestPassCopiesOnlySyncedFrames(t *testing.T) {
	s, m := openWithMerchant(t)
	pauseCheckpointer(s)
	dbPath := strings.TrimSuffix(s.sy.path, "-wal")
	if _, err := s.pass(); err != nil { // what is synced so far is copied
		t.Fatal(err)
	}
	before := fileSize(t, dbPath)
	entered, release := holdSyncs(t, s)
	o := enqueue(s, func(tx store.Tx) error {
		for range 200 {
			if err := tx.InsertCustomer(&store.Customer{ID: id.New("cus"), MerchantID: m.ID, Name: strings.Repeat("x", 200), Created: time.Now()}); err != nil {
				return err
			}
		}
		return nil
	})
	<-entered // committed, not synced
	passed := make(chan error, 1)
	go func() { _, err := s.pass(); passed <- err }()
	unanswered(t, "a pass ended while the sync of the commit it could see was held", passed, 100*time.Millisecond)
	if got := fileSize(t, dbPath); got != before {
		t.Fatalf("the database file grew (%d → %d bytes) from frames not yet synced", before, got)
	}
	release()
	if err := <-o.err; err != nil {
		t.Fatal(err)
	}
	if err := <-passed; err != nil {
		t.Fatal(err)
	}
	if got := fileSize(t, dbPath); got <= before {
		t.Fatal("the pass copied nothing once the frames were synced")
	}
}

// A pass that copied up to the WAL's end syncs the database file before its
// pin ends: until then another process's commit does not restart the WAL.
func TestPassSyncsTheDatabaseBeforeTheWALCanRestart(t *testing.T) {
	pinnedUntilSynced(t, pass) // idle: the pass copies everything
}

// The checkpointer's own pass can be the one whose sync fails: its kept pin
// holds the checkpoint connection, and a catch-up waiting for that
// connection ends with the store's failure instead of waiting for Close.
func TestPinWaitEndsWhenAPinIsKept(t *testing.T) {
	s, m := openWithMerchant(t)
	entered, release := holdDBSync(t, s, syscall.EIO)
	fillWAL(t, s, m)
	<-entered // the checkpointer's pass, idle store: it copied to the end and syncs
	done := make(chan error, 1)
	go func() { done <- s.catchUp() }()
	release()
	if err := ended(t, "a catch-up waiting for the checkpoint connection, once a pin was kept", done); !errors.Is(err, ErrSyncFailed) {
		t.Fatalf("catch-up: %v, want ErrSyncFailed", err)
	}
}
