package threeds

import (
	"testing"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// TestThreeDSModes: three_d_secure and the merchant's rule. required
// authenticates frictionless cards (ECI per scheme) and records "attempted"
// for an issuer outside 3-D Secure; if_required leaves ordinary cards alone;
// never skips it even for a challenge card; tokenization_requires_3ds
// authenticates every token and refuses never.
func TestThreeDSModes(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	for _, c := range []struct{ number, mode, status, eci string }{
		{"4242424242424242", "required", "authenticated", "05"},
		{"5555555555554444", "required", "authenticated", "02"},
		{"4000000000003055", "required", "attempted", "06"},
		{"4242424242424242", "if_required", "not_required", ""},
		{"4242424242424242", "", "not_required", ""},
		{"4000002500003155", "never", "not_required", ""},
	} {
		r := s.Tokenize(t, sk, map[string]any{"card": harness.Card(c.number), "three_d_secure": c.mode}).Want(t, 201)
		if r.Str("status") != "active" || r.Str("verification", "three_d_secure") != c.status || r.Str("verification", "authentication", "eci") != c.eci {
			t.Errorf("%s %q: %s", c.number, c.mode, r.Raw)
		}
		// The issuer's "not required" is recorded; never asks nobody.
		switch a := harness.Dig(r.Body, "verification", "authentication"); {
		case c.mode == "never" && a != nil:
			t.Errorf("%s never: an authentication recorded where none ran: %s", c.number, r.Raw)
		case c.mode != "never" && r.Str("verification", "authentication", "status") != c.status:
			t.Errorf("%s %q: authentication not recorded: %s", c.number, c.mode, r.Raw)
		}
		p := s.Call("POST", "/v1/payments", sk, map[string]any{"amount": 500, "card": harness.Card(c.number), "three_d_secure": c.mode})
		pv := harness.PaymentOK(t, p, 201, "succeeded")
		if c.mode != "never" && (harness.Dig(pv, "authentication", "status") != c.status || c.eci != "" && harness.Dig(pv, "authentication", "eci") != c.eci) ||
			c.mode == "never" && harness.Dig(pv, "authentication") != nil {
			t.Errorf("payment %s %q: %s", c.number, c.mode, p.Raw)
		}
	}
	for _, bad := range []any{"always", 1, true} {
		r := s.Tokenize(t, sk, map[string]any{"card": harness.Card("4242424242424242"), "three_d_secure": bad}).Want(t, 400)
		if _, _, param := r.ErrInfo(); param != "three_d_secure" {
			t.Errorf("three_d_secure %v: %s", bad, r.Raw)
		}
	}
	if r := s.Call("POST", "/v1/payments", sk, map[string]any{"amount": 500, "card": harness.Card("4242424242424242"), "return_url": "javascript:alert(1)"}).Want(t, 400); r.Str("error", "param") != "return_url" {
		t.Errorf("return_url: %s", r.Raw)
	}

	s.Call("PATCH", "/v1/merchant", sk, map[string]any{"tokenization_requires_3ds": true}).Want(t, 200)
	if r := s.Tokenize(t, sk, map[string]any{"card": harness.Card("4242424242424242")}).Want(t, 201); r.Str("verification", "three_d_secure") != "authenticated" {
		t.Errorf("merchant rule: %s", r.Raw)
	}
	if r := s.Tokenize(t, sk, map[string]any{"card": harness.Card("4000002500003155")}).Want(t, 201); r.Str("status") != "requires_action" {
		t.Errorf("merchant rule, challenge card: %s", r.Raw)
	}
	if r := s.Tokenize(t, sk, map[string]any{"card": harness.Card("4242424242424242"), "three_d_secure": "never"}).Want(t, 400); r.Str("error", "param") != "three_d_secure" {
		t.Errorf("never against the merchant rule: %s", r.Raw)
	}
}

// TestChallengeSaveCardKeepsMerchantRule: The merchant rule
// tokenization_requires_3ds ("3-D Secure mandatory for every token",
// senangPay's rule) is enforced on POST /v1/tokens only. A payment with
// save_card — which mints a token just the same — ignores it: with the
// default mode a frictionless card is saved with three_d_secure not_required,
// and with three_d_secure "never" (refused with 400 on POST /v1/tokens under
// the rule) the card is saved with no 3-D Secure at all.
func TestChallengeSaveCardKeepsMerchantRule(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	s.Call("PATCH", "/v1/merchant", sk, map[string]any{"tokenization_requires_3ds": true}).Want(t, 200)
	if r := s.Tokenize(t, sk, map[string]any{"card": harness.Card("4242424242424242")}).Want(t, 201); r.Str("verification", "three_d_secure") != "authenticated" {
		t.Fatalf("setup: the rule on POST /v1/tokens: %s", r.Raw)
	}
	for _, mode := range []string{"", "never"} {
		body := map[string]any{"amount": 500, "card": harness.Card("5555555555554444"), "save_card": true}
		if mode != "" {
			body["three_d_secure"] = mode
		}
		r := s.Call("POST", "/v1/payments", sk, body)
		if r.Status == 400 && r.Str("error", "param") == "three_d_secure" {
			continue // refused like POST /v1/tokens: fine
		}
		tok := r.Str("token")
		if r.Status != 201 || tok == "" {
			t.Fatalf("save_card (mode %q): %d %s", mode, r.Status, r.Raw)
		}
		if g := s.Call("GET", "/v1/tokens/"+tok, sk, nil).Want(t, 200); g.Str("verification", "three_d_secure") != "authenticated" {
			t.Errorf("tokenization_requires_3ds is on, yet save_card (three_d_secure %q) stored token %s with three_d_secure %q",
				mode, tok, g.Str("verification", "three_d_secure"))
		}
	}
}
