package e2e

// The SensePass dialect (/sensepass/api) against the real server, on both
// backends: each endpoint takes the seed's own example request and answers
// every field the seed's example answer shows, with the same JSON type;
// the error shape; callbacks (POST and GET) signed as documented and
// verified here independently; the live socket. Helper names start with sn.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// The seed's (002) example answers. Its callback example is not valid JSON
// (paymentCommit's brace is never closed); here paymentCommit is the
// object the other examples show, and the fields after it are the
// entity's own.
const (
	snSeedInit = `{
    "TransactionNumber": "5f3275249792ee75b41322e636617ee039e2e1a49cc80c11f2177233",
    "date": "2022-08-14T10:09:05.810Z", "status": 0, "statusName": "Initialize",
    "timeoutDate": "2022-08-14T10:19:05.872Z",
    "paymentCommit": {"messsage": "Payment commit is enabled for this transaction"},
    "businessId": "339978940107456", "businessName": "Coffee Bar", "pos": "POS 1", "businessOwnerPhone": "3587292",
    "businessCountry": "US", "businessCity": "Virginia Beach", "businessStreet": "123 Street",
    "businessAddress": "123 Street, Virginia Beach", "branchNumber": "1", "branchId": "1",
    "transactionPage": {"iOSLink": "https://pay.sandbox.sensepass.com/orderSummary/5f",
        "androidLink": "https://pay.sandbox.sensepass.com/orderSummary/5f", "qrURL": "https://pay.sandbox.sensepass.com/orderSummary/5f"},
    "paymentDetails": {"type": "Tokenize"}}`
	snSeedCallback = `{
    "TransactionNumber": "5f3275249792ee75b41322e636617ee039e2e1a49cc80c11f2177233",
    "date": "2022-08-14T10:09:05.810Z", "status": 0, "statusName": "Initialize",
    "timeoutDate": "2022-08-14T10:19:05.872Z",
    "paymentCommit": {"messsage": "Payment commit is enabled for this transaction"},
    "businessId": "339978940107456", "businessName": "Coffee Bar", "pos": "POS 1", "businessOwnerPhone": "3587292",
    "businessCountry": "US", "businessCity": "Virginia Beach", "businessStreet": "123 Street",
    "businessAddress": "123 Street, Virginia Beach",
    "paymentDetails": {"type": "Tokenize", "paymentMethod": "Sensepass PCI", "created": "2022-11-17T08:31:10.154Z",
        "token": "kkAl8zuss9men3mvu6rp4fhuwppek9yht6vn8r9z3kza6hyzfmnm", "cardType": "visa", "lastFourDigits": "1111",
        "cardMask": "458010*****1111", "expiration": "1234", "approvedBy": "Credit Card"},
    "callbackType": "transaction_status"}`
	snSeedTokenized = `{"cardNumber": "4580458045804580", "cardExpiration": "1234", "securityCode": "567",
    "uid": "f0de8e51-e886-4b99-9a2b-c5a4189df164", "token": "f0de8e51-e886-4b99-9a2b-cda4189df164"}`
	snSeedPay = `{"success": true, "transactionNumber": "dff8c53f80b25527666a5935b56fc431d8a68cc82e53234d907103d2",
    "transactionStatus": "TransactionApproved",
    "confirmation": {"fullConfirmationCode": "166-60202801955", "confirmationNumber": "166-60202801955",
        "approvedBy": "AuthorizeNet Sandbox", "providerId": "jDPPZyn8zdGtBcKUP4EbxTfwy62j+JShtQGDlbwx4/c=",
        "dateApproval": "2022-10-20T17:34:31.778Z", "approvalDate": "2022-10-20T17:34:31.778Z",
        "paymentMethodName": "Credit Card", "lastFourDigits": "1111", "cardExpiration": "1234"},
    "cardMask": "", "token": "kkAl8zuss9men3mvu6rp4fhuwppek9yht6vn8r9z3kza6hyzfmnm"}`
	snSeedValidation = `{"success": true, "message": "The token is valid",
    "AVS": {"code": "NNN", "message": "Address: No Match & 5 Digit Zip: No Match"}, "CVV": {"code": "M", "message": "Match"}}`

	// snSeedCard is the seed's tokenize card; it passes Luhn, so the
	// simulator approves it.
	snSeedCard = "4580458045804580"
	snSeedCVC  = "567"
)

func snDecode(t testing.TB, s string) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("a seed example: %v", err)
	}
	return v
}

// snType is a decoded JSON value's type.
func snType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "boolean"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	}
	return fmt.Sprintf("%T", v)
}

// snShape checks that got has every key of the seed's example want, with
// the same JSON type, down into nested objects. skip names keys not to
// require (the seed's securityCode, which Coffer never returns).
func snShape(t testing.TB, what string, want, got map[string]any, skip ...string) {
	t.Helper()
	for k, w := range want {
		if slices.Contains(skip, k) {
			continue
		}
		g, ok := got[k]
		if !ok {
			t.Errorf("%s: no %q (the seed shows it)", what, k)
			continue
		}
		if snType(g) != snType(w) {
			t.Errorf("%s: %q is a JSON %s, the seed's a %s", what, k, snType(g), snType(w))
			continue
		}
		if wm, ok := w.(map[string]any); ok {
			snShape(t, what+"."+k, wm, g.(map[string]any), skip...)
		}
	}
}

// snPost sends a JSON body to /sensepass/api/transactions/<path>.
func snPost(t testing.TB, s *server, path string, body any, hdr ...string) resp {
	t.Helper()
	return s.call("POST", "/sensepass/api/transactions/"+path, "", body, hdr...)
}

// snGet reads a transaction with the key in an apiKey (or deviceId) header.
func snGet(t testing.TB, s *server, number, header, key string) resp {
	t.Helper()
	return s.call("GET", "/sensepass/api/transactions/"+number, "", nil, header, key)
}

// snArray decodes an answer that is a JSON array.
func snArray(t testing.TB, r resp) []map[string]any {
	t.Helper()
	var v []map[string]any
	if err := json.Unmarshal(r.Raw, &v); err != nil {
		t.Fatalf("not a JSON array (%d): %s", r.Status, r.Raw)
	}
	return v
}

// snFail checks the dialect's error shape and status.
func snFail(t testing.TB, what string, r resp, status int, message string) {
	t.Helper()
	if r.Status != status || r.Body["success"] != false || r.Body["status"] != float64(status) || r.str("code") == "" ||
		!strings.Contains(r.str("message"), message) {
		t.Errorf("%s: want %d {success:false,status:%d,code,message ~ %q}, got %d %s", what, status, status, message, r.Status, r.Raw)
	}
}

// snDeviceKey creates a device key for the merchant of sk.
func snDeviceKey(t testing.TB, s *server, sk string) (key, id string) {
	t.Helper()
	r := s.call("POST", "/v1/device_keys", sk, map[string]any{"name": "POS 1"}).want(t, 201)
	return r.str("key"), r.str("id")
}

// snNum reads a JSON number.
func snNum(v any, path ...string) float64 { f, _ := dig(v, path...).(float64); return f }

// snIsolated reports whether needle occurs in data on its own, not inside
// a longer id, number or timestamp.
func snIsolated(data []byte, needle string) bool {
	in := func(c byte) bool {
		return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '-' || c == '.' || c == ':'
	}
	for off := 0; ; {
		i := bytes.Index(data[off:], []byte(needle))
		if i < 0 {
			return false
		}
		i += off
		if (i == 0 || !in(data[i-1])) && (i+len(needle) >= len(data) || !in(data[i+len(needle)])) {
			return true
		}
		off = i + 1
	}
}

// snSession reads the native session behind a transaction.
func snSession(t testing.TB, s *server, sk, number string) resp {
	t.Helper()
	return s.call("GET", "/v1/sessions/"+number, sk, nil).want(t, 200)
}

// snConfirm pays an open transaction's session through the native API, as
// the hosted page would, with a card encrypted to the session's key.
func snConfirm(t testing.TB, s *server, sk, number, pan string) resp {
	t.Helper()
	sess := snSession(t, s, sk, number)
	return s.call("POST", "/v1/sessions/"+number+"/confirm", sk, map[string]any{"encrypted_card": encryptFor(t, sess, pan, "123")})
}

// snExp is the expiry encryptFor gives cards, as SensePass writes it.
func snExp() string { return fmt.Sprintf("12%02d", (time.Now().Year()+4)%100) }

// TestSensePassSeedExamples: each endpoint takes the seed's example request
// (deviceId: a device key; apiKey: the secret key) and answers the seed's
// fields with the seed's JSON types.
func TestSensePassSeedExamples(t *testing.T) {
	backends(t, func(t *testing.T, opts ...option) {
		s := start(t, opts...)
		sk := s.Dev.SecretKey
		dk, _ := snDeviceKey(t, s, sk)

		var tokenizeNumber string
		t.Run("init Tokenize", func(t *testing.T) {
			r := snPost(t, s, "init", map[string]any{"timeOut": 600, "deviceId": dk, "methodType": "Tokenize"}).want(t, 201)
			snShape(t, "init", snDecode(t, snSeedInit), r.Body)
			n := r.str("TransactionNumber")
			tokenizeNumber = n
			if !strings.HasPrefix(n, "ps_") || r.Body["status"] != float64(0) || r.str("statusName") != "Initialize" ||
				r.str("paymentDetails", "type") != "Tokenize" || r.str("businessId") != s.Dev.ID ||
				r.str("businessName") != "Development merchant" || r.str("pos") != "" || r.str("branchId") != "" ||
				r.str("paymentCommit", "messsage") != "Payment commit is enabled for this transaction" {
				t.Fatalf("init: %s", r.Raw)
			}
			page := s.URL + "/pay/" + n
			// qrURL is the page link, as in the seed (merchants put it in
			// their own QR code, an SMS or an e-mail); the PNG is at /qr.png.
			if r.str("transactionPage", "iOSLink") != page || r.str("transactionPage", "androidLink") != page ||
				r.str("transactionPage", "qrURL") != page {
				t.Errorf("transactionPage: %s", r.Raw)
			}
			created, err1 := time.Parse(time.RFC3339, r.str("date"))
			timeout, err2 := time.Parse(time.RFC3339, r.str("timeoutDate"))
			if err1 != nil || err2 != nil || timeout.Sub(created) != 600*time.Second || !strings.HasSuffix(r.str("date"), "Z") {
				t.Errorf("date %s, timeoutDate %s: want 600 s apart, in UTC", r.str("date"), r.str("timeoutDate"))
			}
			res, err := client.Get(page + "/qr.png")
			if err != nil {
				t.Fatal(err)
			}
			png, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 200 || !bytes.HasPrefix(png, []byte("\x89PNG")) {
				t.Errorf("the page's QR code: %d %s, %d bytes", res.StatusCode, res.Header.Get("Content-Type"), len(png))
			}
			if res, err := client.Get(r.str("transactionPage", "qrURL")); err != nil {
				t.Fatal(err)
			} else if res.Body.Close(); res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
				t.Errorf("qrURL opens the payment page: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
			}
			g := snSession(t, s, sk, n)
			if dig(g.Body, "amount") != float64(0) || g.str("save_card") != "always" || g.str("mode") != "redirect" || g.str("currency") != "MYR" {
				t.Errorf("the native session: %s", g.Raw)
			}
		})

		t.Run("init Capture+Tokenize", func(t *testing.T) {
			r := snPost(t, s, "init", map[string]any{"timeOut": 600, "amount": 3000, "deviceId": dk, "methodType": "Capture+Tokenize"}).want(t, 201)
			snShape(t, "init", snDecode(t, snSeedInit), r.Body)
			if r.str("paymentDetails", "type") != "Capture+Tokenize" || r.Body["status"] != float64(0) {
				t.Errorf("init: %s", r.Raw)
			}
			g := snSession(t, s, sk, r.str("TransactionNumber"))
			if dig(g.Body, "amount") != float64(3000) || g.str("save_card") != "always" || g.str("capture_method") != "automatic" {
				t.Errorf("the native session: %s", g.Raw)
			}
		})

		var tokens []string
		t.Run("tokenize", func(t *testing.T) {
			// Cards in clear: the merchant must accept them first.
			s.call("PATCH", "/v1/merchant", sk, map[string]any{"accept_raw_card_data": true}).want(t, 200)
			card := map[string]any{"cardNumber": snSeedCard, "cardExpiration": "12/34", "securityCode": snSeedCVC}
			r := snPost(t, s, "tokenize", map[string]any{"apiKey": sk, "creditCardDetails": []any{card, card}}).want(t, 201)
			items := snArray(t, r)
			if len(items) != 2 {
				t.Fatalf("tokenize: %s", r.Raw)
			}
			for i, it := range items {
				snShape(t, fmt.Sprintf("tokenize[%d]", i), snDecode(t, snSeedTokenized), it, "securityCode")
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
			if bytes.Contains(r.Raw, []byte(snSeedCard)) || snIsolated(r.Raw, snSeedCVC) {
				t.Errorf("tokenize echoes the card number or its security code: %s", r.Raw)
			}
			tk := s.call("GET", "/v1/tokens/"+tokens[0], sk, nil).want(t, 200)
			if tk.str("status") != "active" || tk.str("verification", "status") != "verified" || tk.str("card", "mask") != "458045******4580" {
				t.Errorf("the native token: %s", tk.Raw)
			}
		})

		var payNumber string
		t.Run("pay", func(t *testing.T) {
			r := snPost(t, s, "pay", map[string]any{"amount": 200, "currency": "USD", "deviceId": dk, "token": tokens[0]}).want(t, 201)
			snShape(t, "pay", snDecode(t, snSeedPay), r.Body)
			payNumber = r.str("transactionNumber")
			if r.Body["success"] != true || r.str("transactionStatus") != "TransactionApproved" || !strings.HasPrefix(payNumber, "pay_") ||
				r.str("token") != tokens[0] || r.str("cardMask") != "458045******4580" || r.str("confirmation", "lastFourDigits") != "4580" ||
				r.str("confirmation", "cardExpiration") != "1234" || r.str("confirmation", "confirmationNumber") == "" ||
				r.str("confirmation", "paymentMethodName") != "Credit Card" {
				t.Errorf("pay: %s", r.Raw)
			}
			p := s.call("GET", "/v1/payments/"+payNumber, sk, nil).want(t, 200)
			if p.str("status") != "succeeded" || dig(p.Body, "amount_captured") != float64(200) || p.str("currency") != "USD" || p.str("token") != tokens[0] {
				t.Errorf("the native payment: %s", p.Raw)
			}
		})

		t.Run("token-validation", func(t *testing.T) {
			r := snPost(t, s, "token-validation", map[string]any{"deviceId": dk, "token": tokens[1]}).want(t, 201)
			snShape(t, "token-validation", snDecode(t, snSeedValidation), r.Body)
			if r.Body["success"] != true || r.str("message") != "The token is valid" || r.str("CVV", "code") != "P" || r.str("AVS", "code") != "UUU" {
				t.Errorf("token-validation: %s", r.Raw)
			}
			// With the security code it is checked: the one the card was
			// saved with matches, another does not.
			r = snPost(t, s, "token-validation", map[string]any{"apiKey": sk, "token": tokens[1], "securityCode": snSeedCVC}).want(t, 201)
			if r.str("CVV", "code") != "M" || r.str("CVV", "message") != "Match" {
				t.Errorf("token-validation with the right code: %s", r.Raw)
			}
			r = snPost(t, s, "token-validation", map[string]any{"apiKey": sk, "token": tokens[1], "securityCode": "999"})
			snFail(t, "token-validation with a wrong code", r, 402, "")
			if r.str("CVV", "code") != "N" {
				t.Errorf("token-validation with a wrong code: %s", r.Raw)
			}
		})

		t.Run("status", func(t *testing.T) {
			for _, h := range []struct{ name, key string }{{"apiKey", sk}, {"deviceId", dk}, {"apiKey", dk}} {
				r := snGet(t, s, tokenizeNumber, h.name, h.key).want(t, 200)
				snShape(t, "status", snDecode(t, snSeedInit), r.Body)
				if r.str("TransactionNumber") != tokenizeNumber || r.Body["status"] != float64(0) {
					t.Errorf("status with %s: %s", h.name, r.Raw)
				}
			}
			r := snGet(t, s, payNumber, "apiKey", sk).want(t, 200)
			snShape(t, "status", snDecode(t, snSeedInit), r.Body)
			if r.Body["status"] != float64(5) || r.str("statusName") != "TransactionApproved" || r.str("paymentDetails", "type") != "Capture" ||
				r.str("paymentDetails", "token") != tokens[0] || r.str("paymentDetails", "cardMask") != "458045******4580" {
				t.Errorf("a paid transaction's status: %s", r.Raw)
			}
			// A refund shows as SensePass's refund statuses.
			s.call("POST", "/v1/payments/"+payNumber+"/refunds", sk, map[string]any{"amount": 50}).want(t, 201)
			if r := snGet(t, s, payNumber, "apiKey", sk); r.Body["status"] != float64(13) || r.str("statusName") != "TransactionPartiallyRefunded" {
				t.Errorf("after a partial refund: %s", r.Raw)
			}
			s.call("POST", "/v1/payments/"+payNumber+"/refunds", sk, nil).want(t, 201)
			if r := snGet(t, s, payNumber, "apiKey", sk); r.Body["status"] != float64(11) || r.str("statusName") != "TransactionRefund" {
				t.Errorf("after a full refund: %s", r.Raw)
			}
		})

		t.Run("cancel", func(t *testing.T) {
			r := snPost(t, s, "cancel/"+tokenizeNumber, map[string]any{"deviceId": dk}).want(t, 200)
			if len(r.Body) != 2 || r.Body["status"] != float64(200) || r.str("status_message") != "Transaction Was Canceled" {
				t.Errorf("cancel: %s", r.Raw)
			}
			if g := snGet(t, s, tokenizeNumber, "apiKey", sk); g.Body["status"] != float64(9) || g.str("statusName") != "TransactionCancel" {
				t.Errorf("after cancel: %s", g.Raw)
			}
			if g := snSession(t, s, sk, tokenizeNumber); g.str("status") != "canceled" {
				t.Errorf("the native session after cancel: %s", g.Raw)
			}
			// Again, with the key in a header and no body: the same answer.
			snPost(t, s, "cancel/"+tokenizeNumber, nil, "apiKey", sk).want(t, 200)
			// A captured payment cannot be canceled.
			snFail(t, "cancel a captured payment", snPost(t, s, "cancel/"+payNumber, map[string]any{"apiKey": sk}), 422, "cannot be canceled")
		})

		t.Run("Authorize, then cancel voids", func(t *testing.T) {
			r := snPost(t, s, "init", map[string]any{"amount": 12.5, "isCent": false, "currency": "usd", "apiKey": sk, "methodType": "Authorize"}).want(t, 201)
			n := r.str("TransactionNumber")
			if r.str("paymentCommit", "messsage") != "Payment commit is disabled for this transaction" || r.str("paymentDetails", "type") != "Authorize" ||
				r.Body["amount"] != "12.50" || r.str("currency") != "USD" {
				t.Errorf("Authorize: %s", r.Raw)
			}
			snConfirm(t, s, sk, n, "4242424242424242").want(t, 200)
			g := snGet(t, s, n, "apiKey", sk).want(t, 200)
			pid := g.str("paymentDetails", "paymentId")
			if g.Body["status"] != float64(5) || pid == "" || g.str("paymentDetails", "token") != "" || g.str("paymentDetails", "lastFourDigits") != "4242" {
				t.Fatalf("authorized: %s", g.Raw)
			}
			if p := s.call("GET", "/v1/payments/"+pid, sk, nil); p.str("status") != "requires_capture" {
				t.Fatalf("the native payment: %s", p.Raw)
			}
			snPost(t, s, "cancel/"+n, map[string]any{"apiKey": sk}).want(t, 200)
			if p := s.call("GET", "/v1/payments/"+pid, sk, nil); p.str("status") != "canceled" {
				t.Errorf("the native payment after cancel: %s", p.Raw)
			}
			if g := snGet(t, s, n, "apiKey", sk); g.Body["status"] != float64(9) {
				t.Errorf("after voiding: %s", g.Raw)
			}
		})

		snNoCardInLogs(t, s, snSeedCard, snSeedCVC)
		if strings.Contains(s.Logs.String(), dk) {
			t.Error("a device key reached the logs")
		}
	})
}

// TestSensePassInitFields: init's fields land in the session (amounts in
// major units by the currency's exponent, URLs, metadata, description) and
// its limits answer in the error shape.
func TestSensePassInitFields(t *testing.T) {
	backends(t, func(t *testing.T, opts ...option) {
		s := start(t, opts...)
		sk := s.Dev.SecretKey
		r := snPost(t, s, "init", map[string]any{"apiKey": sk, "amount": "1.234", "isCent": false, "currency": "KWD", "timeOut": 3600,
			"methodType": "Capture", "returnURL": "https://shop.example/back", "cancelURL": "https://shop.example/cancel",
			"callbackURL": "https://shop.example/cb", "posData": map[string]any{"till": 4}, "clientPhoneNumber": "+60 12-345 6789",
			"clientEmail": "abu@example.my", "clientName": "Abu Bin Ali", "reason": "Order 77", "products": []any{map[string]any{"name": "Latte", "price": 1234}}}).want(t, 201)
		g := snSession(t, s, sk, r.str("TransactionNumber"))
		if dig(g.Body, "amount") != float64(1234) || g.str("currency") != "KWD" || g.str("save_card") != "off" ||
			g.str("success_url") != "https://shop.example/back" || g.str("failure_url") != "https://shop.example/back" ||
			g.str("cancel_url") != "https://shop.example/cancel" || g.str("callback_url") != "https://shop.example/cb" ||
			g.str("description") != "Order 77" || g.str("metadata", "posData") != `{"till":4}` || g.str("metadata", "clientName") != "Abu Bin Ali" ||
			g.str("metadata", "clientEmail") != "abu@example.my" || g.str("metadata", "clientPhoneNumber") != "+60 12-345 6789" ||
			g.str("metadata", "products") != `[{"name":"Latte","price":1234}]` {
			t.Errorf("the native session: %s", g.Raw)
		}
		if g.str("metadata", "posDataType") != "json" {
			t.Errorf("posData sent as an object is not marked as JSON: %s", g.Raw)
		}
		// The entity gives posData and products back as sent, and amount in
		// major units, in init's answer and GET's.
		for what, b := range map[string]map[string]any{"init": r.Body,
			"GET": snGet(t, s, r.str("TransactionNumber"), "apiKey", sk).want(t, 200).Body} {
			pos, _ := json.Marshal(b["posData"])
			products, _ := json.Marshal(b["products"])
			if string(pos) != `{"till":4}` || string(products) != `[{"name":"Latte","price":1234}]` || b["amount"] != "1.234" {
				t.Errorf("%s: posData %s, products %s, amount %v", what, pos, products, b["amount"])
			}
		}
		// A string that looks like JSON stays a string; no posData, no key.
		r2 := snPost(t, s, "init", map[string]any{"apiKey": sk, "amount": 100, "posData": `{"till":4}`, "products": []any{}}).want(t, 201)
		if r2.Body["posData"] != `{"till":4}` || fmt.Sprint(r2.Body["products"]) != "[]" {
			t.Errorf("posData as a string: %s", r2.Raw)
		}
		r2 = snPost(t, s, "init", map[string]any{"apiKey": sk, "amount": 100, "posData": ""}).want(t, 201)
		if g2 := snGet(t, s, r2.str("TransactionNumber"), "apiKey", sk); g2.Body["posData"] != "" {
			t.Errorf("posData \"\": %s", g2.Raw)
		}
		r2 = snPost(t, s, "init", map[string]any{"apiKey": sk, "amount": 100}).want(t, 201)
		if _, ok := r2.Body["posData"]; ok {
			t.Errorf("posData without one sent: %s", r2.Raw)
		}
		if exp, _ := time.Parse(time.RFC3339, g.str("expires_at")); time.Until(exp) < 59*time.Minute {
			t.Errorf("timeOut 3600 → expires_at %s", g.str("expires_at"))
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
			r := snPost(t, s, "init", tc.body)
			snFail(t, fmt.Sprint(tc.body), r, 400, tc.want)
			if bytes.Contains(r.Raw, []byte("4242")) {
				t.Errorf("an error echoes the card number: %s", r.Raw)
			}
		}
	})
}

// TestSensePassRoutes: what no route of the dialect serves answers in its
// error shape: 405 (with Allow) where the path is served with another
// method, 404 elsewhere, 426 for a plain request to the socket; none echoes
// the path.
func TestSensePassRoutes(t *testing.T) {
	s := start(t)
	sk := s.Dev.SecretKey
	n := snPost(t, s, "init", map[string]any{"apiKey": sk, "amount": 100}).want(t, 201).str("TransactionNumber")
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
		r := s.call(c.method, c.path, "", nil, "apiKey", sk)
		snFail(t, c.method+" "+c.path, r, c.status, "")
		if r.Header.Get("Allow") != c.allow || bytes.Contains(r.Raw, []byte("4242424242424242")) {
			t.Errorf("%s %s: Allow %q (want %q): %s", c.method, c.path, r.Header.Get("Allow"), c.allow, r.Raw)
		}
	}
	// The native API's own 404 is untouched.
	if r := s.call("GET", "/v1/nothing", sk, nil); r.Status != 404 || r.Body["error"] == nil {
		t.Errorf("native 404: %d %s", r.Status, r.Raw)
	}
}

// TestSensePassErrors: credentials, unknown and disabled tokens, declines,
// wrong amounts, an unsupported token source and raw cards answer in the
// error shape; raw cards work once the merchant accepts them.
func TestSensePassErrors(t *testing.T) {
	backends(t, func(t *testing.T, opts ...option) {
		s := start(t, opts...)
		sk := s.Dev.SecretKey
		other := s.newMerchant("Other shop")
		dk, dkID := snDeviceKey(t, s, sk)
		tokenize := func(number string) map[string]any {
			t.Helper()
			r := snPost(t, s, "tokenize", map[string]any{"apiKey": sk, "creditCardDetails": []any{
				map[string]any{"cardNumber": number, "cardExpiration": "12/34", "securityCode": "123"}}}).want(t, 201)
			return snArray(t, r)[0]
		}
		// tokenize takes cards in clear: on for the tokens below, off again
		// in "token sources and raw cards".
		s.call("PATCH", "/v1/merchant", sk, map[string]any{"accept_raw_card_data": true}).want(t, 200)
		good := tokenize("4242424242424242")["token"].(string)
		txn := snPost(t, s, "init", map[string]any{"apiKey": sk, "amount": 100}).want(t, 201).str("TransactionNumber")

		t.Run("credentials", func(t *testing.T) {
			snFail(t, "no key", snPost(t, s, "init", map[string]any{"amount": 100}), 401, "apiKey or deviceId is required")
			snFail(t, "a wrong key", snPost(t, s, "init", map[string]any{"amount": 100, "apiKey": "sk_nope"}), 401, "Invalid apiKey")
			snFail(t, "a wrong device", snPost(t, s, "pay", map[string]any{"amount": 100, "deviceId": "dk_live_nope", "token": good}), 401, "Invalid")
			snFail(t, "a publishable key", snPost(t, s, "init", map[string]any{"amount": 100, "apiKey": s.Dev.PublishableKey}), 401, "publishable")
			snFail(t, "two keys", snPost(t, s, "init", map[string]any{"amount": 100, "apiKey": sk, "deviceId": dk}), 400, "not both")
			snFail(t, "status without a key", snGet(t, s, txn, "X-Nothing", ""), 401, "")
			snFail(t, "status with a wrong key", snGet(t, s, txn, "apiKey", "sk_nope"), 401, "")
			// GET takes the key in a JSON body too; a malformed or oversized
			// body is refused in the dialect's shape.
			s.call("GET", "/sensepass/api/transactions/"+txn, "", map[string]any{"deviceId": dk}).want(t, 200)
			snFail(t, "status with a malformed body", s.call("GET", "/sensepass/api/transactions/"+txn, "", "{", "apiKey", sk), 400, "JSON")
			snFail(t, "status with an oversized body", s.call("GET", "/sensepass/api/transactions/"+txn, "",
				`{"apiKey":"`+sk+`","x":"`+strings.Repeat("a", 300<<10)+`"}`), 413, "larger")
			// A key in the URL is not a credential.
			snFail(t, "a key in the query", s.call("GET", "/sensepass/api/transactions/"+txn+"?apiKey="+sk, "", nil), 401, "")
			// Another merchant's transaction does not exist for this one.
			snFail(t, "another merchant's transaction", snGet(t, s, txn, "apiKey", other.SecretKey), 404, "Transaction not found")
			snFail(t, "an unknown transaction", snGet(t, s, "ps_nosuchsession00", "apiKey", sk), 404, "Transaction not found")
			snFail(t, "a card number as a transaction", snGet(t, s, "4242424242424242", "apiKey", sk), 404, "Transaction not found")

			snPost(t, s, "pay", map[string]any{"amount": 100, "deviceId": dk, "token": good}).want(t, 201)
			s.call("DELETE", "/v1/device_keys/"+dkID, sk, nil).want(t, 200)
			snFail(t, "a revoked device key", snPost(t, s, "pay", map[string]any{"amount": 100, "deviceId": dk, "token": good}), 401, "revoked")
			snFail(t, "a revoked device key, GET", snGet(t, s, txn, "deviceId", dk), 401, "")
		})

		t.Run("tokens", func(t *testing.T) {
			snFail(t, "pay an unknown token", snPost(t, s, "pay", map[string]any{"amount": 100, "apiKey": sk, "token": "tok_nosuchtoken00"}), 404, "Token not found")
			snFail(t, "pay another merchant's token", snPost(t, s, "pay", map[string]any{"amount": 100, "apiKey": other.SecretKey, "token": good}), 404, "Token not found")
			snFail(t, "validate an unknown token", snPost(t, s, "token-validation", map[string]any{"apiKey": sk, "token": "tok_nosuchtoken00"}), 404, "Token not found")

			disabled := tokenize("5555555555554444")["token"].(string)
			s.call("POST", "/v1/tokens/"+disabled+"/disable", sk, nil).want(t, 200)
			r := snPost(t, s, "pay", map[string]any{"amount": 100, "apiKey": sk, "token": disabled})
			snFail(t, "pay a disabled token", r, 402, "disabled")
			if r.str("code") != "token_disabled" || !strings.HasPrefix(r.str("transactionNumber"), "pay_") || r.str("transactionStatus") != "TransactionDeclined" {
				t.Errorf("pay a disabled token: %s", r.Raw)
			}
			r = snPost(t, s, "token-validation", map[string]any{"apiKey": sk, "token": disabled})
			snFail(t, "validate a disabled token", r, 402, "The token is disabled")
			if r.str("AVS", "code") == "" || r.str("CVV", "code") == "" {
				t.Errorf("validate a disabled token: %s", r.Raw)
			}

			declines := tokenize("4000000000000341")["token"].(string) // verifies, then every charge is declined
			r = snPost(t, s, "pay", map[string]any{"amount": 100, "apiKey": sk, "token": declines})
			snFail(t, "a declined charge", r, 402, "declined")
			if r.str("transactionStatus") != "TransactionDeclined" {
				t.Errorf("a declined charge: %s", r.Raw)
			}
			if g := snGet(t, s, r.str("transactionNumber"), "apiKey", sk); g.Body["status"] != float64(6) || g.str("paymentDetails", "message") == "" {
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
				snFail(t, fmt.Sprintf("pay amount %v isCent %v", tc.amount, tc.isCent), snPost(t, s, "pay", body), 400, tc.want)
			}
			snFail(t, "a wrong currency", snPost(t, s, "pay", map[string]any{"apiKey": sk, "token": good, "amount": 100, "currency": "XYZ"}), 400, "currency")
		})

		t.Run("token sources and raw cards", func(t *testing.T) {
			snFail(t, "Authorize.net", snPost(t, s, "pay", map[string]any{"amount": 200, "currency": "USD", "deviceId": "", "apiKey": sk,
				"tokenSource": "Authorize.net", "tokenData": map[string]any{"profile_id": "12345", "payment_id": "55555"}}), 400, "unsupported token source")
			s.call("PATCH", "/v1/merchant", sk, map[string]any{"accept_raw_card_data": false}).want(t, 200)
			raw := map[string]any{"amount": 200, "apiKey": sk, "creditCardDetails": map[string]any{"cardNumber": "6011111111111117",
				"cardExpiration": "12/34", "securityCode": "987"}}
			r := snPost(t, s, "pay", raw)
			snFail(t, "a raw card, setting off", r, 403, "accept_raw_card_data")
			verifs := s.Sim.Stats().Verifications
			r = snPost(t, s, "tokenize", map[string]any{"apiKey": sk, "creditCardDetails": []any{raw["creditCardDetails"]}})
			snFail(t, "tokenize, setting off", r, 403, "accept_raw_card_data")
			if s.Sim.Stats().Verifications != verifs || bytes.Contains(r.Raw, []byte("6011111111111117")) {
				t.Errorf("a refused tokenize verified a card or echoed it: %s", r.Raw)
			}
			s.call("PATCH", "/v1/merchant", sk, map[string]any{"accept_raw_card_data": true}).want(t, 200)
			r = snPost(t, s, "pay", raw).want(t, 201)
			snShape(t, "pay with a raw card", snDecode(t, snSeedPay), r.Body)
			if r.str("transactionStatus") != "TransactionApproved" || !strings.HasPrefix(r.str("token"), "tok_") || r.str("cardMask") != "601111******1117" {
				t.Errorf("pay with a raw card: %s", r.Raw)
			}
			if bytes.Contains(r.Raw, []byte("6011111111111117")) || snIsolated(r.Raw, "987") {
				t.Errorf("pay echoes the card: %s", r.Raw)
			}
			// The token it answers pays again, without the card.
			snPost(t, s, "pay", map[string]any{"amount": 300, "apiKey": sk, "token": r.str("token")}).want(t, 201)
			bad := map[string]any{"amount": 200, "apiKey": sk, "creditCardDetails": map[string]any{"cardNumber": "4242424242424241", "cardExpiration": "12/34"}}
			r = snPost(t, s, "pay", bad)
			snFail(t, "a raw card failing Luhn", r, 400, "cardNumber")
			if bytes.Contains(r.Raw, []byte("424242424242")) {
				t.Errorf("the error echoes the card: %s", r.Raw)
			}
		})

		t.Run("3-D Secure required for saved cards", func(t *testing.T) {
			// Nobody can answer a challenge in a server-to-server tokenize.
			s.call("PATCH", "/v1/merchant", sk, map[string]any{"tokenization_requires_3ds": true}).want(t, 200)
			defer func() {
				s.call("PATCH", "/v1/merchant", sk, map[string]any{"tokenization_requires_3ds": false}).want(t, 200)
			}()
			r := snPost(t, s, "tokenize", map[string]any{"apiKey": sk, "creditCardDetails": []any{
				map[string]any{"cardNumber": "4242424242424242", "cardExpiration": "12/34", "securityCode": "123"}}})
			snFail(t, "tokenize when every saved card needs 3-D Secure", r, 403, "tokenization_requires_3ds")
		})

		t.Run("tokenize per card", func(t *testing.T) {
			r := snPost(t, s, "tokenize", map[string]any{"apiKey": sk, "creditCardDetails": []any{
				map[string]any{"cardNumber": "4242424242424241", "cardExpiration": "12/34", "securityCode": "123"},
				map[string]any{"cardNumber": "4000000000000002", "cardExpiration": "12/34", "securityCode": "123"},
				map[string]any{"cardNumber": "4242424242424242", "cardExpiration": "13/34", "securityCode": "123"},
				map[string]any{"cardNumber": "4242424242424242", "cardExpiration": "12/34", "securityCode": "123"},
			}}).want(t, 201)
			items := snArray(t, r)
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
			exp := snArray(t, snPost(t, s, "tokenize", map[string]any{"apiKey": sk, "creditCardDetails": []any{
				map[string]any{"cardNumber": "4242424242424242", "cardExpiration": "01/21", "securityCode": "123"}}}).want(t, 201))
			if e, _ := exp[0]["error"].(map[string]any); e == nil || e["code"] != "expired_card" ||
				e["message"] != "The card has expired (cardExpiration is in the past)." {
				t.Errorf("an expired card: %v", exp[0])
			}
			snFail(t, "no cards", snPost(t, s, "tokenize", map[string]any{"apiKey": sk, "creditCardDetails": []any{}}), 400, "at least one card")
			snFail(t, "not JSON", snPost(t, s, "tokenize", "cardNumber=4242424242424242", "Content-Type", "application/x-www-form-urlencoded"), 400, "JSON")
		})

		if logs := s.Logs.String(); strings.Contains(logs, "4242424242424242") || strings.Contains(logs, "4000000000000341") ||
			strings.Contains(logs, "6011111111111117") {
			t.Error("a card number reached the logs")
		}
	})
}

// snHook is one callback as the merchant's server received it.
type snHook struct {
	Method   string
	RawQuery string
	Header   http.Header
	Body     []byte
}

// snReceiver is the merchant's callbackURL: it records every request and
// answers 500 to the first fail of them.
type snReceiver struct {
	URL  string
	mu   sync.Mutex
	got  []snHook
	fail int
}

func snNewReceiver(t testing.TB) *snReceiver {
	rv := &snReceiver{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rv.mu.Lock()
		defer rv.mu.Unlock()
		rv.got = append(rv.got, snHook{Method: r.Method, RawQuery: r.URL.RawQuery, Header: r.Header.Clone(), Body: body})
		if rv.fail > 0 {
			rv.fail--
			w.WriteHeader(500)
			return
		}
		w.WriteHeader(200)
	}))
	t.Cleanup(srv.Close)
	rv.URL = srv.URL + "/sensepass/callback"
	return rv
}

func (rv *snReceiver) all() []snHook {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	return append([]snHook(nil), rv.got...)
}

// snVerify recomputes a callback's HMAC-Authorization independently:
// lowercase hex HMAC-SHA256 under the merchant's hmac_secret of the
// HMAC-Random-Key value followed by the body (POST) or raw query (GET).
func snVerify(t testing.TB, secret string, h snHook) {
	t.Helper()
	nonce, got := h.Header.Get("HMAC-Random-Key"), h.Header.Get("HMAC-Authorization")
	signed := h.Body
	if h.Method == http.MethodGet {
		signed = []byte(h.RawQuery)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(nonce + string(signed)))
	if want := hex.EncodeToString(mac.Sum(nil)); len(nonce) < 16 || got != want {
		t.Errorf("callback signature: HMAC-Random-Key %q, HMAC-Authorization %q, want %q", nonce, got, want)
	}
}

// snCallbacks waits until the receiver holds n requests and returns them
// decoded (POST bodies).
func snCallbacks(t testing.TB, rv *snReceiver, n int) ([]snHook, []map[string]any) {
	t.Helper()
	waitUntil(t, 15*time.Second, fmt.Sprintf("%d callbacks", n), func() bool { return len(rv.all()) >= n })
	hooks := rv.all()
	bodies := make([]map[string]any, len(hooks))
	for i, h := range hooks {
		if h.Method == http.MethodPost {
			if err := json.Unmarshal(h.Body, &bodies[i]); err != nil {
				t.Fatalf("callback %d is not JSON: %s", i, h.Body)
			}
		}
	}
	return hooks, bodies
}

// TestSensePassCallbacks: a transaction's status changes reach its
// callbackURL as POST JSON (or GET with callbackMethod GET), signed,
// retried until delivered, never for the transaction's creation.
func TestSensePassCallbacks(t *testing.T) {
	backends(t, func(t *testing.T, opts ...option) {
		s := start(t, append(opts, withWebhookRetryBase(100*time.Millisecond))...)
		sk, secret := s.Dev.SecretKey, s.Dev.HMACSecret

		t.Run("POST, retried", func(t *testing.T) {
			rv := snNewReceiver(t)
			rv.fail = 1
			n := snPost(t, s, "init", map[string]any{"apiKey": sk, "amount": 3000, "methodType": "Capture+Tokenize", "timeOut": 600,
				"callbackURL": rv.URL}).want(t, 201).str("TransactionNumber")
			snConfirm(t, s, sk, n, "4242424242424242").want(t, 200)
			hooks, bodies := snCallbacks(t, rv, 2)
			if len(hooks) != 2 || hooks[0].Header.Get("HMAC-Random-Key") == hooks[1].Header.Get("HMAC-Random-Key") {
				t.Fatalf("want one failed attempt and its retry, each with a fresh random key: %d requests", len(hooks))
			}
			for i, h := range hooks {
				snVerify(t, secret, h)
				b := bodies[i]
				if h.Method != "POST" || h.Header.Get("Content-Type") != "application/json" || b["callbackType"] != "transaction_status" ||
					b["TransactionNumber"] != n || b["status"] != float64(5) || b["statusName"] != "TransactionApproved" {
					t.Errorf("callback %d: %s %s", i, h.Method, h.Body)
				}
				snShape(t, "callback", snDecode(t, snSeedCallback), b)
				pd, _ := b["paymentDetails"].(map[string]any)
				if pd["type"] != "Capture+Tokenize" || !strings.HasPrefix(fmt.Sprint(pd["token"]), "tok_") || pd["cardType"] != "visa" ||
					pd["lastFourDigits"] != "4242" || pd["cardMask"] != "424242******4242" || pd["expiration"] != snExp() || pd["approvedBy"] != "Credit Card" {
					t.Errorf("callback %d paymentDetails: %v", i, pd)
				}
			}
			if !bytes.Equal(hooks[0].Body, hooks[1].Body) {
				t.Errorf("the retry's body differs:\n%s\n%s", hooks[0].Body, hooks[1].Body)
			}
			// The token in the callback pays.
			tok := fmt.Sprint(dig(bodies[0], "paymentDetails", "token"))
			snPost(t, s, "pay", map[string]any{"apiKey": sk, "amount": 100, "token": tok}).want(t, 201)
			time.Sleep(500 * time.Millisecond)
			if len(rv.all()) != 2 {
				t.Errorf("%d callbacks, want the approval's only (its creation is not told)", len(rv.all()))
			}
		})

		t.Run("GET", func(t *testing.T) {
			rv := snNewReceiver(t)
			n := snPost(t, s, "init", map[string]any{"apiKey": sk, "methodType": "Tokenize", "callbackURL": rv.URL + "?shop=7&x=a%20b",
				"callbackMethod": "GET"}).want(t, 201).str("TransactionNumber")
			snConfirm(t, s, sk, n, "5555555555554444").want(t, 200)
			hooks, _ := snCallbacks(t, rv, 1)
			h := hooks[0]
			if h.Method != "GET" || len(h.Body) != 0 || h.RawQuery != "shop=7&x=a%20b&TransactionNumber="+n+"&callbackType=transaction_status" {
				t.Errorf("GET callback: %s ?%s %q", h.Method, h.RawQuery, h.Body)
			}
			snVerify(t, secret, h)
			if g := snGet(t, s, n, "apiKey", sk); g.Body["status"] != float64(5) || g.str("paymentDetails", "cardType") != "mastercard" {
				t.Errorf("status after the GET callback: %s", g.Raw)
			}
		})

		t.Run("3-D Secure, decline, cancel, timeout", func(t *testing.T) {
			rv := snNewReceiver(t)
			n := snPost(t, s, "init", map[string]any{"apiKey": sk, "amount": 1500, "callbackURL": rv.URL}).want(t, 201).str("TransactionNumber")
			c := snConfirm(t, s, sk, n, "4000002500003155").want(t, 200)
			snCallbacks(t, rv, 1)
			passChallenge(t, c.str("next_action", "url"))
			snGet(t, s, n, "apiKey", sk) // a read settles the session, as the socket and the page's return do
			_, bodies := snCallbacks(t, rv, 2)
			if bodies[0]["status"] != float64(4) || bodies[0]["statusName"] != "ProccessingPayment" || bodies[1]["status"] != float64(5) {
				t.Errorf("3-D Secure callbacks: %v then %v", bodies[0]["statusName"], bodies[1]["statusName"])
			}
			if bodies[1]["paymentDetails"].(map[string]any)["token"] != "" {
				t.Errorf("a Capture saves no card: %v", bodies[1]["paymentDetails"])
			}

			rv = snNewReceiver(t)
			n = snPost(t, s, "init", map[string]any{"apiKey": sk, "amount": 1500, "callbackURL": rv.URL}).want(t, 201).str("TransactionNumber")
			for range 5 {
				snConfirm(t, s, sk, n, "4000000000000002").want(t, 402)
			}
			// One callback per update, in order: each of the four declines
			// that leave the transaction open (0, with the reason), then the
			// fifth's 6.
			_, bodies = snCallbacks(t, rv, 5)
			open, declined := 0, 0
			for i, b := range bodies {
				switch {
				case dig(b, "paymentDetails", "message") == nil:
					t.Errorf("a decline's callback without paymentDetails.message: %v", b)
				case i < 4 && b["status"] == float64(0) && b["statusName"] == "Initialize":
					open++
				case i == 4 && b["status"] == float64(6) && b["statusName"] == "TransactionDeclined":
					declined++
				}
			}
			if open != 4 || declined != 1 || len(bodies) != 5 {
				t.Errorf("after five declines: %d callbacks, %d Initialize then %d TransactionDeclined; want 4 then 1", len(bodies), open, declined)
			}

			rv = snNewReceiver(t)
			n = snPost(t, s, "init", map[string]any{"apiKey": sk, "amount": 1500, "callbackURL": rv.URL}).want(t, 201).str("TransactionNumber")
			snPost(t, s, "cancel/"+n, map[string]any{"apiKey": sk}).want(t, 200)
			if _, bodies = snCallbacks(t, rv, 1); bodies[0]["status"] != float64(9) {
				t.Errorf("after cancel: %v", bodies[0])
			}

			rv = snNewReceiver(t)
			n = snPost(t, s, "init", map[string]any{"apiKey": sk, "amount": 1500, "timeOut": 60, "callbackURL": rv.URL}).want(t, 201).str("TransactionNumber")
			rvExpireNow(t, s, n)
			if g := snGet(t, s, n, "apiKey", sk); g.Body["status"] != float64(8) || g.str("statusName") != "TransactionTimeout" {
				t.Errorf("past its timeOut: %s", g.Raw)
			}
			if _, bodies = snCallbacks(t, rv, 1); bodies[0]["status"] != float64(8) {
				t.Errorf("after the timeout: %v", bodies[0])
			}
			snFail(t, "cancel a timed-out transaction", snPost(t, s, "cancel/"+n, map[string]any{"apiKey": sk}), 422, "TransactionTimeout")
		})
	})
}

// snSocketURL is a transaction's socket.
func snSocketURL(s *server, number string) string {
	return "ws" + strings.TrimPrefix(s.URL, "http") + "/sensepass/api/transactions/" + number + "/socket"
}

// snFrame reads one pushed entity.
func snFrame(t testing.TB, ctx context.Context, conn *websocket.Conn) map[string]any {
	t.Helper()
	_, b, err := conn.Read(ctx)
	if err != nil {
		t.Fatalf("socket: %v", err)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("socket frame: %s", b)
	}
	return v
}

// TestSensePassSocket: the socket authenticates by its first message (or
// a header), pushes the entity now and at each change, Initialize →
// ProccessingPayment → TransactionApproved, and closes at the final state.
func TestSensePassSocket(t *testing.T) {
	backends(t, func(t *testing.T, opts ...option) {
		s := start(t, opts...)
		sk := s.Dev.SecretKey
		dk, _ := snDeviceKey(t, s, sk)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		n := snPost(t, s, "init", map[string]any{"deviceId": dk, "amount": 3000, "methodType": "Capture+Tokenize"}).want(t, 201).str("TransactionNumber")

		conn, _, err := websocket.Dial(ctx, snSocketURL(s, n), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.CloseNow()
		if err := conn.Write(ctx, websocket.MessageText, []byte(`{"deviceId":"`+dk+`"}`)); err != nil {
			t.Fatal(err)
		}
		var names []string
		f := snFrame(t, ctx, conn)
		snShape(t, "socket", snDecode(t, snSeedInit), f)
		names = append(names, fmt.Sprint(f["statusName"]))
		c := snConfirm(t, s, sk, n, "4000002500003155").want(t, 200)
		f = snFrame(t, ctx, conn)
		names = append(names, fmt.Sprint(f["statusName"]))
		passChallenge(t, c.str("next_action", "url"))
		f = snFrame(t, ctx, conn)
		names = append(names, fmt.Sprint(f["statusName"]))
		if got := strings.Join(names, " → "); got != "Initialize → ProccessingPayment → TransactionApproved" {
			t.Errorf("socket: %s", got)
		}
		if dig(f, "paymentDetails", "cardMask") != "400000******3155" || !strings.HasPrefix(fmt.Sprint(dig(f, "paymentDetails", "token")), "tok_") {
			t.Errorf("the approved frame: %v", f)
		}
		if _, _, err := conn.Read(ctx); websocket.CloseStatus(err) != websocket.StatusNormalClosure {
			t.Errorf("the socket did not close after the final state: %v", err)
		}

		// A header authenticates too; a final transaction is pushed once.
		conn2, _, err := websocket.Dial(ctx, snSocketURL(s, n), &websocket.DialOptions{HTTPHeader: http.Header{"apiKey": {sk}}})
		if err != nil {
			t.Fatal(err)
		}
		defer conn2.CloseNow()
		if f := snFrame(t, ctx, conn2); f["status"] != float64(5) {
			t.Errorf("header-authenticated socket: %v", f)
		}
		if _, _, err := conn2.Read(ctx); websocket.CloseStatus(err) != websocket.StatusNormalClosure {
			t.Errorf("a final transaction's socket did not close: %v", err)
		}

		// Revoking the device key closes its socket (1008) even when
		// nothing happens to the transaction.
		dk2, dk2ID := snDeviceKey(t, s, sk)
		n2 := snPost(t, s, "init", map[string]any{"apiKey": sk, "amount": 100}).want(t, 201).str("TransactionNumber")
		conn3, _, err := websocket.Dial(ctx, snSocketURL(s, n2), &websocket.DialOptions{HTTPHeader: http.Header{"deviceId": {dk2}}})
		if err != nil {
			t.Fatal(err)
		}
		defer conn3.CloseNow()
		if f := snFrame(t, ctx, conn3); f["status"] != float64(0) {
			t.Errorf("first frame: %v", f)
		}
		s.call("DELETE", "/v1/device_keys/"+dk2ID, sk, nil).want(t, 200)
		rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
		_, b, err := conn3.Read(rctx)
		rcancel()
		if websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
			t.Errorf("the socket of a revoked key, idle: %s %v, want closed with 1008", b, err)
		}

		// Refusals: a bad header key before the upgrade, a bad first
		// message, an oversized one, another merchant's transaction.
		if _, res, err := websocket.Dial(ctx, snSocketURL(s, n), &websocket.DialOptions{HTTPHeader: http.Header{"apiKey": {"sk_nope"}}}); err == nil || res == nil || res.StatusCode != 401 {
			t.Errorf("a wrong header key: %v %v", err, res)
		}
		other := s.newMerchant("Other shop")
		if _, res, err := websocket.Dial(ctx, snSocketURL(s, n), &websocket.DialOptions{HTTPHeader: http.Header{"apiKey": {other.SecretKey}}}); err == nil || res == nil || res.StatusCode != 404 {
			t.Errorf("another merchant's transaction: %v %v", err, res)
		}
		for what, first := range map[string]string{
			"a wrong key":              `{"apiKey":"sk_nope"}`,
			"not JSON":                 `hello`,
			"another merchant's":       `{"apiKey":"` + other.SecretKey + `"}`,
			"an oversized first frame": `{"apiKey":"` + strings.Repeat("k", 8<<10) + `"}`,
		} {
			c, _, err := websocket.Dial(ctx, snSocketURL(s, n), nil)
			if err != nil {
				t.Fatal(err)
			}
			c.Write(ctx, websocket.MessageText, []byte(first))
			_, _, err = c.Read(ctx)
			if st := websocket.CloseStatus(err); st != websocket.StatusPolicyViolation && st != websocket.StatusMessageTooBig {
				t.Errorf("%s: the socket was not refused: %v", what, err)
			}
			c.CloseNow()
		}
	})
}
