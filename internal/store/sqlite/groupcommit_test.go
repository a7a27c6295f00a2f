package sqlite

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/id"
	"github.com/coffer-vault/coffer/internal/store"
)

// Concurrent writers must share commits: with 64 writers in flight, far
// fewer commits (fsyncs) than writes happen, and every write is durable.
func TestGroupCommitBatches(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	m := &store.Merchant{ID: id.New("mer"), Name: "m", SecretKeyHash: []byte(id.New("h")), PublishableKey: id.New("pk"),
		HMACSecretCT: []byte{1}, Created: time.Now()}
	if err := s.Write(ctx, func(tx store.Tx) error { return tx.InsertMerchant(m) }); err != nil {
		t.Fatal(err)
	}
	c0, w0 := s.Stats()
	const n = 640
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			err := s.Write(ctx, func(tx store.Tx) error {
				return tx.InsertCustomer(&store.Customer{ID: id.New("cus"), MerchantID: m.ID, Created: time.Now()})
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	c1, w1 := s.Stats()
	commits, writes := c1-c0, w1-w0
	t.Logf("%d writes in %d commits (%.1f per fsync)", writes, commits, float64(writes)/float64(commits))
	if writes != n {
		t.Fatalf("writes %d, want %d", writes, n)
	}
	if commits >= n/2 {
		t.Fatalf("group commit is not batching: %d commits for %d writes", commits, writes)
	}
	s.Close()
	s2, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	var count int
	s2.r.QueryRow(`SELECT COUNT(*) FROM customers`).Scan(&count)
	if count != n {
		t.Fatalf("after reopen %d customers, want %d", count, n)
	}
}
