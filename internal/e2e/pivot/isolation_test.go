package pivot

// Stored tokens stay with their customer and merchant.

import (
	"testing"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// TestPivotStoredTokenStaysWithItsCustomer: a stored token of customer A
// can never pay customer B's session, neither on confirm nor at create with
// autoConfirm; another merchant's token cannot read A's customer.
func TestPivotStoredTokenStaysWithItsCustomer(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	tok := harness.PivotToken(t, s, s.Dev.ID, s.Dev.SecretKey)
	a := paid(t, s, tok, "4242424242424242", map[string]any{"saveForFutureUse": true,
		"customer": map[string]any{"givenName": "Ani", "email": "rpv-pa@example.id"}})
	saved, cusA := harness.Str(charge(t, a), "token"), harness.Str(a, "customerId")
	b := harness.PivotAPISession(t, s, tok, map[string]any{"customer": map[string]any{"givenName": "Budi", "email": "rpv-pb@example.id"}})
	r := harness.PivotConfirm(s, tok, harness.Str(b, "id"), map[string]any{"token": saved, "cvc": "123"})
	if r.Status == 200 {
		t.Fatalf("B's session paid with A's token: %s", r.Raw)
	}
	// No customer at all.
	n := harness.PivotAPISession(t, s, tok, nil)
	if r = harness.PivotConfirm(s, tok, harness.Str(n, "id"), map[string]any{"token": saved, "cvc": "123"}); r.Status == 200 {
		t.Fatalf("a customerless session paid with A's token: %s", r.Raw)
	}
	other := s.NewMerchant("Other")
	otok := harness.PivotToken(t, s, other.ID, other.SecretKey)
	harness.PivotFail(t, "other merchant's customer", s.Call("GET", "/pivot/v1/customers/"+cusA, otok, nil), 404, "4040", "Customer not found")
	ov := harness.PivotAPISession(t, s, otok, map[string]any{"customer": map[string]any{"email": "rpv-pa@example.id"}})
	if ov["customerId"] == cusA {
		t.Fatal("another merchant's customer object (same email) found this merchant's customer")
	}
	if r = harness.PivotConfirm(s, otok, harness.Str(ov, "id"), map[string]any{"token": saved, "cvc": "123"}); r.Status == 200 {
		t.Fatalf("another merchant's session paid with this merchant's token: %s", r.Raw)
	}
	// A ciphertext under this merchant's key does not open under another's.
	if r = harness.PivotConfirm(s, otok, harness.Str(ov, "id"), map[string]any{"encryptedCard": harness.PivotEncrypt(t, harness.Str(b, "encryptionKey"), harness.PivotCardJSON("4242424242424242", "123"), true)}); r.Status != 400 {
		t.Errorf("another merchant's ciphertext: %d %s", r.Status, r.Raw)
	}
	// Another merchant cannot confirm this merchant's session.
	harness.PivotFail(t, "other merchant confirms", harness.PivotConfirm(s, otok, harness.Str(b, "id"), map[string]any{"token": saved, "cvc": "123"}), 404, "4040", "not found")
}
