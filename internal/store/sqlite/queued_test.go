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

// holdWriter makes the writer run a first write that waits until release:
// what is queued meanwhile stays in s.ops, in order. The write commits.
func holdWriter(t *testing.T, s *Store, m *store.Merchant) (done <-chan error, release func()) {
	t.Helper()
	in, gate := make(chan struct{}), make(chan struct{})
	var entered sync.Once
	ch := make(chan error, 1)
	go func() {
		ch <- s.Write(context.Background(), func(tx store.Tx) error {
			entered.Do(func() { close(in) }) // it runs again in a careful re-run
			<-gate
			return insertCustomer(m, id.New("cus"))(tx)
		})
	}()
	<-in
	var once sync.Once
	release = func() { once.Do(func() { close(gate) }) }
	t.Cleanup(release)
	return ch, release
}

// queued waits, bounded, until n ops wait in the writer's queue.
func queued(t *testing.T, s *Store, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); len(s.ops) < n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d ops queued, want %d", len(s.ops), n)
		}
	}
}

func customerRows(t *testing.T, s *Store, cid string) int {
	t.Helper()
	var n int
	if err := s.r.QueryRow(`SELECT count(*) FROM customers WHERE id = ?`, cid).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// An unawaited write returns once it is queued, before the writer has run
// it; its fence's Wait returns only after its commit is synced.
func TestUnawaitedWriteReturnsBeforeItRuns(t *testing.T) {
	s, m := openWithMerchant(t)
	first, release := holdWriter(t, s, m)

	ctx, fence := store.WithFence(context.Background())
	cid := id.New("cus")
	wrote := make(chan error, 1)
	go func() { wrote <- s.Write(store.Unawaited(ctx), insertCustomer(m, cid)) }()
	answered(t, "an unawaited write while the writer is held", wrote)
	if len(s.ops) != 1 || customerRows(t, s, cid) != 0 {
		t.Fatalf("the unawaited write: %d queued, %d rows; want it queued and not run", len(s.ops), customerRows(t, s, cid))
	}
	waited := make(chan error, 1)
	go func() { waited <- fence.Wait() }()
	unanswered(t, "the fence's Wait returned before its write ran", waited, 100*time.Millisecond)
	release()
	answered(t, "the held write", first)
	answered(t, "the fence", waited)
	if customerRows(t, s, cid) != 1 {
		t.Fatal("the unawaited write is not there after its fence")
	}
	if st := s.CommitStats(); st.Synced < s.sy.committed.Load() {
		t.Fatalf("the fence returned before every commit was synced (%d of %d)", st.Synced, s.sy.committed.Load())
	}
	if store.UnawaitedTo(store.Unawaited(context.Background())) != nil {
		t.Fatal("Unawaited made a fence out of nothing")
	}
}

// An unawaited write that fails is its call's failure: the fence's Wait
// returns its error, and the call's later writes are refused, also one
// already beside it in the batch when it fails only in the careful re-run
// (here: it succeeds the first time, and a batch-mate's failure makes the
// writer run the batch again). Other calls' writes in the batch commit.
func TestFailedUnawaitedWriteFailsItsCall(t *testing.T) {
	s, m := openWithMerchant(t)
	first, release := holdWriter(t, s, m)

	ctx, fence := store.WithFence(context.Background())
	refused := errors.New("not this time")
	cid, later, other := id.New("cus"), id.New("cus"), id.New("cus")
	runs := 0
	fickle := func(tx store.Tx) error {
		runs++
		if runs > 1 {
			return refused
		}
		return insertCustomer(m, cid)(tx)
	}
	if err := s.Write(store.Unawaited(ctx), fickle); err != nil {
		t.Fatalf("queueing: %v", err)
	}
	laterCh, otherCh, mateCh := make(chan error, 1), make(chan error, 1), make(chan error, 1)
	go func() { laterCh <- s.Write(ctx, insertCustomer(m, later)) }()
	queued(t, s, 2)
	go func() { otherCh <- s.Write(context.Background(), insertCustomer(m, other)) }()
	queued(t, s, 3)
	go func() {
		mateCh <- s.Write(context.Background(), func(store.Tx) error { return errors.New("a failing batch-mate") })
	}()
	queued(t, s, 4)
	release()

	answered(t, "the held write", first)
	answered(t, "another call's write", otherCh)
	if err := ended(t, "the failing batch-mate", mateCh); err == nil {
		t.Fatal("the failing batch-mate succeeded")
	}
	if err := ended(t, "the call's later write", laterCh); !errors.Is(err, ErrCommitLost) {
		t.Fatalf("the call's later write: %v, want ErrCommitLost", err)
	}
	if err := fence.Wait(); !errors.Is(err, refused) {
		t.Fatalf("fence: %v, want the unawaited write's own error", err)
	}
	if err := s.Write(ctx, insertCustomer(m, id.New("cus"))); !errors.Is(err, refused) {
		t.Fatalf("a write of the call after it: %v, want its error", err)
	}
	for cust, want := range map[string]int{cid: 0, later: 0, other: 1} {
		if got := customerRows(t, s, cust); got != want {
			t.Fatalf("customer %s: %d rows, want %d", cust, got, want)
		}
	}
}

// Once a batch holds earlyCommit writes it commits as soon as the syncer is
// idle, though more writes wait: a stream that never pauses does not hold
// it open until every caller waits on it.
func TestBatchCommitsEarlyWhenTheSyncerIsIdle(t *testing.T) {
	s, m := openWithMerchant(t)
	var mu sync.Mutex
	var batches []int
	s.ObserveCommits(func(writes int, _ time.Duration) { mu.Lock(); batches = append(batches, writes); mu.Unlock() })
	first, release := holdWriter(t, s, m)
	const n = 2 * earlyCommit
	answers := make(chan error, n)
	for i := range n {
		go func() { answers <- s.Write(context.Background(), insertCustomer(m, id.New("cus"))) }()
		queued(t, s, i+1)
	}
	release()
	answered(t, "the held write", first)
	for range n {
		answered(t, "a queued write", answers)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(batches) < 2 || batches[0] != earlyCommit {
		t.Fatalf("batches %v: want the first to commit at %d writes", batches, earlyCommit)
	}
}
