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

// PaymentStats groups a merchant's payments of a time range per UTC day,
// status, currency and failure reason (the decline code, else the failure
// code, only for failed payments); a payment at midnight belongs to the day
// it starts; the range includes from and excludes to; other merchants'
// payments never count. ListPayments' creation bounds select the same way.
func testPaymentStats(t *testing.T, open Opener) {
	s := fresh(t, open)
	m, other := addMerchant(t, s), addMerchant(t, s)
	day1 := time.Date(2031, 3, 14, 0, 0, 0, 0, time.UTC)
	day2 := day1.AddDate(0, 0, 1)
	at := func(mer string, created time.Time, status, currency string, amount, captured int64, f *store.Failure) *store.Payment {
		p := newPayment(mer, created)
		p.Status, p.Currency, p.Amount, p.AmountCaptured, p.Failure = status, currency, amount, captured, f
		return p
	}
	insufficient := &store.Failure{Code: "card_declined", DeclineCode: "insufficient_funds", Message: "Your card has insufficient funds."}
	ps := []*store.Payment{
		at(m.ID, day1, store.PaymentSucceeded, "MYR", 1000, 1000, nil), // midnight: day 1
		at(m.ID, day1.Add(5*time.Hour), store.PaymentSucceeded, "MYR", 2500, 2000, nil),
		at(m.ID, day1.Add(6*time.Hour), store.PaymentSucceeded, "USD", 700, 700, nil),
		at(m.ID, day1.Add(7*time.Hour), store.PaymentFailed, "MYR", 300, 0, insufficient),
		at(m.ID, day1.Add(8*time.Hour), store.PaymentFailed, "MYR", 400, 0,
			&store.Failure{Code: "card_declined", DeclineCode: "insufficient_funds", Message: "another wording"}),
		at(m.ID, day2.Add(-time.Microsecond), store.PaymentFailed, "MYR", 500, 0, &store.Failure{Code: "processing_error", Message: "x"}),
		at(m.ID, day2, store.PaymentRequiresAction, "MYR", 600, 0, nil),
		at(m.ID, day2.Add(time.Hour), store.PaymentFailed, "MYR", 800, 0, nil),
		at(m.ID, day1.Add(-time.Microsecond), store.PaymentSucceeded, "MYR", 9000, 9000, nil),            // before from
		at(m.ID, day2.AddDate(0, 0, 1), store.PaymentSucceeded, "MYR", 9000, 9000, nil),                  // at to
		at(other.ID, day1.Add(time.Hour), store.PaymentSucceeded, "MYR", 9000, 9000, nil),                // another merchant
		at(m.ID, day2.Add(2*time.Hour), store.PaymentCanceled, "MYR", 900, 0, &store.Failure{Code: "x"}), // not failed: no reason
	}
	write(t, s, func(tx store.Tx) error {
		for _, p := range ps {
			if err := tx.InsertPayment(p); err != nil {
				return err
			}
		}
		return nil
	})
	var got, none []store.PaymentStat
	read(t, s, func(tx store.Tx) (err error) {
		if got, err = tx.PaymentStats(m.ID, day1, day2.AddDate(0, 0, 1)); err != nil {
			return err
		}
		none, err = tx.PaymentStats(m.ID, day1.AddDate(0, 0, -10), day1.AddDate(0, 0, -9))
		return err
	})
	want := []store.PaymentStat{
		{Day: day1, Status: "failed", Currency: "MYR", Reason: "insufficient_funds", Count: 2, Amount: 700},
		{Day: day1, Status: "failed", Currency: "MYR", Reason: "processing_error", Count: 1, Amount: 500},
		{Day: day1, Status: "succeeded", Currency: "MYR", Count: 2, Amount: 3500, Captured: 3000},
		{Day: day1, Status: "succeeded", Currency: "USD", Count: 1, Amount: 700, Captured: 700},
		{Day: day2, Status: "canceled", Currency: "MYR", Count: 1, Amount: 900},
		{Day: day2, Status: "failed", Currency: "MYR", Count: 1, Amount: 800},
		{Day: day2, Status: "requires_action", Currency: "MYR", Count: 1, Amount: 600},
	}
	same(t, "PaymentStats", got, want)
	if len(none) != 0 {
		t.Errorf("PaymentStats of a range without payments = %+v, want none", none)
	}

	read(t, s, func(tx store.Tx) error {
		listed, _, err := tx.ListPayments(m.ID, store.PaymentFilter{CreatedFrom: day1, CreatedBefore: day2, Limit: 100})
		same(t, "ListPayments created in day 1", ids(listed, func(p *store.Payment) string { return p.ID }),
			[]string{ps[5].ID, ps[4].ID, ps[3].ID, ps[2].ID, ps[1].ID, ps[0].ID})
		if err != nil {
			return err
		}
		listed, _, err = tx.ListPayments(m.ID, store.PaymentFilter{CreatedFrom: day2.AddDate(0, 0, 1), Limit: 100})
		same(t, "ListPayments created from day 3", ids(listed, func(p *store.Payment) string { return p.ID }), []string{ps[9].ID})
		if err != nil {
			return err
		}
		listed, _, err = tx.ListPayments(m.ID, store.PaymentFilter{CreatedBefore: day1, Limit: 100})
		same(t, "ListPayments created before day 1", ids(listed, func(p *store.Payment) string { return p.ID }), []string{ps[8].ID})
		return err
	})
}
