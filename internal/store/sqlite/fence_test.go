package sqlite

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/id"
	"github.com/coffer-vault/coffer/internal/store"
)

// A deferred write answers (by the time its batch committed at the latest)
// while the sync that covers it is held; its fence's Wait does not return until that sync has
// run. A deferred read of the unsynced commit answers too, and is owed to
// the fence. Without a fence, Deferrable changes nothing.
func TestFenceTakesTheWait(t *testing.T) {
	s, m := openWithMerchant(t)
	entered, release := holdSyncs(t, s)

	ctx, fence := store.WithFence(context.Background())
	cid := id.New("cus")
	wrote := make(chan error, 1)
	go func() { wrote <- s.Write(store.Deferrable(ctx), insertCustomer(m, cid)) }()
	answered(t, "a deferred write while its sync is held", wrote)
	<-entered                     // the sync covering it is held, so its commit has landed
	owed := s.sy.committed.Load() // the deferred write's commit (nothing else writes)
	if s.sy.synced.Load() >= owed {
		t.Fatalf("commit %d already synced: the test holds the wrong sync", owed)
	}
	if err := s.Read(store.Deferrable(ctx), func(tx store.Tx) error { _, err := tx.GetCustomer(m.ID, cid); return err }); err != nil {
		t.Fatalf("a deferred read of the unsynced commit: %v", err)
	}

	waited := make(chan error, 1)
	go func() { waited <- fence.Wait() }()
	plain := make(chan error, 1)
	go func() { plain <- s.Write(ctx, insertCustomer(m, id.New("cus"))) }() // no Deferrable: waits as ever
	select {
	case err := <-waited:
		t.Fatalf("the fence's Wait returned (%v) while the sync covering its write was held", err)
	case err := <-plain:
		t.Fatalf("a write not marked deferrable answered (%v) before its sync", err)
	case <-time.After(200 * time.Millisecond): // absence of an answer: bounded look
	}
	release()
	answered(t, "the fence once the sync ran", waited)
	answered(t, "the plain write once the sync ran", plain)
	if s.sy.synced.Load() < owed {
		t.Fatalf("the fence returned with commit %d unsynced (synced %d)", owed, s.sy.synced.Load())
	}
}

// Deferrable without a fence in the context is an ordinary write.
func TestDeferrableWithoutFenceWaits(t *testing.T) {
	s, m := openWithMerchant(t)
	if store.DeferredTo(store.Deferrable(context.Background())) != nil {
		t.Fatal("Deferrable made a fence out of nothing")
	}
	if err := s.Write(store.Deferrable(context.Background()), insertCustomer(m, id.New("cus"))); err != nil {
		t.Fatal(err)
	}
	if s.sy.synced.Load() < s.sy.committed.Load() {
		t.Fatal("a write without a fence answered before its sync")
	}
}

// While the syncer is busy the writer keeps its transaction open and adds
// to it; a deferred write is answered as soon as it has run, before its
// batch commits, and its fence waits for the commit and the sync. (Answered
// at the commit, a payment's record and then the acquirer's ledger each
// waited for a whole sync.)
func TestDeferredWriteAnsweredAsItRuns(t *testing.T) {
	s, m, first, release := syncerBusy(t)
	commits := s.commits.Load()

	ctx, fence := store.WithFence(context.Background())
	cid := id.New("cus")
	wrote := make(chan error, 1)
	go func() { wrote <- s.Write(store.Deferrable(ctx), insertCustomer(m, cid)) }()
	answered(t, "a deferred write while its batch was open", wrote)
	if got := s.commits.Load(); got != commits {
		t.Fatalf("commits %d → %d: the deferred write waited for its batch's commit", commits, got)
	}
	waited := make(chan error, 1)
	go func() { waited <- fence.Wait() }()
	unanswered(t, "the fence's Wait returned before its write committed", waited, 200*time.Millisecond)
	release()
	answered(t, "the fence once the sync ran", waited)
	answered(t, "the first write once the sync ran", first)
	if err := s.Read(context.Background(), func(tx store.Tx) error { _, err := tx.GetCustomer(m.ID, cid); return err }); err != nil {
		t.Fatalf("the deferred write after its fence: %v", err)
	}
	if st := s.CommitStats(); st.Synced < s.sy.committed.Load() {
		t.Fatalf("the fence returned before every commit was synced (%d of %d)", st.Synced, s.sy.committed.Load())
	}
}

// A deferred write answered as it ran, which then does not commit (here:
// a batch-mate fails, and in the careful re-run the write fails where it had
// succeeded), fails its fence with ErrCommitLost, and every later write of
// its call (which may rest on it) is refused; the store goes on serving
// other calls.
func TestLostDeferredWriteFailsItsCall(t *testing.T) {
	s, m, first, release := syncerBusy(t)

	ctx, fence := store.WithFence(context.Background())
	cid := id.New("cus")
	runs := 0
	fickle := func(tx store.Tx) error {
		runs++
		if runs > 1 {
			return errors.New("not this time")
		}
		return insertCustomer(m, cid)(tx)
	}
	wrote := make(chan error, 1)
	go func() { wrote <- s.Write(store.Deferrable(ctx), fickle) }()
	answered(t, "a deferred write while its batch was open", wrote)
	mate := make(chan error, 1)
	go func() { mate <- s.Write(context.Background(), func(store.Tx) error { return errors.New("refused") }) }()
	if err := fence.Wait(); !errors.Is(err, ErrCommitLost) {
		t.Fatalf("fence: %v, want ErrCommitLost", err)
	}
	release()
	answered(t, "the first write, committed before", first)
	if err := <-mate; err == nil {
		t.Fatal("the failing batch-mate succeeded")
	}
	later := id.New("cus")
	if err := s.Write(ctx, insertCustomer(m, later)); !errors.Is(err, ErrCommitLost) {
		t.Fatalf("a later write of the same call: %v, want ErrCommitLost", err)
	}
	if err := s.Write(context.Background(), insertCustomer(m, id.New("cus"))); err != nil {
		t.Fatalf("another call's write: %v", err)
	}
	for _, c := range []string{cid, later} {
		if n := customerRows(t, s, c); n != 0 {
			t.Fatalf("customer %s of the lost call: %d rows, want none", c, n)
		}
	}
}

// A deferred write answered as it ran is run again in a careful re-run even
// if its context has ended meanwhile (a client that went away): it was
// answered, and its caller goes on, so it must commit.
func TestAnsweredWriteOutlivesItsContext(t *testing.T) {
	s, m, first, release := syncerBusy(t)

	base, cancel := context.WithCancel(context.Background())
	ctx, fence := store.WithFence(base)
	cid := id.New("cus")
	runs := 0
	counted := func(tx store.Tx) error { runs++; return insertCustomer(m, cid)(tx) }
	wrote := make(chan error, 1)
	go func() { wrote <- s.Write(store.Deferrable(ctx), counted) }()
	answered(t, "a deferred write while its batch was open", wrote)
	cancel()
	mate, ran := make(chan error, 1), make(chan struct{})
	var once sync.Once
	go func() {
		mate <- s.Write(context.Background(), func(store.Tx) error { once.Do(func() { close(ran) }); return errors.New("refused") })
	}()
	<-ran // the mate failed in the open batch: the writer re-runs it with savepoints
	release()
	answered(t, "the first write", first)
	if err := <-mate; err == nil {
		t.Fatal("the failing batch-mate succeeded")
	}
	if err := fence.Wait(); err != nil {
		t.Fatalf("fence of the answered write: %v", err)
	}
	if runs != 2 {
		t.Fatalf("the answered write ran %d times, want 2 (the batch was not re-run)", runs)
	}
	if err := s.Read(context.Background(), func(tx store.Tx) error { _, err := tx.GetCustomer(m.ID, cid); return err }); err != nil {
		t.Fatalf("the answered write: %v", err)
	}
}

// answered waits, bounded, for ch's answer and fails the test on an error
// or on none.
func answered(t *testing.T, what string, ch <-chan error) {
	t.Helper()
	select {
	case err := <-ch:
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no answer", what)
	}
}

// ended waits up to 10 s for ch and returns what it carried.
func ended(t *testing.T, what string, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: did not end", what)
		return nil
	}
}

// unanswered fails if ch carries anything within d: the absence of an
// answer, looked for over a bounded time.
func unanswered(t *testing.T, what string, ch <-chan error, d time.Duration) {
	t.Helper()
	select {
	case err := <-ch:
		t.Fatalf("%s (%v)", what, err)
	case <-time.After(d):
	}
}

// syncerBusy opens a store and holds the sync of a first write's commit, so
// that the writer keeps its next batch open; first answers once release
// lets the sync run.
func syncerBusy(t *testing.T) (s *Store, m *store.Merchant, first <-chan error, release func()) {
	s, m = openWithMerchant(t)
	entered, release := holdSyncs(t, s)
	ch := make(chan error, 1)
	go func() { ch <- s.Write(context.Background(), insertCustomer(m, id.New("cus"))) }()
	<-entered
	return s, m, ch, release
}
