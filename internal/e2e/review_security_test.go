package e2e

import (
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// rsPAN is a Luhn-valid card number a client might put anywhere by mistake.
const rsPAN = "4111111111111111"

// rsDBHolds reports every table.column of the SQLite database holding needle.
func rsDBHolds(t testing.TB, s *server, needle string) []string {
	t.Helper()
	var where []string
	for table, rows := range lkDumpDB(t, lkOpenDB(t, s.DataDir)) {
		for _, row := range rows {
			for col, v := range row {
				if strings.Contains(v, needle) {
					where = append(where, table+"."+col)
				}
			}
		}
	}
	return where
}

// rsNoPAN fails when a response's body or headers carry the number.
func rsNoPAN(t *testing.T, what string, r resp, pan string) {
	t.Helper()
	if strings.Contains(string(r.Raw), pan) {
		t.Errorf("%s: response body (status %d) echoes the card number: %s", what, r.Status, r.Raw)
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			if strings.Contains(v, pan) {
				t.Errorf("%s: response header %s echoes the card number: %s", what, k, v)
			}
		}
	}
}

// TestReviewSecurityIDShapedPANEchoed: a not-found answer echoes the
// requested id when it "has the shape of a Coffer id" — but `tok_` followed
// by a card number has that shape, so the PAN comes back in the response,
// and, under an Idempotency-Key, is frozen in clear in idempotency_keys.
func TestReviewSecurityIDShapedPANEchoed(t *testing.T) {
	s := start(t)
	sk := s.Dev.SecretKey
	probes := []struct {
		name, method, path string
		body               any
		hdr                []string
	}{
		{"get token", "GET", "/v1/tokens/tok_" + rsPAN, nil, nil},
		{"token audit", "GET", "/v1/tokens/tok_" + rsPAN + "/audit", nil, nil},
		{"get customer", "GET", "/v1/customers/cus_" + rsPAN, nil, nil},
		{"get payment", "GET", "/v1/payments/pay_" + rsPAN, nil, nil},
		{"list refunds", "GET", "/v1/payments/pay_" + rsPAN + "/refunds", nil, nil},
		{"tokens by customer", "GET", "/v1/tokens?customer=cus_" + rsPAN, nil, nil},
		{"tokens starting_after", "GET", "/v1/tokens?starting_after=tok_" + rsPAN, nil, nil},
		{"payments starting_after", "GET", "/v1/payments?starting_after=pay_" + rsPAN, nil, nil},
		{"pay with token", "POST", "/v1/payments", map[string]any{"amount": 1000, "currency": "MYR", "token": "tok_" + rsPAN}, nil},
		{"tokenize for customer", "POST", "/v1/tokens", map[string]any{"card": card("4242424242424242"), "customer": "cus_" + rsPAN}, nil},
		{"disable with idempotency key", "POST", "/v1/tokens/tok_" + rsPAN + "/disable", nil, []string{"Idempotency-Key", "rs-idem-1"}},
		{"capture with idempotency key", "POST", "/v1/payments/pay_" + rsPAN + "/capture", nil, []string{"Idempotency-Key", "rs-idem-2"}},
	}
	for _, p := range probes {
		r := s.call(p.method, p.path, sk, p.body, p.hdr...)
		// In a body the input guard refuses it first (400 naming the field).
		if want := map[bool]int{true: 400, false: 404}[p.body != nil]; r.Status != want {
			t.Errorf("%s: status %d, want %d: %s", p.name, r.Status, want, r.Raw)
		}
		rsNoPAN(t, p.name, r, rsPAN)
	}
	if where := rsDBHolds(t, s, rsPAN); len(where) > 0 {
		t.Errorf("the card number sent in a path is stored in clear in %v", where)
	}
	if strings.Contains(s.Logs.String(), rsPAN) {
		t.Errorf("the card number reached the logs")
	}
}

// TestReviewSecurityUnknownMethodEchoed: the catch-all route's message
// redacts the path but not the method, which a client controls completely
// (any token is a valid HTTP method, digits included).
func TestReviewSecurityUnknownMethodEchoed(t *testing.T) {
	s := start(t)
	r := s.call(rsPAN, "/v1/nowhere", s.Dev.SecretKey, nil)
	rsNoPAN(t, "unknown method", r, rsPAN)
	if strings.Contains(s.Logs.String(), rsPAN) {
		t.Errorf("the card number reached the logs")
	}
}

// TestReviewSecurityAmountEchoed: capture and refund echo an amount that is
// too large with %d. jsonError deliberately never echoes a number literal
// ("the literal could be a card number"), but these messages do, and under
// an Idempotency-Key the 400 is frozen in clear in idempotency_keys.
func TestReviewSecurityAmountEchoed(t *testing.T) {
	s := start(t)
	sk := s.Dev.SecretKey
	auth := s.call("POST", "/v1/payments", sk, map[string]any{"amount": 1000, "currency": "MYR", "card": card("4242424242424242"), "capture": false}).want(t, 201)
	pid := auth.str("id")
	r := s.call("POST", "/v1/payments/"+pid+"/capture", sk, "{\"amount\":"+rsPAN+"}", "Idempotency-Key", "rs-cap")
	rsNoPAN(t, "capture", r, rsPAN)
	s.call("POST", "/v1/payments/"+pid+"/capture", sk, nil).want(t, 200)
	r = s.call("POST", "/v1/payments/"+pid+"/refunds", sk, "{\"amount\":"+rsPAN+"}", "Idempotency-Key", "rs-ref")
	rsNoPAN(t, "refund", r, rsPAN)
	if where := rsDBHolds(t, s, rsPAN); len(where) > 0 {
		t.Errorf("a card number sent as an amount is stored in clear in %v", where)
	}
}

// TestReviewSecurityMetadataKeyEchoObservation documents (without failing)
// that a metadata key is echoed in the error for an over-long value.
// Metadata is merchant free text that would be stored and returned anyway.
func TestReviewSecurityMetadataKeyEchoObservation(t *testing.T) {
	s := start(t)
	r := s.call("POST", "/v1/customers", s.Dev.SecretKey, map[string]any{"metadata": map[string]string{rsPAN: strings.Repeat("x", 501)}})
	if strings.Contains(string(r.Raw), rsPAN) {
		t.Logf("observation: metadata key echoed in a %d: %s", r.Status, r.Raw)
	}
	r = s.call("POST", "/v1/payments", s.Dev.SecretKey, map[string]any{"amount": 100, "currency": rsPAN, "card": card("4242424242424242")})
	t.Logf("observation: currency echo (%d): %s", r.Status, r.Raw)
	if strings.Contains(string(r.Raw), rsPAN) {
		t.Errorf("currency echo carries the full number")
	}
}

// TestReviewSecurityCrossMerchant checks that nothing of merchant A is
// reachable with merchant B's key, on any route or filter.
func TestReviewSecurityCrossMerchant(t *testing.T) {
	s := start(t)
	a := s.Dev.SecretKey
	b := s.newMerchant("Other").SecretKey
	cus := s.call("POST", "/v1/customers", a, map[string]any{"reference": "rs_ref"}).want(t, 201).str("id")
	tok := s.call("POST", "/v1/tokens", a, map[string]any{"card": card("4242424242424242"), "customer": cus}).want(t, 201).str("id")
	pay := s.call("POST", "/v1/payments", a, map[string]any{"amount": 1000, "currency": "MYR", "token": tok, "order_id": "rs-order"}).want(t, 201).str("id")
	auth := s.call("POST", "/v1/payments", a, map[string]any{"amount": 1000, "currency": "MYR", "token": tok, "capture": false}).want(t, 201).str("id")
	s.call("POST", "/v1/payments/"+pay+"/refunds", a, map[string]any{"amount": 100}).want(t, 201)
	// B's own objects, so list filters have something to page through.
	bcus := s.call("POST", "/v1/customers", b, map[string]any{"reference": "rs_ref"}).want(t, 201).str("id")
	s.call("POST", "/v1/tokens", b, map[string]any{"card": card("5555555555554444"), "customer": bcus}).want(t, 201)

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
		r := s.call(p.method, p.path, b, nil)
		if r.Status != 404 {
			t.Errorf("B %s %s: status %d, want 404: %s", p.method, p.path, r.Status, r.Raw)
		}
	}
	for _, p := range []string{"/v1/payments?order_id=rs-order", "/v1/payments?customer=" + cus, "/v1/customers?reference=rs_ref"} {
		r := s.call("GET", p, b, nil).want(t, 200)
		if strings.Contains(string(r.Raw), cus) || strings.Contains(string(r.Raw), pay) || strings.Contains(string(r.Raw), tok) {
			t.Errorf("B GET %s sees A's objects: %s", p, r.Raw)
		}
	}
	for _, body := range []map[string]any{
		{"amount": 1000, "currency": "MYR", "token": tok},
		{"amount": 1000, "currency": "MYR", "card": card("4242424242424242"), "customer": cus},
	} {
		if r := s.call("POST", "/v1/payments", b, body); r.Status != 404 {
			t.Errorf("B pays with A's object: status %d: %s", r.Status, r.Raw)
		}
	}
	r := s.call("POST", "/v1/tokens/batch", b, map[string]any{"cards": []any{card("4242424242424242")}, "customer": cus}).want(t, 200)
	if !strings.Contains(string(r.Raw), "resource_missing") {
		t.Errorf("B batch-tokenizes into A's customer: %s", r.Raw)
	}
	// Same Idempotency-Key on two merchants: independent, no replay.
	ra := s.call("POST", "/v1/customers", a, map[string]any{"reference": "rs_idem_a"}, "Idempotency-Key", "rs-shared").want(t, 201)
	rb := s.call("POST", "/v1/customers", b, map[string]any{"reference": "rs_idem_b"}, "Idempotency-Key", "rs-shared").want(t, 201)
	if rb.Header.Get("Idempotent-Replayed") != "" || rb.str("id") == ra.str("id") {
		t.Errorf("B's request replays A's: %s", rb.Raw)
	}
	// A's objects are intact.
	s.call("GET", "/v1/tokens/"+tok, a, nil).want(t, 200)
	s.call("GET", "/v1/customers/"+cus, a, nil).want(t, 200)
}

// TestReviewSecurityPublishableKey: a publishable key does nothing on the native API.
func TestReviewSecurityPublishableKey(t *testing.T) {
	s := start(t)
	pk := s.Dev.PublishableKey
	tok := s.call("POST", "/v1/tokens", s.Dev.SecretKey, map[string]any{"card": card("4242424242424242")}).want(t, 201).str("id")
	for _, p := range []struct {
		method, path string
		body         any
	}{
		{"GET", "/v1/merchant", nil}, {"PATCH", "/v1/merchant", map[string]any{"require_cvc_for_saved_cards": true}},
		{"POST", "/v1/customers", map[string]any{}}, {"GET", "/v1/customers?reference=x", nil},
		{"POST", "/v1/tokens", map[string]any{"card": card("4242424242424242")}}, {"GET", "/v1/tokens", nil},
		{"GET", "/v1/tokens/" + tok, nil}, {"POST", "/v1/tokens/batch", map[string]any{"cards": []any{card("4242424242424242")}}},
		{"POST", "/v1/payments", map[string]any{"amount": 1000, "currency": "MYR", "token": tok}}, {"GET", "/v1/payments", nil},
		{"DELETE", "/v1/tokens/" + tok, nil},
	} {
		for _, auth := range []string{"Bearer " + pk, "bearer " + pk, "Bearer  " + pk + " ", "Basic " + base64.StdEncoding.EncodeToString([]byte(pk+":"))} {
			r := s.call(p.method, p.path, "", p.body, "Authorization", auth)
			if r.Status != 401 {
				t.Errorf("%s %s with %q: status %d: %s", p.method, p.path, auth, r.Status, r.Raw)
			}
		}
	}
	s.call("GET", "/v1/tokens/"+tok, s.Dev.SecretKey, nil).want(t, 200)
}

// TestReviewSecuritySecretsStayHidden: the secret key, HMAC secret and the
// KEK never reach a response, a log line or the database in clear.
func TestReviewSecuritySecretsStayHidden(t *testing.T) {
	s := start(t)
	sk := s.Dev.SecretKey
	other := s.newMerchant("Second")
	var bodies strings.Builder
	for _, r := range []resp{
		s.call("GET", "/v1/merchant", sk, nil),
		s.call("PATCH", "/v1/merchant", sk, map[string]any{"tokenization_return_url": "https://shop.example/r"}),
		s.call("POST", "/v1/tokens", sk, map[string]any{"card": card("4242424242424242")}),
		s.call("POST", "/v1/payments", sk, map[string]any{"amount": 1000, "currency": "MYR", "card": card("4000000000000002")}),
		s.call("GET", "/v1/merchant", other.SecretKey, nil),
		s.call("GET", "/v1/merchant", sk+"x", nil),
	} {
		bodies.Write(r.Raw)
		for k, vs := range r.Header {
			bodies.WriteString(k + ": " + strings.Join(vs, ",") + "\n")
		}
	}
	time.Sleep(50 * time.Millisecond)
	kek, _ := os.ReadFile(filepath.Join(s.DataDir, "master.key"))
	secrets := map[string]string{"dev secret key": sk, "dev hmac": s.Dev.HMACSecret, "other secret key": other.SecretKey, "other hmac": other.HMACSecret}
	if k := strings.TrimSpace(string(kek)); len(k) >= 16 {
		secrets["master key file"] = k
		if raw, err := base64.StdEncoding.DecodeString(k); err == nil {
			secrets["master key hex"] = hex.EncodeToString(raw)
		}
	}
	logs := s.Logs.String()
	for name, v := range secrets {
		if strings.Contains(bodies.String(), v) {
			t.Errorf("%s in a response", name)
		}
		if strings.Contains(logs, v) {
			t.Errorf("%s in the logs", name)
		}
		if where := rsDBHolds(t, s, v); len(where) > 0 {
			t.Errorf("%s stored in clear in %v", name, where)
		}
	}
}

// TestReviewSecurityPANInCardFields: a card number typed into another field
// of the card object (holder name, a classic form mix-up) is stored in clear
// in tokens.holder_name and answered back; the server already refuses a PAN
// in an Idempotency-Key or request id, and the card object is documented
// card data.
func TestReviewSecurityPANInCardFields(t *testing.T) {
	s := start(t)
	sk := s.Dev.SecretKey
	c := card("4242424242424242")
	c["holder_name"] = "4111 1111 1111 1111"
	r := s.call("POST", "/v1/tokens", sk, map[string]any{"card": c})
	rsNoPAN(t, "holder_name tokenize", r, "4111 1111 1111 1111")
	c2 := card("5555555555554444")
	c2["holder_name"] = rsPAN
	r = s.call("POST", "/v1/payments", sk, map[string]any{"amount": 1000, "currency": "MYR", "card": c2, "save_card": true})
	rsNoPAN(t, "holder_name pay+save", r, rsPAN)
	for _, n := range []string{rsPAN, "4111 1111 1111 1111"} {
		if where := rsDBHolds(t, s, n); len(where) > 0 {
			t.Errorf("a card number given as holder_name is stored in clear in %v", where)
		}
	}
}

// TestReviewSecurityNumbersAsWrongFields: a PAN given as a JSON number where
// an integer or a string is expected is never echoed.
func TestReviewSecurityNumbersAsWrongFields(t *testing.T) {
	s := start(t)
	sk := s.Dev.SecretKey
	for _, b := range []string{
		`{"card":{"number":` + rsPAN + `,"exp_month":12,"exp_year":2040,"cvc":"123"}}`,
		`{"card":{"number":"4242424242424242","exp_month":` + rsPAN + `,"exp_year":2040,"cvc":"123"}}`,
		`{"card":{"number":"4242424242424242","exp_month":12,"exp_year":` + rsPAN + `,"cvc":"123"}}`,
		`{"card":{"number":"4242424242424242","exp_month":12,"exp_year":2040,"cvc":` + rsPAN + `}}`,
		`{"card":{"number":"4242424242424242","exp_month":12,"exp_year":2040,"cvc":"` + rsPAN + `"}}`,
		`{"card":{"number":"4242424242424242","exp_month":12,"exp_year":2040,"cvc":"123","holder_name":` + rsPAN + `}}`,
		`{"card":{"number":"4242424242424242","exp_month":12,"exp_year":2040,"cvc":"123"},"metadata":{"a":` + rsPAN + `}}`,
		`{"card":{"number":"` + rsPAN + `0","exp_month":12,"exp_year":2040,"cvc":"123"}}`,
	} {
		r := s.call("POST", "/v1/tokens", sk, b)
		rsNoPAN(t, b, r, rsPAN)
		r = s.call("POST", "/v1/tokens/batch", sk, `{"cards":[`+b[len(`{"card":`):strings.LastIndex(b, "}")]+`]}`)
		rsNoPAN(t, "batch "+b, r, rsPAN)
		r = s.call("POST", "/v1/payments", sk, `{"amount":1000,"currency":"MYR",`+b[1:])
		rsNoPAN(t, "payment "+b, r, rsPAN)
	}
	for _, b := range []string{`{"amount":` + rsPAN + `,"currency":"MYR","token":"tok_x"}`, `{"amount":1000,"currency":"MYR","token":"tok_x","cvc":` + rsPAN + `}`,
		`{"amount":1000,"currency":"MYR","token":"tok_x","order_id":` + rsPAN + `}`} {
		rsNoPAN(t, b, s.call("POST", "/v1/payments", sk, b), rsPAN)
	}
	rsNoPAN(t, "patch", s.call("PATCH", "/v1/merchant", sk, `{"default_currency":`+rsPAN+`}`), rsPAN)
	rsNoPAN(t, "validate", s.call("POST", "/v1/tokens/tok_x/validate", sk, `{"cvc":`+rsPAN+`}`), rsPAN)
	if strings.Contains(s.Logs.String(), rsPAN) {
		t.Errorf("the card number reached the logs")
	}
	if where := rsDBHolds(t, s, rsPAN); len(where) > 0 {
		t.Errorf("stored in clear in %v", where)
	}
}

// rsDigitsOnly keeps a string's ASCII digits.
func rsDigitsOnly(s string) string {
	var b strings.Builder
	for _, c := range s {
		if c >= '0' && c <= '9' {
			b.WriteRune(c)
		}
	}
	return b.String()
}

// TestReviewSecurityRequestIDSeparators: the X-Request-Id pattern admits
// '.', '_' and ':' but Redact only knows ' ' and '-' as separators, so a card
// number grouped with dots or underscores is accepted as the request id: it
// is echoed in the Request-Id header, written to every log line of the
// request and stored in the audit row of a detokenization.
func TestReviewSecurityRequestIDSeparators(t *testing.T) {
	s := start(t)
	sk := s.Dev.SecretKey
	tok := s.call("POST", "/v1/tokens", sk, map[string]any{"card": card("4242424242424242")}).want(t, 201).str("id")
	for _, rid := range []string{"4111.1111.1111.1111", "4111_1111_1111_1111", "4111:1111:1111:1111"} {
		r := s.call("POST", "/v1/tokens/"+tok+"/validate", sk, nil, "X-Request-Id", rid)
		if got := r.Header.Get("Request-Id"); rsDigitsOnly(got) == rsPAN {
			t.Errorf("X-Request-Id %q: the Request-Id header carries the card number: %q", rid, got)
		}
		if strings.Contains(s.Logs.String(), rid) {
			t.Errorf("X-Request-Id %q reached the logs", rid)
		}
		if where := rsDBHolds(t, s, rid); len(where) > 0 {
			t.Errorf("X-Request-Id %q stored in %v", rid, where)
		}
	}
}

// TestReviewSecurityPathSeparatorsInLogs: the access log writes the decoded
// path; Redact misses card numbers grouped by separators other than one
// space or dash (a no-break space from a copy-paste, a tab, two spaces, dots).
func TestReviewSecurityPathSeparatorsInLogs(t *testing.T) {
	s := start(t)
	sk := s.Dev.SecretKey
	for _, p := range []struct{ enc, dec string }{
		{"4111%C2%A01111%C2%A01111%C2%A01111", "4111\u00a01111\u00a01111\u00a01111"},
		{"4111%091111%091111%091111", "4111\t1111\t1111\t1111"},
		{"4111%20%201111%20%201111%20%201111", "4111  1111  1111  1111"},
		{"4111.1111.1111.1111", "4111.1111.1111.1111"},
	} {
		r := s.call("GET", "/v1/tokens/"+p.enc, sk, nil)
		if strings.Contains(string(r.Raw), rsPAN) {
			t.Errorf("%q echoed: %s", p.dec, r.Raw)
		}
		r = s.call("GET", "/v1/nowhere/"+p.enc, sk, nil)
		if strings.Contains(rsDigitsOnly(r.str("error", "message")), rsPAN) {
			t.Errorf("%q echoed by route_missing: %s", p.dec, r.Raw)
		}
	}
	time.Sleep(20 * time.Millisecond)
	for _, line := range strings.Split(s.Logs.String(), "\n") {
		if strings.Contains(line, `"path"`) && strings.Contains(rsDigitsOnly(line), rsPAN) {
			t.Errorf("a grouped card number reached the log: %s", line)
		}
	}
}

// TestReviewSecurityFingerprintOracleObservation documents (without
// failing) that a secret key alone recovers a stored card's full number: a
// token shows 8 BIN digits + last 4 of a 16-digit card and its fingerprint,
// leaving ~1,000 Luhn-valid candidates, and POST /v1/tokens with
// verify:false (no processor call) returns each candidate's fingerprint.
func TestReviewSecurityFingerprintOracleObservation(t *testing.T) {
	s := start(t)
	sk := s.Dev.SecretKey
	secret := "4000056655665556"
	tk := s.call("POST", "/v1/tokens", sk, map[string]any{"card": card(secret)}).want(t, 201)
	bin, last4, fp := tk.str("card", "bin"), tk.str("card", "last4"), tk.str("card", "fingerprint")
	start := time.Now()
	tries := 0
	for mid := 0; mid < 10000; mid++ {
		cand := bin + strings.Repeat("0", 4-len(rsItoa(mid))) + rsItoa(mid) + last4
		if !lkLuhn(cand) {
			continue
		}
		tries++
		r := s.call("POST", "/v1/tokens", sk, map[string]any{"card": card(cand), "verify": false})
		if r.str("card", "fingerprint") == fp {
			t.Logf("observation: recovered %s from bin %s + last4 %s + fingerprint in %d tokenizations (%v)", cand, bin, last4, tries, time.Since(start))
			return
		}
	}
	t.Logf("not recovered after %d tries", tries)
}

func rsItoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return rsB2s(b)
}

func rsB2s(b []byte) string { return string(b) }

// TestReviewSecurityUnknownKeySeparators: an unknown JSON key is passed
// through Redact before it is echoed, so the same separator gap lets a card
// number typed with no-break spaces or dots come back in param and message.
func TestReviewSecurityUnknownKeySeparators(t *testing.T) {
	s := start(t)
	for _, k := range []string{"4111\u00a01111\u00a01111\u00a01111", "4111.1111.1111.1111", "4111  1111  1111  1111"} {
		r := s.call("POST", "/v1/tokens", s.Dev.SecretKey, map[string]any{"card": card("4242424242424242"), k: 1})
		if strings.Contains(rsDigitsOnly(r.str("error", "param")), rsPAN) {
			t.Errorf("unknown key %q echoed: %s", k, r.Raw)
		}
	}
}
