package ottu

// Refusals in Django REST framework's shapes.

import (
	"fmt"
	"strings"
	"testing"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// TestOttuErrors: credentials, amounts and fields answered in Django REST
// framework's shapes.
func TestOttuErrors(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	path := "/b/checkout/v1/pymt-txn/"
	harness.OttuDetail(t, "no Authorization", harness.OttuCall(t, s, "POST", path, "", seedCheckout), 401)
	harness.OttuDetail(t, "a wrong key", harness.OttuCall(t, s, "POST", path, "sk_test_nope", seedCheckout), 401)
	harness.OttuDetail(t, "Bearer instead of Api-Key", s.Call("POST", "/ottu"+path, sk, seedCheckout), 401)
	harness.OttuDetail(t, "the publishable key", harness.OttuCall(t, s, "POST", path, s.Dev.PublishableKey, seedCheckout), 401)
	harness.OttuDetail(t, "cards without a key", harness.OttuCall(t, s, "GET", "/b/pbl/v2/card/?customer_id=x", "", nil), 401)
	if r := harness.OttuCall(t, s, "POST", path, "", seedCheckout); r.Header.Get("WWW-Authenticate") == "" {
		t.Error("401 without WWW-Authenticate")
	}

	base := func(kv ...any) map[string]any {
		return harness.With(map[string]any{"type": "e_commerce", "amount": "10.000", "currency_code": "KWD", "pg_codes": []string{"knet"}}, kv...)
	}
	for _, a := range []any{"1.2345", "-5", "-5.000", "abc", "", "1e3", "12,5", true, "0"} {
		harness.OttuFieldError(t, fmt.Sprintf("amount %v", a), harness.OttuCall(t, s, "POST", path, sk, base("amount", a)), "amount")
	}
	harness.OttuFieldError(t, "USD with 3 decimals", harness.OttuCall(t, s, "POST", path, sk, base("currency_code", "USD", "amount", "1.234")), "amount")
	harness.OttuFieldError(t, "no amount", harness.OttuCall(t, s, "POST", path, sk, base("amount", nil)), "amount")
	harness.OttuFieldError(t, "save_card with an amount", harness.OttuCall(t, s, "POST", path, sk, base("payment_type", "save_card", "customer_id", "c1")), "amount")
	harness.OttuFieldError(t, "save_card without customer_id", harness.OttuCall(t, s, "POST", path, sk, base("payment_type", "save_card", "amount", "0")), "customer_id")
	harness.OttuFieldError(t, "no type", harness.OttuCall(t, s, "POST", path, sk, base("type", nil)), "type")
	harness.OttuFieldError(t, "a wrong type", harness.OttuCall(t, s, "POST", path, sk, base("type", "shop")), "type")
	harness.OttuFieldError(t, "no currency", harness.OttuCall(t, s, "POST", path, sk, base("currency_code", nil)), "currency_code")
	harness.OttuFieldError(t, "an unknown currency", harness.OttuCall(t, s, "POST", path, sk, base("currency_code", "XYZ")), "currency_code")
	harness.OttuFieldError(t, "no pg_codes", harness.OttuCall(t, s, "POST", path, sk, base("pg_codes", nil)), "pg_codes")
	harness.OttuFieldError(t, "a wrong payment_type", harness.OttuCall(t, s, "POST", path, sk, base("payment_type", "monthly")), "payment_type")
	harness.OttuFieldError(t, "a wrong operation", harness.OttuCall(t, s, "POST", path, sk, base("operation", "refund")), "operation")
	harness.OttuFieldError(t, "a bad expiration_time", harness.OttuCall(t, s, "POST", path, sk, base("expiration_time", "tomorrow")), "expiration_time")
	harness.OttuFieldError(t, "expiration_time over a day", harness.OttuCall(t, s, "POST", path, sk, base("expiration_time", "2 00:00:00")), "expiration_time")
	harness.OttuFieldError(t, "a relative redirect_url", harness.OttuCall(t, s, "POST", path, sk, base("redirect_url", "/back")), "redirect_url")
	harness.OttuFieldError(t, "a bad webhook_url", harness.OttuCall(t, s, "POST", path, sk, base("webhook_url", "ftp://x")), "webhook_url")
	harness.OttuFieldError(t, "a bad email", harness.OttuCall(t, s, "POST", path, sk, base("customer_email", "nobody")), "customer_email")
	harness.OttuFieldError(t, "a card number in order_no", harness.OttuCall(t, s, "POST", path, sk, base("order_no", "4242424242424242")), "order_no")
	ad := harness.OttuCall(t, s, "POST", path, sk, base("payment_type", "auto_debit"))
	harness.OttuFieldError(t, "auto_debit without customer_id", ad, "customer_id")
	harness.OttuFieldError(t, "auto_debit without agreement", ad, "agreement")
	na := harness.OttuCall(t, s, "POST", path, sk, base("payment_type", "auto_debit", "customer_id", "c1", "agreement", map[string]any{"type": "unscheduled"}))
	if harness.Dig(na.Body, "agreement", "id") == nil || na.Status != 400 {
		t.Errorf("agreement without id: want 400 {\"agreement\":{\"id\":[…]}}, got %d %s", na.Status, na.Raw)
	}
	pi := harness.OttuCall(t, s, "POST", path, sk, base("customer_id", "c1", "payment_instrument", map[string]any{"instrument_type": "token", "payload": map[string]any{"token": "tok_unknown0000000000"}}))
	if pi.Status != 400 || harness.Dig(pi.Body, "payment_instrument", "payload", "token") == nil {
		t.Errorf("an unknown instrument token: %d %s", pi.Status, pi.Raw)
	}
	many := harness.OttuCall(t, s, "POST", path, sk, base("amount", "x", "type", nil))
	if many.Body["amount"] == nil || many.Body["type"] == nil {
		t.Errorf("every field's error at once: %s", many.Raw)
	}
	harness.OttuDetail(t, "not JSON", harness.OttuCall(t, s, "POST", path, sk, "{"), 400)
	if strings.Contains(s.Logs.String(), "4242424242424242") {
		t.Error("a card number sent in order_no reached the logs")
	}

	harness.OttuDetail(t, "an unknown checkout", harness.OttuCall(t, s, "GET", "/b/checkout/v1/pymt-txn/ps_nothere", sk, nil), 404)
	native := s.NewSession(t, sk, map[string]any{"amount": 500})
	harness.OttuDetail(t, "a native session", harness.OttuCall(t, s, "GET", "/b/checkout/v1/pymt-txn/"+native.Str("id")+"/", sk, nil), 404)
	other := s.NewMerchant("Other")
	own := harness.OttuCheckout(t, s, sk, seedCheckout).Str("session_id")
	harness.OttuDetail(t, "another merchant's checkout", harness.OttuCall(t, s, "GET", "/b/checkout/v1/pymt-txn/"+own, other.SecretKey, nil), 404)
	harness.OttuDetail(t, "an unserved path", harness.OttuCall(t, s, "POST", "/b/pbl/v2/operation/", sk, map[string]any{}), 404)
	m := harness.OttuCall(t, s, "PUT", "/b/pbl/v2/card/", sk, nil)
	harness.OttuDetail(t, "PUT on cards", m, 405)
	if m.Header.Get("Allow") == "" {
		t.Error("405 without Allow")
	}
	// PATCH of a checkout is not offered (docs/dialects.md): 405 with or
	// without the slash, and the checkout is unchanged.
	for _, p := range []string{"/b/checkout/v1/pymt-txn/" + own + "/", "/b/checkout/v1/pymt-txn/" + own} {
		pr := harness.OttuCall(t, s, "PATCH", p, sk, map[string]any{"amount": "25"})
		harness.OttuDetail(t, "PATCH of a checkout", pr, 405)
		if pr.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("PATCH's Allow: %q", pr.Header.Get("Allow"))
		}
	}
	if g := harness.OttuCall(t, s, "GET", "/b/checkout/v1/pymt-txn/"+own, sk, nil).Want(t, 200); g.Str("amount") == "25.000" {
		t.Errorf("PATCH changed the checkout: %s", g.Raw)
	}
}
