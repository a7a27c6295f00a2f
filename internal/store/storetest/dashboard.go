package storetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/id"
	"github.com/coffer-vault/coffer/internal/store"
)

func testDashboard(t *testing.T, open Opener) {
	s := fresh(t, open)
	m, m2 := addMerchant(t, s), addMerchant(t, s)
	t0 := now()
	u := &store.DashboardUser{ID: id.New("usr"), MerchantID: m.ID, Email: "ops@example.com",
		PasswordHash: "$argon2id$v=19$m=65536,t=1,p=2$c2FsdA$aGFzaA", Created: t0}
	write(t, s, func(tx store.Tx) error { return tx.InsertDashboardUser(u) })
	// E-mails are unique across merchants: sign-in asks for no merchant.
	err := s.Write(t.Context(), func(tx store.Tx) error {
		return tx.InsertDashboardUser(&store.DashboardUser{ID: id.New("usr"), MerchantID: m2.ID, Email: u.Email, PasswordHash: "x", Created: t0})
	})
	wantErr(t, "InsertDashboardUser with an e-mail taken", err, store.ErrConflict)
	var got *store.DashboardUser
	read(t, s, func(tx store.Tx) (err error) { got, err = tx.GetDashboardUserByEmail(u.Email); return })
	same(t, "GetDashboardUserByEmail", got, u)
	err = s.Read(t.Context(), func(tx store.Tx) error { _, err := tx.GetDashboardUserByEmail("nobody@example.com"); return err })
	wantErr(t, "GetDashboardUserByEmail (unknown)", err, store.ErrNotFound)

	live := &store.DashboardSession{IDHash: randBytes(32), UserID: u.ID, Created: t0, Expires: t0.Add(time.Hour)}
	old := &store.DashboardSession{IDHash: randBytes(32), UserID: u.ID, Created: t0.Add(-2 * time.Hour), Expires: t0.Add(-time.Hour)}
	write(t, s, func(tx store.Tx) error {
		if err := tx.InsertDashboardSession(live); err != nil {
			return err
		}
		return tx.InsertDashboardSession(old)
	})
	var gs *store.DashboardSession
	read(t, s, func(tx store.Tx) (err error) { gs, got, err = tx.GetDashboardSession(live.IDHash); return })
	same(t, "GetDashboardSession", gs, live)
	same(t, "GetDashboardSession's user", got, u)
	var n int
	write(t, s, func(tx store.Tx) (err error) { n, err = tx.DeleteExpiredDashboardSessions(t0); return })
	if n != 1 {
		t.Errorf("DeleteExpiredDashboardSessions = %d, want 1", n)
	}
	err = s.Read(t.Context(), func(tx store.Tx) error { _, _, err := tx.GetDashboardSession(old.IDHash); return err })
	wantErr(t, "GetDashboardSession (expired, swept)", err, store.ErrNotFound)
	write(t, s, func(tx store.Tx) error {
		if err := tx.DeleteDashboardSession(live.IDHash); err != nil {
			return err
		}
		return tx.DeleteDashboardSession(live.IDHash) // twice: no error
	})
	err = s.Read(t.Context(), func(tx store.Tx) error { _, _, err := tx.GetDashboardSession(live.IDHash); return err })
	wantErr(t, "GetDashboardSession (signed out)", err, store.ErrNotFound)
	if bytes.Equal(live.IDHash, old.IDHash) {
		t.Fatal("randBytes repeated")
	}
}
