package storetest

import (
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/id"
	"github.com/coffer-vault/coffer/internal/store"
)

// newSession is a session with every field set to something other than its
// zero value, so a round trip shows any column lost or swapped.
func newSession(merchantID, status string, expires time.Time) *store.Session {
	created := expires.Add(-30 * time.Minute)
	return &store.Session{ID: id.New("ses"), MerchantID: merchantID, Mode: "redirect", Status: status,
		Amount: 12550, Currency: "MYR", CustomerID: id.New("cus"), SaveCard: "optional", ShowSavedCards: true,
		CaptureMethod: "manual", OrderID: "order-1001", Description: "Kopi and kaya toast",
		SuccessURL: "https://shop.example/ok?order=1001", FailureURL: "https://shop.example/failed",
		ExpiredURL: "https://shop.example/expired", CancelURL: "https://shop.example/cancel",
		CallbackURL: "https://shop.example/callback", CallbackFormat: "senangpay",
		ForwardURLs:      []string{"https://shop.example/return", "https://other.example/back"},
		ThreeDSecure:     "required",
		ClientSecretHash: randBytes(32), KeyID: id.New("sk"),
		PaymentID: id.New("pay"), TokenID: id.New("tok"), Attempts: 1,
		Failure:  &store.Failure{Code: "card_declined", DeclineCode: "insufficient_funds", Message: "The card was declined."},
		Metadata: map[string]string{"table": "7", "cart": "c-42"},
		// Microseconds apart from every other time, so a swapped column shows.
		ConfirmingUntil: created.Add(time.Minute + time.Microsecond), ExpiresAt: expires,
		Created: created, Updated: created.Add(2 * time.Microsecond)}
}

func sessionID(s *store.Session) string { return s.ID }

// stored is s as a store reads it back: metadata never nil.
func stored(s *store.Session) *store.Session {
	c := *s
	c.Metadata = orEmptyMap(s.Metadata)
	return &c
}

func orEmptyMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func testSessions(t *testing.T, open Opener) {
	s := fresh(t, open)
	m, m2 := addMerchant(t, s), addMerchant(t, s)
	t0 := now()
	full := newSession(m.ID, store.SessionOpen, t0.Add(30*time.Minute))
	// Every field that may be zero is: no amount (save the card only), no
	// customer, key, payment, token, failure, metadata, client secret, claim.
	bare := &store.Session{ID: id.New("ses"), MerchantID: m.ID, Mode: "api", Status: store.SessionOpen,
		ExpiresAt: t0.Add(time.Hour), Created: t0, Updated: t0}
	elsewhere := newSession(m2.ID, store.SessionRequiresAction, t0.Add(20*time.Minute))
	write(t, s, func(tx store.Tx) error {
		return errors.Join(tx.InsertSession(full), tx.InsertSession(bare), tx.InsertSession(elsewhere))
	})

	// check reads every session back both ways and compares it with want.
	check := func(what string, want ...*store.Session) {
		t.Helper()
		read(t, s, func(tx store.Tx) error {
			for _, w := range want {
				got, err := tx.GetSession(w.MerchantID, w.ID)
				if err != nil {
					return fmt.Errorf("%s: GetSession(%s): %w", what, w.ID, err)
				}
				same(t, what+": GetSession", got, stored(w))
				if (got.Failure == nil) != (w.Failure == nil) || (got.ClientSecretHash == nil) != (w.ClientSecretHash == nil) ||
					got.ConfirmingUntil.IsZero() != w.ConfirmingUntil.IsZero() {
					t.Errorf("%s: GetSession(%s): Failure nil %v, ClientSecretHash nil %v, ConfirmingUntil zero %v; want %v, %v, %v",
						what, w.ID, got.Failure == nil, got.ClientSecretHash == nil, got.ConfirmingUntil.IsZero(),
						w.Failure == nil, w.ClientSecretHash == nil, w.ConfirmingUntil.IsZero())
				}
				if got.Metadata == nil {
					t.Errorf("%s: GetSession(%s): Metadata nil, want an empty, non-nil map", what, w.ID)
				}
				byID, err := tx.GetSessionByID(w.ID)
				if err != nil {
					return fmt.Errorf("%s: GetSessionByID(%s): %w", what, w.ID, err)
				}
				same(t, what+": GetSessionByID", byID, stored(w))
			}
			return nil
		})
	}
	check("after insert", full, bare, elsewhere)

	read(t, s, func(tx store.Tx) error {
		_, err := tx.GetSession(m2.ID, full.ID)
		wantErr(t, "GetSession (another merchant's)", err, store.ErrNotFound)
		_, err = tx.GetSession(m.ID, elsewhere.ID)
		wantErr(t, "GetSession (another merchant's)", err, store.ErrNotFound)
		_, err = tx.GetSession(m.ID, id.New("ses"))
		wantErr(t, "GetSession(unknown)", err, store.ErrNotFound)
		_, err = tx.GetSessionByID(id.New("ses"))
		wantErr(t, "GetSessionByID(unknown)", err, store.ErrNotFound)
		return nil
	})

	for _, merchantID := range []string{m.ID, m2.ID} {
		dup := newSession(merchantID, store.SessionOpen, t0)
		dup.ID = full.ID
		err := s.Write(t.Context(), func(tx store.Tx) error { return tx.InsertSession(dup) })
		wantErr(t, "InsertSession with an existing id", err, store.ErrConflict)
	}
	check("after refused inserts", full)

	// UpdateSession writes each mutable field, one at a time (so a column
	// left out or swapped shows), to a new value and then back to its zero
	// value; the merchant's other session and the other merchant's stay as
	// they were.
	for _, c := range []struct {
		what string
		edit func(*store.Session)
	}{
		{"status", func(x *store.Session) { x.Status = store.SessionRequiresAction }},
		{"customer", func(x *store.Session) { x.CustomerID = id.New("cus") }},
		{"payment", func(x *store.Session) { x.PaymentID = id.New("pay") }},
		{"token", func(x *store.Session) { x.TokenID = id.New("tok") }},
		{"attempts", func(x *store.Session) { x.Attempts = 3 }},
		{"failure", func(x *store.Session) {
			x.Failure = &store.Failure{Code: "authentication_failed", Message: "3-D Secure failed."}
		}},
		{"confirming until", func(x *store.Session) { x.ConfirmingUntil = t0.Add(45 * time.Second) }},
		{"key", func(x *store.Session) { x.KeyID = id.New("sk") }},
		{"metadata", func(x *store.Session) { x.Metadata = map[string]string{"table": "8"} }},
		{"updated", func(x *store.Session) { x.Updated = t0.Add(time.Hour + 3*time.Microsecond) }},
		{"expires at", func(x *store.Session) { x.ExpiresAt = t0.Add(2*time.Hour + 5*time.Microsecond) }},
		{"status (final)", func(x *store.Session) { x.Status = store.SessionSucceeded }},
		{"customer (none)", func(x *store.Session) { x.CustomerID = "" }},
		{"payment (none)", func(x *store.Session) { x.PaymentID = "" }},
		{"token (none)", func(x *store.Session) { x.TokenID = "" }},
		{"attempts (none)", func(x *store.Session) { x.Attempts = 0 }},
		{"failure (none)", func(x *store.Session) { x.Failure = nil }},
		{"confirming until (none)", func(x *store.Session) { x.ConfirmingUntil = time.Time{} }},
		{"key (none)", func(x *store.Session) { x.KeyID = "" }},
		{"metadata (none)", func(x *store.Session) { x.Metadata = nil }},
	} {
		c.edit(full)
		write(t, s, func(tx store.Tx) error { return tx.UpdateSession(full) })
		check("UpdateSession ("+c.what+")", full, bare, elsewhere)
	}

	// And from zero values to set ones, all at once.
	bare.Status, bare.CustomerID, bare.Attempts = store.SessionFailed, id.New("cus"), 5
	bare.Failure, bare.Metadata = &store.Failure{Code: "processing_error", Message: "Try again."}, map[string]string{}
	write(t, s, func(tx store.Tx) error { return tx.UpdateSession(bare) })
	check("UpdateSession (bare)", full, bare, elsewhere)

	foreign := *full
	foreign.MerchantID, foreign.Status, foreign.Updated = m2.ID, store.SessionCanceled, t0.Add(3*time.Hour)
	err := s.Write(t.Context(), func(tx store.Tx) error { return tx.UpdateSession(&foreign) })
	wantErr(t, "UpdateSession (another merchant's)", err, store.ErrNotFound)
	err = s.Write(t.Context(), func(tx store.Tx) error {
		return tx.UpdateSession(newSession(m.ID, store.SessionCanceled, t0))
	})
	wantErr(t, "UpdateSession(unknown)", err, store.ErrNotFound)
	check("after refused updates", full, bare, elsewhere)
}

// The sweep finds, across merchants, sessions still open or waiting for the
// card holder whose expiry has passed, oldest expiry first (then by id).
func testSweepableSessions(t *testing.T, open Opener) {
	s := fresh(t, open)
	m, m2 := addMerchant(t, s), addMerchant(t, s)
	t0 := now()
	var (
		open1          = newSession(m.ID, store.SessionOpen, t0.Add(-3*time.Minute))
		requiresAction = newSession(m.ID, store.SessionRequiresAction, t0.Add(-2*time.Minute))
		otherMerchant  = newSession(m2.ID, store.SessionOpen, t0.Add(-90*time.Second))
		// Two at the same expiry, ids in byte order (upper case first,
		// whatever the database's locale): the id breaks the tie.
		tie1 = newSession(m.ID, store.SessionOpen, t0.Add(-time.Minute))
		tie2 = newSession(m2.ID, store.SessionRequiresAction, t0.Add(-time.Minute))

		succeeded = newSession(m.ID, store.SessionSucceeded, t0.Add(-4*time.Minute))
		failed    = newSession(m.ID, store.SessionFailed, t0.Add(-5*time.Minute))
		expired   = newSession(m2.ID, store.SessionExpired, t0.Add(-6*time.Minute))
		canceled  = newSession(m.ID, store.SessionCanceled, t0.Add(-7*time.Minute))
		notYet    = newSession(m.ID, store.SessionOpen, t0.Add(time.Minute))
		atCutoff  = newSession(m.ID, store.SessionRequiresAction, t0)
	)
	suffix := hex.EncodeToString(randBytes(8))
	tie1.ID, tie2.ID = "ses_B"+suffix, "ses_a"+suffix
	// Inserted out of order, so only the query's ORDER BY can sort them.
	write(t, s, func(tx store.Tx) error {
		var errs []error
		for _, x := range []*store.Session{succeeded, tie2, notYet, requiresAction, canceled, otherMerchant,
			failed, atCutoff, tie1, expired, open1} {
			errs = append(errs, tx.InsertSession(x))
		}
		return errors.Join(errs...)
	})

	sweep := func(what string, before time.Time, limit int, want ...*store.Session) {
		t.Helper()
		read(t, s, func(tx store.Tx) error {
			got, err := tx.SweepableSessions(before, limit)
			same(t, what, ids(got, sessionID), ids(want, sessionID))
			if err == nil && len(got) == len(want) {
				for i := range got {
					same(t, what+" (record)", got[i], stored(want[i]))
				}
			}
			return err
		})
	}
	sweep("SweepableSessions", t0, 10, open1, requiresAction, otherMerchant, tie1, tie2)
	sweep("SweepableSessions (limit)", t0, 2, open1, requiresAction)
	sweep("SweepableSessions (limit within a tie)", t0, 4, open1, requiresAction, otherMerchant, tie1)
	sweep("SweepableSessions (earlier cutoff)", t0.Add(-2*time.Minute), 10, open1)
	sweep("SweepableSessions (later cutoff)", t0.Add(2*time.Minute), 10,
		open1, requiresAction, otherMerchant, tie1, tie2, atCutoff, notYet)
	sweep("SweepableSessions (nothing expired yet)", t0.Add(-10*time.Minute), 10)

	// Once finished a session needs no sweeping; one extended is not due.
	open1.Status, open1.Updated = store.SessionExpired, t0
	requiresAction.Status, requiresAction.Updated = store.SessionSucceeded, t0
	otherMerchant.ExpiresAt, otherMerchant.Updated = t0.Add(5*time.Minute), t0
	tie1.Status, tie1.Updated = store.SessionRequiresAction, t0
	write(t, s, func(tx store.Tx) error {
		return errors.Join(tx.UpdateSession(open1), tx.UpdateSession(requiresAction), tx.UpdateSession(otherMerchant),
			tx.UpdateSession(tie1))
	})
	sweep("SweepableSessions (after updates)", t0, 10, tie1, tie2)
	// A finished session brought back (a retry after a failure) is due again.
	failed.Status, failed.Updated = store.SessionOpen, t0
	write(t, s, func(tx store.Tx) error { return tx.UpdateSession(failed) })
	sweep("SweepableSessions (reopened)", t0, 10, failed, tie1, tie2)
}

func testSessionKeys(t *testing.T, open Opener) {
	s := fresh(t, open)
	m, m2 := addMerchant(t, s), addMerchant(t, s)
	t0 := now()
	suffix := hex.EncodeToString(randBytes(8))
	mk := func(keyID, merchantID string, created time.Time) *store.SessionKey {
		return &store.SessionKey{ID: keyID, MerchantID: merchantID, PrivateCT: randBytes(1250), Public: randBytes(294), Created: created}
	}
	// Ids run against creation order, so only created can pick the newest.
	var (
		oldest = mk("sk_c"+suffix, m.ID, t0.Add(-2*time.Hour))
		middle = mk("sk_b"+suffix, m.ID, t0.Add(-time.Hour))
		newest = mk("sk_a"+suffix, m.ID, t0.Add(-30*time.Minute))
		other  = mk(id.New("sk"), m2.ID, t0) // newer than all of m's
	)
	write(t, s, func(tx store.Tx) error {
		return errors.Join(tx.InsertSessionKey(middle), tx.InsertSessionKey(other), tx.InsertSessionKey(newest), tx.InsertSessionKey(oldest))
	})

	read(t, s, func(tx store.Tx) error {
		for _, k := range []*store.SessionKey{oldest, middle, newest, other} {
			got, err := tx.GetSessionKey(k.MerchantID, k.ID)
			if err != nil {
				return fmt.Errorf("GetSessionKey(%s): %w", k.ID, err)
			}
			same(t, "GetSessionKey", got, k)
		}
		_, err := tx.GetSessionKey(m2.ID, oldest.ID)
		wantErr(t, "GetSessionKey (another merchant's)", err, store.ErrNotFound)
		_, err = tx.GetSessionKey(m.ID, other.ID)
		wantErr(t, "GetSessionKey (another merchant's)", err, store.ErrNotFound)
		_, err = tx.GetSessionKey(m.ID, id.New("sk"))
		wantErr(t, "GetSessionKey(unknown)", err, store.ErrNotFound)
		return nil
	})

	current := func(what, merchantID string, since time.Time, want *store.SessionKey) {
		t.Helper()
		read(t, s, func(tx store.Tx) error {
			got, err := tx.CurrentSessionKey(merchantID, since)
			if want == nil {
				wantErr(t, what, err, store.ErrNotFound)
				return nil
			}
			if err != nil {
				return fmt.Errorf("%s: %w", what, err)
			}
			same(t, what, got, want)
			return nil
		})
	}
	current("CurrentSessionKey (all in the window)", m.ID, t0.Add(-3*time.Hour), newest)
	current("CurrentSessionKey (two in the window)", m.ID, t0.Add(-90*time.Minute), newest)
	current("CurrentSessionKey (window starts at the newest)", m.ID, newest.Created, newest)
	current("CurrentSessionKey (window after the newest)", m.ID, newest.Created.Add(time.Microsecond), nil)
	current("CurrentSessionKey (other merchant)", m2.ID, t0.Add(-3*time.Hour), other)
	current("CurrentSessionKey (other merchant, window after its key)", m2.ID, t0.Add(time.Second), nil)
	current("CurrentSessionKey (unknown merchant)", id.New("mer"), t0.Add(-3*time.Hour), nil)

	// Rotation: a new key is current from then on.
	rotated := mk(id.New("sk"), m.ID, t0.Add(-time.Minute))
	write(t, s, func(tx store.Tx) error { return tx.InsertSessionKey(rotated) })
	current("CurrentSessionKey (after rotation)", m.ID, t0.Add(-time.Hour), rotated)

	dup := mk(newest.ID, m2.ID, t0)
	err := s.Write(t.Context(), func(tx store.Tx) error { return tx.InsertSessionKey(dup) })
	wantErr(t, "InsertSessionKey with an existing id", err, store.ErrConflict)
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetSessionKey(m.ID, newest.ID)
		same(t, "session key after a refused insert", got, newest)
		return err
	})
}
