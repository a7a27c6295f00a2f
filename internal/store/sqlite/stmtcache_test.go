package sqlite

import (
	"context"
	"testing"

	"github.com/coffer-vault/coffer/internal/store"
)

// Queries run inside writes and reads are prepared once and then reused:
// re-parsing SQL on every call cost a large share of each request's CPU.
func TestStatementsArePreparedOnce(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for range 3 {
		s.Write(ctx, func(tx store.Tx) error { tx.GetMerchant("mer_x"); tx.ListAudit("mer_x", "tok_x"); return nil })
		s.Read(ctx, func(tx store.Tx) error { tx.GetMerchant("mer_x"); tx.ListAudit("mer_x", "tok_x"); return nil })
	}
	// Writer: the row query and the rows query (a lone write needs no savepoint).
	if p, q := s.ws.Len(); p != 2 || q != 0 {
		t.Fatalf("writer cache: %d prepared, %d queued; want 2, 0", p, q)
	}
	if p, q := s.rs.Len(); p != 2 || q != 0 {
		t.Fatalf("reader cache: %d prepared, %d queued; want 2, 0", p, q)
	}
}
