package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/id"
	"github.com/coffer-vault/coffer/internal/store"
)

func newSimAuth(merchantID, reference string, amount int64, t0 time.Time) *store.SimAuthorization {
	return &store.SimAuthorization{ID: id.New("sim_auth"), MerchantID: merchantID, Reference: reference, Amount: amount,
		Currency: "MYR", AuthCode: "K3JQ7A", AVSResult: "unavailable", CVCResult: "pass", State: store.SimAuthorized,
		Created: t0, Updated: t0}
}

// The simulator's ledger: authorizations (approved and declined) found by
// id, by reference and by capture; a merchant's reference and a capture's
// refund reference are unique, an absent one never collides; counts.
func testSimulatorLedger(t *testing.T, open Opener) {
	s := fresh(t, open)
	t0 := now()
	a := newSimAuth("mer_1", "pay_1", 1000, t0)
	other := newSimAuth("mer_2", "pay_1", 500, t0) // the same reference at another merchant
	declined := newSimAuth("mer_1", "pay_2", 700, t0)
	declined.ID, declined.AuthCode, declined.State = id.New("sim_dcl"), "", store.SimDeclined
	declined.Decline = &store.SimDecline{Code: "card_declined", DeclineCode: "insufficient_funds", Message: "Your card has insufficient funds."}
	bare1, bare2 := newSimAuth("mer_1", "", 300, t0), newSimAuth("mer_1", "", 300, t0) // no reference: never collide
	write(t, s, func(tx store.Tx) error {
		return errors.Join(tx.InsertSimAuthorization(a), tx.InsertSimAuthorization(other), tx.InsertSimAuthorization(declined),
			tx.InsertSimAuthorization(bare1), tx.InsertSimAuthorization(bare2))
	})
	read(t, s, func(tx store.Tx) error {
		for _, w := range []*store.SimAuthorization{a, other, declined, bare1, bare2} {
			got, err := tx.GetSimAuthorization(w.ID)
			same(t, "GetSimAuthorization "+w.ID, got, w)
			if err != nil {
				return err
			}
		}
		got, err := tx.GetSimAuthorizationByReference("mer_1", "pay_1")
		same(t, "GetSimAuthorizationByReference", got, a)
		if err != nil {
			return err
		}
		got, err = tx.GetSimAuthorizationByReference("mer_1", "pay_2")
		same(t, "GetSimAuthorizationByReference (declined)", got, declined)
		if err != nil {
			return err
		}
		_, err = tx.GetSimAuthorizationByReference("mer_1", "")
		wantErr(t, "GetSimAuthorizationByReference(\"\")", err, store.ErrNotFound)
		_, err = tx.GetSimAuthorizationByReference("mer_3", "pay_1")
		wantErr(t, "GetSimAuthorizationByReference (another merchant)", err, store.ErrNotFound)
		_, err = tx.GetSimAuthorization("sim_auth_nope")
		wantErr(t, "GetSimAuthorization(unknown)", err, store.ErrNotFound)
		_, err = tx.GetSimAuthorizationByCapture("sim_cap_nope")
		wantErr(t, "GetSimAuthorizationByCapture(unknown)", err, store.ErrNotFound)
		return nil
	})

	dupRef := newSimAuth("mer_1", "pay_1", 1000, t0)
	wantErr(t, "InsertSimAuthorization (reference taken)", s.Write(t.Context(), func(tx store.Tx) error { return tx.InsertSimAuthorization(dupRef) }), store.ErrConflict)
	dupID := newSimAuth("mer_1", "pay_9", 1000, t0)
	dupID.ID = a.ID
	wantErr(t, "InsertSimAuthorization (id taken)", s.Write(t.Context(), func(tx store.Tx) error { return tx.InsertSimAuthorization(dupID) }), store.ErrConflict)

	// Capture, then refunds: with a reference (unique per capture) and without.
	a.State, a.CaptureID, a.Captured, a.Updated = store.SimCaptured, id.New("sim_cap"), 600, t0.Add(time.Second)
	write(t, s, func(tx store.Tx) error { return tx.UpdateSimAuthorization(a) })
	r1 := &store.SimRefund{ID: id.New("sim_ref"), AuthorizationID: a.ID, CaptureID: a.CaptureID, Reference: "re_1", Amount: 200, Created: t0}
	r2 := &store.SimRefund{ID: id.New("sim_ref"), AuthorizationID: a.ID, CaptureID: a.CaptureID, Amount: 100, Created: t0}
	r3 := &store.SimRefund{ID: id.New("sim_ref"), AuthorizationID: a.ID, CaptureID: a.CaptureID, Amount: 100, Created: t0}
	a.Refunded = 400
	write(t, s, func(tx store.Tx) error {
		return errors.Join(tx.InsertSimRefund(r1), tx.InsertSimRefund(r2), tx.InsertSimRefund(r3), tx.UpdateSimAuthorization(a))
	})
	dupRefund := &store.SimRefund{ID: id.New("sim_ref"), AuthorizationID: a.ID, CaptureID: a.CaptureID, Reference: "re_1", Amount: 1, Created: t0}
	wantErr(t, "InsertSimRefund (reference taken)", s.Write(t.Context(), func(tx store.Tx) error { return tx.InsertSimRefund(dupRefund) }), store.ErrConflict)
	stolen := *bare1
	stolen.State, stolen.CaptureID, stolen.Captured = store.SimCaptured, a.CaptureID, 300
	wantErr(t, "UpdateSimAuthorization (capture id taken)", s.Write(t.Context(), func(tx store.Tx) error { return tx.UpdateSimAuthorization(&stolen) }), store.ErrConflict)
	bare2.State, bare2.Updated = store.SimVoided, t0.Add(time.Second)
	write(t, s, func(tx store.Tx) error { return tx.UpdateSimAuthorization(bare2) })
	missing := *bare2
	missing.ID = "sim_auth_nope"
	wantErr(t, "UpdateSimAuthorization(unknown)", s.Write(t.Context(), func(tx store.Tx) error { return tx.UpdateSimAuthorization(&missing) }), store.ErrNotFound)
	// The database keeps the amount rules too: nothing refunded beyond the capture.
	over := *a
	over.Refunded = 601
	if err := s.Write(t.Context(), func(tx store.Tx) error { return tx.UpdateSimAuthorization(&over) }); err == nil {
		t.Error("UpdateSimAuthorization stored a refund above the capture")
	}

	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetSimAuthorizationByCapture(a.CaptureID)
		same(t, "GetSimAuthorizationByCapture", got, a)
		if err != nil {
			return err
		}
		gr, err := tx.GetSimRefund(a.CaptureID, "re_1")
		same(t, "GetSimRefund", gr, r1)
		if err != nil {
			return err
		}
		_, err = tx.GetSimRefund(a.CaptureID, "")
		wantErr(t, "GetSimRefund(\"\")", err, store.ErrNotFound)
		_, err = tx.GetSimRefund(a.CaptureID, "re_2")
		wantErr(t, "GetSimRefund(unknown)", err, store.ErrNotFound)
		c, err := tx.SimulatorCounts()
		same(t, "SimulatorCounts", c, store.SimCounts{Authorizations: 5, Captures: 1, Voids: 1, Refunds: 3})
		if err != nil {
			return err
		}
		for _, w := range []struct {
			merchant, ref string
			n             int
		}{{"mer_1", "pay_1", 1}, {"mer_1", "", 2}, {"mer_2", "pay_1", 1}, {"mer_2", "", 0}, {"mer_1", "pay_9", 0}} {
			n, err := tx.CountSimAuthorizations(w.merchant, w.ref)
			if err != nil || n != w.n {
				t.Errorf("CountSimAuthorizations(%s, %q) = %d %v, want %d", w.merchant, w.ref, n, err, w.n)
			}
		}
		return nil
	})
}

// A journal file's import is recorded once, by its digest.
func testSimulatorJournalImports(t *testing.T, open Opener) {
	s := fresh(t, open)
	t0 := now()
	write(t, s, func(tx store.Tx) error {
		if done, err := tx.SimJournalImported("digest-1"); err != nil || done {
			return fmt.Errorf("SimJournalImported before: %v %v", done, err)
		}
		return tx.InsertSimJournalImport("digest-1", t0)
	})
	wantErr(t, "InsertSimJournalImport (again)", s.Write(t.Context(), func(tx store.Tx) error { return tx.InsertSimJournalImport("digest-1", t0) }), store.ErrConflict)
	read(t, s, func(tx store.Tx) error {
		done, err := tx.SimJournalImported("digest-1")
		if !done {
			t.Errorf("SimJournalImported after: %v %v", done, err)
		}
		return err
	})
}

// Concurrent Writes of one authorization take turns on its row: of many
// captures exactly one succeeds and the others see it captured; refunds
// never add up beyond the capture; concurrent authorizations of one
// reference make one row, and every caller gets it.
func testSimulatorConcurrency(t *testing.T, open Opener) {
	s := fresh(t, open)
	t0 := now()
	a := newSimAuth("mer_1", "pay_1", 1000, t0)
	write(t, s, func(tx store.Tx) error { return tx.InsertSimAuthorization(a) })

	const n = 12
	var wg sync.WaitGroup
	captured := make([]bool, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = s.Write(t.Context(), func(tx store.Tx) error {
				captured[i] = false
				cur, err := tx.GetSimAuthorization(a.ID)
				if err != nil || cur.State != store.SimAuthorized {
					return err // captured by another: nothing to do
				}
				cur.State, cur.CaptureID, cur.Captured, cur.Updated = store.SimCaptured, id.New("sim_cap"), int64(500+i), now()
				captured[i] = true
				return tx.UpdateSimAuthorization(cur)
			})
		})
	}
	wg.Wait()
	winner := -1
	for i := range n {
		if errs[i] != nil {
			t.Errorf("capture %d: %v", i, errs[i])
		}
		if captured[i] {
			if winner >= 0 {
				t.Errorf("captures %d and %d both went through", winner, i)
			}
			winner = i
		}
	}
	var cur *store.SimAuthorization
	read(t, s, func(tx store.Tx) (err error) { cur, err = tx.GetSimAuthorization(a.ID); return err })
	if winner < 0 || cur.State != store.SimCaptured || cur.Captured != int64(500+winner) {
		t.Fatalf("after %d concurrent captures: winner %d, stored %+v", n, winner, cur)
	}

	// Refunds of 100 from a capture of cur.Captured: only as many as fit.
	refunded := make([]bool, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = s.Write(t.Context(), func(tx store.Tx) error {
				refunded[i] = false
				c, err := tx.GetSimAuthorizationByCapture(cur.CaptureID)
				if err != nil || c.Captured-c.Refunded < 100 {
					return err
				}
				c.Refunded += 100
				refunded[i] = true
				return errors.Join(tx.InsertSimRefund(&store.SimRefund{ID: id.New("sim_ref"), AuthorizationID: c.ID, CaptureID: c.CaptureID,
					Amount: 100, Created: now()}), tx.UpdateSimAuthorization(c))
			})
		})
	}
	wg.Wait()
	ok := 0
	for i := range n {
		if errs[i] != nil {
			t.Errorf("refund %d: %v", i, errs[i])
		}
		if refunded[i] {
			ok++
		}
	}
	read(t, s, func(tx store.Tx) (err error) { cur, err = tx.GetSimAuthorization(a.ID); return err })
	if want := int(cur.Captured / 100); ok != want || cur.Refunded != int64(100*ok) {
		t.Errorf("%d refunds of 100 from a capture of %d went through, %d stored; want %d", ok, cur.Captured, cur.Refunded, want)
	}

	// One reference authorized by many at once: one row, the same for all.
	ids := make([]string, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = s.Write(t.Context(), func(tx store.Tx) error {
				got, err := tx.GetSimAuthorizationByReference("mer_1", "pay_race")
				if err == nil {
					ids[i] = got.ID
					return nil
				}
				if !errors.Is(err, store.ErrNotFound) {
					return err
				}
				mine := newSimAuth("mer_1", "pay_race", 900, now())
				ids[i] = mine.ID
				return tx.InsertSimAuthorization(mine)
			})
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Errorf("authorization %d of one reference: %s %v, want %s and no error", i, ids[i], errs[i], ids[0])
		}
	}
	read(t, s, func(tx store.Tx) error {
		n, err := tx.CountSimAuthorizations("mer_1", "pay_race")
		if n != 1 {
			t.Errorf("%d authorizations of one reference", n)
		}
		return err
	})
}
