package ottu

// Webhooks: sent for outcomes only (paid, attempted, expired), each with a
// signature recomputed here independently of the dialect.

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/dialect/ottu"
	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// TestOttuExpired: a checkout past its expiration_time is expired; the
// webhook says so, signed.
func TestOttuExpired(t *testing.T) {
	t.Parallel()
	s := harness.Start(t, harness.WithWebhookRetryBase(100*time.Millisecond))
	sk, secret := s.Dev.SecretKey, s.Dev.HMACSecret
	rv := harness.NewRecorder(t, "/ottu/webhook")
	r := harness.OttuCheckout(t, s, sk, map[string]any{"type": "e_commerce", "amount": "5", "currency_code": "KWD", "pg_codes": []string{"knet"},
		"order_no": "exp-1", "expiration_time": "00:01:00", "webhook_url": rv.URL, "customer_first_name": "Abu"})
	sid := r.Str("session_id")
	if r.Str("expiration_time") != "00:01:00" {
		t.Errorf("expiration_time: %s", r.Raw)
	}
	s.ExpireSession(t, sid)
	g := harness.OttuCall(t, s, "GET", "/b/checkout/v1/pymt-txn/"+sid, sk, nil).Want(t, 200)
	if g.Str("state") != "expired" {
		t.Errorf("after its time: %s", g.Raw)
	}
	b := harness.OttuHooks(t, rv, secret, 1)[0]
	if b["session_id"] != sid || b["state"] != "expired" || b["result"] != "failed" || b["order_no"] != "exp-1" ||
		b["amount"] != "5.000" || b["customer_first_name"] != "Abu" || b["timestamp_utc"] == "" {
		t.Errorf("expiry webhook: %v", b)
	}

	// A declined attempt leaves the checkout payable: state attempted,
	// result failed; the processor's own failure is result error.
	d := harness.OttuCheckout(t, s, sk, map[string]any{"type": "e_commerce", "amount": "6", "currency_code": "KWD", "pg_codes": []string{"knet"},
		"webhook_url": rv.URL})
	did := d.Str("session_id")
	sess := s.Call("GET", "/v1/sessions/"+did, sk, nil).Want(t, 200)
	s.Call("POST", "/v1/sessions/"+did+"/confirm", sk, map[string]any{"encrypted_card": harness.EncryptFor(t, sess, "4000000000000002", "123")}).Want(t, 402)
	s.Call("POST", "/v1/sessions/"+did+"/confirm", sk, map[string]any{"encrypted_card": harness.EncryptFor(t, sess, "4000000000000119", "123")}).Want(t, 402)
	hooks := harness.OttuHooks(t, rv, secret, 3)
	results := map[string]bool{}
	for _, h := range hooks[1:] {
		if h["session_id"] != did || h["state"] != "attempted" || h["message"] == "" || !strings.HasPrefix(fmt.Sprint(h["reference_number"]), "pay_") {
			t.Errorf("declined attempt's webhook: %v", h)
		}
		results[fmt.Sprint(h["result"])] = true
	}
	if !results["failed"] || !results["error"] {
		t.Errorf("declined attempts' results: %v", results)
	}
	if g := harness.OttuCall(t, s, "GET", "/b/checkout/v1/pymt-txn/"+did+"/", sk, nil); g.Str("state") != "attempted" {
		t.Errorf("after declines: %s", g.Raw)
	}
}

// TestOttuWebhooksOnlyForOutcomes: webhooks go out only for an outcome (not
// creation, not the 3-D Secure wait), each signed over exactly what was
// sent; the auto-debit answer holds no card number or CVV.
func TestOttuWebhooksOnlyForOutcomes(t *testing.T) {
	t.Parallel()
	s := harness.Start(t, harness.WithWebhookRetryBase(100*time.Millisecond))
	sk, secret := s.Dev.SecretKey, s.Dev.HMACSecret
	rv := harness.NewRecorder(t, "/ottu/webhook")
	sid := harness.OttuCheckout(t, s, sk, map[string]any{"type": "e_commerce", "amount": "3.5", "currency_code": "KWD", "pg_codes": []string{"x"},
		"customer_id": "cust_wh", "customer_first_name": "  Abu  ", "webhook_url": rv.URL, "order_no": "wh-1"}).Str("session_id")
	time.Sleep(300 * time.Millisecond)
	if n := len(rv.Hits()); n != 0 {
		t.Errorf("%d webhooks for a checkout's creation", n)
	}
	harness.OttuPayNative(t, s, sk, sid, cardPAN, cardCVC, true)
	h := harness.OttuHooks(t, rv, secret, 1)[0]
	if h["state"] != "paid" || h["result"] != "success" || h["customer_first_name"] != "Abu" || h["amount"] != "3.500" {
		t.Errorf("payment webhook: %v", h)
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(rv.Hits()); n != 1 {
		t.Errorf("%d webhooks for one payment", n)
	}
	for _, hk := range rv.Hits() {
		if bytes.Contains(hk.Body, []byte(cardPAN)) || harness.ContainsIsolated(hk.Body, cardCVC) {
			t.Errorf("webhook holds card data: %s", hk.Body)
		}
	}
}

// TestOttuSignatureExample: Ottu's signature scheme gives PROVIDERS.md's
// recomputed example, and empty fields and fields outside the list do not
// change it.
func TestOttuSignatureExample(t *testing.T) {
	t.Parallel()
	const want = "6143b8ad4bd283540721ab000f6de746e722231aaaa90bc38f639081d3ff9f67"
	p := map[string]any{"amount": "86.000", "currency_code": "KWD", "customer_first_name": "example-customer"}
	if got := ottu.Sign("pu9MpX3yPR", p); got != want {
		t.Fatalf("example signature %s, want %s", got, want)
	}
	p["customer_last_name"], p["session_id"], p["timestamp_utc"], p["token"] = "", "ps_x", "2024-01-01 00:00:00", map[string]any{"token": "t"}
	if got := ottu.Sign("pu9MpX3yPR", p); got != want {
		t.Errorf("empty or unlisted fields changed the signature: %s", got)
	}
	if got := harness.OttuSign("pu9MpX3yPR", map[string]any{"amount": "86.000", "currency_code": "KWD", "customer_first_name": "example-customer"}); got != want {
		t.Errorf("the e2e recomputation disagrees with the example: %s", got)
	}
}
