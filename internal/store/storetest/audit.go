package storetest

import (
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/id"
	"github.com/coffer-vault/coffer/internal/store"
)

func testAudit(t *testing.T, open Opener) {
	s := fresh(t, open)
	m, m2 := addMerchant(t, s), addMerchant(t, s)
	t0 := now()
	object := id.New("tok")
	mk := func(merchantID, objectID string, at time.Time) *store.Audit {
		return &store.Audit{ID: id.New("aud"), MerchantID: merchantID, Action: "token.detokenize", ObjectID: objectID,
			Purpose: "charge", RequestID: id.New("req"), Actor: "usr_x", Created: at}
	}
	first, second, third := mk(m.ID, object, t0), mk(m.ID, object, t0.Add(time.Second)), mk(m.ID, object, t0.Add(time.Second))
	if second.ID > third.ID {
		second, third = third, second // same time: id order
	}
	others := []*store.Audit{mk(m.ID, id.New("tok"), t0), mk(m2.ID, object, t0)}
	write(t, s, func(tx store.Tx) error {
		// Inserted out of order: the list is ordered by time, then id.
		for _, a := range append([]*store.Audit{third, first, second}, others...) {
			if err := tx.InsertAudit(a); err != nil {
				return err
			}
		}
		return nil
	})
	var got []*store.Audit
	read(t, s, func(tx store.Tx) (err error) { got, err = tx.ListAudit(m.ID, object); return })
	same(t, "ListAudit", got, []*store.Audit{first, second, third})
	read(t, s, func(tx store.Tx) (err error) { got, err = tx.ListAudit(m2.ID, object); return })
	same(t, "ListAudit (other merchant)", got, others[1:])
	read(t, s, func(tx store.Tx) (err error) { got, err = tx.ListAudit(m.ID, id.New("tok")); return })
	if len(got) != 0 {
		t.Errorf("ListAudit (unknown object) = %d records, want 0", len(got))
	}
	dup := mk(m.ID, object, t0)
	dup.ID = first.ID
	err := s.Write(t.Context(), func(tx store.Tx) error { return tx.InsertAudit(dup) })
	wantErr(t, "InsertAudit with an existing id", err, store.ErrConflict)
}
