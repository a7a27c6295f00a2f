package security

// Answers and logs never carry a card number a client sent, however it was
// sent: in a path, a method, an id, a number where a string belongs, a key,
// or grouped with separators.

import (
	"strings"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// strayPAN is a Luhn-valid card number a client might put anywhere by mistake.
const strayPAN = "4111111111111111"

// TestIDShapedCardNumberNotEchoed: a not-found answer echoes the
// requested id when it "has the shape of a Coffer id" — but `tok_` followed
// by a card number has that shape, so the PAN comes back in the response,
// and, under an Idempotency-Key, is frozen in clear in idempotency_keys.
func TestIDShapedCardNumberNotEchoed(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	probes := []struct {
		name, method, path string
		body               any
		hdr                []string
	}{
		{"get token", "GET", "/v1/tokens/tok_" + strayPAN, nil, nil},
		{"token audit", "GET", "/v1/tokens/tok_" + strayPAN + "/audit", nil, nil},
		{"get customer", "GET", "/v1/customers/cus_" + strayPAN, nil, nil},
		{"get payment", "GET", "/v1/payments/pay_" + strayPAN, nil, nil},
		{"list refunds", "GET", "/v1/payments/pay_" + strayPAN + "/refunds", nil, nil},
		{"tokens by customer", "GET", "/v1/tokens?customer=cus_" + strayPAN, nil, nil},
		{"tokens starting_after", "GET", "/v1/tokens?starting_after=tok_" + strayPAN, nil, nil},
		{"payments starting_after", "GET", "/v1/payments?starting_after=pay_" + strayPAN, nil, nil},
		{"pay with token", "POST", "/v1/payments", map[string]any{"amount": 1000, "currency": "MYR", "token": "tok_" + strayPAN}, nil},
		{"tokenize for customer", "POST", "/v1/tokens", map[string]any{"card": harness.Card("4242424242424242"), "customer": "cus_" + strayPAN}, nil},
		{"disable with idempotency key", "POST", "/v1/tokens/tok_" + strayPAN + "/disable", nil, []string{"Idempotency-Key", "rs-idem-1"}},
		{"capture with idempotency key", "POST", "/v1/payments/pay_" + strayPAN + "/capture", nil, []string{"Idempotency-Key", "rs-idem-2"}},
	}
	for _, p := range probes {
		r := s.Call(p.method, p.path, sk, p.body, p.hdr...)
		// In a body the input guard refuses it first (400 naming the field).
		if want := map[bool]int{true: 400, false: 404}[p.body != nil]; r.Status != want {
			t.Errorf("%s: status %d, want %d: %s", p.name, r.Status, want, r.Raw)
		}
		harness.NoPAN(t, p.name, r, strayPAN)
	}
	if where := s.DBHolds(t, strayPAN); len(where) > 0 {
		t.Errorf("the card number sent in a path is stored in clear in %v", where)
	}
	if strings.Contains(s.Logs.String(), strayPAN) {
		t.Errorf("the card number reached the logs")
	}
}

// TestUnknownMethodNotEchoed: the catch-all route's message
// redacts the path but not the method, which a client controls completely
// (any token is a valid HTTP method, digits included).
func TestUnknownMethodNotEchoed(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	r := s.Call(strayPAN, "/v1/nowhere", s.Dev.SecretKey, nil)
	harness.NoPAN(t, "unknown method", r, strayPAN)
	if strings.Contains(s.Logs.String(), strayPAN) {
		t.Errorf("the card number reached the logs")
	}
}

// TestAmountNotEchoed: capture and refund echo an amount that is
// too large with %d. jsonError deliberately never echoes a number literal
// ("the literal could be a card number"), but these messages do, and under
// an Idempotency-Key the 400 is frozen in clear in idempotency_keys.
func TestAmountNotEchoed(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	auth := s.Call("POST", "/v1/payments", sk, map[string]any{"amount": 1000, "currency": "MYR", "card": harness.Card("4242424242424242"), "capture": false}).Want(t, 201)
	pid := auth.Str("id")
	r := s.Call("POST", "/v1/payments/"+pid+"/capture", sk, "{\"amount\":"+strayPAN+"}", "Idempotency-Key", "rs-cap")
	harness.NoPAN(t, "capture", r, strayPAN)
	s.Call("POST", "/v1/payments/"+pid+"/capture", sk, nil).Want(t, 200)
	r = s.Call("POST", "/v1/payments/"+pid+"/refunds", sk, "{\"amount\":"+strayPAN+"}", "Idempotency-Key", "rs-ref")
	harness.NoPAN(t, "refund", r, strayPAN)
	if where := s.DBHolds(t, strayPAN); len(where) > 0 {
		t.Errorf("a card number sent as an amount is stored in clear in %v", where)
	}
}

// TestMetadataKeyEchoObservation documents (without failing)
// that a metadata key is echoed in the error for an over-long value.
// Metadata is merchant free text that would be stored and returned anyway.
func TestMetadataKeyEchoObservation(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	r := s.Call("POST", "/v1/customers", s.Dev.SecretKey, map[string]any{"metadata": map[string]string{strayPAN: strings.Repeat("x", 501)}})
	if strings.Contains(string(r.Raw), strayPAN) {
		t.Logf("observation: metadata key echoed in a %d: %s", r.Status, r.Raw)
	}
	r = s.Call("POST", "/v1/payments", s.Dev.SecretKey, map[string]any{"amount": 100, "currency": strayPAN, "card": harness.Card("4242424242424242")})
	t.Logf("observation: currency echo (%d): %s", r.Status, r.Raw)
	if strings.Contains(string(r.Raw), strayPAN) {
		t.Errorf("currency echo carries the full number")
	}
}

// TestCardNumberAsWrongTypeNotEchoed: a PAN given as a JSON number where
// an integer or a string is expected is never echoed.
func TestCardNumberAsWrongTypeNotEchoed(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	for _, b := range []string{
		`{"card":{"number":` + strayPAN + `,"exp_month":12,"exp_year":2040,"cvc":"123"}}`,
		`{"card":{"number":"4242424242424242","exp_month":` + strayPAN + `,"exp_year":2040,"cvc":"123"}}`,
		`{"card":{"number":"4242424242424242","exp_month":12,"exp_year":` + strayPAN + `,"cvc":"123"}}`,
		`{"card":{"number":"4242424242424242","exp_month":12,"exp_year":2040,"cvc":` + strayPAN + `}}`,
		`{"card":{"number":"4242424242424242","exp_month":12,"exp_year":2040,"cvc":"` + strayPAN + `"}}`,
		`{"card":{"number":"4242424242424242","exp_month":12,"exp_year":2040,"cvc":"123","holder_name":` + strayPAN + `}}`,
		`{"card":{"number":"4242424242424242","exp_month":12,"exp_year":2040,"cvc":"123"},"metadata":{"a":` + strayPAN + `}}`,
		`{"card":{"number":"` + strayPAN + `0","exp_month":12,"exp_year":2040,"cvc":"123"}}`,
	} {
		r := s.Call("POST", "/v1/tokens", sk, b)
		harness.NoPAN(t, b, r, strayPAN)
		r = s.Call("POST", "/v1/tokens/batch", sk, `{"cards":[`+b[len(`{"card":`):strings.LastIndex(b, "}")]+`]}`)
		harness.NoPAN(t, "batch "+b, r, strayPAN)
		r = s.Call("POST", "/v1/payments", sk, `{"amount":1000,"currency":"MYR",`+b[1:])
		harness.NoPAN(t, "payment "+b, r, strayPAN)
	}
	for _, b := range []string{`{"amount":` + strayPAN + `,"currency":"MYR","token":"tok_x"}`, `{"amount":1000,"currency":"MYR","token":"tok_x","cvc":` + strayPAN + `}`,
		`{"amount":1000,"currency":"MYR","token":"tok_x","order_id":` + strayPAN + `}`} {
		harness.NoPAN(t, b, s.Call("POST", "/v1/payments", sk, b), strayPAN)
	}
	harness.NoPAN(t, "patch", s.Call("PATCH", "/v1/merchant", sk, `{"default_currency":`+strayPAN+`}`), strayPAN)
	harness.NoPAN(t, "validate", s.Call("POST", "/v1/tokens/tok_x/validate", sk, `{"cvc":`+strayPAN+`}`), strayPAN)
	if strings.Contains(s.Logs.String(), strayPAN) {
		t.Errorf("the card number reached the logs")
	}
	if where := s.DBHolds(t, strayPAN); len(where) > 0 {
		t.Errorf("stored in clear in %v", where)
	}
}

// TestGroupedCardNumberAsRequestID: the X-Request-Id pattern admits
// '.', '_' and ':' but Redact only knows ' ' and '-' as separators, so a card
// number grouped with dots or underscores is accepted as the request id: it
// is echoed in the Request-Id header, written to every log line of the
// request and stored in the audit row of a detokenization.
func TestGroupedCardNumberAsRequestID(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	tok := s.Call("POST", "/v1/tokens", sk, map[string]any{"card": harness.Card("4242424242424242")}).Want(t, 201).Str("id")
	for _, rid := range []string{"4111.1111.1111.1111", "4111_1111_1111_1111", "4111:1111:1111:1111"} {
		r := s.Call("POST", "/v1/tokens/"+tok+"/validate", sk, nil, "X-Request-Id", rid)
		if got := r.Header.Get("Request-Id"); harness.Digits(got) == strayPAN {
			t.Errorf("X-Request-Id %q: the Request-Id header carries the card number: %q", rid, got)
		}
		if strings.Contains(s.Logs.String(), rid) {
			t.Errorf("X-Request-Id %q reached the logs", rid)
		}
		if where := s.DBHolds(t, rid); len(where) > 0 {
			t.Errorf("X-Request-Id %q stored in %v", rid, where)
		}
	}
}

// TestGroupedCardNumberInPathNotLogged: the access log writes the decoded
// path; Redact misses card numbers grouped by separators other than one
// space or dash (a no-break space from a copy-paste, a tab, two spaces, dots).
func TestGroupedCardNumberInPathNotLogged(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	for _, p := range []struct{ enc, dec string }{
		{"4111%C2%A01111%C2%A01111%C2%A01111", "4111\u00a01111\u00a01111\u00a01111"},
		{"4111%091111%091111%091111", "4111\t1111\t1111\t1111"},
		{"4111%20%201111%20%201111%20%201111", "4111  1111  1111  1111"},
		{"4111.1111.1111.1111", "4111.1111.1111.1111"},
	} {
		r := s.Call("GET", "/v1/tokens/"+p.enc, sk, nil)
		if strings.Contains(string(r.Raw), strayPAN) {
			t.Errorf("%q echoed: %s", p.dec, r.Raw)
		}
		r = s.Call("GET", "/v1/nowhere/"+p.enc, sk, nil)
		if strings.Contains(harness.Digits(r.Str("error", "message")), strayPAN) {
			t.Errorf("%q echoed by route_missing: %s", p.dec, r.Raw)
		}
	}
	time.Sleep(20 * time.Millisecond)
	for _, line := range strings.Split(s.Logs.String(), "\n") {
		if strings.Contains(line, `"path"`) && strings.Contains(harness.Digits(line), strayPAN) {
			t.Errorf("a grouped card number reached the log: %s", line)
		}
	}
}

// TestUnknownKeyWithGroupedCardNumberNotEchoed: an unknown JSON key is passed
// through Redact before it is echoed, so the same separator gap lets a card
// number typed with no-break spaces or dots come back in param and message.
func TestUnknownKeyWithGroupedCardNumberNotEchoed(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	for _, k := range []string{"4111\u00a01111\u00a01111\u00a01111", "4111.1111.1111.1111", "4111  1111  1111  1111"} {
		r := s.Call("POST", "/v1/tokens", s.Dev.SecretKey, map[string]any{"card": harness.Card("4242424242424242"), k: 1})
		if strings.Contains(harness.Digits(r.Str("error", "param")), strayPAN) {
			t.Errorf("unknown key %q echoed: %s", k, r.Raw)
		}
	}
}
