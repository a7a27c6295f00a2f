package sensepass

// The dialect's one error shape, for unrouted paths, bad input, refused
// credentials, tokens and raw cards.

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// TestSensePassRoutes: what no route of the dialect serves answers in its
// error shape: 405 (with Allow) where the path is served with another
// method, 404 elsewhere, 426 for a plain request to the socket; none echoes
// the path.
func TestSensePassRoutes(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	n := harness.SensePassPost(t, s, "init", map[string]any{"apiKey": sk, "amount": 100}).Want(t, 201).Str("TransactionNumber")
	for _, c := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{"POST", "/sensepass/api/transactions/refund", 405, "GET, HEAD"},
		{"GET", "/sensepass/api/transactions/cancel/" + n, 405, "POST"},
		{"PUT", "/sensepass/api/transactions/init", 405, "GET, HEAD, POST"},
		{"POST", "/sensepass/api/transactions/" + n, 405, "GET, HEAD"},
		{"DELETE", "/sensepass/api/transactions/" + n + "/socket", 405, "GET, HEAD"},
		{"POST", "/sensepass/api/transactions/cancelByDeviceId/4242424242424242", 404, ""},
		{"GET", "/sensepass/api/", 404, ""},
		{"GET", "/sensepass/api/subscriptions", 404, ""},
		{"GET", "/sensepass/api/transactions/" + n + "/socket", 426, ""},
	} {
		r := s.Call(c.method, c.path, "", nil, "apiKey", sk)
		harness.SensePassFail(t, c.method+" "+c.path, r, c.status, "")
		if r.Header.Get("Allow") != c.allow || bytes.Contains(r.Raw, []byte("4242424242424242")) {
			t.Errorf("%s %s: Allow %q (want %q): %s", c.method, c.path, r.Header.Get("Allow"), c.allow, r.Raw)
		}
	}
	// The native API's own 404 is untouched.
	if r := s.Call("GET", "/v1/nothing", sk, nil); r.Status != 404 || r.Body["error"] == nil {
		t.Errorf("native 404: %d %s", r.Status, r.Raw)
	}
}

// TestSensePassErrors: credentials, unknown and disabled tokens, declines,
// wrong amounts, an unsupported token source and raw cards answer in the
// error shape; raw cards work once the merchant accepts them.
func TestSensePassErrors(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		s := harness.Start(t, opts...)
		sk := s.Dev.SecretKey
		other := s.NewMerchant("Other shop")
		dk, dkID := harness.SensePassDeviceKey(t, s, sk)
		tokenize := func(number string) map[string]any {
			t.Helper()
			r := harness.SensePassPost(t, s, "tokenize", map[string]any{"apiKey": sk, "creditCardDetails": []any{
				map[string]any{"cardNumber": number, "cardExpiration": "12/34", "securityCode": "123"}}}).Want(t, 201)
			return harness.SensePassArray(t, r)[0]
		}
		// tokenize takes cards in clear: on for the tokens below, off again
		// in "token sources and raw cards".
		s.Call("PATCH", "/v1/merchant", sk, map[string]any{"accept_raw_card_data": true}).Want(t, 200)
		good := tokenize("4242424242424242")["token"].(string)
		txn := harness.SensePassPost(t, s, "init", map[string]any{"apiKey": sk, "amount": 100}).Want(t, 201).Str("TransactionNumber")

		t.Run("credentials", func(t *testing.T) {
			harness.SensePassFail(t, "no key", harness.SensePassPost(t, s, "init", map[string]any{"amount": 100}), 401, "apiKey or deviceId is required")
			harness.SensePassFail(t, "a wrong key", harness.SensePassPost(t, s, "init", map[string]any{"amount": 100, "apiKey": "sk_nope"}), 401, "Invalid apiKey")
			harness.SensePassFail(t, "a wrong device", harness.SensePassPost(t, s, "pay", map[string]any{"amount": 100, "deviceId": "dk_live_nope", "token": good}), 401, "Invalid")
			harness.SensePassFail(t, "a publishable key", harness.SensePassPost(t, s, "init", map[string]any{"amount": 100, "apiKey": s.Dev.PublishableKey}), 401, "publishable")
			harness.SensePassFail(t, "two keys", harness.SensePassPost(t, s, "init", map[string]any{"amount": 100, "apiKey": sk, "deviceId": dk}), 400, "not both")
			harness.SensePassFail(t, "status without a key", harness.SensePassGet(t, s, txn, "X-Nothing", ""), 401, "")
			harness.SensePassFail(t, "status with a wrong key", harness.SensePassGet(t, s, txn, "apiKey", "sk_nope"), 401, "")
			// GET takes the key in a JSON body too; a malformed or oversized
			// body is refused in the dialect's shape.
			s.Call("GET", "/sensepass/api/transactions/"+txn, "", map[string]any{"deviceId": dk}).Want(t, 200)
			harness.SensePassFail(t, "status with a malformed body", s.Call("GET", "/sensepass/api/transactions/"+txn, "", "{", "apiKey", sk), 400, "JSON")
			harness.SensePassFail(t, "status with an oversized body", s.Call("GET", "/sensepass/api/transactions/"+txn, "",
				`{"apiKey":"`+sk+`","x":"`+strings.Repeat("a", 300<<10)+`"}`), 413, "larger")
			// A key in the URL is not a credential.
			harness.SensePassFail(t, "a key in the query", s.Call("GET", "/sensepass/api/transactions/"+txn+"?apiKey="+sk, "", nil), 401, "")
			// Another merchant's transaction does not exist for this one.
			harness.SensePassFail(t, "another merchant's transaction", harness.SensePassGet(t, s, txn, "apiKey", other.SecretKey), 404, "Transaction not found")
			harness.SensePassFail(t, "an unknown transaction", harness.SensePassGet(t, s, "ps_nosuchsession00", "apiKey", sk), 404, "Transaction not found")
			harness.SensePassFail(t, "a card number as a transaction", harness.SensePassGet(t, s, "4242424242424242", "apiKey", sk), 404, "Transaction not found")

			harness.SensePassPost(t, s, "pay", map[string]any{"amount": 100, "deviceId": dk, "token": good}).Want(t, 201)
			s.Call("DELETE", "/v1/device_keys/"+dkID, sk, nil).Want(t, 200)
			harness.SensePassFail(t, "a revoked device key", harness.SensePassPost(t, s, "pay", map[string]any{"amount": 100, "deviceId": dk, "token": good}), 401, "revoked")
			harness.SensePassFail(t, "a revoked device key, GET", harness.SensePassGet(t, s, txn, "deviceId", dk), 401, "")
		})

		t.Run("tokens", func(t *testing.T) {
			harness.SensePassFail(t, "pay an unknown token", harness.SensePassPost(t, s, "pay", map[string]any{"amount": 100, "apiKey": sk, "token": "tok_nosuchtoken00"}), 404, "Token not found")
			harness.SensePassFail(t, "pay another merchant's token", harness.SensePassPost(t, s, "pay", map[string]any{"amount": 100, "apiKey": other.SecretKey, "token": good}), 404, "Token not found")
			harness.SensePassFail(t, "validate an unknown token", harness.SensePassPost(t, s, "token-validation", map[string]any{"apiKey": sk, "token": "tok_nosuchtoken00"}), 404, "Token not found")

			disabled := tokenize("5555555555554444")["token"].(string)
			s.Call("POST", "/v1/tokens/"+disabled+"/disable", sk, nil).Want(t, 200)
			r := harness.SensePassPost(t, s, "pay", map[string]any{"amount": 100, "apiKey": sk, "token": disabled})
			harness.SensePassFail(t, "pay a disabled token", r, 402, "disabled")
			if r.Str("code") != "token_disabled" || !strings.HasPrefix(r.Str("transactionNumber"), "pay_") || r.Str("transactionStatus") != "TransactionDeclined" {
				t.Errorf("pay a disabled token: %s", r.Raw)
			}
			r = harness.SensePassPost(t, s, "token-validation", map[string]any{"apiKey": sk, "token": disabled})
			harness.SensePassFail(t, "validate a disabled token", r, 402, "The token is disabled")
			if r.Str("AVS", "code") == "" || r.Str("CVV", "code") == "" {
				t.Errorf("validate a disabled token: %s", r.Raw)
			}

			declines := tokenize("4000000000000341")["token"].(string) // verifies, then every charge is declined
			r = harness.SensePassPost(t, s, "pay", map[string]any{"amount": 100, "apiKey": sk, "token": declines})
			harness.SensePassFail(t, "a declined charge", r, 402, "declined")
			if r.Str("transactionStatus") != "TransactionDeclined" {
				t.Errorf("a declined charge: %s", r.Raw)
			}
			if g := harness.SensePassGet(t, s, r.Str("transactionNumber"), "apiKey", sk); g.Body["status"] != float64(6) || g.Str("paymentDetails", "message") == "" {
				t.Errorf("a declined charge's status: %s", g.Raw)
			}
		})

		t.Run("amounts", func(t *testing.T) {
			for _, tc := range []struct {
				amount any
				isCent any
				want   string
			}{
				{0, nil, "positive"}, {-100, nil, "negative"}, {nil, nil, "positive"}, {"12.50", nil, "whole number of cents"},
				{int64(1e15), nil, "at most"}, {"ten", nil, "whole number"}, {100, false, "does not support isCent=false"},
			} {
				body := map[string]any{"apiKey": sk, "token": good, "currency": "USD", "amount": tc.amount}
				if tc.isCent != nil {
					body["isCent"] = tc.isCent
				}
				harness.SensePassFail(t, fmt.Sprintf("pay amount %v isCent %v", tc.amount, tc.isCent), harness.SensePassPost(t, s, "pay", body), 400, tc.want)
			}
			harness.SensePassFail(t, "a wrong currency", harness.SensePassPost(t, s, "pay", map[string]any{"apiKey": sk, "token": good, "amount": 100, "currency": "XYZ"}), 400, "currency")
		})

		t.Run("token sources and raw cards", func(t *testing.T) {
			harness.SensePassFail(t, "Authorize.net without an account there", harness.SensePassPost(t, s, "pay", map[string]any{"amount": 200, "currency": "USD",
				"deviceId": "", "apiKey": sk, "tokenSource": "Authorize.net", "tokenData": map[string]any{"profile_id": "12345", "payment_id": "55555"}}),
				400, "authorize_net processor account")
			harness.SensePassFail(t, "another vault", harness.SensePassPost(t, s, "pay", map[string]any{"amount": 200, "currency": "USD", "deviceId": "", "apiKey": sk,
				"tokenSource": "Braintree", "tokenData": map[string]any{"profile_id": "12345", "payment_id": "55555"}}), 400, "unsupported token source")
			s.Call("PATCH", "/v1/merchant", sk, map[string]any{"accept_raw_card_data": false}).Want(t, 200)
			raw := map[string]any{"amount": 200, "apiKey": sk, "creditCardDetails": map[string]any{"cardNumber": "6011111111111117",
				"cardExpiration": "12/34", "securityCode": "987"}}
			r := harness.SensePassPost(t, s, "pay", raw)
			harness.SensePassFail(t, "a raw card, setting off", r, 403, "accept_raw_card_data")
			verifs := s.Sim.Stats().Verifications
			r = harness.SensePassPost(t, s, "tokenize", map[string]any{"apiKey": sk, "creditCardDetails": []any{raw["creditCardDetails"]}})
			harness.SensePassFail(t, "tokenize, setting off", r, 403, "accept_raw_card_data")
			if s.Sim.Stats().Verifications != verifs || bytes.Contains(r.Raw, []byte("6011111111111117")) {
				t.Errorf("a refused tokenize verified a card or echoed it: %s", r.Raw)
			}
			s.Call("PATCH", "/v1/merchant", sk, map[string]any{"accept_raw_card_data": true}).Want(t, 200)
			r = harness.SensePassPost(t, s, "pay", raw).Want(t, 201)
			harness.SensePassShape(t, "pay with a raw card", harness.SensePassDecode(t, seedPay), r.Body)
			if r.Str("transactionStatus") != "TransactionApproved" || !strings.HasPrefix(r.Str("token"), "tok_") || r.Str("cardMask") != "601111******1117" {
				t.Errorf("pay with a raw card: %s", r.Raw)
			}
			if bytes.Contains(r.Raw, []byte("6011111111111117")) || harness.ContainsIsolated(r.Raw, "987") {
				t.Errorf("pay echoes the card: %s", r.Raw)
			}
			// The token it answers pays again, without the card.
			harness.SensePassPost(t, s, "pay", map[string]any{"amount": 300, "apiKey": sk, "token": r.Str("token")}).Want(t, 201)
			bad := map[string]any{"amount": 200, "apiKey": sk, "creditCardDetails": map[string]any{"cardNumber": "4242424242424241", "cardExpiration": "12/34"}}
			r = harness.SensePassPost(t, s, "pay", bad)
			harness.SensePassFail(t, "a raw card failing Luhn", r, 400, "cardNumber")
			if bytes.Contains(r.Raw, []byte("424242424242")) {
				t.Errorf("the error echoes the card: %s", r.Raw)
			}
		})

		t.Run("3-D Secure required for saved cards", func(t *testing.T) {
			// Nobody can answer a challenge in a server-to-server tokenize.
			s.Call("PATCH", "/v1/merchant", sk, map[string]any{"tokenization_requires_3ds": true}).Want(t, 200)
			defer func() {
				s.Call("PATCH", "/v1/merchant", sk, map[string]any{"tokenization_requires_3ds": false}).Want(t, 200)
			}()
			r := harness.SensePassPost(t, s, "tokenize", map[string]any{"apiKey": sk, "creditCardDetails": []any{
				map[string]any{"cardNumber": "4242424242424242", "cardExpiration": "12/34", "securityCode": "123"}}})
			harness.SensePassFail(t, "tokenize when every saved card needs 3-D Secure", r, 403, "tokenization_requires_3ds")
		})

		t.Run("tokenize per card", func(t *testing.T) {
			r := harness.SensePassPost(t, s, "tokenize", map[string]any{"apiKey": sk, "creditCardDetails": []any{
				map[string]any{"cardNumber": "4242424242424241", "cardExpiration": "12/34", "securityCode": "123"},
				map[string]any{"cardNumber": "4000000000000002", "cardExpiration": "12/34", "securityCode": "123"},
				map[string]any{"cardNumber": "4242424242424242", "cardExpiration": "13/34", "securityCode": "123"},
				map[string]any{"cardNumber": "4242424242424242", "cardExpiration": "12/34", "securityCode": "123"},
			}}).Want(t, 201)
			items := harness.SensePassArray(t, r)
			if len(items) != 4 {
				t.Fatalf("tokenize: %s", r.Raw)
			}
			for i, want := range []string{"cardNumber", "declined", "cardExpiration"} {
				e, _ := items[i]["error"].(map[string]any)
				if items[i]["token"] != "" || items[i]["uid"] != "" || e == nil || !strings.Contains(fmt.Sprint(e["message"]), want) {
					t.Errorf("tokenize[%d]: %v, want an error about %s", i, items[i], want)
				}
			}
			if items[0]["cardNumber"] != "" || items[1]["cardNumber"] != "400000******0002" {
				t.Errorf("failed cards' numbers: %v, %v", items[0]["cardNumber"], items[1]["cardNumber"])
			}
			if items[3]["error"] != nil || !strings.HasPrefix(fmt.Sprint(items[3]["token"]), "tok_") {
				t.Errorf("the good card: %v", items[3])
			}
			if bytes.Contains(r.Raw, []byte("4242424242424241")) || bytes.Contains(r.Raw, []byte("4000000000000002")) {
				t.Errorf("tokenize echoes a card number: %s", r.Raw)
			}
			exp := harness.SensePassArray(t, harness.SensePassPost(t, s, "tokenize", map[string]any{"apiKey": sk, "creditCardDetails": []any{
				map[string]any{"cardNumber": "4242424242424242", "cardExpiration": "01/21", "securityCode": "123"}}}).Want(t, 201))
			if e, _ := exp[0]["error"].(map[string]any); e == nil || e["code"] != "expired_card" ||
				e["message"] != "The card has expired (cardExpiration is in the past)." {
				t.Errorf("an expired card: %v", exp[0])
			}
			harness.SensePassFail(t, "no cards", harness.SensePassPost(t, s, "tokenize", map[string]any{"apiKey": sk, "creditCardDetails": []any{}}), 400, "at least one card")
			harness.SensePassFail(t, "not JSON", harness.SensePassPost(t, s, "tokenize", "cardNumber=4242424242424242", "Content-Type", "application/x-www-form-urlencoded"), 400, "JSON")
		})

		if logs := s.Logs.String(); strings.Contains(logs, "4242424242424242") || strings.Contains(logs, "4000000000000341") ||
			strings.Contains(logs, "6011111111111117") {
			t.Error("a card number reached the logs")
		}
	})
}

// TestSensePassErrorShapeEverywhere: the dialect promises "one shape
// for every failure" ({"success":false,"status":…,"code":…,"message":…}),
// but two kinds of answer under /sensepass/api escape it: any path or
// method the dialect does not route — including SensePass endpoints a
// switching merchant may already call (transactions/refund,
// cancelByDeviceId/{deviceId}) and a POST to a transaction's GET URL — gets
// the native API's {"error":{…}} (routes.go's catch-all), and a plain
// (non-upgrade) request to the socket gets coder/websocket's text/plain
// "WebSocket protocol violation…" (socket.go:61). A SensePass client
// reading success/status/message finds nothing.
func TestSensePassErrorShapeEverywhere(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	n := harness.SensePassPost(t, s, "init", map[string]any{"apiKey": sk, "amount": 100}).Want(t, 201).Str("TransactionNumber")
	for _, c := range []struct{ method, path string }{
		{"POST", "/sensepass/api/transactions/refund"},
		{"POST", "/sensepass/api/transactions/cancelByDeviceId/dk_live_x"},
		{"POST", "/sensepass/api/transactions/" + n},
		{"GET", "/sensepass/api/transactions/" + n + "/socket"},
	} {
		r := s.Call(c.method, c.path, "", map[string]any{"apiKey": sk}, "apiKey", sk)
		if r.Status < 400 || r.Body["success"] != false || r.Body["status"] != float64(r.Status) || r.Str("code") == "" || r.Str("message") == "" {
			t.Errorf("%s %s: %d %s, want the dialect's error shape", c.method, c.path, r.Status, bytes.TrimSpace(r.Raw))
		}
	}
}

// TestSensePassTokenizeRawCardSetting: transactions/tokenize takes
// card numbers and codes in clear from the merchant's server and verifies
// them without 3-D Secure, up to 100 per call — with the secret key or any
// device key. That is exactly what the merchant setting
// accept_raw_card_data exists to gate ("opens the dialect endpoints that
// take card numbers in clear from the merchant's server … Off by default:
// those flows put the merchant in PCI scope and skip 3-D Secure",
// store.Settings), and pay with creditCardDetails and senangPay's
// get_payment_token (raw card → token) both honour it; tokenize
// (cards.go:105-124) does not, so with the setting off (the default) a
// merchant — or whoever holds one of its POS device keys — still gets a
// 100-cards-a-call, 3-D-Secure-free card checker.
func TestSensePassTokenizeRawCardSetting(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		s := harness.Start(t, opts...)
		sk := s.Dev.SecretKey
		dk, _ := harness.SensePassDeviceKey(t, s, sk)
		body := map[string]any{"deviceId": dk, "creditCardDetails": []any{
			map[string]any{"cardNumber": "4242424242424242", "cardExpiration": "12/34", "securityCode": "123"}}}
		verifs := s.Sim.Stats().Verifications
		r := harness.SensePassPost(t, s, "tokenize", body)
		harness.SensePassFail(t, "tokenize with accept_raw_card_data off (the default)", r, 403, "accept_raw_card_data")
		if got := s.Sim.Stats().Verifications; got != verifs {
			t.Errorf("the refused tokenize still verified %d card(s) with the acquirer", got-verifs)
		}
		// Once the merchant accepts raw card data, tokenize works.
		s.Call("PATCH", "/v1/merchant", sk, map[string]any{"accept_raw_card_data": true}).Want(t, 200)
		if it := harness.SensePassArray(t, harness.SensePassPost(t, s, "tokenize", body).Want(t, 201)); len(it) != 1 || it[0]["error"] != nil {
			t.Errorf("tokenize with accept_raw_card_data on: %v", it)
		}
	})
}
