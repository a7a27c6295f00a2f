package payments

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// TestPaymentBadInput runs every malformed or forbidden payment request
// against a running server: each gets the exact 4xx with the error envelope
// naming the field, no response echoes a card number, and when the table
// has run no payment, refund or token was added or changed and the
// processor was never called.
func TestPaymentBadInput(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	a := s.Dev.SecretKey
	b := s.NewMerchant("Merchant B")
	year := time.Now().Year()
	visa, amex := "4242424242424242", "378282246310005"

	// Objects the table refers to, made before the baseline is taken.
	cusA := s.Call("POST", "/v1/customers", a, map[string]any{"reference": "pay_bad_a"}).Want(t, 201).Str("id")
	tokA := s.NewToken(t, a, visa, "customer", cusA)
	tokAmex := s.NewToken(t, a, amex)
	tokB := s.NewToken(t, b.SecretKey, visa)
	cusB := s.Call("POST", "/v1/customers", b.SecretKey, map[string]any{"reference": "pay_bad_b"}).Want(t, 201).Str("id")
	captured := harness.PaymentOK(t, s.CreatePayment(a, harness.TokenPayment(tokA, 1000)), 201, "succeeded")["id"].(string)
	s.Call("POST", "/v1/payments/"+captured+"/refunds", a, map[string]any{"amount": 400}).Want(t, 201) // 600 left
	authd := harness.PaymentOK(t, s.CreatePayment(a, harness.TokenPayment(tokA, 1000, "capture", false)), 201, "requires_capture")["id"].(string)
	payB := harness.PaymentOK(t, s.CreatePayment(b.SecretKey, harness.TokenPayment(tokB, 1000, "capture", false)), 201, "requires_capture")["id"].(string)
	s.Call("POST", "/v1/payments", a, harness.TokenPayment(tokA, 1000, "order_id", "idem-bad"), "Idempotency-Key", "pay-bad-idem").Want(t, 201)

	paysA, paysB := s.PaymentIDs(t, a), s.PaymentIDs(t, b.SecretKey)
	objects := map[string]map[string]any{}
	for _, id := range paysA {
		objects[id] = s.GetPayment(t, a, id)
	}
	objects[payB] = s.GetPayment(t, b.SecretKey, payB)
	tokensA := s.TokenIDs(t, a)
	sim := s.Sim.Stats()

	c := func(number string, kv ...any) map[string]any { return harness.With(harness.Card(number), kv...) }
	const ir, nf = "invalid_request_error", "not_found"
	pay := "/v1/payments"
	cases := []harness.BadCase{
		// Amounts: positive integers in minor units, at most 99999999999.
		{Name: "amount 0", Body: harness.TokenPayment(tokA, 0), Status: 400, Typ: ir, Code: harness.AnyParam, Param: "amount"},
		{Name: "amount -5", Body: harness.TokenPayment(tokA, -5), Status: 400, Typ: ir, Code: harness.AnyParam, Param: "amount"},
		{Name: "amount 1.5", Body: harness.TokenPayment(tokA, 1.5), Status: 400, Typ: ir, Code: harness.AnyParam, Param: "amount"},
		{Name: "amount as string", Body: harness.TokenPayment(tokA, "10"), Status: 400, Typ: ir, Code: harness.AnyParam, Param: "amount"},
		{Name: "amount 100000000000", Body: harness.TokenPayment(tokA, int64(100000000000)), Status: 400, Typ: ir, Code: harness.AnyParam, Param: "amount"},
		{Name: "amount 2^63", Body: `{"amount":9223372036854775808,"token":"` + tokA + `"}`, Status: 400, Typ: ir, Code: harness.AnyParam, Param: "amount"},
		{Name: "amount null", Body: `{"amount":null,"token":"` + tokA + `"}`, Status: 400, Typ: ir, Code: harness.AnyParam, Param: "amount"},
		{Name: "amount missing", Body: harness.TokenPayment(tokA, nil), Status: 400, Typ: ir, Code: harness.AnyParam, Param: "amount"},
		{Name: "amount too large for a card", Body: harness.CardPayment(visa, int64(100000000000)), Status: 400, Typ: ir, Code: harness.AnyParam, Param: "amount"},
		// Currencies: known upper-case ISO 4217 codes only.
		{Name: "currency XYZ", Body: harness.TokenPayment(tokA, 1000, "currency", "XYZ"), Status: 400, Typ: ir, Code: harness.AnyParam, Param: "currency"},
		{Name: "currency lower case", Body: harness.TokenPayment(tokA, 1000, "currency", "myr"), Status: 400, Typ: ir, Code: harness.AnyParam, Param: "currency"},
		{Name: "currency mixed case", Body: harness.TokenPayment(tokA, 1000, "currency", "Myr"), Status: 400, Typ: ir, Code: harness.AnyParam, Param: "currency"},
		{Name: "currency 2 letters", Body: harness.TokenPayment(tokA, 1000, "currency", "MY"), Status: 400, Typ: ir, Code: harness.AnyParam, Param: "currency"},
		{Name: "currency empty", Body: harness.TokenPayment(tokA, 1000, "currency", ""), Status: 400, Typ: ir, Code: harness.AnyParam, Param: "currency"},
		{Name: "currency without minor units (XAU)", Body: harness.TokenPayment(tokA, 1000, "currency", "XAU"), Status: 400, Typ: ir, Code: harness.AnyParam, Param: "currency"},
		{Name: "currency as number", Body: harness.TokenPayment(tokA, 1000, "currency", 458), Status: 400, Typ: ir, Code: harness.AnyParam, Param: "currency"},
		// What to charge.
		{Name: "neither token nor card", Body: harness.PaymentBody(1000), Status: 400, Typ: ir, Code: harness.AnyParam, Param: "token|card"},
		{Name: "token and card", Body: harness.TokenPayment(tokA, 1000, "card", harness.Card(visa)), Status: 400, Typ: ir, Code: harness.AnyParam, Param: harness.AnyParam},
		{Name: "empty token", Body: harness.TokenPayment("", 1000), Status: 400, Typ: ir, Code: harness.AnyParam, Param: "token|card"},
		{Name: "unknown token", Body: harness.TokenPayment("tok_zzzzzzzzzzzzzzzzzzzzzzzzzz", 1000), Status: 404, Typ: nf, Code: "resource_missing", Param: "token"},
		{Name: "B's token", Body: harness.TokenPayment(tokB, 1000), Status: 404, Typ: nf, Code: "resource_missing", Param: "token"},
		{Name: "unknown customer", Body: harness.TokenPayment(tokA, 1000, "customer", "cus_zzzzzzzzzzzzzzzzzzzzzzzzzz"), Status: 404, Typ: nf, Code: "resource_missing", Param: "customer"},
		{Name: "B's customer", Body: harness.CardPayment(visa, 1000, "customer", cusB), Status: 404, Typ: nf, Code: "resource_missing", Param: "customer"},
		{Name: "save_card with a token", Body: harness.TokenPayment(tokA, 1000, "save_card", true), Status: 400, Typ: ir, Code: harness.AnyParam, Param: "save_card|token"},
		{Name: "save_card as string", Body: harness.CardPayment(visa, 1000, "save_card", "yes"), Status: 400, Typ: ir, Code: "parameter_invalid_type", Param: "save_card"},
		{Name: "capture as string", Body: harness.TokenPayment(tokA, 1000, "capture", "false"), Status: 400, Typ: ir, Code: "parameter_invalid_type", Param: "capture"},
		{Name: "unknown field", Body: harness.TokenPayment(tokA, 1000, "colour", "red"), Status: 400, Typ: ir, Code: "parameter_unknown", Param: "colour"},
		{Name: "unknown field inside card", Body: harness.CardPayment(visa, 1000, "card", c(visa, "bogus", 1)), Status: 400, Typ: ir, Code: "parameter_unknown", Param: "card.bogus"},
		{Name: "metadata not an object", Body: harness.TokenPayment(tokA, 1000, "metadata", "x"), Status: 400, Typ: ir, Code: harness.AnyParam, Param: "metadata"},
		{Name: "metadata value not a string", Body: harness.TokenPayment(tokA, 1000, "metadata", map[string]any{"n": 1}), Status: 400, Typ: ir, Code: harness.AnyParam, Param: "metadata|metadata.n"},
		{Name: "metadata of 51 keys", Body: harness.TokenPayment(tokA, 1000, "metadata", manyKeys(51)), Status: 400, Typ: ir, Code: harness.AnyParam, Param: "metadata"},
		{Name: "description not a string", Body: harness.TokenPayment(tokA, 1000, "description", 5), Status: 400, Typ: ir, Code: "parameter_invalid_type", Param: "description"},
		{Name: "order_id not a string", Body: harness.TokenPayment(tokA, 1000, "order_id", 1234), Status: 400, Typ: ir, Code: "parameter_invalid_type", Param: "order_id"},
		{Name: "order_id of 10k characters", Body: harness.TokenPayment(tokA, 1000, "order_id", strings.Repeat("o", 10000)), Status: 400, Typ: ir, Code: harness.AnyParam, Param: "order_id"},
		// The card itself, validated before the processor sees it.
		{Name: "Luhn failure", Body: harness.CardPayment("4242424242424241", 1000), Status: 400, Typ: ir, Code: "incorrect_number", Param: "card.number"},
		{Name: "card year in the past", Body: harness.PaymentBody(1000, "card", c(visa, "exp_year", year-1)), Status: 400, Typ: ir, Code: "expired_card", Param: "card.exp_year"},
		{Name: "card month 13", Body: harness.PaymentBody(1000, "card", c(visa, "exp_month", 13)), Status: 400, Typ: ir, Code: "invalid_expiry", Param: "card.exp_month"},
		{Name: "card cvc letters", Body: harness.PaymentBody(1000, "card", c(visa, "cvc", "1a3")), Status: 400, Typ: ir, Code: "invalid_cvc", Param: "card.cvc"},
		{Name: "card 3-digit cvc on Amex", Body: harness.PaymentBody(1000, "card", c(amex, "cvc", "123")), Status: 400, Typ: ir, Code: "invalid_cvc", Param: "card.cvc"},
		// The cvc sent with a token.
		{Name: "token cvc letters", Body: harness.TokenPayment(tokA, 1000, "cvc", "12a"), Status: 400, Typ: ir, Code: "invalid_cvc", Param: "cvc"},
		{Name: "token cvc 5 digits", Body: harness.TokenPayment(tokA, 1000, "cvc", "12345"), Status: 400, Typ: ir, Code: "invalid_cvc", Param: "cvc"},
		{Name: "token 3-digit cvc on Amex", Body: harness.TokenPayment(tokAmex, 1000, "cvc", "123"), Status: 400, Typ: ir, Code: "invalid_cvc", Param: "cvc"},
		{Name: "token cvc as number", Body: harness.TokenPayment(tokA, 1000, "cvc", 123), Status: 400, Typ: ir, Code: "parameter_invalid_type", Param: "cvc"},
		// Envelope, authentication, idempotency.
		{Name: "malformed JSON", Body: `{"amount":1000,"token":`, Status: 400, Typ: ir, Code: "json_invalid"},
		{Name: "empty body", Body: "", Status: 400, Typ: ir, Code: "body_missing"},
		{Name: "missing Authorization", Key: "-", Body: harness.TokenPayment(tokA, 1000), Status: 401, Typ: "authentication_error", Code: "api_key_missing"},
		{Name: "publishable key", Key: b.PublishableKey, Body: harness.TokenPayment(tokB, 1000), Status: 401, Typ: "authentication_error", Code: "secret_key_required"},
		{Name: "same Idempotency-Key, other body", Hdr: []string{"Idempotency-Key", "pay-bad-idem"}, Body: harness.TokenPayment(tokA, 1001, "order_id", "idem-bad"),
			Status: 409, Typ: "idempotency_error", Code: "idempotency_key_reused", Param: harness.AnyParam},

		// Capture.
		{Name: "capture more than authorized", Path: pay + "/" + authd + "/capture", Body: map[string]any{"amount": 1001},
			Status: 400, Typ: ir, Code: "amount_too_large", Param: "amount"},
		{Name: "capture 0", Path: pay + "/" + authd + "/capture", Body: map[string]any{"amount": 0}, Status: 400, Typ: ir, Code: harness.AnyParam, Param: "amount"},
		{Name: "capture -1", Path: pay + "/" + authd + "/capture", Body: map[string]any{"amount": -1}, Status: 400, Typ: ir, Code: harness.AnyParam, Param: "amount"},
		{Name: "capture 1.5", Path: pay + "/" + authd + "/capture", Body: map[string]any{"amount": 1.5}, Status: 400, Typ: ir, Code: harness.AnyParam, Param: "amount"},
		{Name: "capture as string", Path: pay + "/" + authd + "/capture", Body: map[string]any{"amount": "500"}, Status: 400, Typ: ir, Code: harness.AnyParam, Param: "amount"},
		{Name: "capture unknown field", Path: pay + "/" + authd + "/capture", Body: map[string]any{"amount": 500, "x": 1}, Status: 400, Typ: ir, Code: "parameter_unknown", Param: "x"},
		// Refund.
		{Name: "refund more than left", Path: pay + "/" + captured + "/refunds", Body: map[string]any{"amount": 601},
			Status: 400, Typ: ir, Code: "amount_too_large", Param: "amount"},
		{Name: "refund more than captured", Path: pay + "/" + captured + "/refunds", Body: map[string]any{"amount": 1001},
			Status: 400, Typ: ir, Code: "amount_too_large", Param: "amount"},
		{Name: "refund 0", Path: pay + "/" + captured + "/refunds", Body: map[string]any{"amount": 0}, Status: 400, Typ: ir, Code: harness.AnyParam, Param: "amount"},
		{Name: "refund -5", Path: pay + "/" + captured + "/refunds", Body: map[string]any{"amount": -5}, Status: 400, Typ: ir, Code: harness.AnyParam, Param: "amount"},
		{Name: "refund as string", Path: pay + "/" + captured + "/refunds", Body: map[string]any{"amount": "100"}, Status: 400, Typ: ir, Code: harness.AnyParam, Param: "amount"},
		{Name: "refund reason not a string", Path: pay + "/" + captured + "/refunds", Body: map[string]any{"amount": 100, "reason": 7},
			Status: 400, Typ: ir, Code: harness.AnyParam, Param: "reason"},
		{Name: "refund of an authorization", Path: pay + "/" + authd + "/refunds", Body: map[string]any{"amount": 100},
			Status: 422, Typ: ir, Code: "invalid_state"},
		{Name: "cancel a captured payment", Path: pay + "/" + captured + "/cancel", Status: 422, Typ: ir, Code: "invalid_state"},

		// Unknown payments and merchant B's: 404, never 403.
		{Name: "GET unknown payment", Method: "GET", Path: pay + "/pay_zzzzzzzzzzzzzzzzzzzzzzzzzz", Status: 404, Typ: nf, Code: "resource_missing", Param: "id"},
		{Name: "capture unknown payment", Path: pay + "/pay_zzzzzzzzzzzzzzzzzzzzzzzzzz/capture", Status: 404, Typ: nf, Code: "resource_missing", Param: "id"},
		{Name: "GET a card number as id", Method: "GET", Path: pay + "/" + visa, Status: 404, Typ: nf, Code: "resource_missing", Param: "id"},
		{Name: "GET B's payment", Method: "GET", Path: pay + "/" + payB, Status: 404, Typ: nf, Code: "resource_missing", Param: "id"},
		{Name: "capture B's payment", Path: pay + "/" + payB + "/capture", Status: 404, Typ: nf, Code: "resource_missing", Param: "id"},
		{Name: "cancel B's payment", Path: pay + "/" + payB + "/cancel", Status: 404, Typ: nf, Code: "resource_missing", Param: "id"},
		{Name: "refund B's payment", Path: pay + "/" + payB + "/refunds", Body: map[string]any{"amount": 1}, Status: 404, Typ: nf, Code: "resource_missing", Param: "id"},
		{Name: "list B's refunds", Method: "GET", Path: pay + "/" + payB + "/refunds", Status: 404, Typ: nf, Code: "resource_missing", Param: "id"},
		{Name: "B captures A's authorization", Key: b.SecretKey, Path: pay + "/" + authd + "/capture", Status: 404, Typ: nf, Code: "resource_missing", Param: "id"},
		{Name: "B refunds A's payment", Key: b.SecretKey, Path: pay + "/" + captured + "/refunds", Status: 404, Typ: nf, Code: "resource_missing", Param: "id"},
		// Lists.
		{Name: "limit=0", Method: "GET", Path: pay + "?limit=0", Status: 400, Typ: ir, Code: "parameter_invalid", Param: "limit"},
		{Name: "limit=101", Method: "GET", Path: pay + "?limit=101", Status: 400, Typ: ir, Code: "parameter_invalid", Param: "limit"},
		{Name: "limit=abc", Method: "GET", Path: pay + "?limit=abc", Status: 400, Typ: ir, Code: "parameter_invalid", Param: "limit"},
		{Name: "starting_after B's payment", Method: "GET", Path: pay + "?starting_after=" + payB, Status: 404, Typ: nf, Code: "resource_missing", Param: "starting_after"},
	}

	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			method, path, key := tc.Method, tc.Path, tc.Key
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
			if tc.Body != nil {
				body = harness.BodyString(t, tc.Body)
			}
			r := s.Call(method, path, key, body, tc.Hdr...)
			harness.Refused(t, r, tc.Status, tc.Typ, tc.Code, tc.Param)
			if harness.Dig(r.Body, "error", "payment") != nil {
				t.Errorf("a refused request recorded a payment: %s", harness.Short(r.Raw))
			}
			for _, n := range []string{visa, amex, "4242424242424241"} {
				if strings.Contains(string(r.Raw), n) {
					t.Errorf("the response echoes a card number: %s", harness.Short(r.Raw))
				}
			}
		})
	}

	// Nothing was stored or changed, nothing reached the processor.
	if got := s.PaymentIDs(t, a); !slices.Equal(got, paysA) {
		t.Errorf("merchant A's payments changed: %v → %v", paysA, got)
	}
	if got := s.PaymentIDs(t, b.SecretKey); !slices.Equal(got, paysB) {
		t.Errorf("merchant B's payments changed: %v → %v", paysB, got)
	}
	for id, was := range objects {
		key := a
		if id == payB {
			key = b.SecretKey
		}
		if got := s.GetPayment(t, key, id); !reflect.DeepEqual(got, was) {
			t.Errorf("payment %s changed:\n%v\n%v", id, was, got)
		}
	}
	if got := s.TokenIDs(t, a); !harness.SameSet(got, tokensA) {
		t.Errorf("tokens changed: %v → %v", tokensA, got)
	}
	if after := s.Sim.Stats(); after != sim {
		t.Errorf("bad input reached the processor: %+v → %+v", sim, after)
	}
	// B's list never shows A's payments.
	for _, id := range s.PaymentIDs(t, b.SecretKey) {
		if slices.Contains(paysA, id) {
			t.Errorf("B lists A's payment %s", id)
		}
	}
}

// manyKeys is a metadata object of n distinct keys.
func manyKeys(n int) map[string]string {
	m := map[string]string{}
	for i := range n {
		m[strings.Repeat("k", 1+i%30)+string(rune('a'+i/30))] = "v"
	}
	return m
}
