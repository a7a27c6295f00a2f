package sqlite

import (
	"context"
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/id"
	"github.com/coffer-vault/coffer/internal/store"
)

// enqueue hands fn to the writer as Write does, returning the op so a test
// can see whether its answer was released.
func enqueue(s *Store, fn func(store.Tx) error) *op {
	o := &op{ctx: context.Background(), fn: fn, err: make(chan error, 1)}
	s.ops <- o
	return o
}

func openWithMerchant(t testing.TB) (*Store, *store.Merchant) {
	t.Helper()
	s, err := Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	m := &store.Merchant{ID: id.New("mer"), Name: "m", SecretKeyHash: []byte(id.New("h")), PublishableKey: id.New("pk"),
		HMACSecretCT: []byte{1}, Created: time.Now()}
	if err := s.Write(context.Background(), func(tx store.Tx) error { return tx.InsertMerchant(m) }); err != nil {
		t.Fatal(err)
	}
	return s, m
}

// holdSyncs makes every sync of s wait until release is called: entered
// gets a token when a sync is first held.
func holdSyncs(t *testing.T, s *Store) (entered <-chan struct{}, release func()) {
	return holdHook(t, &s.sy.beforeSync, nil)
}

// holdHook sets hook so that each call waits until release is called, then
// returns fail: entered gets a token when a call is first held. On failure,
// the cleanup lets the held call finish so Close can (cleanups run last in,
// first out).
func holdHook(t *testing.T, hook *atomic.Pointer[func() error], fail error) (entered <-chan struct{}, release func()) {
	in, gate := make(chan struct{}, 1), make(chan struct{})
	hold := func() error {
		select {
		case in <- struct{}{}:
		default:
		}
		<-gate
		return fail
	}
	hook.Store(&hold)
	var open sync.Once
	release = func() { open.Do(func() { close(gate) }) }
	t.Cleanup(release)
	return in, release
}

func insertCustomer(m *store.Merchant, cid string) func(store.Tx) error {
	return func(tx store.Tx) error {
		return tx.InsertCustomer(&store.Customer{ID: cid, MerchantID: m.ID, Created: time.Now()})
	}
}

// While the sync that covers a commit is held: that write's answer is not
// released, the writer executes the next write anyway (the pipeline: its
// batch commits once the sync is done), that write's answer is not released
// either, and a reader that saw the first commit waits too. Opening the sync
// releases all three.
func TestAnswersWaitForTheirSync(t *testing.T) {
	s, m := openWithMerchant(t)
	entered, release := holdSyncs(t, s)

	first := id.New("cus")
	a := enqueue(s, insertCustomer(m, first))
	<-entered // the syncer is inside the sync that covers a's commit
	if len(a.err) != 0 {
		t.Fatal("a write was answered before the sync covering its commit ran")
	}

	ran := make(chan struct{})
	b := enqueue(s, func(tx store.Tx) error {
		defer close(ran)
		return insertCustomer(m, id.New("cus"))(tx)
	})
	select {
	case <-ran:
	case <-time.After(10 * time.Second):
		t.Fatal("the next write did not execute during the sync")
	}
	if len(b.err) != 0 {
		t.Fatal("a write executed during another's sync was answered before any sync covered it")
	}
	blocked := make(chan struct{}, 1)
	onBlock := func() {
		select {
		case blocked <- struct{}{}:
		default:
		}
	}
	s.sy.blocking.Store(&onBlock)
	read := make(chan error, 1)
	go func() {
		read <- s.Read(context.Background(), func(tx store.Tx) error {
			_, err := tx.GetCustomer(m.ID, first)
			return err
		})
	}()
	select {
	case <-blocked:
	case err := <-read:
		t.Fatalf("a read of an unsynced commit answered (%v) before the sync", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the read neither answered nor waited")
	}

	release()
	for name, o := range map[string]*op{"a": a, "b": b} {
		if err := <-o.err; err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := s.sy.synced.Load(); got < o.seq {
			t.Fatalf("%s released with commit %d, synced only to %d", name, o.seq, got)
		}
	}
	if err := <-read; err != nil {
		t.Fatal(err)
	}
}

// Under concurrent load no answer is released before a sync that covers the
// commit it depends on, and syncs are shared: fewer syncs than commits
// would not be required, but more would mean a sync per write.
func TestNoAnswerPrecedesItsSync(t *testing.T) {
	s, m := openWithMerchant(t)
	st0 := s.CommitStats()
	const writers, each = 32, 40
	var wg sync.WaitGroup
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				o := enqueue(s, insertCustomer(m, id.New("cus")))
				if err := <-o.err; err != nil {
					t.Error(err)
					return
				}
				if got := s.sy.synced.Load(); got < o.seq {
					t.Errorf("answer for commit %d released when only %d were synced", o.seq, got)
					return
				}
			}
		}()
	}
	wg.Wait()
	st := s.CommitStats()
	commits, writes, syncs := st.Commits-st0.Commits, st.Writes-st0.Writes, st.Syncs-st0.Syncs
	t.Logf("%d writes, %d commits, %d syncs", writes, commits, syncs)
	if writes != writers*each {
		t.Fatalf("writes %d, want %d", writes, writers*each)
	}
	if syncs == 0 || syncs > commits {
		t.Fatalf("%d syncs for %d commits", syncs, commits)
	}
	if st.Synced < s.sy.committed.Load() {
		t.Fatalf("idle store: synced %d of %d commits", st.Synced, s.sy.committed.Load())
	}
}

// A failed fdatasync withholds the answers waiting on it and fails every
// later call: Linux may report a write-back error once, so nothing after it
// can be trusted until the store is reopened.
func TestFailedSyncFailsTheStore(t *testing.T) {
	s, m := openWithMerchant(t)
	fail := func() error { return syscall.EIO }
	s.sy.beforeSync.Store(&fail)
	err := s.Write(context.Background(), insertCustomer(m, id.New("cus")))
	if !errors.Is(err, ErrSyncFailed) {
		t.Fatalf("write with a failed sync: %v, want ErrSyncFailed", err)
	}
	if err := s.Write(context.Background(), insertCustomer(m, id.New("cus"))); !errors.Is(err, ErrSyncFailed) {
		t.Fatalf("later write: %v, want ErrSyncFailed", err)
	}
	if err := s.Read(context.Background(), func(tx store.Tx) error { return nil }); !errors.Is(err, ErrSyncFailed) {
		t.Fatalf("later read: %v, want ErrSyncFailed", err)
	}
}

// A catch-up runs between the writer's transactions by holding restartMu:
// the writer waits on the mutex (and resumes the moment it ends) instead of
// meeting SQLITE_BUSY inside BEGIN and sleeping in SQLite's busy handler.
func TestWriterWaitsForCatchUpOnTheMutex(t *testing.T) {
	s, m := openWithMerchant(t)
	s.restartMu.Lock()
	began := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.Write(context.Background(), func(tx store.Tx) error {
			close(began)
			return insertCustomer(m, "cus_restart")(tx)
		})
	}()
	select {
	case <-began:
		s.restartMu.Unlock()
		t.Fatal("the writer began a transaction while a catch-up held restartMu")
	case <-time.After(100 * time.Millisecond):
	}
	// What the checkpointer does under the mutex cannot wait for the writer.
	conn, err := s.pinConn()
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.catchUpLocked(conn)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.syncDB(); err != nil {
		t.Fatal(err)
	}
	p.end()
	s.restartMu.Unlock()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// If the WAL is deleted and made again at its path (SQLite does so when its
// last connection closes and another opens), a sync of the old handle would
// make nothing of the new file durable: the syncer must rebind before it
// syncs.
func TestSyncerFollowsAReplacedWAL(t *testing.T) {
	path := t.TempDir() + "/x.db-wal"
	sy, err := newSyncer(path)
	if err != nil {
		t.Fatal(err)
	}
	defer sy.close()
	ino := func(f interface{ Stat() (os.FileInfo, error) }) uint64 {
		fi, err := f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		return fi.Sys().(*syscall.Stat_t).Ino
	}
	first := ino(sy.f)
	if err := sy.sync(); err != nil || ino(sy.f) != first {
		t.Fatalf("sync of an unchanged WAL rebound its handle (err %v)", err)
	}
	// The old inode stays open in the syncer, so the new file cannot reuse it.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("frames"), 0o600); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := sy.sync(); err != nil {
		t.Fatal(err)
	}
	if got := ino(sy.f); got != fi.Sys().(*syscall.Stat_t).Ino {
		t.Fatalf("the syncer syncs inode %d, the WAL is now %d", got, fi.Sys().(*syscall.Stat_t).Ino)
	}
}
