package pivot

// X-REQUEST-ID: Pivot's idempotency key, its length and its scope.

import (
	"strings"
	"testing"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// regression: the dialect checked X-REQUEST-ID against idempotency.MaxKey
// (255) and then prefixed it with its scope ("confirm|<session id>|"), so
// a key of 220 characters – within the limit the error itself states – was
// refused on confirm with "X-REQUEST-ID must be at most 255 characters".
// Guards: any X-REQUEST-ID of at most 255 characters is accepted on every
// endpoint (the stored key is the scope's name and a SHA-256).
func TestPivotRequestIDLengthOnConfirm(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	tok := harness.PivotToken(t, s, s.Dev.ID, s.Dev.SecretKey)
	v := harness.PivotAPISession(t, s, tok, nil)
	key := strings.Repeat("k", 220)
	body := map[string]any{"paymentMethod": map[string]any{"type": "CARD", "card": map[string]any{
		"encryptedCard": harness.PivotEncrypt(t, harness.Str(v, "encryptionKey"), harness.PivotCardJSON("4242424242424242", "123"), true)}}}
	r := s.Call("POST", "/pivot/v2/payments/"+harness.Str(v, "id")+"/confirm", tok, body, "X-REQUEST-ID", key)
	if r.Status != 200 || r.Str("data", "status") != "PAID" {
		t.Errorf("a 220-character X-REQUEST-ID on confirm: %d %s", r.Status, r.Raw)
	}
}

// TestPivotRequestIDPerMerchant: X-REQUEST-ID is per merchant: another
// merchant reusing the same id and body gets its own session, never a
// replay of this one's (which holds this merchant's encryptionKey and
// customer).
func TestPivotRequestIDPerMerchant(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	tok := harness.PivotToken(t, s, s.Dev.ID, s.Dev.SecretKey)
	other := s.NewMerchant("Other")
	otok := harness.PivotToken(t, s, other.ID, other.SecretKey)
	a := harness.PivotAPISession(t, s, tok, nil, "X-REQUEST-ID", "rpv-same-id")
	b := s.Call("POST", "/pivot/v2/payments", otok, map[string]any{"clientReferenceId": "order-1", "amount": map[string]any{"value": 15000, "currency": "IDR"},
		"mode": "API", "paymentType": "SINGLE", "autoConfirm": false, "paymentMethod": map[string]any{"type": "CARD"},
		"redirectUrl": map[string]any{"successReturnUrl": "https://shop.example/ok", "failureReturnUrl": "https://shop.example/fail",
			"expirationReturnUrl": "https://shop.example/expired"}}, "X-REQUEST-ID", "rpv-same-id")
	bd := harness.PivotOK(t, "other merchant", b)
	if bd["id"] == a["id"] || b.Header.Get("Idempotent-Replayed") == "true" || bd["encryptionKey"] == a["encryptionKey"] {
		t.Errorf("another merchant's X-REQUEST-ID replayed this merchant's session: %s", b.Raw)
	}
	// And a replay of the same merchant's request still works after a new access token.
	tok2 := harness.PivotToken(t, s, s.Dev.ID, s.Dev.SecretKey)
	c := harness.PivotAPISession(t, s, tok2, nil, "X-REQUEST-ID", "rpv-same-id")
	if c["id"] != a["id"] {
		t.Errorf("replay with a fresh access token: %v vs %v", c["id"], a["id"])
	}
}
