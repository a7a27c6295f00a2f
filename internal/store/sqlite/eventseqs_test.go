package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/id"
	"github.com/coffer-vault/coffer/internal/store"
)

func insertEvent(m *store.Merchant, fail bool) func(store.Tx) error {
	return func(tx store.Tx) error {
		e := &store.Event{ID: id.NewOrdered("evt"), MerchantID: m.ID, Type: "token.created", ObjectType: "token",
			ObjectID: id.New("tok"), Data: []byte(`{}`), Created: time.Now()}
		if err := tx.InsertEvent(e); err != nil {
			return err
		}
		if fail {
			return errors.New("refused after numbering an event")
		}
		return nil
	}
}

// checkSeqs fails unless the merchant's events are numbered 1…want.
func checkSeqs(t *testing.T, s *Store, m *store.Merchant, want int) {
	t.Helper()
	var n, lo, hi int
	if err := s.r.QueryRow(`SELECT COUNT(*), MIN(seq), MAX(seq) FROM events WHERE merchant_id = ?`, m.ID).Scan(&n, &lo, &hi); err != nil {
		t.Fatal(err)
	}
	if n != want || lo != 1 || hi != want {
		t.Fatalf("events: %d numbered %d…%d; want %d numbered 1…%d", n, lo, hi, want, want)
	}
}

// The writer numbers events from memory (sqlstore.EventSeqs), so what it
// remembers must never run ahead of the table: numbers taken by a write that
// was rolled back (alone, or by the careful re-run of its batch) are taken
// back, and an event another process wrote is not numbered over.
func TestEventNumbersSurviveRollbacksAndOtherWriters(t *testing.T) {
	ctx := context.Background()
	s, m := openWithMerchant(t)
	for range 2 {
		if err := s.Write(ctx, insertEvent(m, false)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Write(ctx, insertEvent(m, true)); err == nil {
		t.Fatal("a failing write succeeded")
	}
	if err := s.Write(ctx, insertEvent(m, false)); err != nil {
		t.Fatal(err)
	}
	checkSeqs(t, s, m, 3)

	// One batch whose middle write fails: the batch is re-run with a
	// savepoint per write, and the failing one's number is given back.
	held, block := make(chan struct{}), make(chan struct{})
	go s.Write(ctx, func(store.Tx) error { close(held); <-block; return nil })
	<-held
	ops := []*op{enqueue(s, insertEvent(m, false)), enqueue(s, insertEvent(m, true)), enqueue(s, insertEvent(m, false))}
	c0, _ := s.Stats()
	close(block)
	for i, o := range ops {
		if err := <-o.err; (err != nil) != (i == 1) {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	if c1, _ := s.Stats(); c1-c0 > 2 {
		t.Fatalf("the three writes took %d commits; they were meant to share a batch", c1-c0)
	}
	checkSeqs(t, s, m, 5)

	// Another process (the CLI) writes the merchant's next event.
	other, err := sql.Open("sqlite", "file:"+strings.TrimSuffix(s.sy.path, "-wal")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.Exec(`INSERT INTO events (id, merchant_id, seq, type, object_type, object_id, data, created)
		VALUES (?, ?, 6, 'token.created', 'token', ?, '{}', 0)`, id.NewOrdered("evt"), m.ID, id.New("tok")); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(ctx, insertEvent(m, false)); err != nil {
		t.Fatalf("after another process wrote: %v", err)
	}
	checkSeqs(t, s, m, 7)
}
