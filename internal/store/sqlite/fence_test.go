package sqlite

import (
	"context"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/id"
	"github.com/coffer-vault/coffer/internal/store"
)

// A deferred write answers once its batch committed, while the sync that
// covers it is held; its fence's Wait does not return until that sync has
// run. A deferred read of the unsynced commit answers too, and is owed to
// the fence. Without a fence, Deferrable changes nothing.
func TestFenceTakesTheWait(t *testing.T) {
	s, m := openWithMerchant(t)
	entered, release := holdSyncs(t, s)

	ctx, fence := store.WithFence(context.Background())
	cid := id.New("cus")
	wrote := make(chan error, 1)
	go func() { wrote <- s.Write(store.Deferrable(ctx), insertCustomer(m, cid)) }()
	select {
	case err := <-wrote:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a deferred write was not answered at its commit")
	}
	owed := s.sy.committed.Load() // the deferred write's commit (nothing else writes)
	<-entered                     // the sync covering it is held
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
	for name, ch := range map[string]chan error{"fence": waited, "plain write": plain} {
		select {
		case err := <-ch:
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s did not return once the sync ran", name)
		}
	}
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
