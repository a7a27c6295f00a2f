package sqlite

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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

// A failing write in a batch run optimistically (no savepoints) makes the
// batch run again with savepoints: the failing write leaves nothing, every
// other write of the batch commits exactly once.
func TestBatchFallbackKeepsWritesAtomic(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m := &store.Merchant{ID: id.New("mer"), Name: "m", SecretKeyHash: []byte(id.New("h")), PublishableKey: id.New("pk"),
		HMACSecretCT: []byte{1}, Created: time.Now()}
	if err := s.Write(ctx, func(tx store.Tx) error { return tx.InsertMerchant(m) }); err != nil {
		t.Fatal(err)
	}
	// Hold the writer so that all the writes below queue into one batch.
	block, held := make(chan struct{}), make(chan struct{})
	go s.Write(ctx, func(store.Tx) error { close(held); <-block; return nil })
	<-held
	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	runs := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.Write(ctx, func(tx store.Tx) error {
				runs[i]++
				c := &store.Customer{ID: "cus_batch" + strconv.Itoa(i), MerchantID: m.ID, Created: time.Now()}
				if err := tx.InsertCustomer(c); err != nil {
					return err
				}
				if i == 7 {
					return errors.New("refused after writing")
				}
				return nil
			})
		}()
	}
	time.Sleep(100 * time.Millisecond) // let them queue behind the held write
	c0, _ := s.Stats()
	close(block)
	wg.Wait()
	if c1, _ := s.Stats(); c1-c0 > 3 {
		t.Logf("writes were spread over %d commits; the fallback may not have been exercised", c1-c0)
	}
	var count int
	s.r.QueryRow(`SELECT COUNT(*) FROM customers WHERE id LIKE 'cus_batch%'`).Scan(&count)
	if count != n-1 {
		t.Fatalf("%d customers, want %d", count, n-1)
	}
	s.r.QueryRow(`SELECT COUNT(*) FROM customers WHERE id = 'cus_batch7'`).Scan(&count)
	if count != 0 || errs[7] == nil {
		t.Fatalf("the failing write must leave nothing and report its error: %v", errs[7])
	}
	for i, err := range errs {
		if i != 7 && err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	if runs[7] < 2 {
		t.Fatalf("the batch was not re-run carefully (runs of the failing write: %d)", runs[7])
	}
}

// With checkpoints moved off the writer, the background checkpointer must
// still move committed pages into the database file.
func TestCheckpointerMovesWALIntoDatabase(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if p, _ := s.Pragmas(ctx); p["writer.wal_autocheckpoint"] != "0" {
		t.Fatalf("the writer must not checkpoint: %v", p["writer.wal_autocheckpoint"])
	}
	m := &store.Merchant{ID: id.New("mer"), Name: "m", SecretKeyHash: []byte(id.New("h")), PublishableKey: id.New("pk"),
		HMACSecretCT: []byte{1}, Created: time.Now()}
	if err := s.Write(ctx, func(tx store.Tx) error { return tx.InsertMerchant(m) }); err != nil {
		t.Fatal(err)
	}
	before := fileSize(t, filepath.Join(dir, FileName))
	for range 20 {
		s.Write(ctx, func(tx store.Tx) error {
			for range 100 {
				if err := tx.InsertCustomer(&store.Customer{ID: id.New("cus"), MerchantID: m.ID, Name: strings.Repeat("x", 200), Created: time.Now()}); err != nil {
					return err
				}
			}
			return nil
		})
	}
	deadline := time.Now().Add(5 * time.Second)
	for fileSize(t, filepath.Join(dir, FileName)) <= before {
		if time.Now().After(deadline) {
			t.Fatal("no checkpoint moved the WAL into the database file within 5 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
