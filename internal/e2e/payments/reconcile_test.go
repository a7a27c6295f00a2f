package payments

import (
	"strings"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// TestReconcileAgreesWithResumedRetry checks that this does not happen:
// reconcile of a stale processing payment reads the acquirer, then reverses
// the charge, without first taking the payment away from a retry that resumes
// it. A retry that resumes meanwhile answers 201 succeeded, and the reconcile
// then refunds the whole charge at the acquirer.
func TestReconcileAgreesWithResumedRetry(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		fp := harness.NewAcquirer()
		s := harness.Start(t, append(opts, harness.WithProcessor(fp))...)
		sk := s.Dev.SecretKey
		tok := s.Tokenize(t, sk, map[string]any{"card": harness.Card("4242424242424242")}).Want(t, 201).Str("id")
		body := map[string]any{"amount": 1500, "token": tok}
		first := s.Call("POST", "/v1/payments", sk, body, "Idempotency-Key", "rc-crashy").Want(t, 201)
		pid := first.Str("id")
		db := s.OpenDB(t)
		if _, err := db.Exec(s.Rebind(`UPDATE payments SET status = 'processing', amount_captured = 0, updated = 0 WHERE id = ?`), pid); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(`UPDATE idempotency_keys SET state = 'started', status_code = 0, response = NULL, locked_until = 0`); err != nil {
			t.Fatal(err)
		}
		s.Stop()
		hold := fp.HoldLookup(pid)
		s2 := harness.Start(t, append(opts, harness.WithDataDir(s.DataDir), harness.WithProcessor(fp))...)
		select {
		case <-hold.Entered:
		case <-time.After(10 * time.Second):
			t.Fatal("reconcile did not look the payment up")
		}
		again := s2.Call("POST", "/v1/payments", sk, body, "Idempotency-Key", "rc-crashy")
		close(hold.Release)
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) && !strings.Contains(s2.Logs.String(), "reconciled an interrupted payment") {
			time.Sleep(50 * time.Millisecond)
		}
		time.Sleep(200 * time.Millisecond)
		p := s2.Call("GET", "/v1/payments/"+pid, sk, nil).Want(t, 200)
		got := fp.Refunded(t, s.Dev.ID, pid)
		if got != p.Num("amount_refunded") || (again.Status == 201 && got != 0) {
			t.Fatalf("retry answered %d status %q; acquirer refunded %d, payment status %s amount_captured %d amount_refunded %d",
				again.Status, again.Str("status"), got, p.Str("status"), p.Num("amount_captured"), p.Num("amount_refunded"))
		}
	})
}

// TestReconcileRefundsCountsLiveRefund checks that this does not happen:
// reconcileRefunds reads the acquirer's refunded total outside its
// transaction; a live refund that completes in between is counted as
// succeeded but not in the stale total, so a refund the acquirer did make is
// failed and its amount released: our books say less was refunded than the
// acquirer did.
func TestReconcileRefundsCountsLiveRefund(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		fp := harness.NewAcquirer()
		s := harness.Start(t, append(opts, harness.WithProcessor(fp))...)
		sk := s.Dev.SecretKey
		tok := s.Tokenize(t, sk, map[string]any{"card": harness.Card("4242424242424242")}).Want(t, 201).Str("id")
		pid := s.Call("POST", "/v1/payments", sk, map[string]any{"amount": 1000, "token": tok}).Want(t, 201).Str("id")
		r1 := s.Call("POST", "/v1/payments/"+pid+"/refunds", sk, map[string]any{"amount": 300}).Want(t, 201).Str("id")
		db := s.OpenDB(t)
		if _, err := db.Exec(s.Rebind(`UPDATE refunds SET status = 'pending', updated = 0 WHERE id = ?`), r1); err != nil {
			t.Fatal(err)
		}
		s.Stop()
		hold := fp.HoldLookup(r1) // reconcile settles each refund by its own reference
		s2 := harness.Start(t, append(opts, harness.WithDataDir(s.DataDir), harness.WithProcessor(fp))...)
		select {
		case <-hold.Entered:
		case <-time.After(10 * time.Second):
			t.Fatal("reconcile did not look the refund up")
		}
		s2.Call("POST", "/v1/payments/"+pid+"/refunds", sk, map[string]any{"amount": 200}).Want(t, 201)
		close(hold.Release)
		harness.WaitUntil(t, 10*time.Second, "no refund left pending", func() bool {
			for _, r := range s2.Call("GET", "/v1/payments/"+pid+"/refunds", sk, nil).Body["data"].([]any) {
				if harness.Dig(r, "status") == "pending" {
					return false
				}
			}
			return true
		})
		p := s2.Call("GET", "/v1/payments/"+pid, sk, nil).Want(t, 200)
		got := fp.Refunded(t, s.Dev.ID, pid)
		if got != p.Num("amount_refunded") {
			refunds := s2.Call("GET", "/v1/payments/"+pid+"/refunds", sk, nil)
			t.Fatalf("acquirer refunded %d, payment amount_refunded %d; refunds %s", got, p.Num("amount_refunded"), refunds.Raw)
		}
	})
}

// TestReconcileLapsedClaimKeepsCapture checks that this does not happen:
// reconcile releases a lapsed capture claim by writing back the payment row
// it read before asking the acquirer. A capture that claims and completes
// meanwhile is overwritten: the captured payment is back in requires_capture
// with its amount capturable again.
func TestReconcileLapsedClaimKeepsCapture(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		fp := harness.NewAcquirer()
		s := harness.Start(t, append(opts, harness.WithProcessor(fp))...)
		sk := s.Dev.SecretKey
		tok := s.Tokenize(t, sk, map[string]any{"card": harness.Card("4242424242424242")}).Want(t, 201).Str("id")
		pid := s.Call("POST", "/v1/payments", sk, map[string]any{"amount": 1000, "token": tok, "capture": false}).Want(t, 201).Str("id")
		db := s.OpenDB(t)
		// a capture claim whose holder died before reaching the acquirer
		if _, err := db.Exec(s.Rebind(`UPDATE payments SET pending_op = 'capture', pending_until = 1 WHERE id = ?`), pid); err != nil {
			t.Fatal(err)
		}
		s.Stop()
		hold := fp.HoldLookup(pid)
		s2 := harness.Start(t, append(opts, harness.WithDataDir(s.DataDir), harness.WithProcessor(fp))...)
		select {
		case <-hold.Entered:
		case <-time.After(10 * time.Second):
			t.Fatal("reconcile did not look the payment up")
		}
		c := s2.Call("POST", "/v1/payments/"+pid+"/capture", sk, nil).Want(t, 200)
		close(hold.Release)
		time.Sleep(500 * time.Millisecond)
		p := s2.Call("GET", "/v1/payments/"+pid, sk, nil).Want(t, 200)
		if p.Str("status") != "succeeded" || p.Num("amount_captured") != 1000 || p.Num("amount_capturable") != 0 {
			t.Fatalf("capture answered %s\nbut the payment is now %s", c.Raw, p.Raw)
		}
	})
}
