package security

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/app"
	cardpkg "github.com/coffer-vault/coffer/internal/card"
	"github.com/coffer-vault/coffer/internal/e2e/harness"
	"github.com/coffer-vault/coffer/internal/payment"
)

// TestBadInputStoresNothing runs the bad-input list against a
// running server: each request gets the exact 4xx with the error envelope
// naming the field, no response echoes a card number it was sent, and when
// the whole table has run no token or customer was added and the processor
// was never asked to verify anything.
func TestBadInputStoresNothing(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	a := s.Dev.SecretKey
	b := s.NewMerchant("Merchant B")
	now := time.Now().UTC()
	year := now.Year()

	// Objects the table refers to, made before the baseline is taken.
	cusA := s.Call("POST", "/v1/customers", a, map[string]any{"reference": "ref_a", "email": "a@example.com"}).Want(t, 201).Str("id")
	tokA := s.Tokenize(t, a, map[string]any{"card": harness.Card("4242424242424242"), "customer": cusA}).Want(t, 201).Str("id")
	idemKey := "bad-input-idem-1"
	s.Call("POST", "/v1/tokens", a, map[string]any{"card": harness.Card("5555555555554444")}, "Idempotency-Key", idemKey).Want(t, 201)

	refs := []string{"ref_a", "bad_email_ref", "ref_b_probe", "idem_customer_ref"}
	tokensA, tokensB := s.TokenIDs(t, a), s.TokenIDs(t, b.SecretKey)
	customersA, customersB := s.CustomersByRef(t, a, refs), s.CustomersByRef(t, b.SecretKey, refs)
	sim := s.Sim.Stats()

	// c builds a card with overrides; nil values delete the field.
	c := func(number string, kv ...any) map[string]any { return harness.With(harness.Card(number), kv...) }
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
		batch101[i] = harness.Card(cardpkg.CompleteLuhn(fmt.Sprintf("411111%09d", i)))
	}

	cases := []harness.BadCase{
		{Name: "malformed JSON", Body: `{"card":{"number":"4242424242424242",`, Status: 400, Typ: "invalid_request_error", Code: "json_invalid"},
		{Name: "JSON array instead of object", Body: `[{"card":{"number":"4242424242424242","exp_month":12,"exp_year":2034}}]`,
			Status: 400, Typ: "invalid_request_error", Code: "json_invalid"},
		{Name: "unknown top-level field", Body: map[string]any{"card": harness.Card(visa), "colour": "red"},
			Status: 400, Typ: "invalid_request_error", Code: "parameter_unknown", Param: "colour"},
		{Name: "unknown field inside card", Body: tok(c(visa, "bogus", 1)),
			Status: 400, Typ: "invalid_request_error", Code: "parameter_unknown", Param: "card.bogus"},
		{Name: "exp_month as string", Body: tok(c(visa, "exp_month", "12")),
			Status: 400, Typ: "invalid_request_error", Code: "parameter_invalid_type", Param: "card.exp_month"},
		{Name: "number as number", Body: `{"card":{"number":4242424242424242,"exp_month":12,"exp_year":2034}}`,
			Status: 400, Typ: "invalid_request_error", Code: "parameter_invalid_type", Param: "card.number"},
		{Name: "verify as string", Body: map[string]any{"card": harness.Card(visa), "verify": "yes"},
			Status: 400, Typ: "invalid_request_error", Code: "parameter_invalid_type", Param: "verify"},
		// A card number typed into a numeric field must not be echoed back in the type error.
		{Name: "card number as fractional exp_month", Body: `{"card":{"number":"4242424242424242","exp_month":4111111111111111.5,"exp_year":2034}}`,
			Status: 400, Typ: "invalid_request_error", Code: "parameter_invalid_type", Param: "card.exp_month"},
		{Name: "missing card", Body: map[string]any{"verify": true},
			Status: 400, Typ: "invalid_request_error", Code: "parameter_missing", Param: "card"},
		{Name: "empty body", Body: "", Status: 400, Typ: "invalid_request_error", Code: "body_missing"},
		{Name: "missing number", Body: tok(c(visa, "number", nil)),
			Status: 400, Typ: "invalid_request_error", Code: "incorrect_number", Param: "card.number"},
		{Name: "missing exp_month", Body: tok(c(visa, "exp_month", nil)),
			Status: 400, Typ: "invalid_request_error", Code: "invalid_expiry", Param: "card.exp_month"},
		// An absent year is not "the card has expired": it is a missing/invalid expiry.
		{Name: "missing exp_year", Body: tok(c(visa, "exp_year", nil)),
			Status: 400, Typ: "invalid_request_error", Code: "invalid_expiry|parameter_missing", Param: "card.exp_year"},
		{Name: "Luhn failure", Body: tok(c("4242424242424241")),
			Status: 400, Typ: "invalid_request_error", Code: "incorrect_number", Param: "card.number"},
		{Name: "letters in number", Body: tok(c("4242abcd42424242")),
			Status: 400, Typ: "invalid_request_error", Code: "incorrect_number", Param: "card.number"},
		{Name: "15-digit Visa", Body: tok(c(cardpkg.CompleteLuhn("42424242424242"))),
			Status: 400, Typ: "invalid_request_error", Code: "incorrect_number", Param: "card.number"},
		{Name: "17-digit Mastercard", Body: tok(c(cardpkg.CompleteLuhn("55555555555544441"))),
			Status: 400, Typ: "invalid_request_error", Code: "incorrect_number", Param: "card.number"},
		{Name: "unknown brand prefix", Body: tok(c(cardpkg.CompleteLuhn("999999999999999"))),
			Status: 400, Typ: "invalid_request_error", Code: "incorrect_number", Param: "card.number"},
		{Name: "month 0", Body: tok(c(visa, "exp_month", 0)),
			Status: 400, Typ: "invalid_request_error", Code: "invalid_expiry", Param: "card.exp_month"},
		{Name: "month 13", Body: tok(c(visa, "exp_month", 13)),
			Status: 400, Typ: "invalid_request_error", Code: "invalid_expiry", Param: "card.exp_month"},
		{Name: "year in the past", Body: tok(c(visa, "exp_year", year-1)),
			Status: 400, Typ: "invalid_request_error", Code: "expired_card", Param: "card.exp_year"},
		{Name: "2-digit year in the past", Body: tok(c(visa, "exp_year", (year-2)%100)),
			Status: 400, Typ: "invalid_request_error", Code: "expired_card", Param: "card.exp_year"},
		{Name: "expired month of this year", Body: thisYearExpired, Skip: skipJanuary,
			Status: 400, Typ: "invalid_request_error", Code: "expired_card", Param: "card.exp_year"},
		{Name: "4-digit CVC on Visa", Body: tok(c(visa, "cvc", "1234")),
			Status: 400, Typ: "invalid_request_error", Code: "invalid_cvc", Param: "card.cvc"},
		{Name: "3-digit CVC on Amex", Body: tok(c(amex, "cvc", "123")),
			Status: 400, Typ: "invalid_request_error", Code: "invalid_cvc", Param: "card.cvc"},
		{Name: "letters in CVC", Body: tok(c(visa, "cvc", "1a3")),
			Status: 400, Typ: "invalid_request_error", Code: "invalid_cvc", Param: "card.cvc"},
		{Name: "body over 1 MiB", Body: big, Status: 413, Typ: "invalid_request_error", Code: "body_too_large"},
		{Name: "batch of 101", Path: "/v1/tokens/batch", Body: map[string]any{"cards": batch101},
			Status: 400, Typ: "invalid_request_error", Code: "parameter_invalid", Param: "cards"},
		{Name: "empty batch", Path: "/v1/tokens/batch", Body: map[string]any{"cards": []any{}},
			Status: 400, Typ: "invalid_request_error", Code: "parameter_invalid", Param: "cards"},
		{Name: "batch without cards", Path: "/v1/tokens/batch", Body: map[string]any{},
			Status: 400, Typ: "invalid_request_error", Code: "parameter_invalid", Param: "cards"},
		{Name: "missing Authorization", Key: "-", Body: tok(harness.Card(visa)),
			Status: 401, Typ: "authentication_error", Code: "api_key_missing"},
		{Name: "wrong key", Key: "sk_test_00000000000000000000000000000000", Body: tok(harness.Card(visa)),
			Status: 401, Typ: "authentication_error", Code: "api_key_invalid"},
		{Name: "publishable key", Key: b.PublishableKey, Body: tok(harness.Card(visa)),
			Status: 401, Typ: "authentication_error", Code: "secret_key_required"},
		{Name: "Basic instead of Bearer", Key: "-", Hdr: []string{"Authorization", "Basic " + a}, Body: tok(harness.Card(visa)),
			Status: 401, Typ: "authentication_error", Code: "api_key_missing"},

		// Merchant B reaching for merchant A's objects: "not found", never "forbidden".
		{Name: "B gets A's token", Method: "GET", Path: "/v1/tokens/" + tokA, Key: b.SecretKey,
			Status: 404, Typ: "not_found", Code: "resource_missing", Param: "id"},
		{Name: "B disables A's token", Path: "/v1/tokens/" + tokA + "/disable", Key: b.SecretKey,
			Status: 404, Typ: "not_found", Code: "resource_missing", Param: "id"},
		{Name: "B enables A's token", Path: "/v1/tokens/" + tokA + "/enable", Key: b.SecretKey,
			Status: 404, Typ: "not_found", Code: "resource_missing", Param: "id"},
		{Name: "B validates A's token", Path: "/v1/tokens/" + tokA + "/validate", Key: b.SecretKey, Body: map[string]any{"cvc": "123"},
			Status: 404, Typ: "not_found", Code: "resource_missing", Param: "id"},
		{Name: "B deletes A's token", Method: "DELETE", Path: "/v1/tokens/" + tokA, Key: b.SecretKey,
			Status: 404, Typ: "not_found", Code: "resource_missing", Param: "id"},
		{Name: "B gets A's customer", Method: "GET", Path: "/v1/customers/" + cusA, Key: b.SecretKey,
			Status: 404, Typ: "not_found", Code: "resource_missing", Param: "id"},
		{Name: "B deletes A's customer", Method: "DELETE", Path: "/v1/customers/" + cusA, Key: b.SecretKey,
			Status: 404, Typ: "not_found", Code: "resource_missing", Param: "id"},
		{Name: "B tokenizes for A's customer", Key: b.SecretKey, Body: map[string]any{"card": harness.Card(visa), "customer": cusA},
			Status: 404, Typ: "not_found", Code: "resource_missing", Param: "customer"},

		{Name: "same Idempotency-Key, different body", Hdr: []string{"Idempotency-Key", idemKey}, Body: tok(harness.Card(visa)),
			Status: 409, Typ: "idempotency_error", Code: "idempotency_key_reused", Param: harness.AnyParam},
		{Name: "Idempotency-Key over 255", Hdr: []string{"Idempotency-Key", strings.Repeat("k", 256)}, Body: tok(harness.Card(visa)),
			Status: 400, Typ: "invalid_request_error", Code: "parameter_invalid", Param: "Idempotency-Key"},
		{Name: "unknown customer", Body: map[string]any{"card": harness.Card(visa), "customer": "cus_zzzzzzzzzzzzzzzzzzzzzzzzzz"},
			Status: 404, Typ: "not_found", Code: "resource_missing", Param: "customer"},
		{Name: "bad three_d_secure", Body: map[string]any{"card": harness.Card(visa), "three_d_secure": "sometimes"},
			Status: 400, Typ: "invalid_request_error", Code: "parameter_invalid", Param: "three_d_secure"},
		{Name: "limit=0", Method: "GET", Path: "/v1/tokens?limit=0",
			Status: 400, Typ: "invalid_request_error", Code: "parameter_invalid", Param: "limit"},
		{Name: "limit=101", Method: "GET", Path: "/v1/tokens?limit=101",
			Status: 400, Typ: "invalid_request_error", Code: "parameter_invalid", Param: "limit"},
		{Name: "limit=abc", Method: "GET", Path: "/v1/tokens?limit=abc",
			Status: 400, Typ: "invalid_request_error", Code: "parameter_invalid", Param: "limit"},
		{Name: "customer with invalid email", Path: "/v1/customers", Body: map[string]any{"reference": "bad_email_ref", "email": "not an email"},
			Status: 400, Typ: "invalid_request_error", Code: "email_invalid", Param: "email"},
		{Name: "duplicate customer reference", Path: "/v1/customers", Body: map[string]any{"reference": "ref_a"},
			Status: 409, Typ: "invalid_request_error", Code: "reference_in_use", Param: "reference"},
		{Name: "duplicate customer reference, padded", Path: "/v1/customers", Body: map[string]any{"reference": "  ref_a "},
			Status: 409, Typ: "invalid_request_error", Code: "reference_in_use", Param: "reference"},
		{Name: "customer with unknown field", Path: "/v1/customers", Body: map[string]any{"reference": "ref_b_probe", "nickname": "x"},
			Status: 400, Typ: "invalid_request_error", Code: "parameter_unknown", Param: "nickname"},
	}

	sent := map[string]bool{} // every card-number-like digit string the table sent, as sent and as bare digits
	digitRun := regexp.MustCompile(`\d[\d -]{10,}\d`)
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			if tc.Skip != "" {
				t.Skip(tc.Skip)
			}
			method, path, key := tc.Method, tc.Path, tc.Key
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
			raw := harness.BodyString(t, tc.Body)
			for _, m := range digitRun.FindAllString(raw, -1) {
				if n := len(harness.Digits(m)); n >= 12 && n <= 19 {
					sent[m], sent[harness.Digits(m)] = true, true
				}
			}
			var body any
			if tc.Body != nil {
				body = raw
			}
			r := s.Call(method, path, key, body, tc.Hdr...)
			if r.Status != tc.Status {
				t.Fatalf("status %d, want %d: %s", r.Status, tc.Status, harness.Short(r.Raw))
			}
			typ, code, param := r.ErrInfo()
			if typ != tc.Typ || !harness.OneOf(code, tc.Code) {
				t.Errorf("error type/code %q/%q, want %q/%q: %s", typ, code, tc.Typ, tc.Code, harness.Short(r.Raw))
			}
			if tc.Param != harness.AnyParam && param != tc.Param {
				t.Errorf("error.param %q, want %q: %s", param, tc.Param, harness.Short(r.Raw))
			}
			if strings.TrimSpace(r.Str("error", "message")) == "" {
				t.Errorf("error.message is empty: %s", harness.Short(r.Raw))
			}
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q", ct)
			}
			for n := range sent {
				if strings.Contains(string(r.Raw), n) {
					t.Errorf("response echoes a card number it was sent (%s…): %s", harness.Digits(n)[:6], harness.Short(r.Raw))
				}
			}
		})
	}

	// Nothing was stored, nothing reached the processor.
	if got := s.TokenIDs(t, a); !harness.SameSet(got, tokensA) {
		t.Errorf("merchant A's tokens changed: before %v, after %v", tokensA, got)
	}
	if got := s.TokenIDs(t, b.SecretKey); !harness.SameSet(got, tokensB) {
		t.Errorf("merchant B's tokens changed: before %v, after %v", tokensB, got)
	}
	if got := s.CustomersByRef(t, a, refs); fmt.Sprint(got) != fmt.Sprint(customersA) {
		t.Errorf("merchant A's customers changed: before %v, after %v", customersA, got)
	}
	if got := s.CustomersByRef(t, b.SecretKey, refs); fmt.Sprint(got) != fmt.Sprint(customersB) {
		t.Errorf("merchant B's customers changed: before %v, after %v", customersB, got)
	}
	if after := s.Sim.Stats(); after != sim {
		t.Errorf("bad input reached the processor: before %+v, after %+v", sim, after)
	}
	// A's objects are untouched by B's attempts.
	if r := s.Call("GET", "/v1/tokens/"+tokA, a, nil).Want(t, 200); r.Str("status") != "active" {
		t.Errorf("A's token after B's attempts: %s", r.Raw)
	}
	s.Call("GET", "/v1/customers/"+cusA, a, nil).Want(t, 200)
	// B listing by A's customer sees none of A's tokens.
	if r := s.Call("GET", "/v1/tokens?customer="+cusA, b.SecretKey, nil); r.Status == 200 {
		if d, _ := r.Body["data"].([]any); len(d) != 0 {
			t.Errorf("B lists A's customer's tokens: %s", r.Raw)
		}
	} else if r.Status != 404 {
		t.Errorf("B listing by A's customer: status %d: %s", r.Status, r.Raw)
	}
}

// TestMerchantCallbackURLChecked: tokenization_callback_url is checked
// against the webhook address rules when it is set (PATCH, and `merchant
// create/update`), not first when a callback is sent: a special-purpose
// address is a 400 naming the field, and nothing changes.
// tokenization_return_url must be an absolute http(s) URL.
func TestMerchantCallbackURLChecked(t *testing.T) {
	t.Parallel()
	s := harness.Start(t, harness.WithWebhooksAllowPrivate(false))
	sk := s.Dev.SecretKey
	for _, u := range []string{"http://198.18.0.1/cb", "https://100.64.1.1/cb", "http://240.0.0.1/cb", "http://[64:ff9b::a9fe:a9fe]/cb",
		"http://169.254.169.254/latest", "http://127.0.0.1:9/cb", "http://10.0.0.1/cb", "http://192.0.2.7/cb", "http://localhost/cb"} {
		r := s.Call("PATCH", "/v1/merchant", sk, map[string]any{"tokenization_callback_url": u})
		if r.Status/100 == 2 {
			// Never left configured: no callback may go off this machine.
			s.Call("PATCH", "/v1/merchant", sk, map[string]any{"tokenization_callback_url": ""})
		}
		r.Want(t, 400)
		if typ, _, param := r.ErrInfo(); typ != "invalid_request_error" || param != "tokenization_callback_url" {
			t.Errorf("PATCH tokenization_callback_url %s: %s", u, r.Raw)
		}
	}
	for _, u := range []string{"javascript:alert(1)", "/relative", "ftp://shop.example/x"} {
		for _, field := range []string{"tokenization_callback_url", "tokenization_return_url"} {
			r := s.Call("PATCH", "/v1/merchant", sk, map[string]any{field: u}).Want(t, 400)
			if _, _, param := r.ErrInfo(); param != field {
				t.Errorf("PATCH %s %q: %s", field, u, r.Raw)
			}
		}
	}
	m := s.Call("GET", "/v1/merchant", sk, nil).Want(t, 200)
	if m.Str("tokenization_callback_url") != "" || m.Str("tokenization_return_url") != "" {
		t.Errorf("a refused PATCH changed the merchant: %s", m.Raw)
	}
	// An allowed address is taken. Tests never configure a callback off this
	// machine, so the allowed address is loopback on a server that permits
	// private addresses (that public addresses pass is event's unit test).
	lo := harness.Start(t, harness.WithWebhooksAllowPrivate(true))
	ok := lo.Call("PATCH", "/v1/merchant", lo.Dev.SecretKey, map[string]any{"tokenization_callback_url": "http://127.0.0.1:9/cb",
		"tokenization_return_url": "https://shop.example/back"}).Want(t, 200)
	if ok.Str("tokenization_callback_url") != "http://127.0.0.1:9/cb" {
		t.Errorf("an allowed callback URL: %s", ok.Raw)
	}
	// Unrelated changes are not held up, and clearing the URL is allowed.
	lo.Call("PATCH", "/v1/merchant", lo.Dev.SecretKey, map[string]any{"tokenization_callback_url": ""}).Want(t, 200)

	// The CLI path (app.CreateMerchant) follows the same rule.
	p := payment.SettingsPatch{}
	bad := "http://198.51.100.1/cb"
	p.TokenizationCallbackURL = &bad
	if _, err := createMerchantErr(s, "Bad callback", p); err == nil || !strings.Contains(err.Error(), "tokenization_callback_url") {
		t.Errorf("merchant create with a special-purpose callback address: %v", err)
	}
}

// createMerchantErr creates a merchant through the CLI's path and returns its error.
func createMerchantErr(s *harness.Server, name string, p payment.SettingsPatch) (*payment.Credentials, error) {
	cfg := s.Cfg
	cfg.Stdout, cfg.Stderr = io.Discard, s.Logs
	return app.CreateMerchant(context.Background(), cfg, name, p)
}
