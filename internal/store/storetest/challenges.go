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

func newChallenge(merchantID, status string, expires time.Time, secret []byte) *store.Challenge {
	created := expires.Add(-10 * time.Minute)
	return &store.Challenge{ID: id.New("chl"), MerchantID: merchantID, ObjectType: "payment", ObjectID: id.New("pay"),
		Status: status, Amount: 12550, Currency: "MYR", Brand: "visa", Mask: "424242******4242",
		TransactionID: id.New("3ds"), Version: "2.2.0", ReturnURL: "https://shop.example/return?order=1001",
		Fingerprint: "fp_" + hex.EncodeToString(randBytes(16)), SecretCT: secret, ExpiresAt: expires, Created: created, Updated: created}
}

func challengeID(c *store.Challenge) string { return c.ID }

func testChallenges(t *testing.T, open Opener) {
	s := fresh(t, open)
	m, m2 := addMerchant(t, s), addMerchant(t, s)
	t0 := now()
	pay := newChallenge(m.ID, store.ChallengePending, t0.Add(10*time.Minute), randBytes(88))
	tok := newChallenge(m2.ID, store.ChallengeAuthenticated, t0.Add(5*time.Minute), nil)
	tok.ObjectType, tok.ObjectID, tok.Amount, tok.Attempts, tok.Verify = "token", id.New("tok"), 0, 2, true
	write(t, s, func(tx store.Tx) error { return errors.Join(tx.InsertChallenge(pay), tx.InsertChallenge(tok)) })

	read(t, s, func(tx store.Tx) error {
		// By id alone, whichever merchant's it is.
		for _, want := range []*store.Challenge{pay, tok} {
			got, err := tx.GetChallenge(want.ID)
			if err != nil {
				return fmt.Errorf("GetChallenge(%s): %w", want.ID, err)
			}
			same(t, "GetChallenge", got, want)
			if (got.SecretCT == nil) != (want.SecretCT == nil) || got.Verify != want.Verify {
				t.Errorf("GetChallenge(%s): SecretCT nil %v, Verify %v; want nil %v, Verify %v",
					want.ID, got.SecretCT == nil, got.Verify, want.SecretCT == nil, want.Verify)
			}
		}
		_, err := tx.GetChallenge(id.New("chl"))
		wantErr(t, "GetChallenge(unknown)", err, store.ErrNotFound)
		return nil
	})

	dup := newChallenge(m.ID, store.ChallengePending, t0, nil)
	dup.ID = pay.ID
	err := s.Write(t.Context(), func(tx store.Tx) error { return tx.InsertChallenge(dup) })
	wantErr(t, "InsertChallenge with an existing id", err, store.ErrConflict)

	// A wrong OTP, then the right one: the sealed card data is erased once
	// the authorization it was kept for has run.
	pay.Attempts, pay.Updated = 1, t0.Add(time.Minute)
	write(t, s, func(tx store.Tx) error { return tx.UpdateChallenge(pay) })
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetChallenge(pay.ID)
		same(t, "challenge after a wrong OTP", got, pay)
		return err
	})
	pay.Attempts, pay.Status, pay.TransactionID, pay.Version = 2, store.ChallengeAuthenticated, "3ds_tx_final", "2.3.1"
	pay.SecretCT, pay.ExpiresAt, pay.Updated = nil, t0.Add(20*time.Minute), t0.Add(2*time.Minute)
	write(t, s, func(tx store.Tx) error { return tx.UpdateChallenge(pay) })
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetChallenge(pay.ID)
		same(t, "challenge after UpdateChallenge", got, pay)
		if err == nil && got.SecretCT != nil {
			t.Errorf("SecretCT = %x after erasing, want nil", got.SecretCT)
		}
		return err
	})

	foreign := *pay
	foreign.MerchantID = m2.ID
	err = s.Write(t.Context(), func(tx store.Tx) error { return tx.UpdateChallenge(&foreign) })
	wantErr(t, "UpdateChallenge (another merchant's)", err, store.ErrNotFound)
	err = s.Write(t.Context(), func(tx store.Tx) error {
		return tx.UpdateChallenge(newChallenge(m.ID, store.ChallengeFailed, t0, nil))
	})
	wantErr(t, "UpdateChallenge(unknown)", err, store.ErrNotFound)
}

// The sweep finds, across merchants, challenges that expired and still need
// work (pending, or holding sealed card data), oldest first.
func testSweepableChallenges(t *testing.T, open Opener) {
	s := fresh(t, open)
	m, m2 := addMerchant(t, s), addMerchant(t, s)
	t0 := now()
	secret := func() []byte { return randBytes(48) }
	var (
		pending             = newChallenge(m.ID, store.ChallengePending, t0.Add(-3*time.Minute), secret())
		pendingErased       = newChallenge(m.ID, store.ChallengePending, t0.Add(-2*time.Minute), nil)
		otherMerchant       = newChallenge(m2.ID, store.ChallengePending, t0.Add(-90*time.Second), secret())
		authenticated       = newChallenge(m.ID, store.ChallengeAuthenticated, t0.Add(-time.Minute), secret())
		notYet              = newChallenge(m.ID, store.ChallengePending, t0.Add(time.Minute), secret())
		atCutoff            = newChallenge(m.ID, store.ChallengePending, t0, secret())
		failedErased        = newChallenge(m.ID, store.ChallengeFailed, t0.Add(-4*time.Minute), nil)
		expiredErased       = newChallenge(m.ID, store.ChallengeExpired, t0.Add(-5*time.Minute), nil)
		authenticatedErased = newChallenge(m2.ID, store.ChallengeAuthenticated, t0.Add(-6*time.Minute), nil)
	)
	// Inserted out of order, so only the query's ORDER BY can sort them.
	write(t, s, func(tx store.Tx) error {
		var errs []error
		for _, c := range []*store.Challenge{authenticated, notYet, failedErased, pendingErased, otherMerchant,
			expiredErased, atCutoff, pending, authenticatedErased} {
			errs = append(errs, tx.InsertChallenge(c))
		}
		return errors.Join(errs...)
	})

	sweep := func(what string, before time.Time, limit int, want ...*store.Challenge) {
		t.Helper()
		read(t, s, func(tx store.Tx) error {
			got, err := tx.SweepableChallenges(before, limit)
			same(t, what, ids(got, challengeID), ids(want, challengeID))
			if err == nil && len(got) == len(want) {
				for i := range got {
					same(t, what+" (record)", got[i], want[i])
				}
			}
			return err
		})
	}
	sweep("SweepableChallenges", t0, 10, pending, pendingErased, otherMerchant, authenticated)
	sweep("SweepableChallenges (limit)", t0, 2, pending, pendingErased)
	sweep("SweepableChallenges (earlier cutoff)", t0.Add(-2*time.Minute), 10, pending)
	sweep("SweepableChallenges (later cutoff)", t0.Add(2*time.Minute), 10,
		pending, pendingErased, otherMerchant, authenticated, atCutoff, notYet)

	// Once expired and erased, a challenge needs no more work.
	pending.Status, pending.SecretCT, pending.Updated = store.ChallengeExpired, nil, t0
	authenticated.SecretCT, authenticated.Updated = nil, t0
	pendingErased.Status, pendingErased.Updated = store.ChallengeExpired, t0
	write(t, s, func(tx store.Tx) error {
		return errors.Join(tx.UpdateChallenge(pending), tx.UpdateChallenge(authenticated), tx.UpdateChallenge(pendingErased))
	})
	sweep("SweepableChallenges (after sweeping)", t0, 10, otherMerchant)
	// Expired but still holding card data (the erase failed): swept again.
	otherMerchant.Status, otherMerchant.Updated = store.ChallengeExpired, t0
	write(t, s, func(tx store.Tx) error { return tx.UpdateChallenge(otherMerchant) })
	sweep("SweepableChallenges (expired, not erased)", t0, 10, otherMerchant)
}

func testCardAuthFailures(t *testing.T, open Opener) {
	s := fresh(t, open)
	m, m2 := addMerchant(t, s), addMerchant(t, s)
	t0 := now()
	read(t, s, func(tx store.Tx) error {
		_, err := tx.GetCardAuthFailures(m.ID, "fp_a")
		wantErr(t, "GetCardAuthFailures(none yet)", err, store.ErrNotFound)
		return nil
	})
	a := &store.CardAuthFailures{MerchantID: m.ID, Fingerprint: "fp_a", Failures: 1, LastFailure: t0}
	other := &store.CardAuthFailures{MerchantID: m2.ID, Fingerprint: "fp_a", Failures: 4, LastFailure: t0.Add(-time.Hour)}
	write(t, s, func(tx store.Tx) error { return errors.Join(tx.PutCardAuthFailures(a), tx.PutCardAuthFailures(other)) })
	a.Failures, a.LastFailure = 2, t0.Add(time.Minute) // replaces, per merchant
	write(t, s, func(tx store.Tx) error { return tx.PutCardAuthFailures(a) })
	read(t, s, func(tx store.Tx) error {
		for _, want := range []*store.CardAuthFailures{a, other} {
			got, err := tx.GetCardAuthFailures(want.MerchantID, want.Fingerprint)
			if err != nil {
				return err
			}
			same(t, "GetCardAuthFailures", got, want)
		}
		_, err := tx.GetCardAuthFailures(m.ID, "fp_b")
		wantErr(t, "GetCardAuthFailures(another card)", err, store.ErrNotFound)
		return nil
	})
}
