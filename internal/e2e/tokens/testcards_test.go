package tokens

import (
	"strings"
	"testing"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// TestTestCardTable runs every row of API.md's test-card table through
// POST /v1/tokens with verify left at its default (true).
func TestTestCardTable(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey

	t.Run("success", func(t *testing.T) {
		for number, brand := range map[string]string{
			"4242424242424242": "visa", "5555555555554444": "mastercard", "378282246310005": "amex",
			// "Any Luhn-valid number with a future expiry succeeds unless listed."
			"3566002020360505": "jcb", "36227206271667": "diners", "6011111111111117": "discover",
			"6200000000000005": "unionpay", "2223003122003222": "mastercard", "4111111111111111": "visa",
		} {
			before := s.Sim.Stats()
			r := s.Tokenize(t, sk, map[string]any{"card": harness.Card(number)})
			if r.Status != 201 {
				t.Errorf("%s: status %d, want 201: %s", number[:6], r.Status, r.Raw)
				continue
			}
			if r.Str("status") != "active" || r.Str("card", "brand") != brand || r.Str("card", "last4") != number[len(number)-4:] {
				t.Errorf("%s: token: %s", number[:6], r.Raw)
			}
			if r.Str("verification", "status") != "verified" || r.Str("verification", "cvc_check") != "pass" ||
				r.Str("verification", "avs_check") != "unavailable" || r.Str("verification", "verified_at") == "" {
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
		before := s.TokenIDs(t, sk)
		for _, d := range []struct{ number, code, decline string }{
			{"4000000000000002", "card_declined", "generic_decline"},
			{"4000000000009995", "card_declined", "insufficient_funds"},
			{"4000000000009987", "card_declined", "lost_card"},
			{"4000000000000069", "expired_card", "expired_card"},
			{"4000000000000127", "incorrect_cvc", "incorrect_cvc"},
			{"4000000000000119", "processing_error", "processing_error"},
		} {
			st := s.Sim.Stats()
			r := s.Tokenize(t, sk, map[string]any{"card": harness.Card(d.number)})
			if r.Status != 402 {
				t.Errorf("%s: status %d, want 402: %s", d.number, r.Status, r.Raw)
				continue
			}
			typ, code, _ := r.ErrInfo()
			if typ != "card_error" || code != d.code || r.Str("error", "decline_code") != d.decline || r.Str("error", "message") == "" {
				t.Errorf("%s: want card_error %s/%s: %s", d.number, d.code, d.decline, r.Raw)
			}
			if strings.Contains(string(r.Raw), d.number) {
				t.Errorf("%s: the decline echoes the card number", d.number)
			}
			if after := s.Sim.Stats(); after.Verifications != st.Verifications+1 || after.Voids != st.Voids {
				t.Errorf("%s: a declined verification is one processor call and nothing to void: %+v → %+v", d.number, st, after)
			}
		}
		if after := s.TokenIDs(t, sk); !harness.SameSet(before, after) {
			t.Errorf("declined cards were stored: before %v, after %v", before, after)
		}
	})

	t.Run("3-D Secure challenge card", func(t *testing.T) {
		// Both challenge cards wait for the card holder; the decline of 1629
		// comes after the challenge (threeds_test.go).
		for _, n := range []string{"4000002500003155", "4000008400001629"} {
			r := s.Tokenize(t, sk, map[string]any{"card": harness.Card(n)}).Want(t, 201)
			if r.Str("status") != "requires_action" || r.Str("next_action", "type") != "redirect" ||
				!strings.HasPrefix(r.Str("next_action", "url"), s.URL+"/3ds/3ds_") {
				t.Errorf("%s: want requires_action with a redirect to this server's challenge page: %s", n, r.Raw)
			}
		}
	})

	t.Run("verifies, later charges decline", func(t *testing.T) {
		r := s.Tokenize(t, sk, map[string]any{"card": harness.Card("4000000000000341")}).Want(t, 201)
		if r.Str("status") != "active" || r.Str("verification", "status") != "verified" {
			t.Fatalf("token: %s", r.Raw)
		}
		v := s.Call("POST", "/v1/tokens/"+r.Str("id")+"/validate", sk, nil).Want(t, 200)
		if v.Body["valid"] != true || v.Body["reason"] != nil {
			t.Errorf("validate: %s", v.Raw)
		}
	})

	t.Run("AVS fails", func(t *testing.T) {
		r := s.Tokenize(t, sk, map[string]any{"card": harness.Card("4000000000000010")}).Want(t, 201)
		if r.Str("status") != "active" || r.Str("verification", "avs_check") != "fail" || r.Str("verification", "cvc_check") != "pass" {
			t.Errorf("token: %s", r.Raw)
		}
	})

	t.Run("verify false skips the processor", func(t *testing.T) {
		st := s.Sim.Stats()
		r := s.Tokenize(t, sk, map[string]any{"card": harness.Card("4000000000000002"), "verify": false}).Want(t, 201)
		if r.Str("status") != "active" || r.Str("verification", "status") != "unverified" ||
			r.Str("verification", "cvc_check") != "unchecked" || r.Body["verification"].(map[string]any)["verified_at"] != nil {
			t.Errorf("unverified token: %s", r.Raw)
		}
		if after := s.Sim.Stats(); after != st {
			t.Errorf("verify:false must not call the processor: %+v → %+v", st, after)
		}
		s.Call("GET", "/v1/tokens/"+r.Str("id"), sk, nil).Want(t, 200)
	})

	t.Run("validate with cvc", func(t *testing.T) {
		visa := s.Tokenize(t, sk, map[string]any{"card": harness.Card("4242424242424242")}).Want(t, 201).Str("id")
		// The simulated issuer keeps no CVC: all zeros is wrong, any other matches.
		v := s.Call("POST", "/v1/tokens/"+visa+"/validate", sk, map[string]any{"cvc": "123"}).Want(t, 200)
		if v.Body["valid"] != true || v.Str("cvc_check") != "pass" {
			t.Errorf("validate visa with cvc: %s", v.Raw)
		}
		if v := s.Call("POST", "/v1/tokens/"+visa+"/validate", sk, map[string]any{"cvc": "000"}).Want(t, 200); v.Body["valid"] != false || v.Str("cvc_check") != "fail" || v.Str("reason") != "incorrect_cvc" {
			t.Errorf("validate visa with a wrong cvc: %s", v.Raw)
		}
		if v := s.Call("POST", "/v1/tokens/"+visa+"/validate", sk, nil).Want(t, 200); v.Body["valid"] != true || v.Str("cvc_check") != "unchecked" {
			t.Errorf("validate visa without cvc: %s", v.Raw)
		}
		if strings.Contains(string(v.Raw), "123") || strings.Contains(string(v.Raw), `"000"`) {
			t.Errorf("validate echoes the cvc: %s", v.Raw)
		}

		amex := s.Tokenize(t, sk, map[string]any{"card": harness.Card("378282246310005")}).Want(t, 201).Str("id")
		st := s.Sim.Stats()
		e := s.Call("POST", "/v1/tokens/"+amex+"/validate", sk, map[string]any{"cvc": "123"}).Want(t, 400)
		if typ, code, param := e.ErrInfo(); typ != "invalid_request_error" || code != "invalid_cvc" || param != "cvc" {
			t.Errorf("3-digit cvc on amex: %s", e.Raw)
		}
		if after := s.Sim.Stats(); after != st {
			t.Errorf("a malformed cvc must not reach the processor: %+v → %+v", st, after)
		}
		if v := s.Call("POST", "/v1/tokens/"+amex+"/validate", sk, map[string]any{"cvc": "1234"}).Want(t, 200); v.Body["valid"] != true || v.Str("cvc_check") != "pass" {
			t.Errorf("validate amex with 4-digit cvc: %s", v.Raw)
		}

		// A card whose CVC the issuer rejects, stored without verification, validates as invalid.
		bad := s.Tokenize(t, sk, map[string]any{"card": harness.Card("4000000000000127"), "verify": false}).Want(t, 201).Str("id")
		v = s.Call("POST", "/v1/tokens/"+bad+"/validate", sk, map[string]any{"cvc": "123"}).Want(t, 200)
		if v.Body["valid"] != false || v.Str("reason") == "" || v.Str("cvc_check") != "fail" {
			t.Errorf("validate incorrect-cvc card: %s", v.Raw)
		}
	})
}
