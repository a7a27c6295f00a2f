package e2e

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestPaymentBadInput runs every malformed or forbidden payment request
// against a running server: each gets the exact 4xx with the error envelope
// naming the field, no response echoes a card number, and when the table
// has run no payment, refund or token was added or changed and the
// processor was never called.
func TestPaymentBadInput(t *testing.T) {
	s := start(t)
	a := s.Dev.SecretKey
	b := s.newMerchant("Merchant B")
	year := time.Now().Year()
	visa, amex := "4242424242424242", "378282246310005"

	// Objects the table refers to, made before the baseline is taken.
	cusA := s.call("POST", "/v1/customers", a, map[string]any{"reference": "pay_bad_a"}).want(t, 201).str("id")
	tokA := payToken(t, s, a, visa, "customer", cusA)
	tokAmex := payToken(t, s, a, amex)
	tokB := payToken(t, s, b.SecretKey, visa)
	cusB := s.call("POST", "/v1/customers", b.SecretKey, map[string]any{"reference": "pay_bad_b"}).want(t, 201).str("id")
	captured := payOK(t, payCreate(s, a, payTok(tokA, 1000)), 201, "succeeded")["id"].(string)
	s.call("POST", "/v1/payments/"+captured+"/refunds", a, map[string]any{"amount": 400}).want(t, 201) // 600 left
	authd := payOK(t, payCreate(s, a, payTok(tokA, 1000, "capture", false)), 201, "requires_capture")["id"].(string)
	payB := payOK(t, payCreate(s, b.SecretKey, payTok(tokB, 1000, "capture", false)), 201, "requires_capture")["id"].(string)
	s.call("POST", "/v1/payments", a, payTok(tokA, 1000, "order_id", "idem-bad"), "Idempotency-Key", "pay-bad-idem").want(t, 201)

	paysA, paysB := payAllIDs(t, s, a), payAllIDs(t, s, b.SecretKey)
	objects := map[string]map[string]any{}
	for _, id := range paysA {
		objects[id] = payGet(t, s, a, id)
	}
	objects[payB] = payGet(t, s, b.SecretKey, payB)
	tokensA := biTokenIDs(t, s, a)
	sim := s.Sim.Stats()

	c := func(number string, kv ...any) map[string]any { return cardWith(tcCard(number), kv...) }
	const ir, nf = "invalid_request_error", "not_found"
	pay := "/v1/payments"
	cases := []badCase{
		// Amounts: positive integers in minor units, at most 99999999999.
		{name: "amount 0", body: payTok(tokA, 0), status: 400, typ: ir, code: anyParam, param: "amount"},
		{name: "amount -5", body: payTok(tokA, -5), status: 400, typ: ir, code: anyParam, param: "amount"},
		{name: "amount 1.5", body: payTok(tokA, 1.5), status: 400, typ: ir, code: anyParam, param: "amount"},
		{name: "amount as string", body: payTok(tokA, "10"), status: 400, typ: ir, code: anyParam, param: "amount"},
		{name: "amount 100000000000", body: payTok(tokA, int64(100000000000)), status: 400, typ: ir, code: anyParam, param: "amount"},
		{name: "amount 2^63", body: `{"amount":9223372036854775808,"token":"` + tokA + `"}`, status: 400, typ: ir, code: anyParam, param: "amount"},
		{name: "amount null", body: `{"amount":null,"token":"` + tokA + `"}`, status: 400, typ: ir, code: anyParam, param: "amount"},
		{name: "amount missing", body: payTok(tokA, nil), status: 400, typ: ir, code: anyParam, param: "amount"},
		{name: "amount too large for a card", body: payCard(visa, int64(100000000000)), status: 400, typ: ir, code: anyParam, param: "amount"},
		// Currencies: known upper-case ISO 4217 codes only.
		{name: "currency XYZ", body: payTok(tokA, 1000, "currency", "XYZ"), status: 400, typ: ir, code: anyParam, param: "currency"},
		{name: "currency lower case", body: payTok(tokA, 1000, "currency", "myr"), status: 400, typ: ir, code: anyParam, param: "currency"},
		{name: "currency mixed case", body: payTok(tokA, 1000, "currency", "Myr"), status: 400, typ: ir, code: anyParam, param: "currency"},
		{name: "currency 2 letters", body: payTok(tokA, 1000, "currency", "MY"), status: 400, typ: ir, code: anyParam, param: "currency"},
		{name: "currency empty", body: payTok(tokA, 1000, "currency", ""), status: 400, typ: ir, code: anyParam, param: "currency"},
		{name: "currency without minor units (XAU)", body: payTok(tokA, 1000, "currency", "XAU"), status: 400, typ: ir, code: anyParam, param: "currency"},
		{name: "currency as number", body: payTok(tokA, 1000, "currency", 458), status: 400, typ: ir, code: anyParam, param: "currency"},
		// What to charge.
		{name: "neither token nor card", body: payBody(1000), status: 400, typ: ir, code: anyParam, param: "token|card"},
		{name: "token and card", body: payTok(tokA, 1000, "card", tcCard(visa)), status: 400, typ: ir, code: anyParam, param: anyParam},
		{name: "empty token", body: payTok("", 1000), status: 400, typ: ir, code: anyParam, param: "token|card"},
		{name: "unknown token", body: payTok("tok_zzzzzzzzzzzzzzzzzzzzzzzzzz", 1000), status: 404, typ: nf, code: "resource_missing", param: "token"},
		{name: "B's token", body: payTok(tokB, 1000), status: 404, typ: nf, code: "resource_missing", param: "token"},
		{name: "unknown customer", body: payTok(tokA, 1000, "customer", "cus_zzzzzzzzzzzzzzzzzzzzzzzzzz"), status: 404, typ: nf, code: "resource_missing", param: "customer"},
		{name: "B's customer", body: payCard(visa, 1000, "customer", cusB), status: 404, typ: nf, code: "resource_missing", param: "customer"},
		{name: "save_card with a token", body: payTok(tokA, 1000, "save_card", true), status: 400, typ: ir, code: anyParam, param: "save_card|token"},
		{name: "save_card as string", body: payCard(visa, 1000, "save_card", "yes"), status: 400, typ: ir, code: "parameter_invalid_type", param: "save_card"},
		{name: "capture as string", body: payTok(tokA, 1000, "capture", "false"), status: 400, typ: ir, code: "parameter_invalid_type", param: "capture"},
		{name: "unknown field", body: payTok(tokA, 1000, "colour", "red"), status: 400, typ: ir, code: "parameter_unknown", param: "colour"},
		{name: "unknown field inside card", body: payCard(visa, 1000, "card", c(visa, "bogus", 1)), status: 400, typ: ir, code: "parameter_unknown", param: "card.bogus"},
		{name: "metadata not an object", body: payTok(tokA, 1000, "metadata", "x"), status: 400, typ: ir, code: anyParam, param: "metadata"},
		{name: "metadata value not a string", body: payTok(tokA, 1000, "metadata", map[string]any{"n": 1}), status: 400, typ: ir, code: anyParam, param: "metadata|metadata.n"},
		{name: "metadata of 51 keys", body: payTok(tokA, 1000, "metadata", payManyKeys(51)), status: 400, typ: ir, code: anyParam, param: "metadata"},
		{name: "description not a string", body: payTok(tokA, 1000, "description", 5), status: 400, typ: ir, code: "parameter_invalid_type", param: "description"},
		{name: "order_id not a string", body: payTok(tokA, 1000, "order_id", 1234), status: 400, typ: ir, code: "parameter_invalid_type", param: "order_id"},
		{name: "order_id of 10k characters", body: payTok(tokA, 1000, "order_id", strings.Repeat("o", 10000)), status: 400, typ: ir, code: anyParam, param: "order_id"},
		// The card itself, validated before the processor sees it.
		{name: "Luhn failure", body: payCard("4242424242424241", 1000), status: 400, typ: ir, code: "incorrect_number", param: "card.number"},
		{name: "card year in the past", body: payBody(1000, "card", c(visa, "exp_year", year-1)), status: 400, typ: ir, code: "expired_card", param: "card.exp_year"},
		{name: "card month 13", body: payBody(1000, "card", c(visa, "exp_month", 13)), status: 400, typ: ir, code: "invalid_expiry", param: "card.exp_month"},
		{name: "card cvc letters", body: payBody(1000, "card", c(visa, "cvc", "1a3")), status: 400, typ: ir, code: "invalid_cvc", param: "card.cvc"},
		{name: "card 3-digit cvc on Amex", body: payBody(1000, "card", c(amex, "cvc", "123")), status: 400, typ: ir, code: "invalid_cvc", param: "card.cvc"},
		// The cvc sent with a token.
		{name: "token cvc letters", body: payTok(tokA, 1000, "cvc", "12a"), status: 400, typ: ir, code: "invalid_cvc", param: "cvc"},
		{name: "token cvc 5 digits", body: payTok(tokA, 1000, "cvc", "12345"), status: 400, typ: ir, code: "invalid_cvc", param: "cvc"},
		{name: "token 3-digit cvc on Amex", body: payTok(tokAmex, 1000, "cvc", "123"), status: 400, typ: ir, code: "invalid_cvc", param: "cvc"},
		{name: "token cvc as number", body: payTok(tokA, 1000, "cvc", 123), status: 400, typ: ir, code: "parameter_invalid_type", param: "cvc"},
		// Envelope, authentication, idempotency.
		{name: "malformed JSON", body: `{"amount":1000,"token":`, status: 400, typ: ir, code: "json_invalid"},
		{name: "empty body", body: "", status: 400, typ: ir, code: "body_missing"},
		{name: "missing Authorization", key: "-", body: payTok(tokA, 1000), status: 401, typ: "authentication_error", code: "api_key_missing"},
		{name: "publishable key", key: b.PublishableKey, body: payTok(tokB, 1000), status: 401, typ: "authentication_error", code: "secret_key_required"},
		{name: "same Idempotency-Key, other body", hdr: []string{"Idempotency-Key", "pay-bad-idem"}, body: payTok(tokA, 1001, "order_id", "idem-bad"),
			status: 409, typ: "idempotency_error", code: "idempotency_key_reused", param: anyParam},

		// Capture.
		{name: "capture more than authorized", path: pay + "/" + authd + "/capture", body: map[string]any{"amount": 1001},
			status: 400, typ: ir, code: "amount_too_large", param: "amount"},
		{name: "capture 0", path: pay + "/" + authd + "/capture", body: map[string]any{"amount": 0}, status: 400, typ: ir, code: anyParam, param: "amount"},
		{name: "capture -1", path: pay + "/" + authd + "/capture", body: map[string]any{"amount": -1}, status: 400, typ: ir, code: anyParam, param: "amount"},
		{name: "capture 1.5", path: pay + "/" + authd + "/capture", body: map[string]any{"amount": 1.5}, status: 400, typ: ir, code: anyParam, param: "amount"},
		{name: "capture as string", path: pay + "/" + authd + "/capture", body: map[string]any{"amount": "500"}, status: 400, typ: ir, code: anyParam, param: "amount"},
		{name: "capture unknown field", path: pay + "/" + authd + "/capture", body: map[string]any{"amount": 500, "x": 1}, status: 400, typ: ir, code: "parameter_unknown", param: "x"},
		// Refund.
		{name: "refund more than left", path: pay + "/" + captured + "/refunds", body: map[string]any{"amount": 601},
			status: 400, typ: ir, code: "amount_too_large", param: "amount"},
		{name: "refund more than captured", path: pay + "/" + captured + "/refunds", body: map[string]any{"amount": 1001},
			status: 400, typ: ir, code: "amount_too_large", param: "amount"},
		{name: "refund 0", path: pay + "/" + captured + "/refunds", body: map[string]any{"amount": 0}, status: 400, typ: ir, code: anyParam, param: "amount"},
		{name: "refund -5", path: pay + "/" + captured + "/refunds", body: map[string]any{"amount": -5}, status: 400, typ: ir, code: anyParam, param: "amount"},
		{name: "refund as string", path: pay + "/" + captured + "/refunds", body: map[string]any{"amount": "100"}, status: 400, typ: ir, code: anyParam, param: "amount"},
		{name: "refund reason not a string", path: pay + "/" + captured + "/refunds", body: map[string]any{"amount": 100, "reason": 7},
			status: 400, typ: ir, code: anyParam, param: "reason"},
		{name: "refund of an authorization", path: pay + "/" + authd + "/refunds", body: map[string]any{"amount": 100},
			status: 422, typ: ir, code: "invalid_state"},
		{name: "cancel a captured payment", path: pay + "/" + captured + "/cancel", status: 422, typ: ir, code: "invalid_state"},

		// Unknown payments and merchant B's: 404, never 403.
		{name: "GET unknown payment", method: "GET", path: pay + "/pay_zzzzzzzzzzzzzzzzzzzzzzzzzz", status: 404, typ: nf, code: "resource_missing", param: "id"},
		{name: "capture unknown payment", path: pay + "/pay_zzzzzzzzzzzzzzzzzzzzzzzzzz/capture", status: 404, typ: nf, code: "resource_missing", param: "id"},
		{name: "GET a card number as id", method: "GET", path: pay + "/" + visa, status: 404, typ: nf, code: "resource_missing", param: "id"},
		{name: "GET B's payment", method: "GET", path: pay + "/" + payB, status: 404, typ: nf, code: "resource_missing", param: "id"},
		{name: "capture B's payment", path: pay + "/" + payB + "/capture", status: 404, typ: nf, code: "resource_missing", param: "id"},
		{name: "cancel B's payment", path: pay + "/" + payB + "/cancel", status: 404, typ: nf, code: "resource_missing", param: "id"},
		{name: "refund B's payment", path: pay + "/" + payB + "/refunds", body: map[string]any{"amount": 1}, status: 404, typ: nf, code: "resource_missing", param: "id"},
		{name: "list B's refunds", method: "GET", path: pay + "/" + payB + "/refunds", status: 404, typ: nf, code: "resource_missing", param: "id"},
		{name: "B captures A's authorization", key: b.SecretKey, path: pay + "/" + authd + "/capture", status: 404, typ: nf, code: "resource_missing", param: "id"},
		{name: "B refunds A's payment", key: b.SecretKey, path: pay + "/" + captured + "/refunds", status: 404, typ: nf, code: "resource_missing", param: "id"},
		// Lists.
		{name: "limit=0", method: "GET", path: pay + "?limit=0", status: 400, typ: ir, code: "parameter_invalid", param: "limit"},
		{name: "limit=101", method: "GET", path: pay + "?limit=101", status: 400, typ: ir, code: "parameter_invalid", param: "limit"},
		{name: "limit=abc", method: "GET", path: pay + "?limit=abc", status: 400, typ: ir, code: "parameter_invalid", param: "limit"},
		{name: "starting_after B's payment", method: "GET", path: pay + "?starting_after=" + payB, status: 404, typ: nf, code: "resource_missing", param: "starting_after"},
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			method, path, key := tc.method, tc.path, tc.key
			if method == "" {
				method = "POST"
			}
			if path == "" {
				path = pay
			}
			switch key {
			case "":
				key = a
			case "-":
				key = ""
			}
			var body any
			if tc.body != nil {
				body = biBodyString(t, tc.body)
			}
			r := s.call(method, path, key, body, tc.hdr...)
			payRefused(t, r, tc.status, tc.typ, tc.code, tc.param)
			if dig(r.Body, "error", "payment") != nil {
				t.Errorf("a refused request recorded a payment: %s", biShort(r.Raw))
			}
			for _, n := range []string{visa, amex, "4242424242424241"} {
				if strings.Contains(string(r.Raw), n) {
					t.Errorf("the response echoes a card number: %s", biShort(r.Raw))
				}
			}
		})
	}

	// Nothing was stored or changed, nothing reached the processor.
	if got := payAllIDs(t, s, a); !slices.Equal(got, paysA) {
		t.Errorf("merchant A's payments changed: %v → %v", paysA, got)
	}
	if got := payAllIDs(t, s, b.SecretKey); !slices.Equal(got, paysB) {
		t.Errorf("merchant B's payments changed: %v → %v", paysB, got)
	}
	for id, was := range objects {
		key := a
		if id == payB {
			key = b.SecretKey
		}
		if got := payGet(t, s, key, id); !reflect.DeepEqual(got, was) {
			t.Errorf("payment %s changed:\n%v\n%v", id, was, got)
		}
	}
	if got := biTokenIDs(t, s, a); !biSameSet(got, tokensA) {
		t.Errorf("tokens changed: %v → %v", tokensA, got)
	}
	if after := s.Sim.Stats(); after != sim {
		t.Errorf("bad input reached the processor: %+v → %+v", sim, after)
	}
	// B's list never shows A's payments.
	for _, id := range payAllIDs(t, s, b.SecretKey) {
		if slices.Contains(paysA, id) {
			t.Errorf("B lists A's payment %s", id)
		}
	}
}

func payManyKeys(n int) map[string]string {
	m := map[string]string{}
	for i := range n {
		m[strings.Repeat("k", 1+i%30)+string(rune('a'+i/30))] = "v"
	}
	return m
}
