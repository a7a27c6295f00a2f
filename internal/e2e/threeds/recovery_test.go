package threeds

import (
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// TestChallengeCVCErasedWithDeletedToken: Deleting a token (or its customer)
// while its 3-D Secure challenge is pending leaves the CVC sealed in the
// challenge row until the card holder answers or the challenge expires (up to
// 10 minutes). The verification it was kept for can no longer happen, and
// deleting a token must crypto-shred its card data: the CVC must go in the
// same transaction.
func TestChallengeCVCErasedWithDeletedToken(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		s := harness.Start(t, opts...)
		sk := s.Dev.SecretKey
		tok := s.Tokenize(t, sk, map[string]any{"card": harness.Card(harness.ChallengeCard)}).Want(t, 201)
		if tok.Str("status") != "requires_action" || s.ChallengeSecrets(t) != 1 {
			t.Fatalf("setup: %s", tok.Raw)
		}
		s.Call("DELETE", "/v1/tokens/"+tok.Str("id"), sk, nil).Want(t, 200)
		if n := s.ChallengeSecrets(t); n != 0 {
			t.Errorf("token deleted during its challenge: %d sealed CVC(s) still in the challenges table", n)
		}

		// The same through deleting the customer.
		cus := s.Call("POST", "/v1/customers", sk, map[string]any{"reference": "r3_deleted"}).Want(t, 201).Str("id")
		ctok := s.Tokenize(t, sk, map[string]any{"card": harness.Card("4000008400001629"), "customer": cus}).Want(t, 201).Str("id")
		s.Call("DELETE", "/v1/customers/"+cus, sk, nil).Want(t, 200)
		if holdsSecret(t, s, ctok) {
			t.Errorf("customer deleted during its token's challenge: the token's CVC is still sealed in its challenge")
		}
	})
}

// holdsSecret reports whether the challenge of an object still holds sealed card data.
func holdsSecret(t testing.TB, s *harness.Server, objectID string) bool {
	t.Helper()
	var n int
	if err := s.OpenDB(t).QueryRow(s.Rebind(`SELECT COUNT(*) FROM challenges WHERE object_id = ? AND secret_ct IS NOT NULL`), objectID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

// TestChallengeCardErasedAfterReconcile: A crash between the right OTP
// (challenge authenticated, payment moved to processing) and the
// authorization leaves the whole card — PAN, expiry, CVC — sealed in the
// challenge row. Reconcile settles the payment as failed at the next start,
// but nothing erases the card data: it stays until the sweeper reaches the
// challenge's expiry, although the authorization it was kept for has ended.
func TestChallengeCardErasedAfterReconcile(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		s := harness.Start(t, opts...)
		sk := s.Dev.SecretKey
		p := harness.PaymentOK(t, s.Call("POST", "/v1/payments", sk, map[string]any{"amount": 1200, "card": harness.Card(harness.ChallengeCard),
			"return_url": "https://shop.example/back"}), 201, "requires_action")
		pid := p["id"].(string)
		db := s.OpenDB(t)
		// What AnswerChallenge's transaction commits for a right answer; the
		// server dies before finishPayment runs.
		if _, err := db.Exec(s.Rebind(`UPDATE challenges SET status = 'authenticated', attempts = 1 WHERE object_id = ?`), pid); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(s.Rebind(`UPDATE payments SET status = 'processing', updated = 0 WHERE id = ?`), pid); err != nil {
			t.Fatal(err)
		}
		s2 := s.Restart() // Reconcile runs at start
		harness.WaitUntil(t, 10*time.Second, "Reconcile to fail the payment", func() bool { return s2.Call("GET", "/v1/payments/"+pid, sk, nil).Str("status") == "failed" })
		if n := s2.ChallengeSecrets(t); n != 0 {
			t.Errorf("payment %s was settled (failed) by Reconcile, yet its challenge still holds the sealed card number and CVC (%d secret)", pid, n)
		}
	})
}
