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

// testDashboardTOTP: a user's TOTP state is stored and read back with the
// user (by e-mail, id, session and pending sign-in); a step is accepted
// once, and never an older one; pending sign-ins live like sessions.
func testDashboardTOTP(t *testing.T, open Opener) {
	s := fresh(t, open)
	m := addMerchant(t, s)
	t0 := now()
	u := &store.DashboardUser{ID: id.New("usr"), MerchantID: m.ID, Email: "ops@example.com", PasswordHash: "x", Created: t0}
	write(t, s, func(tx store.Tx) error { return tx.InsertDashboardUser(u) })
	var got *store.DashboardUser
	read(t, s, func(tx store.Tx) (err error) { got, err = tx.GetDashboardUser(u.ID); return })
	same(t, "GetDashboardUser (no TOTP)", got, u)
	if got.TOTPSecretCT != nil || got.TOTPEnabled || got.TOTPLastStep != 0 {
		t.Fatalf("a new user has TOTP state %+v", got)
	}
	err := s.Read(t.Context(), func(tx store.Tx) error { _, err := tx.GetDashboardUser("usr_nobody"); return err })
	wantErr(t, "GetDashboardUser (unknown)", err, store.ErrNotFound)

	// Set up (not enabled), then enabled with the step of the first code.
	ct := randBytes(60)
	write(t, s, func(tx store.Tx) error { return tx.SetDashboardTOTP(u.ID, ct, false, 0) })
	read(t, s, func(tx store.Tx) (err error) { got, err = tx.GetDashboardUserByEmail(u.Email); return })
	if !bytes.Equal(got.TOTPSecretCT, ct) || got.TOTPEnabled {
		t.Fatalf("after setting up: %+v", got)
	}
	write(t, s, func(tx store.Tx) error { return tx.SetDashboardTOTP(u.ID, ct, true, 1000) })
	err = s.Write(t.Context(), func(tx store.Tx) error { return tx.SetDashboardTOTP("usr_nobody", ct, true, 1) })
	wantErr(t, "SetDashboardTOTP (unknown user)", err, store.ErrNotFound)

	// Steps: each accepted once, older ones never.
	write(t, s, func(tx store.Tx) error { return tx.UseDashboardTOTPStep(u.ID, 1001) })
	for _, step := range []int64{1001, 1000, 999} {
		err = s.Write(t.Context(), func(tx store.Tx) error { return tx.UseDashboardTOTPStep(u.ID, step) })
		wantErr(t, "UseDashboardTOTPStep (used or older)", err, store.ErrConflict)
	}
	err = s.Write(t.Context(), func(tx store.Tx) error { return tx.UseDashboardTOTPStep("usr_nobody", 5) })
	wantErr(t, "UseDashboardTOTPStep (unknown user)", err, store.ErrNotFound)
	write(t, s, func(tx store.Tx) error { return tx.UseDashboardTOTPStep(u.ID, 1003) })

	// A session and a pending sign-in carry the user's TOTP state.
	sess := &store.DashboardSession{IDHash: randBytes(32), UserID: u.ID, Created: t0, Expires: t0.Add(time.Hour)}
	live := &store.DashboardPendingSignIn{IDHash: randBytes(32), UserID: u.ID, Created: t0, Expires: t0.Add(5 * time.Minute)}
	old := &store.DashboardPendingSignIn{IDHash: randBytes(32), UserID: u.ID, Created: t0.Add(-time.Hour), Expires: t0.Add(-time.Minute)}
	write(t, s, func(tx store.Tx) error {
		if err := tx.InsertDashboardSession(sess); err != nil {
			return err
		}
		if err := tx.InsertDashboardPendingSignIn(live); err != nil {
			return err
		}
		return tx.InsertDashboardPendingSignIn(old)
	})
	want := *u
	want.TOTPSecretCT, want.TOTPEnabled, want.TOTPLastStep = ct, true, 1003
	read(t, s, func(tx store.Tx) (err error) { _, got, err = tx.GetDashboardSession(sess.IDHash); return })
	same(t, "GetDashboardSession's user with TOTP", got, &want)
	var gp *store.DashboardPendingSignIn
	read(t, s, func(tx store.Tx) (err error) { gp, got, err = tx.GetDashboardPendingSignIn(live.IDHash); return })
	same(t, "GetDashboardPendingSignIn", gp, live)
	same(t, "GetDashboardPendingSignIn's user", got, &want)
	var n int
	write(t, s, func(tx store.Tx) (err error) { n, err = tx.DeleteExpiredDashboardPendingSignIns(t0); return })
	if n != 1 {
		t.Errorf("DeleteExpiredDashboardPendingSignIns = %d, want 1", n)
	}
	err = s.Read(t.Context(), func(tx store.Tx) error { _, _, err := tx.GetDashboardPendingSignIn(old.IDHash); return err })
	wantErr(t, "GetDashboardPendingSignIn (expired, swept)", err, store.ErrNotFound)
	write(t, s, func(tx store.Tx) error {
		if err := tx.DeleteDashboardPendingSignIn(live.IDHash); err != nil {
			return err
		}
		return tx.DeleteDashboardPendingSignIn(live.IDHash) // twice: no error
	})
	err = s.Read(t.Context(), func(tx store.Tx) error { _, _, err := tx.GetDashboardPendingSignIn(live.IDHash); return err })
	wantErr(t, "GetDashboardPendingSignIn (used)", err, store.ErrNotFound)

	// Turned off: no secret, no code asked; the last step is kept.
	write(t, s, func(tx store.Tx) error { return tx.SetDashboardTOTP(u.ID, nil, false, 1003) })
	read(t, s, func(tx store.Tx) (err error) { got, err = tx.GetDashboardUser(u.ID); return })
	if got.TOTPSecretCT != nil || got.TOTPEnabled || got.TOTPLastStep != 1003 {
		t.Errorf("after turning TOTP off: %+v", got)
	}
}
