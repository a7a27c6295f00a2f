package payments

import (
	"testing"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// TestRefundLostAnswerRetryRefundsOnce checks that this does not happen: a
// refund whose acquirer answer is lost (timeout: the acquirer did refund)
// answers 5xx, which releases the Idempotency-Key; the retry with the same
// key then refunds again. One key, two refunds at the acquirer.
func TestRefundLostAnswerRetryRefundsOnce(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		fp := harness.NewAcquirer()
		s := harness.Start(t, append(opts, harness.WithProcessor(fp))...)
		sk := s.Dev.SecretKey
		tok := s.Tokenize(t, sk, map[string]any{"card": harness.Card("4242424242424242")}).Want(t, 201).Str("id")
		pid := s.Call("POST", "/v1/payments", sk, map[string]any{"amount": 1000, "token": tok}).Want(t, 201).Str("id")
		fp.LoseRefund.Store(true)
		first := s.Call("POST", "/v1/payments/"+pid+"/refunds", sk, map[string]any{"amount": 300}, "Idempotency-Key", "rc-refund-1")
		second := s.Call("POST", "/v1/payments/"+pid+"/refunds", sk, map[string]any{"amount": 300}, "Idempotency-Key", "rc-refund-1")
		got := fp.Refunded(t, s.Dev.ID, pid)
		p := s.Call("GET", "/v1/payments/"+pid, sk, nil).Want(t, 200)
		if got != 300 || p.Num("amount_refunded") != got {
			t.Fatalf("one Idempotency-Key, acquirer refunded %d (want 300), payment amount_refunded %d\nfirst %d %s\nsecond %d %s",
				got, p.Num("amount_refunded"), first.Status, first.Raw, second.Status, second.Raw)
		}
	})
}

// TestCancelLostAnswerAnswersCanceled checks that this does not happen: a
// void whose answer is lost: the acquirer voided, settleFromAcquirer records
// the payment canceled, but the client is told 422 "captured before it could
// be canceled", and that answer is frozen under the key.
func TestCancelLostAnswerAnswersCanceled(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		fp := harness.NewAcquirer()
		s := harness.Start(t, append(opts, harness.WithProcessor(fp))...)
		sk := s.Dev.SecretKey
		tok := s.Tokenize(t, sk, map[string]any{"card": harness.Card("4242424242424242")}).Want(t, 201).Str("id")
		pid := s.Call("POST", "/v1/payments", sk, map[string]any{"amount": 1000, "token": tok, "capture": false}).Want(t, 201).Str("id")
		fp.LoseVoid.Store(true)
		c := s.Call("POST", "/v1/payments/"+pid+"/cancel", sk, nil, "Idempotency-Key", "rc-cancel-1")
		p := s.Call("GET", "/v1/payments/"+pid, sk, nil).Want(t, 200)
		if p.Str("status") == "canceled" && c.Status != 200 {
			t.Fatalf("payment is canceled but the cancel answered %d: %s", c.Status, c.Raw)
		}
	})
}
