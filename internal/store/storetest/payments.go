package storetest

import (
	"errors"
	"sort"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/id"
	"github.com/coffer-vault/coffer/internal/store"
)

func newPayment(merchantID string, created time.Time) *store.Payment {
	return &store.Payment{ID: id.New("pay"), MerchantID: merchantID, Status: store.PaymentProcessing, Amount: 12550,
		Currency: "MYR", CaptureMethod: "automatic", OrderID: "order-1", Description: "Kopi",
		Metadata: map[string]string{"table": "7"},
		Card: store.PaymentCard{Brand: "visa", BIN: "424242", Last4: "4242", Mask: "424242******4242", ExpMonth: 12, ExpYear: 2034,
			Fingerprint: "fp-1"},
		Created: created, Updated: created}
}

// A payment records its 3-D Secure result (nil when none ran) and the
// challenge it waits for.
func testPaymentAuthentication(t *testing.T, open Opener) {
	s := fresh(t, open)
	m := addMerchant(t, s)
	t0 := now()
	waiting := newPayment(m.ID, t0)
	waiting.Status, waiting.ChallengeID = store.PaymentRequiresAction, id.New("chl")
	plain := newPayment(m.ID, t0)
	write(t, s, func(tx store.Tx) error { return errors.Join(tx.InsertPayment(waiting), tx.InsertPayment(plain)) })
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetPayment(m.ID, waiting.ID)
		same(t, "GetPayment (waiting for a challenge)", got, waiting)
		if err != nil {
			return err
		}
		if got.Authentication != nil {
			t.Errorf("Authentication = %+v, want nil", got.Authentication)
		}
		got, err = tx.GetPayment(m.ID, plain.ID)
		same(t, "GetPayment (no 3-D Secure)", got, plain)
		return err
	})

	// The challenge done: the result is recorded, the challenge id kept.
	waiting.Status, waiting.Updated = store.PaymentProcessing, t0.Add(time.Minute)
	waiting.Authentication = &store.Authentication{Status: "authenticated", ECI: "05", Version: "2.2.0", TransactionID: "3ds_tx_1"}
	write(t, s, func(tx store.Tx) error { return tx.UpdatePaymentIf(waiting, store.PaymentRequiresAction) })
	waiting.Status, waiting.AmountCaptured, waiting.Updated = store.PaymentSucceeded, waiting.Amount, t0.Add(2*time.Minute)
	write(t, s, func(tx store.Tx) error { return tx.UpdatePayment(waiting) })
	// Frictionless: a result but no challenge, set by UpdatePayment.
	plain.Authentication = &store.Authentication{Status: "not_required"}
	plain.Updated = t0.Add(time.Minute)
	write(t, s, func(tx store.Tx) error { return tx.UpdatePayment(plain) })
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetPayment(m.ID, waiting.ID)
		same(t, "GetPayment (authenticated)", got, waiting)
		if err != nil {
			return err
		}
		got, err = tx.GetPayment(m.ID, plain.ID)
		same(t, "GetPayment (frictionless)", got, plain)
		if err != nil {
			return err
		}
		listed, _, err := tx.ListPayments(m.ID, store.PaymentFilter{OrderID: "order-1", Limit: 10})
		want := []*store.Payment{waiting, plain}
		for _, ps := range [][]*store.Payment{listed, want} {
			sort.Slice(ps, func(i, j int) bool { return ps[i].ID < ps[j].ID })
		}
		same(t, "ListPayments", listed, want)
		return err
	})

	// Clearing the result stores NULL, read back as nil, not as a zero value.
	plain.Authentication, plain.ChallengeID, plain.Updated = nil, "", t0.Add(3*time.Minute)
	write(t, s, func(tx store.Tx) error { return tx.UpdatePayment(plain) })
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetPayment(m.ID, plain.ID)
		same(t, "GetPayment (result cleared)", got, plain)
		if err == nil && got.Authentication != nil {
			t.Errorf("Authentication = %+v, want nil", got.Authentication)
		}
		return err
	})
}
