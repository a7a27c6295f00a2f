package security

// One merchant's key reaches nothing of another's, and a publishable key
// nothing at all on the native API.

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// TestCrossMerchantIsolation checks that nothing of merchant A is
// reachable with merchant B's key, on any route or filter.
func TestCrossMerchantIsolation(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	a := s.Dev.SecretKey
	b := s.NewMerchant("Other").SecretKey
	cus := s.Call("POST", "/v1/customers", a, map[string]any{"reference": "rs_ref"}).Want(t, 201).Str("id")
	tok := s.Call("POST", "/v1/tokens", a, map[string]any{"card": harness.Card("4242424242424242"), "customer": cus}).Want(t, 201).Str("id")
	pay := s.Call("POST", "/v1/payments", a, map[string]any{"amount": 1000, "currency": "MYR", "token": tok, "order_id": "rs-order"}).Want(t, 201).Str("id")
	auth := s.Call("POST", "/v1/payments", a, map[string]any{"amount": 1000, "currency": "MYR", "token": tok, "capture": false}).Want(t, 201).Str("id")
	s.Call("POST", "/v1/payments/"+pay+"/refunds", a, map[string]any{"amount": 100}).Want(t, 201)
	// B's own objects, so list filters have something to page through.
	bcus := s.Call("POST", "/v1/customers", b, map[string]any{"reference": "rs_ref"}).Want(t, 201).Str("id")
	s.Call("POST", "/v1/tokens", b, map[string]any{"card": harness.Card("5555555555554444"), "customer": bcus}).Want(t, 201)

	for _, p := range []struct{ method, path string }{
		{"GET", "/v1/customers/" + cus}, {"DELETE", "/v1/customers/" + cus},
		{"GET", "/v1/tokens/" + tok}, {"GET", "/v1/tokens/" + tok + "/audit"},
		{"POST", "/v1/tokens/" + tok + "/disable"}, {"POST", "/v1/tokens/" + tok + "/enable"},
		{"POST", "/v1/tokens/" + tok + "/validate"}, {"DELETE", "/v1/tokens/" + tok},
		{"GET", "/v1/tokens?customer=" + cus}, {"GET", "/v1/tokens?starting_after=" + tok},
		{"GET", "/v1/payments/" + pay}, {"GET", "/v1/payments/" + pay + "/refunds"},
		{"POST", "/v1/payments/" + pay + "/refunds"}, {"POST", "/v1/payments/" + auth + "/capture"},
		{"POST", "/v1/payments/" + auth + "/cancel"}, {"GET", "/v1/payments?starting_after=" + pay},
	} {
		r := s.Call(p.method, p.path, b, nil)
		if r.Status != 404 {
			t.Errorf("B %s %s: status %d, want 404: %s", p.method, p.path, r.Status, r.Raw)
		}
	}
	for _, p := range []string{"/v1/payments?order_id=rs-order", "/v1/payments?customer=" + cus, "/v1/customers?reference=rs_ref"} {
		r := s.Call("GET", p, b, nil).Want(t, 200)
		if strings.Contains(string(r.Raw), cus) || strings.Contains(string(r.Raw), pay) || strings.Contains(string(r.Raw), tok) {
			t.Errorf("B GET %s sees A's objects: %s", p, r.Raw)
		}
	}
	for _, body := range []map[string]any{
		{"amount": 1000, "currency": "MYR", "token": tok},
		{"amount": 1000, "currency": "MYR", "card": harness.Card("4242424242424242"), "customer": cus},
	} {
		if r := s.Call("POST", "/v1/payments", b, body); r.Status != 404 {
			t.Errorf("B pays with A's object: status %d: %s", r.Status, r.Raw)
		}
	}
	r := s.Call("POST", "/v1/tokens/batch", b, map[string]any{"cards": []any{harness.Card("4242424242424242")}, "customer": cus}).Want(t, 200)
	if !strings.Contains(string(r.Raw), "resource_missing") {
		t.Errorf("B batch-tokenizes into A's customer: %s", r.Raw)
	}
	// Same Idempotency-Key on two merchants: independent, no replay.
	ra := s.Call("POST", "/v1/customers", a, map[string]any{"reference": "rs_idem_a"}, "Idempotency-Key", "rs-shared").Want(t, 201)
	rb := s.Call("POST", "/v1/customers", b, map[string]any{"reference": "rs_idem_b"}, "Idempotency-Key", "rs-shared").Want(t, 201)
	if rb.Header.Get("Idempotent-Replayed") != "" || rb.Str("id") == ra.Str("id") {
		t.Errorf("B's request replays A's: %s", rb.Raw)
	}
	// A's objects are intact.
	s.Call("GET", "/v1/tokens/"+tok, a, nil).Want(t, 200)
	s.Call("GET", "/v1/customers/"+cus, a, nil).Want(t, 200)
}

// TestPublishableKeyRefusedOnNativeAPI: a publishable key does nothing on the native API.
func TestPublishableKeyRefusedOnNativeAPI(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	pk := s.Dev.PublishableKey
	tok := s.Call("POST", "/v1/tokens", s.Dev.SecretKey, map[string]any{"card": harness.Card("4242424242424242")}).Want(t, 201).Str("id")
	for _, p := range []struct {
		method, path string
		body         any
	}{
		{"GET", "/v1/merchant", nil}, {"PATCH", "/v1/merchant", map[string]any{"require_cvc_for_saved_cards": true}},
		{"POST", "/v1/customers", map[string]any{}}, {"GET", "/v1/customers?reference=x", nil},
		{"POST", "/v1/tokens", map[string]any{"card": harness.Card("4242424242424242")}}, {"GET", "/v1/tokens", nil},
		{"GET", "/v1/tokens/" + tok, nil}, {"POST", "/v1/tokens/batch", map[string]any{"cards": []any{harness.Card("4242424242424242")}}},
		{"POST", "/v1/payments", map[string]any{"amount": 1000, "currency": "MYR", "token": tok}}, {"GET", "/v1/payments", nil},
		{"DELETE", "/v1/tokens/" + tok, nil},
	} {
		for _, auth := range []string{"Bearer " + pk, "bearer " + pk, "Bearer  " + pk + " ", "Basic " + base64.StdEncoding.EncodeToString([]byte(pk+":"))} {
			r := s.Call(p.method, p.path, "", p.body, "Authorization", auth)
			if r.Status != 401 {
				t.Errorf("%s %s with %q: status %d: %s", p.method, p.path, auth, r.Status, r.Raw)
			}
		}
	}
	s.Call("GET", "/v1/tokens/"+tok, s.Dev.SecretKey, nil).Want(t, 200)
}
