package e2e

import (
	"strings"
	"testing"
)

// tcCard is a card body for a test-card row, with a CVC of the brand's length.
func tcCard(number string) map[string]any {
	c := card(number)
	if strings.HasPrefix(number, "34") || strings.HasPrefix(number, "37") {
		c["cvc"] = "1234"
	}
	return c
}

// TestTestCardTable runs every row of API.md's test-card table through
// POST /v1/tokens with verify left at its default (true).
func TestTestCardTable(t *testing.T) {
	s := start(t)
	sk := s.Dev.SecretKey

	t.Run("success", func(t *testing.T) {
		for number, brand := range map[string]string{
			"4242424242424242": "visa", "5555555555554444": "mastercard", "378282246310005": "amex",
			// "Any Luhn-valid number with a future expiry succeeds unless listed."
			"3566002020360505": "jcb", "36227206271667": "diners", "6011111111111117": "discover",
			"6200000000000005": "unionpay", "2223003122003222": "mastercard", "4111111111111111": "visa",
		} {
			before := s.Sim.Stats()
			r := tokenize(t, s, sk, map[string]any{"card": tcCard(number)})
			if r.Status != 201 {
				t.Errorf("%s: status %d, want 201: %s", number[:6], r.Status, r.Raw)
				continue
			}
			if r.str("status") != "active" || r.str("card", "brand") != brand || r.str("card", "last4") != number[len(number)-4:] {
				t.Errorf("%s: token: %s", number[:6], r.Raw)
			}
			if r.str("verification", "status") != "verified" || r.str("verification", "cvc_check") != "pass" ||
				r.str("verification", "avs_check") != "unavailable" || r.str("verification", "verified_at") == "" {
				t.Errorf("%s: verification: %s", number[:6], r.Raw)
			}
			after := s.Sim.Stats()
			if after.Verifications != before.Verifications+1 || after.Voids != before.Voids+1 {
				t.Errorf("%s: tokenizing must verify once and void it: %+v → %+v", number[:6], before, after)
			}
			if strings.Contains(string(r.Raw), number) {
				t.Errorf("%s: response holds the full number", number[:6])
			}
		}
	})

	t.Run("declines", func(t *testing.T) {
		before := biTokenIDs(t, s, sk)
		for _, d := range []struct{ number, code, decline string }{
			{"4000000000000002", "card_declined", "generic_decline"},
			{"4000000000009995", "card_declined", "insufficient_funds"},
			{"4000000000009987", "card_declined", "lost_card"},
			{"4000000000000069", "expired_card", "expired_card"},
			{"4000000000000127", "incorrect_cvc", "incorrect_cvc"},
			{"4000000000000119", "processing_error", "processing_error"},
		} {
			st := s.Sim.Stats()
			r := tokenize(t, s, sk, map[string]any{"card": tcCard(d.number)})
			if r.Status != 402 {
				t.Errorf("%s: status %d, want 402: %s", d.number, r.Status, r.Raw)
				continue
			}
			typ, code, _ := r.errInfo()
			if typ != "card_error" || code != d.code || r.str("error", "decline_code") != d.decline || r.str("error", "message") == "" {
				t.Errorf("%s: want card_error %s/%s: %s", d.number, d.code, d.decline, r.Raw)
			}
			if strings.Contains(string(r.Raw), d.number) {
				t.Errorf("%s: the decline echoes the card number", d.number)
			}
			if after := s.Sim.Stats(); after.Verifications != st.Verifications+1 || after.Voids != st.Voids {
				t.Errorf("%s: a declined verification is one processor call and nothing to void: %+v → %+v", d.number, st, after)
			}
		}
		if after := biTokenIDs(t, s, sk); !biSameSet(before, after) {
			t.Errorf("declined cards were stored: before %v, after %v", before, after)
		}
	})

	t.Run("3-D Secure challenge card", func(t *testing.T) {
		// Both challenge cards wait for the card holder; the decline of 1629
		// comes after the challenge (threeds_test.go).
		for _, n := range []string{"4000002500003155", "4000008400001629"} {
			r := tokenize(t, s, sk, map[string]any{"card": tcCard(n)}).want(t, 201)
			if r.str("status") != "requires_action" || r.str("next_action", "type") != "redirect" ||
				!strings.HasPrefix(r.str("next_action", "url"), s.URL+"/3ds/3ds_") {
				t.Errorf("%s: want requires_action with a redirect to this server's challenge page: %s", n, r.Raw)
			}
		}
	})

	t.Run("verifies, later charges decline", func(t *testing.T) {
		r := tokenize(t, s, sk, map[string]any{"card": tcCard("4000000000000341")}).want(t, 201)
		if r.str("status") != "active" || r.str("verification", "status") != "verified" {
			t.Fatalf("token: %s", r.Raw)
		}
		v := s.call("POST", "/v1/tokens/"+r.str("id")+"/validate", sk, nil).want(t, 200)
		if v.Body["valid"] != true || v.Body["reason"] != nil {
			t.Errorf("validate: %s", v.Raw)
		}
	})

	t.Run("AVS fails", func(t *testing.T) {
		r := tokenize(t, s, sk, map[string]any{"card": tcCard("4000000000000010")}).want(t, 201)
		if r.str("status") != "active" || r.str("verification", "avs_check") != "fail" || r.str("verification", "cvc_check") != "pass" {
			t.Errorf("token: %s", r.Raw)
		}
	})

	t.Run("verify false skips the processor", func(t *testing.T) {
		st := s.Sim.Stats()
		r := tokenize(t, s, sk, map[string]any{"card": tcCard("4000000000000002"), "verify": false}).want(t, 201)
		if r.str("status") != "active" || r.str("verification", "status") != "unverified" ||
			r.str("verification", "cvc_check") != "unchecked" || r.Body["verification"].(map[string]any)["verified_at"] != nil {
			t.Errorf("unverified token: %s", r.Raw)
		}
		if after := s.Sim.Stats(); after != st {
			t.Errorf("verify:false must not call the processor: %+v → %+v", st, after)
		}
		s.call("GET", "/v1/tokens/"+r.str("id"), sk, nil).want(t, 200)
	})

	t.Run("validate with cvc", func(t *testing.T) {
		visa := tokenize(t, s, sk, map[string]any{"card": tcCard("4242424242424242")}).want(t, 201).str("id")
		// The simulated issuer knows the CVC it saw at tokenization (123).
		v := s.call("POST", "/v1/tokens/"+visa+"/validate", sk, map[string]any{"cvc": "123"}).want(t, 200)
		if v.Body["valid"] != true || v.str("cvc_check") != "pass" {
			t.Errorf("validate visa with cvc: %s", v.Raw)
		}
		if v := s.call("POST", "/v1/tokens/"+visa+"/validate", sk, map[string]any{"cvc": "321"}).want(t, 200); v.Body["valid"] != false || v.str("cvc_check") != "fail" || v.str("reason") != "incorrect_cvc" {
			t.Errorf("validate visa with a wrong cvc: %s", v.Raw)
		}
		if v := s.call("POST", "/v1/tokens/"+visa+"/validate", sk, nil).want(t, 200); v.Body["valid"] != true || v.str("cvc_check") != "unchecked" {
			t.Errorf("validate visa without cvc: %s", v.Raw)
		}
		if strings.Contains(string(v.Raw), "123") || strings.Contains(string(v.Raw), "321") {
			t.Errorf("validate echoes the cvc: %s", v.Raw)
		}

		amex := tokenize(t, s, sk, map[string]any{"card": tcCard("378282246310005")}).want(t, 201).str("id")
		st := s.Sim.Stats()
		e := s.call("POST", "/v1/tokens/"+amex+"/validate", sk, map[string]any{"cvc": "123"}).want(t, 400)
		if typ, code, param := e.errInfo(); typ != "invalid_request_error" || code != "invalid_cvc" || param != "cvc" {
			t.Errorf("3-digit cvc on amex: %s", e.Raw)
		}
		if after := s.Sim.Stats(); after != st {
			t.Errorf("a malformed cvc must not reach the processor: %+v → %+v", st, after)
		}
		if v := s.call("POST", "/v1/tokens/"+amex+"/validate", sk, map[string]any{"cvc": "1234"}).want(t, 200); v.Body["valid"] != true || v.str("cvc_check") != "pass" {
			t.Errorf("validate amex with 4-digit cvc: %s", v.Raw)
		}

		// A card whose CVC the issuer rejects, stored without verification, validates as invalid.
		bad := tokenize(t, s, sk, map[string]any{"card": tcCard("4000000000000127"), "verify": false}).want(t, 201).str("id")
		v = s.call("POST", "/v1/tokens/"+bad+"/validate", sk, map[string]any{"cvc": "123"}).want(t, 200)
		if v.Body["valid"] != false || v.str("reason") == "" || v.str("cvc_check") != "fail" {
			t.Errorf("validate incorrect-cvc card: %s", v.Raw)
		}
	})
}
