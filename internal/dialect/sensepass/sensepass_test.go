package sensepass

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/logging"
	"github.com/coffer-vault/coffer/internal/money"
	"github.com/coffer-vault/coffer/internal/payment"
	"github.com/coffer-vault/coffer/internal/store"
)

// TestSign checks the callback signature against vectors computed with
// Python's hmac module: random key first, then the body or raw query.
func TestSign(t *testing.T) {
	for _, tc := range []struct{ signed, want string }{
		{`{"TransactionNumber":"ps_x","status":5}`, "9ef27b9fc702a91d007c53a6f940feab56e35bedba03698900d6077cb7958936"},
		{"TransactionNumber=ps_x&callbackType=transaction_status", "5ee8f34ab722afcc0f829c7f1a133525b365a93b0a4198d2c471fde9200a25f2"},
	} {
		if got := Sign("3f1c9a", "9d2e41b07c5a", []byte(tc.signed)); got != tc.want {
			t.Errorf("Sign(%s) = %s, want %s", tc.signed, got, tc.want)
		}
	}
	if a, b := randomKey(), randomKey(); a == b || len(a) != 32 {
		t.Errorf("random keys %q and %q", a, b)
	}
}

func TestParseAmount(t *testing.T) {
	for _, tc := range []struct {
		raw      string
		isCent   bool
		currency string
		want     int64
		present  bool
		err      string
	}{
		{``, true, "USD", 0, false, ""},
		{`null`, true, "USD", 0, false, ""},
		{`3000`, true, "USD", 3000, true, ""},
		{`"3000"`, true, "USD", 3000, true, ""},
		{`0`, true, "USD", 0, true, ""},
		{`30.5`, true, "USD", 0, true, "whole number of cents"},
		{`-5`, true, "USD", 0, true, "negative"},
		{`3e3`, true, "USD", 0, true, "exponent"},
		{`"abc"`, true, "USD", 0, true, "whole number"},
		{`true`, true, "USD", 0, true, "must be a number"},
		{`{}`, true, "USD", 0, true, "must be a number"},
		{`999999999999`, true, "USD", 0, true, "at most"},
		{`99999999999`, true, "USD", 99999999999, true, ""},
		{`30.5`, false, "USD", 3050, true, ""},
		{`"30.50"`, false, "USD", 3050, true, ""},
		{`30`, false, "JPY", 30, true, ""},
		{`30.5`, false, "JPY", 0, true, "no decimals"},
		{`12.345`, false, "KWD", 12345, true, ""},
		{`12.345`, false, "USD", 0, true, "at most 2 decimals"},
	} {
		got, present, err := ParseAmount(json.RawMessage(tc.raw), tc.isCent, tc.currency)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s isCent=%v %s: %v", tc.raw, tc.isCent, tc.currency, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s isCent=%v %s: error %v, want one saying %q", tc.raw, tc.isCent, tc.currency, err, tc.err)
		case got != tc.want || present != tc.present:
			t.Errorf("%s isCent=%v %s = %d, %v; want %d, %v", tc.raw, tc.isCent, tc.currency, got, present, tc.want, tc.present)
		}
	}
}

func TestParseExpiration(t *testing.T) {
	for _, tc := range []struct {
		in          string
		month, year int
		ok          bool
	}{
		{"12/34", 12, 2034, true}, {"1234", 12, 2034, true}, {"01/2030", 1, 2030, true}, {" 06/29 ", 6, 2029, true},
		{"13/30", 0, 0, false}, {"00/30", 0, 0, false}, {"1/30", 0, 0, false}, {"12-34", 0, 0, false},
		{"12/3", 0, 0, false}, {"12/1999", 0, 0, false}, {"ab/cd", 0, 0, false}, {"", 0, 0, false}, {"12/+3", 0, 0, false},
	} {
		m, y, ok := ParseExpiration(tc.in)
		if m != tc.month || y != tc.year || ok != tc.ok {
			t.Errorf("ParseExpiration(%q) = %d, %d, %v; want %d, %d, %v", tc.in, m, y, ok, tc.month, tc.year, tc.ok)
		}
	}
}

var testMerchant = &store.Merchant{ID: "mer_test", Name: "Coffee Bar", Settings: store.Settings{DefaultCurrency: "MYR"}}

func TestSessionParams(t *testing.T) {
	parse := func(body string) (payment.SessionParams, error) {
		var req initRequest
		if ae := decodeJSON([]byte(body), &req); ae != nil {
			return payment.SessionParams{}, ae
		}
		return sessionParams(testMerchant, &req)
	}
	p, err := parse(`{"timeOut":600,"deviceId":"dk","methodType":"Tokenize"}`)
	if err != nil || p.Amount != 0 || *p.ExpiresIn != 600 || *p.Currency != "MYR" || p.Capture != nil || p.CallbackFormat != Format {
		t.Errorf("Tokenize: %+v %v", p, err)
	}
	p, err = parse(`{"timeOut":"600","amount":3000,"methodType":"Capture+Tokenize","currency":"usd","returnURL":"https://s/r",
		"cancelURL":"https://s/c","callbackURL":"https://s/cb","callbackMethod":"get","posData":{"till":3},"clientName":"Abu",
		"reason":"Order 4","products":[{"name":"Latte","price":300}]}`)
	if err != nil || p.Amount != 3000 || p.SaveCard != "always" || *p.Currency != "USD" || p.SuccessURL != "https://s/r" ||
		p.FailureURL != "https://s/r" || p.ExpiredURL != "https://s/r" || p.CancelURL != "https://s/c" || p.CallbackURL != "https://s/cb" ||
		p.CallbackFormat != FormatGET || p.Description != "Order 4" || p.Metadata["posData"] != `{"till":3}` ||
		p.Metadata["clientName"] != "Abu" || p.Metadata["products"] != `[{"name":"Latte","price":300}]` || p.Metadata["posDataType"] != "json" {
		t.Errorf("Capture+Tokenize: %+v %v", p, err)
	}
	p, err = parse(`{"amount":12.5,"isCent":false,"methodType":"Authorize","callbackURL":"https://s/cb"}`)
	if err != nil || p.Amount != 1250 || p.Capture == nil || *p.Capture || p.SaveCard != "" || p.CallbackFormat != Format || p.ExpiresIn != nil {
		t.Errorf("Authorize: %+v %v", p, err)
	}
	if p, err = parse(`{"amount":500}`); err != nil || p.Amount != 500 || p.Capture != nil || p.SaveCard != "" {
		t.Errorf("no methodType is a Capture: %+v %v", p, err)
	}
	// posData: a string as it is, unmarked; an empty one is kept too.
	for body, want := range map[string]map[string]string{
		`{"amount":1,"posData":"{\"till\":3}"}`: {"posData": `{"till":3}`},
		`{"amount":1,"posData":""}`:             {"posData": ""},
		`{"amount":1,"posData":42}`:             {"posData": "42", "posDataType": "json"},
		`{"amount":1,"posData":null}`:           nil,
	} {
		p, err := parse(body)
		if err != nil || fmt.Sprint(p.Metadata) != fmt.Sprint(want) {
			t.Errorf("%s: metadata %v %v, want %v", body, p.Metadata, err, want)
		}
	}
	for body, want := range map[string]string{
		`{"methodType":"Tokenize","amount":100}`:                        "amount must be 0",
		`{"methodType":"Capture"}`:                                      "amount is required",
		`{"methodType":"Capture","amount":0}`:                           "greater than 0",
		`{"methodType":"Refund","amount":1}`:                            "methodType must be",
		`{"amount":1,"timeOut":59}`:                                     "timeOut must be",
		`{"amount":1,"timeOut":86401}`:                                  "timeOut must be",
		`{"amount":1,"timeOut":600.5}`:                                  "timeOut must be",
		`{"amount":1,"currency":"XYZ"}`:                                 "currency",
		`{"amount":1,"isCent":"maybe"}`:                                 "isCent must be",
		`{"amount":1,"callbackURL":"https://s","callbackMethod":"PUT"}`: "callbackMethod",
		`{"amount":1,"products":{"name":"x"}}`:                          "products must be an array",
		`{"amount":1,"clientName":"` + strings.Repeat("a", 501) + `"}`:  "clientName must be",
		`{"amount":1,"reason":"` + strings.Repeat("a", 1001) + `"}`:     "reason must be",
		`{"amount":1,"clientEmail":5}`:                                  "clientEmail must not be a JSON number",
	} {
		if _, err := parse(body); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error saying %q", body, err, want)
		}
	}
}

func TestPayParams(t *testing.T) {
	parse := func(m *store.Merchant, body string) (payment.PaymentParams, error) {
		var req payRequest
		if ae := decodeJSON([]byte(body), &req); ae != nil {
			return payment.PaymentParams{}, ae
		}
		return payParams(m, &req)
	}
	raw := *testMerchant
	raw.Settings.AcceptRawCardData = true
	p, err := parse(testMerchant, `{"amount":200,"currency":"USD","token":"tok_a","securityCode":"123"}`)
	if err != nil || p.Amount != 200 || *p.Currency != "USD" || p.Token != "tok_a" || p.CVC != "123" || !*p.Capture || p.Card != nil {
		t.Errorf("token: %+v %v", p, err)
	}
	card := `"creditCardDetails":{"cardNumber":"4242424242424242","cardExpiration":"12/34","securityCode":"123"}`
	p, err = parse(&raw, `{"amount":200,`+card+`}`)
	if err != nil || p.Card == nil || p.Card.ExpMonth != 12 || p.Card.ExpYear != 2034 || !p.SaveCard || p.ThreeDSecure != "never" {
		t.Errorf("raw card: %+v %v", p, err)
	}
	for _, tc := range []struct {
		m      *store.Merchant
		body   string
		status int
		want   string
	}{
		{testMerchant, `{"amount":200,"isCent":false,"token":"tok_a"}`, 400, "isCent=false"},
		{testMerchant, `{"amount":200,"tokenSource":"Authorize.net","tokenData":{"profile_id":"1"}}`, 400, "tokenData.payment_id"},
		{testMerchant, `{"amount":200,"tokenSource":"Braintree","tokenData":{"profile_id":"1","payment_id":"2"}}`, 400, "unsupported token source"},
		{testMerchant, `{"amount":200,"token":"tok_a","tokenSource":"Authorize.net","tokenData":{"profile_id":"1","payment_id":"2"}}`, 400, "not two"},
		{testMerchant, `{"amount":200,"tokenSource":"Authorize.net","tokenData":{"profile_id":"12x","payment_id":"2"}}`, 400, "tokenData.profile_id"},
		{testMerchant, `{"amount":200,"tokenData":{}}`, 400, "unsupported token source"},
		{testMerchant, `{"amount":200,` + card + `}`, 403, "accept_raw_card_data"},
		{&raw, `{"amount":200,"token":"tok_a",` + card + `}`, 400, "not both"},
		{testMerchant, `{"amount":200}`, 400, "token is required"},
		{testMerchant, `{"amount":0,"token":"tok_a"}`, 400, "positive"},
		{testMerchant, `{"amount":2.5,"token":"tok_a"}`, 400, "whole number"},
		{&raw, `{"amount":200,"creditCardDetails":{"cardNumber":"4242424242424242","cardExpiration":"1/34"}}`, 400, "cardExpiration"},
	} {
		_, err := parse(tc.m, tc.body)
		var ae *apiError
		if !errors.As(err, &ae) || ae.status != tc.status || !strings.Contains(ae.message, tc.want) {
			t.Errorf("%s: %v, want %d saying %q", tc.body, err, tc.status, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "4242424242") {
			t.Errorf("%s: the error echoes the card number: %v", tc.body, err)
		}
	}
}

func TestStatuses(t *testing.T) {
	fail := func(code string) *store.Failure { return &store.Failure{Code: code} }
	for _, tc := range []struct {
		v    payment.SessionView
		pay  *payment.PaymentView
		want int
	}{
		{payment.SessionView{Status: "open"}, nil, 0},
		{payment.SessionView{Status: "open", LastError: fail("card_declined")}, nil, 0},
		{payment.SessionView{Status: "requires_action"}, nil, 4},
		{payment.SessionView{Status: "succeeded"}, nil, 5},
		{payment.SessionView{Status: "succeeded"}, &payment.PaymentView{Status: "succeeded", AmountCaptured: 100}, 5},
		{payment.SessionView{Status: "succeeded"}, &payment.PaymentView{Status: "succeeded", AmountCaptured: 100, AmountRefunded: 100}, 11},
		{payment.SessionView{Status: "succeeded"}, &payment.PaymentView{Status: "succeeded", AmountCaptured: 100, AmountRefunded: 40}, 13},
		{payment.SessionView{Status: "succeeded"}, &payment.PaymentView{Status: "succeeded", AmountCaptured: 100,
			Refunds: []payment.RefundView{{Status: "pending"}}}, 12},
		{payment.SessionView{Status: "succeeded"}, &payment.PaymentView{Status: "canceled"}, 9},
		{payment.SessionView{Status: "failed", LastError: fail("card_declined")}, nil, 6},
		{payment.SessionView{Status: "failed", LastError: fail("authentication_failed")}, nil, 6},
		{payment.SessionView{Status: "failed", LastError: fail("processing_error")}, nil, 7},
		{payment.SessionView{Status: "failed"}, nil, 7},
		{payment.SessionView{Status: "expired"}, nil, 8},
		{payment.SessionView{Status: "canceled"}, nil, 9},
	} {
		if got := sessionStatus(&tc.v, tc.pay); got != tc.want {
			t.Errorf("session %s (%+v, %+v) = %d, want %d", tc.v.Status, tc.v.LastError, tc.pay, got, tc.want)
		}
	}
	for st, want := range map[string]int{"succeeded": 5, "requires_capture": 5, "requires_action": 4, "processing": 4, "canceled": 9} {
		if got := paymentStatus(&payment.PaymentView{Status: st}); got != want {
			t.Errorf("payment %s = %d, want %d", st, got, want)
		}
	}
	if paymentStatus(&payment.PaymentView{Status: "failed", Failure: fail("card_declined")}) != 6 ||
		paymentStatus(&payment.PaymentView{Status: "failed", Failure: fail("processing_error")}) != 7 {
		t.Error("failed payments")
	}
	if StatusNames[4] != "ProccessingPayment" || statusName(99) != "Unknown" {
		t.Error("status names")
	}
}

// TestRenderSession checks the entity's fields and JSON types against the
// seed's Tokenize answer and its callback example.
func TestRenderSession(t *testing.T) {
	now := time.Date(2022, 8, 14, 10, 9, 5, 810_000_000, time.UTC)
	tok := "tok_abc"
	v := payment.SessionView{ID: "ps_abc", Status: "succeeded", Amount: 0, CaptureMethod: "automatic", Currency: "USD", Token: &tok,
		Created: now, ExpiresAt: now.Add(10 * time.Minute)}
	card := &store.Token{ID: tok, Brand: "visa", Last4: "1111", Mask: "458010******1111", ExpMonth: 12, ExpYear: 2034, Created: now}
	b, _ := json.Marshal(renderSession(testMerchant, &v, "https://pay/pay/ps_abc", nil, card, nil))
	var got map[string]any
	json.Unmarshal(b, &got)
	want := map[string]any{"TransactionNumber": "ps_abc", "date": "2022-08-14T10:09:05.810Z", "status": 5.0,
		"statusName": "TransactionApproved", "timeoutDate": "2022-08-14T10:19:05.810Z", "businessId": "mer_test",
		"businessName": "Coffee Bar", "pos": "", "businessOwnerPhone": "", "businessCountry": "", "businessCity": "",
		"businessStreet": "", "businessAddress": "", "branchNumber": "", "branchId": ""}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %#v, want %#v", k, got[k], w)
		}
	}
	if fmt.Sprint(got["paymentCommit"]) != "map[messsage:"+commitEnabled+"]" {
		t.Errorf("paymentCommit %v", got["paymentCommit"])
	}
	if fmt.Sprint(got["transactionPage"]) != "map[androidLink:https://pay/pay/ps_abc iOSLink:https://pay/pay/ps_abc qrURL:https://pay/pay/ps_abc]" {
		t.Errorf("transactionPage %v", got["transactionPage"])
	}
	pd, _ := got["paymentDetails"].(map[string]any)
	for k, w := range map[string]any{"type": "Tokenize", "paymentMethod": vaultName, "created": "2022-08-14T10:09:05.810Z",
		"token": tok, "cardType": "visa", "lastFourDigits": "1111", "cardMask": "458010******1111", "expiration": "1234",
		"approvedBy": "Credit Card"} {
		if pd[k] != w {
			t.Errorf("paymentDetails.%s = %#v, want %#v", k, pd[k], w)
		}
	}
	if _, ok := got["callbackType"]; ok {
		t.Error("callbackType outside a callback")
	}
	if got["amount"] != "0.00" || got["currency"] != "USD" {
		t.Errorf("amount %#v %v, want \"0.00\" USD", got["amount"], got["currency"])
	}
	for _, k := range []string{"posData", "products"} {
		if _, ok := got[k]; ok {
			t.Errorf("%s without one sent", k)
		}
	}
	kwd := v
	kwd.Amount, kwd.Currency = 1234, "KWD"
	kwd.Metadata = map[string]string{"posData": `{"a":[1,2]}`, "posDataType": "json", "products": `[{"n":"x"}]`}
	b, _ = json.Marshal(renderSession(testMerchant, &kwd, "https://pay/pay/ps_abc", nil, card, nil))
	if !strings.Contains(string(b), `"amount":"1.234","currency":"KWD","posData":{"a":[1,2]},"products":[{"n":"x"}]`) {
		t.Errorf("amount, posData, products: %s", b)
	}
	// Before approval paymentDetails holds the type alone, as the seed's
	// init answer shows.
	v.Status = "open"
	b, _ = json.Marshal(renderSession(testMerchant, &v, "https://pay/pay/ps_abc", nil, nil, nil))
	if !strings.Contains(string(b), `"paymentDetails":{"type":"Tokenize"}`) {
		t.Errorf("open: %s", b)
	}
}

func TestRenamed(t *testing.T) {
	for _, tc := range []struct{ param, msg, want string }{
		{"callback_url", "callback_url is not allowed: x", "callbackURL is not allowed: x"},
		{"amount", "must be greater than 0", "amount must be greater than 0"},
		{"metadata.clientName", "metadata.clientName must not contain a card number", "clientName must not contain a card number"},
		{"card.number", "card.number must pass the Luhn check", "cardNumber must pass the Luhn check"},
		{"other", "Other thing.", "Other thing."},
	} {
		if got := renamed(tc.param, tc.msg); got != tc.want {
			t.Errorf("renamed(%q, %q) = %q, want %q", tc.param, tc.msg, got, tc.want)
		}
	}
}

// FuzzParseAmount: no input panics; an accepted amount is within bounds,
// and a major-unit amount formats back to the same minor units.
func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{`3000`, `"3000"`, `30.5`, `"12.345"`, `-1`, `1e3`, `null`, `"`, `99999999999`, `0.001`, `{}`} {
		f.Add(s, true, "USD")
		f.Add(s, false, "KWD")
	}
	f.Fuzz(func(t *testing.T, raw string, isCent bool, currency string) {
		v, present, err := ParseAmount(json.RawMessage(raw), isCent, currency)
		if err != nil {
			if logging.Redact(err.Error()) != err.Error() {
				t.Fatalf("the error echoes a card number: %v", err)
			}
			return
		}
		if v < 0 || v > money.MaxAmount || (!present && v != 0) {
			t.Fatalf("%q → %d (present %v)", raw, v, present)
		}
		if present && !isCent {
			back, err := money.Parse(money.Format(v, currency), currency)
			if err != nil || back != v {
				t.Fatalf("%q %s → %d, formatted back %d %v", raw, currency, v, back, err)
			}
		}
	})
}

// FuzzParseExpiration: an accepted expiry is a real month of this century
// and reads the same from the MM/YY form the dialect answers.
func FuzzParseExpiration(f *testing.F) {
	for _, s := range []string{"12/34", "1234", "01/2030", "13/30", "1/3", "", "00/00", " 12/34 ", "12/2100"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, y, ok := ParseExpiration(s)
		if !ok {
			if m != 0 || y != 0 {
				t.Fatalf("%q refused with %d/%d", s, m, y)
			}
			return
		}
		if m < 1 || m > 12 || y < 2000 || y > 2099 {
			t.Fatalf("%q → %d/%d", s, m, y)
		}
		short := mmyy(m, y)
		if m2, y2, ok := ParseExpiration(short[:2] + "/" + short[2:]); !ok || m2 != m || y2 != y {
			t.Fatalf("%q → %d/%d, but %s → %d/%d %v", s, m, y, short, m2, y2, ok)
		}
	})
}

// FuzzDecode: every request body the dialect decodes and translates, none
// panics, and no error message carries a card number from the input.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"timeOut":600,"deviceId":"d","methodType":"Tokenize"}`,
		`{"amount":3000,"methodType":"Capture+Tokenize","posData":{"a":[1,2]},"products":[{"n":"4242424242424242"}]}`,
		`{"amount":"12.5","isCent":"false","currency":"kwd","callbackURL":"https://x","callbackMethod":"GET"}`,
		`{"amount":200,"token":"tok_x","creditCardDetails":{"cardNumber":"4242424242424242","cardExpiration":"12/34"}}`,
		`{"creditCardDetails":[{"cardNumber":"4242424242424242","cardExpiration":"12/34","securityCode":"567"}]}`,
		`{"creditCardDetails":[{"cardNumber":4242424242424242}]}`, `[]`, `{`, `{"amount":1e400}`, ``,
	} {
		f.Add([]byte(s))
	}
	raw := *testMerchant
	raw.Settings.AcceptRawCardData = true
	check := func(t *testing.T, err error) {
		if err != nil && logging.Redact(err.Error()) != err.Error() {
			t.Fatalf("the error echoes a card number: %v", err)
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var in initRequest
		if ae := decodeJSON(body, &in); ae != nil {
			check(t, ae)
		} else {
			p, err := sessionParams(testMerchant, &in)
			check(t, err)
			if err == nil && (p.Amount < 0 || len(p.Metadata) > 6) {
				t.Fatalf("session params %+v", p)
			}
		}
		var pay payRequest
		if ae := decodeJSON(body, &pay); ae != nil {
			check(t, ae)
		} else {
			_, err := payParams(&raw, &pay)
			check(t, err)
		}
		var tok tokenizeRequest
		if ae := decodeJSON(body, &tok); ae != nil {
			check(t, ae)
		} else {
			for i := range tok.CreditCardDetails {
				_, ae := cardInput(&tok.CreditCardDetails[i])
				if ae != nil {
					check(t, ae)
				}
				if m := masked(tok.CreditCardDetails[i].CardNumber); m != "" && !strings.Contains(m, "*") {
					t.Fatalf("masked %q", m)
				}
			}
		}
	})
}

func TestFromMetadata(t *testing.T) {
	for _, tc := range []struct {
		md                map[string]string
		posData, products string
	}{
		{nil, "", ""},
		{map[string]string{"posData": "order-18"}, `"order-18"`, ""},
		{map[string]string{"posData": `{"a":1}`}, `"{\"a\":1}"`, ""}, // a string that looks like JSON
		{map[string]string{"posData": `{"a":1}`, "posDataType": "json"}, `{"a":1}`, ""},
		{map[string]string{"posData": `42`, "posDataType": "json"}, `42`, ""},
		{map[string]string{"posData": `{broken`, "posDataType": "json"}, `"{broken"`, ""},
		{map[string]string{"posData": ""}, `""`, ""},
		{map[string]string{"products": `[{"n":1}]`}, "", `[{"n":1}]`},
		{map[string]string{"products": "latte"}, "", `"latte"`}, // another client's metadata
	} {
		pos, products := fromMetadata(tc.md)
		if string(pos) != tc.posData || string(products) != tc.products {
			t.Errorf("fromMetadata(%v) = %s, %s; want %s, %s", tc.md, pos, products, tc.posData, tc.products)
		}
	}
}

func TestAllowedMethods(t *testing.T) {
	for path, want := range map[string]string{
		"/sensepass/api/transactions/init":             "GET, HEAD, POST",
		"/sensepass/api/transactions/ps_x":             "GET, HEAD",
		"/sensepass/api/transactions/ps_x/socket":      "GET, HEAD",
		"/sensepass/api/transactions/cancel/ps_x":      "POST",
		"/sensepass/api/transactions/cancel/socket":    "GET, HEAD, POST",
		"/sensepass/api/transactions/cancel/":          "",
		"/sensepass/api/transactions/init/":            "",
		"/sensepass/api/transactions/":                 "",
		"/sensepass/api/transactions//socket":          "",
		"/sensepass/api/transactions/a/b/c":            "",
		"/sensepass/api/other":                         "",
		"/sensepass/api/transactions/ps_x/socket/more": "",
	} {
		if got := allowedMethods(path); got != want {
			t.Errorf("allowedMethods(%q) = %q, want %q", path, got, want)
		}
	}
}

func TestFromServiceExpired(t *testing.T) {
	d := New(nil, nil)
	ae := d.fromService(nil, "pay", &payment.Error{Kind: payment.KindInvalidRequest, Code: "expired_card", Param: "card.exp_year",
		Message: "card.exp_year the card has expired"})
	if ae.status != 400 || ae.code != "expired_card" || ae.message != msgExpired {
		t.Errorf("an expired card: %d %s %q", ae.status, ae.code, ae.message)
	}
	ae = d.fromService(nil, "pay", &payment.Error{Kind: payment.KindInvalidRequest, Code: "invalid_expiry", Param: "card.exp_year",
		Message: "card.exp_year is too far in the future"})
	if ae.message != "cardExpiration is too far in the future" {
		t.Errorf("a far expiry: %q", ae.message)
	}
}
