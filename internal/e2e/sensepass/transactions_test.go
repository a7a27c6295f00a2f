package sensepass

// The SensePass dialect (/sensepass/api) against the real server, on both
// backends: each endpoint takes the seed's own example request and answers
// every field the seed's example answer shows, with the same JSON type, and
// the Transaction entity carries what init was given.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// The seed's (002) example answers this package alone compares shapes
// with (init's and the callback's are harness.SensePassSeedInit and
// harness.SensePassSeedCallback).
const (
	seedTokenized = `{"cardNumber": "4580458045804580", "cardExpiration": "1234", "securityCode": "567",
    "uid": "f0de8e51-e886-4b99-9a2b-c5a4189df164", "token": "f0de8e51-e886-4b99-9a2b-cda4189df164"}`
	seedPay = `{"success": true, "transactionNumber": "dff8c53f80b25527666a5935b56fc431d8a68cc82e53234d907103d2",
    "transactionStatus": "TransactionApproved",
    "confirmation": {"fullConfirmationCode": "166-60202801955", "confirmationNumber": "166-60202801955",
        "approvedBy": "AuthorizeNet Sandbox", "providerId": "jDPPZyn8zdGtBcKUP4EbxTfwy62j+JShtQGDlbwx4/c=",
        "dateApproval": "2022-10-20T17:34:31.778Z", "approvalDate": "2022-10-20T17:34:31.778Z",
        "paymentMethodName": "Credit Card", "lastFourDigits": "1111", "cardExpiration": "1234"},
    "cardMask": "", "token": "kkAl8zuss9men3mvu6rp4fhuwppek9yht6vn8r9z3kza6hyzfmnm"}`
	seedValidation = `{"success": true, "message": "The token is valid",
    "AVS": {"code": "NNN", "message": "Address: No Match & 5 Digit Zip: No Match"}, "CVV": {"code": "M", "message": "Match"}}`

	// seedCard is the seed's tokenize card; it passes Luhn, so the
	// simulator approves it.
	seedCard = "4580458045804580"
	seedCVC  = "567"
)

// TestSensePassSeedExamples: each endpoint takes the seed's example request
// (deviceId: a device key; apiKey: the secret key) and answers the seed's
// fields with the seed's JSON types.
func TestSensePassSeedExamples(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		s := harness.Start(t, opts...)
		sk := s.Dev.SecretKey
		dk, _ := harness.SensePassDeviceKey(t, s, sk)

		var tokenizeNumber string
		t.Run("init Tokenize", func(t *testing.T) {
			r := harness.SensePassPost(t, s, "init", map[string]any{"timeOut": 600, "deviceId": dk, "methodType": "Tokenize"}).Want(t, 201)
			harness.SensePassShape(t, "init", harness.SensePassDecode(t, harness.SensePassSeedInit), r.Body)
			n := r.Str("TransactionNumber")
			tokenizeNumber = n
			if !strings.HasPrefix(n, "ps_") || r.Body["status"] != float64(0) || r.Str("statusName") != "Initialize" ||
				r.Str("paymentDetails", "type") != "Tokenize" || r.Str("businessId") != s.Dev.ID ||
				r.Str("businessName") != "Development merchant" || r.Str("pos") != "" || r.Str("branchId") != "" ||
				r.Str("paymentCommit", "messsage") != "Payment commit is enabled for this transaction" {
				t.Fatalf("init: %s", r.Raw)
			}
			page := s.URL + "/pay/" + n
			// qrURL is the page link, as in the seed (merchants put it in
			// their own QR code, an SMS or an e-mail); the PNG is at /qr.png.
			if r.Str("transactionPage", "iOSLink") != page || r.Str("transactionPage", "androidLink") != page ||
				r.Str("transactionPage", "qrURL") != page {
				t.Errorf("transactionPage: %s", r.Raw)
			}
			created, err1 := time.Parse(time.RFC3339, r.Str("date"))
			timeout, err2 := time.Parse(time.RFC3339, r.Str("timeoutDate"))
			if err1 != nil || err2 != nil || timeout.Sub(created) != 600*time.Second || !strings.HasSuffix(r.Str("date"), "Z") {
				t.Errorf("date %s, timeoutDate %s: want 600 s apart, in UTC", r.Str("date"), r.Str("timeoutDate"))
			}
			res, err := harness.Client.Get(page + "/qr.png")
			if err != nil {
				t.Fatal(err)
			}
			png, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 200 || !bytes.HasPrefix(png, []byte("\x89PNG")) {
				t.Errorf("the page's QR code: %d %s, %d bytes", res.StatusCode, res.Header.Get("Content-Type"), len(png))
			}
			if res, err := harness.Client.Get(r.Str("transactionPage", "qrURL")); err != nil {
				t.Fatal(err)
			} else if res.Body.Close(); res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
				t.Errorf("qrURL opens the payment page: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
			}
			g := harness.SensePassSession(t, s, sk, n)
			if harness.Dig(g.Body, "amount") != float64(0) || g.Str("save_card") != "always" || g.Str("mode") != "redirect" || g.Str("currency") != "MYR" {
				t.Errorf("the native session: %s", g.Raw)
			}
		})

		t.Run("init Capture+Tokenize", func(t *testing.T) {
			r := harness.SensePassPost(t, s, "init", map[string]any{"timeOut": 600, "amount": 3000, "deviceId": dk, "methodType": "Capture+Tokenize"}).Want(t, 201)
			harness.SensePassShape(t, "init", harness.SensePassDecode(t, harness.SensePassSeedInit), r.Body)
			if r.Str("paymentDetails", "type") != "Capture+Tokenize" || r.Body["status"] != float64(0) {
				t.Errorf("init: %s", r.Raw)
			}
			g := harness.SensePassSession(t, s, sk, r.Str("TransactionNumber"))
			if harness.Dig(g.Body, "amount") != float64(3000) || g.Str("save_card") != "always" || g.Str("capture_method") != "automatic" {
				t.Errorf("the native session: %s", g.Raw)
			}
		})

		var tokens []string
		t.Run("tokenize", func(t *testing.T) {
			// Cards in clear: the merchant must accept them first.
			s.Call("PATCH", "/v1/merchant", sk, map[string]any{"accept_raw_card_data": true}).Want(t, 200)
			card := map[string]any{"cardNumber": seedCard, "cardExpiration": "12/34", "securityCode": seedCVC}
			r := harness.SensePassPost(t, s, "tokenize", map[string]any{"apiKey": sk, "creditCardDetails": []any{card, card}}).Want(t, 201)
			items := harness.SensePassArray(t, r)
			if len(items) != 2 {
				t.Fatalf("tokenize: %s", r.Raw)
			}
			for i, it := range items {
				harness.SensePassShape(t, fmt.Sprintf("tokenize[%d]", i), harness.SensePassDecode(t, seedTokenized), it, "securityCode")
				if _, ok := it["securityCode"]; ok {
					t.Errorf("tokenize[%d] returns the security code", i)
				}
				if it["cardNumber"] != "458045******4580" || it["cardExpiration"] != "1234" || it["uid"] != it["token"] ||
					!strings.HasPrefix(it["token"].(string), "tok_") {
					t.Errorf("tokenize[%d]: %v", i, it)
				}
				tokens = append(tokens, it["token"].(string))
			}
			if tokens[0] == tokens[1] {
				t.Error("two cards, one token")
			}
			if bytes.Contains(r.Raw, []byte(seedCard)) || harness.ContainsIsolated(r.Raw, seedCVC) {
				t.Errorf("tokenize echoes the card number or its security code: %s", r.Raw)
			}
			tk := s.Call("GET", "/v1/tokens/"+tokens[0], sk, nil).Want(t, 200)
			if tk.Str("status") != "active" || tk.Str("verification", "status") != "verified" || tk.Str("card", "mask") != "458045******4580" {
				t.Errorf("the native token: %s", tk.Raw)
			}
		})

		var payNumber string
		t.Run("pay", func(t *testing.T) {
			r := harness.SensePassPost(t, s, "pay", map[string]any{"amount": 200, "currency": "USD", "deviceId": dk, "token": tokens[0]}).Want(t, 201)
			harness.SensePassShape(t, "pay", harness.SensePassDecode(t, seedPay), r.Body)
			payNumber = r.Str("transactionNumber")
			if r.Body["success"] != true || r.Str("transactionStatus") != "TransactionApproved" || !strings.HasPrefix(payNumber, "pay_") ||
				r.Str("token") != tokens[0] || r.Str("cardMask") != "458045******4580" || r.Str("confirmation", "lastFourDigits") != "4580" ||
				r.Str("confirmation", "cardExpiration") != "1234" || r.Str("confirmation", "confirmationNumber") == "" ||
				r.Str("confirmation", "paymentMethodName") != "Credit Card" {
				t.Errorf("pay: %s", r.Raw)
			}
			p := s.Call("GET", "/v1/payments/"+payNumber, sk, nil).Want(t, 200)
			if p.Str("status") != "succeeded" || harness.Dig(p.Body, "amount_captured") != float64(200) || p.Str("currency") != "USD" || p.Str("token") != tokens[0] {
				t.Errorf("the native payment: %s", p.Raw)
			}
		})

		t.Run("token-validation", func(t *testing.T) {
			r := harness.SensePassPost(t, s, "token-validation", map[string]any{"deviceId": dk, "token": tokens[1]}).Want(t, 201)
			harness.SensePassShape(t, "token-validation", harness.SensePassDecode(t, seedValidation), r.Body)
			if r.Body["success"] != true || r.Str("message") != "The token is valid" || r.Str("CVV", "code") != "P" || r.Str("AVS", "code") != "UUU" {
				t.Errorf("token-validation: %s", r.Raw)
			}
			// With the security code it is checked: a right one matches,
			// the simulator's wrong one (all zeros) does not.
			r = harness.SensePassPost(t, s, "token-validation", map[string]any{"apiKey": sk, "token": tokens[1], "securityCode": seedCVC}).Want(t, 201)
			if r.Str("CVV", "code") != "M" || r.Str("CVV", "message") != "Match" {
				t.Errorf("token-validation with the right code: %s", r.Raw)
			}
			r = harness.SensePassPost(t, s, "token-validation", map[string]any{"apiKey": sk, "token": tokens[1], "securityCode": "000"})
			harness.SensePassFail(t, "token-validation with a wrong code", r, 402, "")
			if r.Str("CVV", "code") != "N" {
				t.Errorf("token-validation with a wrong code: %s", r.Raw)
			}
		})

		t.Run("status", func(t *testing.T) {
			for _, h := range []struct{ name, key string }{{"apiKey", sk}, {"deviceId", dk}, {"apiKey", dk}} {
				r := harness.SensePassGet(t, s, tokenizeNumber, h.name, h.key).Want(t, 200)
				harness.SensePassShape(t, "status", harness.SensePassDecode(t, harness.SensePassSeedInit), r.Body)
				if r.Str("TransactionNumber") != tokenizeNumber || r.Body["status"] != float64(0) {
					t.Errorf("status with %s: %s", h.name, r.Raw)
				}
			}
			r := harness.SensePassGet(t, s, payNumber, "apiKey", sk).Want(t, 200)
			harness.SensePassShape(t, "status", harness.SensePassDecode(t, harness.SensePassSeedInit), r.Body)
			if r.Body["status"] != float64(5) || r.Str("statusName") != "TransactionApproved" || r.Str("paymentDetails", "type") != "Capture" ||
				r.Str("paymentDetails", "token") != tokens[0] || r.Str("paymentDetails", "cardMask") != "458045******4580" {
				t.Errorf("a paid transaction's status: %s", r.Raw)
			}
			// A refund shows as SensePass's refund statuses.
			s.Call("POST", "/v1/payments/"+payNumber+"/refunds", sk, map[string]any{"amount": 50}).Want(t, 201)
			if r := harness.SensePassGet(t, s, payNumber, "apiKey", sk); r.Body["status"] != float64(13) || r.Str("statusName") != "TransactionPartiallyRefunded" {
				t.Errorf("after a partial refund: %s", r.Raw)
			}
			s.Call("POST", "/v1/payments/"+payNumber+"/refunds", sk, nil).Want(t, 201)
			if r := harness.SensePassGet(t, s, payNumber, "apiKey", sk); r.Body["status"] != float64(11) || r.Str("statusName") != "TransactionRefund" {
				t.Errorf("after a full refund: %s", r.Raw)
			}
		})

		t.Run("cancel", func(t *testing.T) {
			r := harness.SensePassPost(t, s, "cancel/"+tokenizeNumber, map[string]any{"deviceId": dk}).Want(t, 200)
			if len(r.Body) != 2 || r.Body["status"] != float64(200) || r.Str("status_message") != "Transaction Was Canceled" {
				t.Errorf("cancel: %s", r.Raw)
			}
			if g := harness.SensePassGet(t, s, tokenizeNumber, "apiKey", sk); g.Body["status"] != float64(9) || g.Str("statusName") != "TransactionCancel" {
				t.Errorf("after cancel: %s", g.Raw)
			}
			if g := harness.SensePassSession(t, s, sk, tokenizeNumber); g.Str("status") != "canceled" {
				t.Errorf("the native session after cancel: %s", g.Raw)
			}
			// Again, with the key in a header and no body: the same answer.
			harness.SensePassPost(t, s, "cancel/"+tokenizeNumber, nil, "apiKey", sk).Want(t, 200)
			// A captured payment cannot be canceled.
			harness.SensePassFail(t, "cancel a captured payment", harness.SensePassPost(t, s, "cancel/"+payNumber, map[string]any{"apiKey": sk}), 422, "cannot be canceled")
		})

		t.Run("Authorize, then cancel voids", func(t *testing.T) {
			r := harness.SensePassPost(t, s, "init", map[string]any{"amount": 12.5, "isCent": false, "currency": "usd", "apiKey": sk, "methodType": "Authorize"}).Want(t, 201)
			n := r.Str("TransactionNumber")
			if r.Str("paymentCommit", "messsage") != "Payment commit is disabled for this transaction" || r.Str("paymentDetails", "type") != "Authorize" ||
				r.Body["amount"] != "12.50" || r.Str("currency") != "USD" {
				t.Errorf("Authorize: %s", r.Raw)
			}
			harness.SensePassConfirm(t, s, sk, n, "4242424242424242").Want(t, 200)
			g := harness.SensePassGet(t, s, n, "apiKey", sk).Want(t, 200)
			pid := g.Str("paymentDetails", "paymentId")
			if g.Body["status"] != float64(5) || pid == "" || g.Str("paymentDetails", "token") != "" || g.Str("paymentDetails", "lastFourDigits") != "4242" {
				t.Fatalf("authorized: %s", g.Raw)
			}
			if p := s.Call("GET", "/v1/payments/"+pid, sk, nil); p.Str("status") != "requires_capture" {
				t.Fatalf("the native payment: %s", p.Raw)
			}
			harness.SensePassPost(t, s, "cancel/"+n, map[string]any{"apiKey": sk}).Want(t, 200)
			if p := s.Call("GET", "/v1/payments/"+pid, sk, nil); p.Str("status") != "canceled" {
				t.Errorf("the native payment after cancel: %s", p.Raw)
			}
			if g := harness.SensePassGet(t, s, n, "apiKey", sk); g.Body["status"] != float64(9) {
				t.Errorf("after voiding: %s", g.Raw)
			}
		})

		s.NoCardInLogs(t, seedCard, seedCVC)
		if strings.Contains(s.Logs.String(), dk) {
			t.Error("a device key reached the logs")
		}
	})
}

// TestSensePassInitFields: init's fields land in the session (amounts in
// major units by the currency's exponent, URLs, metadata, description) and
// its limits answer in the error shape.
func TestSensePassInitFields(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		s := harness.Start(t, opts...)
		sk := s.Dev.SecretKey
		r := harness.SensePassPost(t, s, "init", map[string]any{"apiKey": sk, "amount": "1.234", "isCent": false, "currency": "KWD", "timeOut": 3600,
			"methodType": "Capture", "returnURL": "https://shop.example/back", "cancelURL": "https://shop.example/cancel",
			"callbackURL": "https://shop.example/cb", "posData": map[string]any{"till": 4}, "clientPhoneNumber": "+60 12-345 6789",
			"clientEmail": "abu@example.my", "clientName": "Abu Bin Ali", "reason": "Order 77", "products": []any{map[string]any{"name": "Latte", "price": 1234}}}).Want(t, 201)
		g := harness.SensePassSession(t, s, sk, r.Str("TransactionNumber"))
		if harness.Dig(g.Body, "amount") != float64(1234) || g.Str("currency") != "KWD" || g.Str("save_card") != "off" ||
			g.Str("success_url") != "https://shop.example/back" || g.Str("failure_url") != "https://shop.example/back" ||
			g.Str("cancel_url") != "https://shop.example/cancel" || g.Str("callback_url") != "https://shop.example/cb" ||
			g.Str("description") != "Order 77" || g.Str("metadata", "posData") != `{"till":4}` || g.Str("metadata", "clientName") != "Abu Bin Ali" ||
			g.Str("metadata", "clientEmail") != "abu@example.my" || g.Str("metadata", "clientPhoneNumber") != "+60 12-345 6789" ||
			g.Str("metadata", "products") != `[{"name":"Latte","price":1234}]` {
			t.Errorf("the native session: %s", g.Raw)
		}
		if g.Str("metadata", "posDataType") != "json" {
			t.Errorf("posData sent as an object is not marked as JSON: %s", g.Raw)
		}
		// The entity gives posData and products back as sent, and amount in
		// major units, in init's answer and GET's.
		for what, b := range map[string]map[string]any{"init": r.Body,
			"GET": harness.SensePassGet(t, s, r.Str("TransactionNumber"), "apiKey", sk).Want(t, 200).Body} {
			pos, _ := json.Marshal(b["posData"])
			products, _ := json.Marshal(b["products"])
			if string(pos) != `{"till":4}` || string(products) != `[{"name":"Latte","price":1234}]` || b["amount"] != "1.234" {
				t.Errorf("%s: posData %s, products %s, amount %v", what, pos, products, b["amount"])
			}
		}
		// A string that looks like JSON stays a string; no posData, no key.
		r2 := harness.SensePassPost(t, s, "init", map[string]any{"apiKey": sk, "amount": 100, "posData": `{"till":4}`, "products": []any{}}).Want(t, 201)
		if r2.Body["posData"] != `{"till":4}` || fmt.Sprint(r2.Body["products"]) != "[]" {
			t.Errorf("posData as a string: %s", r2.Raw)
		}
		r2 = harness.SensePassPost(t, s, "init", map[string]any{"apiKey": sk, "amount": 100, "posData": ""}).Want(t, 201)
		if g2 := harness.SensePassGet(t, s, r2.Str("TransactionNumber"), "apiKey", sk); g2.Body["posData"] != "" {
			t.Errorf("posData \"\": %s", g2.Raw)
		}
		r2 = harness.SensePassPost(t, s, "init", map[string]any{"apiKey": sk, "amount": 100}).Want(t, 201)
		if _, ok := r2.Body["posData"]; ok {
			t.Errorf("posData without one sent: %s", r2.Raw)
		}
		if exp, _ := time.Parse(time.RFC3339, g.Str("expires_at")); time.Until(exp) < 59*time.Minute {
			t.Errorf("timeOut 3600 → expires_at %s", g.Str("expires_at"))
		}
		for _, tc := range []struct {
			body map[string]any
			want string
		}{
			{map[string]any{"methodType": "Capture"}, "amount is required"},
			{map[string]any{"methodType": "Tokenize", "amount": 100}, "amount must be 0"},
			{map[string]any{"amount": 100, "timeOut": 30}, "timeOut must be a whole number of seconds from 60 to 86400"},
			{map[string]any{"amount": 100, "timeOut": 86401}, "timeOut must be"},
			{map[string]any{"amount": 1.5}, "whole number of cents"},
			{map[string]any{"amount": "1.2345", "isCent": false, "currency": "KWD"}, "at most 3 decimals"},
			{map[string]any{"amount": 100, "methodType": "Refund"}, "methodType must be"},
			{map[string]any{"amount": 100, "returnURL": "ftp://x"}, "returnURL must be"},
			{map[string]any{"amount": 100, "callbackURL": "http://169.254.169.254/"}, "callbackURL is not allowed"},
			{map[string]any{"amount": 100, "clientName": "card 4242 4242 4242 4242"}, "clientName must not contain a card number"},
			{map[string]any{"amount": 100, "products": []any{strings.Repeat("x", 600)}}, "products must be"},
		} {
			tc.body["apiKey"] = sk
			r := harness.SensePassPost(t, s, "init", tc.body)
			harness.SensePassFail(t, fmt.Sprint(tc.body), r, 400, tc.want)
			if bytes.Contains(r.Raw, []byte("4242")) {
				t.Errorf("an error echoes the card number: %s", r.Raw)
			}
		}
	})
}

// majorAmount reads the entity's amount the way a SensePass client does:
// SensePass's Transaction model documents it as a string in major units
// ("1234.56"; its subscription callback example sends "10" for $10).
func majorAmount(t testing.TB, what string, body map[string]any) float64 {
	t.Helper()
	s, ok := body["amount"].(string)
	if !ok {
		t.Errorf("%s: amount is a JSON %s (%v); SensePass's Transaction model has a string in major units such as \"1234.56\"",
			what, harness.JSONType(body["amount"]), body["amount"])
		return -1
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Errorf("%s: amount %q is not a decimal number", what, s)
		return -1
	}
	return f
}

// TestSensePassEntityAmountMajorUnits: the Transaction entity's
// "amount" is integer minor units (3000 for $30.00), but SensePass's
// Transaction model — which init, GET, the socket and callbacks all answer —
// has "amount" as a string in major units ("1234.56"). A merchant switching
// from SensePass who reads amount (to check that what was paid matches the
// order, typically in the callback) sees a JSON number 100 times too large.
// transaction.go:87 (Amount int64) and renderSession/paymentEntity.
func TestSensePassEntityAmountMajorUnits(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		s := harness.Start(t, opts...)
		sk := s.Dev.SecretKey
		r := harness.SensePassPost(t, s, "init", map[string]any{"apiKey": sk, "amount": 3000, "currency": "USD", "methodType": "Capture"}).Want(t, 201)
		if got := majorAmount(t, "init USD 3000 cents", r.Body); got != -1 && got != 30 {
			t.Errorf("init USD 3000 cents: amount %v, want 30 (major units, as SensePass answers)", r.Body["amount"])
		}
		n := r.Str("TransactionNumber")
		if got := majorAmount(t, "GET", harness.SensePassGet(t, s, n, "apiKey", sk).Want(t, 200).Body); got != -1 && got != 30 {
			t.Errorf("GET: amount %v, want 30", got)
		}
		r = harness.SensePassPost(t, s, "init", map[string]any{"apiKey": sk, "amount": "1.234", "isCent": false, "currency": "KWD"}).Want(t, 201)
		if got := majorAmount(t, "init 1.234 KWD", r.Body); got != -1 && got != 1.234 {
			t.Errorf("init 1.234 KWD: amount %v, want 1.234", r.Body["amount"])
		}
		s.Call("PATCH", "/v1/merchant", sk, map[string]any{"accept_raw_card_data": true}).Want(t, 200)
		tok := harness.SensePassArray(t, harness.SensePassPost(t, s, "tokenize", map[string]any{"apiKey": sk, "creditCardDetails": []any{
			map[string]any{"cardNumber": "4242424242424242", "cardExpiration": "12/34", "securityCode": "123"}}}).Want(t, 201))[0]["token"]
		pay := harness.SensePassPost(t, s, "pay", map[string]any{"apiKey": sk, "amount": 200, "currency": "USD", "token": tok}).Want(t, 201)
		g := harness.SensePassGet(t, s, pay.Str("transactionNumber"), "apiKey", sk).Want(t, 200)
		if got := majorAmount(t, "GET pay_", g.Body); got != -1 && got != 2 {
			t.Errorf("GET of a 200-cent payment: amount %v, want 2", g.Body["amount"])
		}
	})
}

// TestSensePassEntityPosData: init takes posData (PROVIDERS.md §2)
// and stores it, but the Transaction entity never gives it back.
// SensePass's Transaction model has "posData": "Any data
// (object/array/string/number etc...) received in posData", and its docs
// say posData "will be available to the POS on any transaction event -
// Socket.IO messages, callback, transaction status API": POS integrations
// put their order id there to match callbacks to orders. transaction.go:68
// (no posData field); init.go:249 stores it in metadata only.
func TestSensePassEntityPosData(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		s := harness.Start(t, opts...)
		sk := s.Dev.SecretKey
		pos := map[string]any{"orderId": "A-17", "till": float64(4)}
		r := harness.SensePassPost(t, s, "init", map[string]any{"apiKey": sk, "amount": 100, "posData": pos}).Want(t, 201)
		want, _ := json.Marshal(pos)
		for what, body := range map[string]map[string]any{"init": r.Body, "GET": harness.SensePassGet(t, s, r.Str("TransactionNumber"), "apiKey", sk).Want(t, 200).Body} {
			got, _ := json.Marshal(body["posData"])
			if !bytes.Equal(got, want) {
				t.Errorf("%s: posData %s, want the object sent, %s", what, got, want)
			}
		}
		r = harness.SensePassPost(t, s, "init", map[string]any{"apiKey": sk, "amount": 100, "posData": "order-18"}).Want(t, 201)
		if g := harness.SensePassGet(t, s, r.Str("TransactionNumber"), "apiKey", sk); g.Body["posData"] != "order-18" {
			t.Errorf("GET: posData %v, want the string sent, \"order-18\"", g.Body["posData"])
		}
	})
}
