package e2e

import (
	"encoding/json"
	"fmt"
	cardpkg "github.com/coffer-vault/coffer/internal/card"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// anyParam in a bad-input case means API.md does not fix error.param for it.
const anyParam = "*"

// badCase is one request that must be refused without storing anything.
type badCase struct {
	name   string
	method string
	path   string
	key    string // "" sends no Authorization header
	body   any    // nil, a raw string or a JSON value
	hdr    []string

	status    int
	typ, code string // code may list alternatives: "a|b"
	param     string // exact error.param; "" means none; anyParam means unchecked
	skip      string // why the case does not apply today
}

// TestBadInputStoresNothing runs the bad-input list against a
// running server: each request gets the exact 4xx with the error envelope
// naming the field, no response echoes a card number it was sent, and when
// the whole table has run no token or customer was added and the processor
// was never asked to verify anything.
func TestBadInputStoresNothing(t *testing.T) {
	s := start(t)
	a := s.Dev.SecretKey
	b := s.newMerchant("Merchant B")
	now := time.Now().UTC()
	year := now.Year()

	// Objects the table refers to, made before the baseline is taken.
	cusA := s.call("POST", "/v1/customers", a, map[string]any{"reference": "ref_a", "email": "a@example.com"}).want(t, 201).str("id")
	tokA := tokenize(t, s, a, map[string]any{"card": card("4242424242424242"), "customer": cusA}).want(t, 201).str("id")
	idemKey := "bad-input-idem-1"
	s.call("POST", "/v1/tokens", a, map[string]any{"card": card("5555555555554444")}, "Idempotency-Key", idemKey).want(t, 201)

	refs := []string{"ref_a", "bad_email_ref", "ref_b_probe", "idem_customer_ref"}
	tokensA, tokensB := biTokenIDs(t, s, a), biTokenIDs(t, s, b.SecretKey)
	customersA, customersB := biCustomersByRef(t, s, a, refs), biCustomersByRef(t, s, b.SecretKey, refs)
	sim := s.Sim.Stats()

	// c builds a card with overrides; nil values delete the field.
	c := func(number string, kv ...any) map[string]any { return cardWith(card(number), kv...) }
	tok := func(card any) map[string]any { return map[string]any{"card": card} }
	amex := "378282246310005"
	visa := "4242424242424242"

	thisYearExpired, skipJanuary := tok(c(visa, "exp_month", int(now.Month())-1, "exp_year", year)), ""
	if now.Month() == 1 {
		skipJanuary = "no month of this year has ended yet"
	}
	big := `{"card":{"number":"4242424242424242","exp_month":12,"exp_year":` + fmt.Sprint(year+3) +
		`,"holder_name":"` + strings.Repeat("A", 1<<20+10) + `"}}`
	batch101 := make([]any, 101)
	for i := range batch101 {
		batch101[i] = card(cardpkg.CompleteLuhn(fmt.Sprintf("411111%09d", i)))
	}

	cases := []badCase{
		{name: "malformed JSON", body: `{"card":{"number":"4242424242424242",`, status: 400, typ: "invalid_request_error", code: "json_invalid"},
		{name: "JSON array instead of object", body: `[{"card":{"number":"4242424242424242","exp_month":12,"exp_year":2034}}]`,
			status: 400, typ: "invalid_request_error", code: "json_invalid"},
		{name: "unknown top-level field", body: map[string]any{"card": card(visa), "colour": "red"},
			status: 400, typ: "invalid_request_error", code: "parameter_unknown", param: "colour"},
		{name: "unknown field inside card", body: tok(c(visa, "bogus", 1)),
			status: 400, typ: "invalid_request_error", code: "parameter_unknown", param: "card.bogus"},
		{name: "exp_month as string", body: tok(c(visa, "exp_month", "12")),
			status: 400, typ: "invalid_request_error", code: "parameter_invalid_type", param: "card.exp_month"},
		{name: "number as number", body: `{"card":{"number":4242424242424242,"exp_month":12,"exp_year":2034}}`,
			status: 400, typ: "invalid_request_error", code: "parameter_invalid_type", param: "card.number"},
		{name: "verify as string", body: map[string]any{"card": card(visa), "verify": "yes"},
			status: 400, typ: "invalid_request_error", code: "parameter_invalid_type", param: "verify"},
		// A card number typed into a numeric field must not be echoed back in the type error.
		{name: "card number as fractional exp_month", body: `{"card":{"number":"4242424242424242","exp_month":4111111111111111.5,"exp_year":2034}}`,
			status: 400, typ: "invalid_request_error", code: "parameter_invalid_type", param: "card.exp_month"},
		{name: "missing card", body: map[string]any{"verify": true},
			status: 400, typ: "invalid_request_error", code: "parameter_missing", param: "card"},
		{name: "empty body", body: "", status: 400, typ: "invalid_request_error", code: "body_missing"},
		{name: "missing number", body: tok(c(visa, "number", nil)),
			status: 400, typ: "invalid_request_error", code: "incorrect_number", param: "card.number"},
		{name: "missing exp_month", body: tok(c(visa, "exp_month", nil)),
			status: 400, typ: "invalid_request_error", code: "invalid_expiry", param: "card.exp_month"},
		// An absent year is not "the card has expired": it is a missing/invalid expiry.
		{name: "missing exp_year", body: tok(c(visa, "exp_year", nil)),
			status: 400, typ: "invalid_request_error", code: "invalid_expiry|parameter_missing", param: "card.exp_year"},
		{name: "Luhn failure", body: tok(c("4242424242424241")),
			status: 400, typ: "invalid_request_error", code: "incorrect_number", param: "card.number"},
		{name: "letters in number", body: tok(c("4242abcd42424242")),
			status: 400, typ: "invalid_request_error", code: "incorrect_number", param: "card.number"},
		{name: "15-digit Visa", body: tok(c(cardpkg.CompleteLuhn("42424242424242"))),
			status: 400, typ: "invalid_request_error", code: "incorrect_number", param: "card.number"},
		{name: "17-digit Mastercard", body: tok(c(cardpkg.CompleteLuhn("55555555555544441"))),
			status: 400, typ: "invalid_request_error", code: "incorrect_number", param: "card.number"},
		{name: "unknown brand prefix", body: tok(c(cardpkg.CompleteLuhn("999999999999999"))),
			status: 400, typ: "invalid_request_error", code: "incorrect_number", param: "card.number"},
		{name: "month 0", body: tok(c(visa, "exp_month", 0)),
			status: 400, typ: "invalid_request_error", code: "invalid_expiry", param: "card.exp_month"},
		{name: "month 13", body: tok(c(visa, "exp_month", 13)),
			status: 400, typ: "invalid_request_error", code: "invalid_expiry", param: "card.exp_month"},
		{name: "year in the past", body: tok(c(visa, "exp_year", year-1)),
			status: 400, typ: "invalid_request_error", code: "expired_card", param: "card.exp_year"},
		{name: "2-digit year in the past", body: tok(c(visa, "exp_year", (year-2)%100)),
			status: 400, typ: "invalid_request_error", code: "expired_card", param: "card.exp_year"},
		{name: "expired month of this year", body: thisYearExpired, skip: skipJanuary,
			status: 400, typ: "invalid_request_error", code: "expired_card", param: "card.exp_year"},
		{name: "4-digit CVC on Visa", body: tok(c(visa, "cvc", "1234")),
			status: 400, typ: "invalid_request_error", code: "invalid_cvc", param: "card.cvc"},
		{name: "3-digit CVC on Amex", body: tok(c(amex, "cvc", "123")),
			status: 400, typ: "invalid_request_error", code: "invalid_cvc", param: "card.cvc"},
		{name: "letters in CVC", body: tok(c(visa, "cvc", "1a3")),
			status: 400, typ: "invalid_request_error", code: "invalid_cvc", param: "card.cvc"},
		{name: "body over 1 MiB", body: big, status: 413, typ: "invalid_request_error", code: "body_too_large"},
		{name: "batch of 101", path: "/v1/tokens/batch", body: map[string]any{"cards": batch101},
			status: 400, typ: "invalid_request_error", code: "parameter_invalid", param: "cards"},
		{name: "empty batch", path: "/v1/tokens/batch", body: map[string]any{"cards": []any{}},
			status: 400, typ: "invalid_request_error", code: "parameter_invalid", param: "cards"},
		{name: "batch without cards", path: "/v1/tokens/batch", body: map[string]any{},
			status: 400, typ: "invalid_request_error", code: "parameter_invalid", param: "cards"},
		{name: "missing Authorization", key: "-", body: tok(card(visa)),
			status: 401, typ: "authentication_error", code: "api_key_missing"},
		{name: "wrong key", key: "sk_test_00000000000000000000000000000000", body: tok(card(visa)),
			status: 401, typ: "authentication_error", code: "api_key_invalid"},
		{name: "publishable key", key: b.PublishableKey, body: tok(card(visa)),
			status: 401, typ: "authentication_error", code: "secret_key_required"},
		{name: "Basic instead of Bearer", key: "-", hdr: []string{"Authorization", "Basic " + a}, body: tok(card(visa)),
			status: 401, typ: "authentication_error", code: "api_key_missing"},

		// Merchant B reaching for merchant A's objects: "not found", never "forbidden".
		{name: "B gets A's token", method: "GET", path: "/v1/tokens/" + tokA, key: b.SecretKey,
			status: 404, typ: "not_found", code: "resource_missing", param: "id"},
		{name: "B disables A's token", path: "/v1/tokens/" + tokA + "/disable", key: b.SecretKey,
			status: 404, typ: "not_found", code: "resource_missing", param: "id"},
		{name: "B enables A's token", path: "/v1/tokens/" + tokA + "/enable", key: b.SecretKey,
			status: 404, typ: "not_found", code: "resource_missing", param: "id"},
		{name: "B validates A's token", path: "/v1/tokens/" + tokA + "/validate", key: b.SecretKey, body: map[string]any{"cvc": "123"},
			status: 404, typ: "not_found", code: "resource_missing", param: "id"},
		{name: "B deletes A's token", method: "DELETE", path: "/v1/tokens/" + tokA, key: b.SecretKey,
			status: 404, typ: "not_found", code: "resource_missing", param: "id"},
		{name: "B gets A's customer", method: "GET", path: "/v1/customers/" + cusA, key: b.SecretKey,
			status: 404, typ: "not_found", code: "resource_missing", param: "id"},
		{name: "B deletes A's customer", method: "DELETE", path: "/v1/customers/" + cusA, key: b.SecretKey,
			status: 404, typ: "not_found", code: "resource_missing", param: "id"},
		{name: "B tokenizes for A's customer", key: b.SecretKey, body: map[string]any{"card": card(visa), "customer": cusA},
			status: 404, typ: "not_found", code: "resource_missing", param: "customer"},

		{name: "same Idempotency-Key, different body", hdr: []string{"Idempotency-Key", idemKey}, body: tok(card(visa)),
			status: 409, typ: "idempotency_error", code: "idempotency_key_reused", param: anyParam},
		{name: "Idempotency-Key over 255", hdr: []string{"Idempotency-Key", strings.Repeat("k", 256)}, body: tok(card(visa)),
			status: 400, typ: "invalid_request_error", code: "parameter_invalid", param: "Idempotency-Key"},
		{name: "unknown customer", body: map[string]any{"card": card(visa), "customer": "cus_zzzzzzzzzzzzzzzzzzzzzzzzzz"},
			status: 404, typ: "not_found", code: "resource_missing", param: "customer"},
		{name: "bad three_d_secure", body: map[string]any{"card": card(visa), "three_d_secure": "sometimes"},
			status: 400, typ: "invalid_request_error", code: "parameter_invalid", param: "three_d_secure"},
		{name: "limit=0", method: "GET", path: "/v1/tokens?limit=0",
			status: 400, typ: "invalid_request_error", code: "parameter_invalid", param: "limit"},
		{name: "limit=101", method: "GET", path: "/v1/tokens?limit=101",
			status: 400, typ: "invalid_request_error", code: "parameter_invalid", param: "limit"},
		{name: "limit=abc", method: "GET", path: "/v1/tokens?limit=abc",
			status: 400, typ: "invalid_request_error", code: "parameter_invalid", param: "limit"},
		{name: "customer with invalid email", path: "/v1/customers", body: map[string]any{"reference": "bad_email_ref", "email": "not an email"},
			status: 400, typ: "invalid_request_error", code: "email_invalid", param: "email"},
		{name: "duplicate customer reference", path: "/v1/customers", body: map[string]any{"reference": "ref_a"},
			status: 409, typ: "invalid_request_error", code: "reference_in_use", param: "reference"},
		{name: "duplicate customer reference, padded", path: "/v1/customers", body: map[string]any{"reference": "  ref_a "},
			status: 409, typ: "invalid_request_error", code: "reference_in_use", param: "reference"},
		{name: "customer with unknown field", path: "/v1/customers", body: map[string]any{"reference": "ref_b_probe", "nickname": "x"},
			status: 400, typ: "invalid_request_error", code: "parameter_unknown", param: "nickname"},
	}

	sent := map[string]bool{} // every card-number-like digit string the table sent, as sent and as bare digits
	digitRun := regexp.MustCompile(`\d[\d -]{10,}\d`)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.skip != "" {
				t.Skip(tc.skip)
			}
			method, path, key := tc.method, tc.path, tc.key
			if method == "" {
				method = "POST"
			}
			if path == "" {
				path = "/v1/tokens"
			}
			switch key {
			case "":
				key = a
			case "-":
				key = ""
			}
			raw := biBodyString(t, tc.body)
			for _, m := range digitRun.FindAllString(raw, -1) {
				if n := len(biDigits(m)); n >= 12 && n <= 19 {
					sent[m], sent[biDigits(m)] = true, true
				}
			}
			var body any
			if tc.body != nil {
				body = raw
			}
			r := s.call(method, path, key, body, tc.hdr...)
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tc.status, biShort(r.Raw))
			}
			typ, code, param := r.errInfo()
			if typ != tc.typ || !biOneOf(code, tc.code) {
				t.Errorf("error type/code %q/%q, want %q/%q: %s", typ, code, tc.typ, tc.code, biShort(r.Raw))
			}
			if tc.param != anyParam && param != tc.param {
				t.Errorf("error.param %q, want %q: %s", param, tc.param, biShort(r.Raw))
			}
			if strings.TrimSpace(r.str("error", "message")) == "" {
				t.Errorf("error.message is empty: %s", biShort(r.Raw))
			}
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q", ct)
			}
			for n := range sent {
				if strings.Contains(string(r.Raw), n) {
					t.Errorf("response echoes a card number it was sent (%s…): %s", biDigits(n)[:6], biShort(r.Raw))
				}
			}
		})
	}

	// Nothing was stored, nothing reached the processor.
	if got := biTokenIDs(t, s, a); !biSameSet(got, tokensA) {
		t.Errorf("merchant A's tokens changed: before %v, after %v", tokensA, got)
	}
	if got := biTokenIDs(t, s, b.SecretKey); !biSameSet(got, tokensB) {
		t.Errorf("merchant B's tokens changed: before %v, after %v", tokensB, got)
	}
	if got := biCustomersByRef(t, s, a, refs); fmt.Sprint(got) != fmt.Sprint(customersA) {
		t.Errorf("merchant A's customers changed: before %v, after %v", customersA, got)
	}
	if got := biCustomersByRef(t, s, b.SecretKey, refs); fmt.Sprint(got) != fmt.Sprint(customersB) {
		t.Errorf("merchant B's customers changed: before %v, after %v", customersB, got)
	}
	if after := s.Sim.Stats(); after != sim {
		t.Errorf("bad input reached the processor: before %+v, after %+v", sim, after)
	}
	// A's objects are untouched by B's attempts.
	if r := s.call("GET", "/v1/tokens/"+tokA, a, nil).want(t, 200); r.str("status") != "active" {
		t.Errorf("A's token after B's attempts: %s", r.Raw)
	}
	s.call("GET", "/v1/customers/"+cusA, a, nil).want(t, 200)
	// B listing by A's customer sees none of A's tokens.
	if r := s.call("GET", "/v1/tokens?customer="+cusA, b.SecretKey, nil); r.Status == 200 {
		if d, _ := r.Body["data"].([]any); len(d) != 0 {
			t.Errorf("B lists A's customer's tokens: %s", r.Raw)
		}
	} else if r.Status != 404 {
		t.Errorf("B listing by A's customer: status %d: %s", r.Status, r.Raw)
	}
}

// biTokenIDs lists every token id of a merchant (at most 100; more is a test error).
func biTokenIDs(t testing.TB, s *server, key string) []string {
	t.Helper()
	r := s.call("GET", "/v1/tokens?limit=100", key, nil).want(t, 200)
	if r.Body["has_more"] != false {
		t.Fatalf("more than 100 tokens: %s", biShort(r.Raw))
	}
	var ids []string
	for _, d := range r.Body["data"].([]any) {
		ids = append(ids, dig(d, "id").(string))
	}
	return ids
}

// biCustomersByRef maps each reference to the customer id found for it ("" if none).
func biCustomersByRef(t testing.TB, s *server, key string, refs []string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, ref := range refs {
		r := s.call("GET", "/v1/customers?reference="+url.QueryEscape(ref), key, nil).want(t, 200)
		d, _ := r.Body["data"].([]any)
		switch len(d) {
		case 0:
			out[ref] = ""
		case 1:
			out[ref] = dig(d[0], "id").(string)
		default:
			t.Fatalf("reference %s found %d customers", ref, len(d))
		}
	}
	return out
}

// biOneOf reports whether v is one of the |-separated alternatives.
func biOneOf(v, alts string) bool {
	for _, a := range strings.Split(alts, "|") {
		if v == a {
			return true
		}
	}
	return false
}

func biSameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]bool{}
	for _, x := range a {
		m[x] = true
	}
	for _, x := range b {
		if !m[x] {
			return false
		}
	}
	return true
}

// biBodyString renders a case body as the exact bytes sent.
func biBodyString(t testing.TB, body any) string {
	switch b := body.(type) {
	case nil:
		return ""
	case string:
		return b
	}
	j, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return string(j)
}

func biDigits(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

func biShort(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + "…"
	}
	return string(b)
}
