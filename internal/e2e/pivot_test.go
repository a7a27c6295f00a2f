package e2e

// The Pivot Payment dialect (/pivot) against the real server: access
// tokens, payment sessions in API mode paid with a card encrypted here the
// way Pivot clients do (hybrid RSA-OAEP + AES-256-GCM, or plain RSA-OAEP),
// stored tokens + CVC, 3-D Secure, the 422s, X-REQUEST-ID replays, the
// customer's stored payment methods and PAYMENT.* callbacks with X-API-Key.
// Helper names start with pv.

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// pvToken gets an access token for a merchant.
func pvToken(t testing.TB, s *server, id, sk string) string {
	t.Helper()
	r := s.call("POST", "/pivot/v1/access-token", "", map[string]any{"grantType": "client_credentials"},
		"X-MERCHANT-ID", id, "X-MERCHANT-SECRET", sk).want(t, 200)
	if r.str("code") != "00" || r.str("message") != "Success" || r.str("data", "expiresIn") != "900" || r.str("data", "tokenType") != "Bearer" {
		t.Fatalf("access token: %s", r.Raw)
	}
	return r.str("data", "accessToken")
}

// pvFail checks Pivot's error envelope.
func pvFail(t testing.TB, what string, r resp, status int, code, message string) {
	t.Helper()
	if r.Status != status || r.str("code") != code || !strings.Contains(r.str("message"), message) {
		t.Errorf("%s: want %d {code:%q, message ~ %q}, got %d %s", what, status, code, message, r.Status, r.Raw)
	}
	if _, ok := r.Body["data"]; !ok {
		t.Errorf("%s: no data field: %s", what, r.Raw)
	}
}

// pvOK checks a success envelope and returns data.
func pvOK(t testing.TB, what string, r resp) map[string]any {
	t.Helper()
	if r.Status != 200 || r.str("code") != "00" {
		t.Fatalf("%s: %d %s", what, r.Status, r.Raw)
	}
	d, _ := r.Body["data"].(map[string]any)
	return d
}

func pvStr(v any, path ...string) string { s, _ := dig(v, path...).(string); return s }

// pvCardJSON is the card plaintext Pivot clients encrypt.
func pvCardJSON(number, cvc string) []byte {
	b, _ := json.Marshal(map[string]any{"card": map[string]any{"number": number, "expiryMonth": "12",
		"expiryYear": fmt.Sprint(time.Now().Year() + 4), "cvc": cvc, "nameOnCard": "Siti Aminah"}})
	return b
}

// pvEncrypt encrypts a card to a session's encryptionKey: hybrid (a random
// AES-256-GCM key wrapped by RSA-OAEP SHA-256, envelope JSON in base64) or
// plain RSA-OAEP SHA-256, without a label.
func pvEncrypt(t testing.TB, spki string, plain []byte, hybrid bool) string {
	t.Helper()
	der, err := base64.StdEncoding.DecodeString(spki)
	if err != nil {
		t.Fatalf("encryptionKey: %v", err)
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		t.Fatal(err)
	}
	pub := k.(*rsa.PublicKey)
	if !hybrid {
		ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, plain, nil)
		if err != nil {
			t.Fatal(err)
		}
		return base64.StdEncoding.EncodeToString(ct)
	}
	key, nonce := make([]byte, 32), make([]byte, 12)
	rand.Read(key)
	rand.Read(nonce)
	blk, _ := aes.NewCipher(key)
	gcm, _ := cipher.NewGCM(blk)
	sealed := gcm.Seal(nil, nonce, plain, nil)
	wrapped, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString
	env, _ := json.Marshal(map[string]string{"encryptedKey": b64(wrapped), "nonce": b64(nonce), "ciphertext": b64(sealed)})
	return b64(env)
}

// pvAPISession creates an API-mode session and returns its data.
func pvAPISession(t testing.TB, s *server, tok string, extra map[string]any, hdr ...string) map[string]any {
	t.Helper()
	body := map[string]any{"clientReferenceId": "order-1", "amount": map[string]any{"value": 15000, "currency": "IDR"},
		"mode": "API", "paymentType": "SINGLE", "autoConfirm": false, "paymentMethod": map[string]any{"type": "CARD"},
		"redirectUrl": map[string]any{"successReturnUrl": "https://shop.example/ok", "failureReturnUrl": "https://shop.example/fail",
			"expirationReturnUrl": "https://shop.example/expired"}}
	for k, v := range extra {
		body[k] = v
	}
	return pvOK(t, "create", s.call("POST", "/pivot/v2/payments", tok, body, hdr...))
}

func pvConfirm(s *server, tok, id string, card map[string]any, extra ...any) resp {
	body := map[string]any{"paymentMethod": map[string]any{"type": "CARD", "card": card},
		"paymentMethodOptions": map[string]any{"card": map[string]any{"captureMethod": "automatic"}}}
	for i := 0; i+1 < len(extra); i += 2 {
		body[extra[i].(string)] = extra[i+1]
	}
	return s.call("POST", "/pivot/v2/payments/"+id+"/confirm", tok, body)
}

// pvNoCard fails if a card number or CVC is in a response or the logs.
func pvNoCard(t *testing.T, s *server, what string, raw []byte, pan, cvc string) {
	t.Helper()
	if bytes.Contains(raw, []byte(pan)) || (cvc != "" && snIsolated(raw, cvc)) {
		t.Errorf("%s echoes card data: %s", what, raw)
	}
}

// TestPivotAccessToken: credentials → a 900 s bearer token; wrong ones,
// a missing, forged, expired or other merchant's token answer 401 in
// Pivot's envelope.
func TestPivotAccessToken(t *testing.T) {
	s := start(t)
	tok := pvToken(t, s, s.Dev.ID, s.Dev.SecretKey)
	pvFail(t, "a valid token, an unknown customer", s.call("GET", "/pivot/v1/customers/cus_nope000000000", tok, nil), 404, "4040", "Customer not found")
	other := s.newMerchant("Other shop")
	for _, c := range []struct {
		what, id, sk string
	}{
		{"wrong secret", s.Dev.ID, other.SecretKey},
		{"wrong id", other.ID, s.Dev.SecretKey},
		{"unknown secret", s.Dev.ID, "sk_nope"},
		{"no secret", s.Dev.ID, ""},
		{"publishable key", s.Dev.ID, s.Dev.PublishableKey},
	} {
		r := s.call("POST", "/pivot/v1/access-token", "", map[string]any{"grantType": "client_credentials"},
			"X-MERCHANT-ID", c.id, "X-MERCHANT-SECRET", c.sk)
		pvFail(t, c.what, r, 401, "4010", "X-MERCHANT")
	}
	r := s.call("POST", "/pivot/v1/access-token", "", map[string]any{"grantType": "password"},
		"X-MERCHANT-ID", s.Dev.ID, "X-MERCHANT-SECRET", s.Dev.SecretKey)
	pvFail(t, "grantType password", r, 400, "4000", "grantType")

	path := "/pivot/v2/payments/ps_nothing00000000"
	pvFail(t, "no token", s.call("GET", path, "", nil), 401, "4011", "Bearer")
	parts := strings.Split(tok, ".")
	if len(parts) != 4 {
		t.Fatalf("token layout: %s", tok)
	}
	forged := parts[0] + "." + parts[1] + "." + parts[2] + "." + base64.RawURLEncoding.EncodeToString(make([]byte, 32))
	pvFail(t, "forged MAC", s.call("GET", path, forged, nil), 401, "4011", "invalid or has expired")
	later := fmt.Sprint(time.Now().Add(10 * time.Minute).Unix())
	pvFail(t, "changed expiry", s.call("GET", path, parts[0]+"."+parts[1]+"."+later+"."+parts[3], nil), 401, "4011", "")
	expired := fmt.Sprint(time.Now().Add(-time.Minute).Unix())
	pvFail(t, "expired", s.call("GET", path, parts[0]+"."+parts[1]+"."+expired+"."+parts[3], nil), 401, "4011", "")
	pvFail(t, "another merchant's id", s.call("GET", path, parts[0]+"."+other.ID+"."+parts[2]+"."+parts[3], nil), 401, "4011", "")
	pvFail(t, "a secret key as token", s.call("GET", path, s.Dev.SecretKey, nil), 401, "4011", "")
	// The token works; another merchant's token does not see this one's sessions.
	v := pvAPISession(t, s, tok, nil)
	pvOK(t, "GET", s.call("GET", "/pivot/v2/payments/"+pvStr(v, "id"), tok, nil))
	otherTok := pvToken(t, s, other.ID, other.SecretKey)
	pvFail(t, "another merchant's session", s.call("GET", "/pivot/v2/payments/"+pvStr(v, "id"), otherTok, nil), 404, "4040", "not found")
	if strings.Contains(s.Logs.String(), tok) || strings.Contains(s.Logs.String(), s.Dev.SecretKey) {
		t.Error("a token or secret key reached the logs")
	}
}

// TestPivotAPIFlow: API mode end to end, on both backends.
func TestPivotAPIFlow(t *testing.T) {
	backends(t, func(t *testing.T, opts ...option) {
		s := start(t, opts...)
		tok := pvToken(t, s, s.Dev.ID, s.Dev.SecretKey)
		const pan, cvc = "4242424242424242", "321"
		customer := map[string]any{"givenName": "Siti", "surname": "Aminah", "sureName": "Aminah", "email": "siti@example.id",
			"phoneNumber": map[string]any{"countryCode": "62", "number": "81234567"}, "refundPreference": map[string]any{"method": "ORIGINAL"}}

		// 1. A new card, hybrid-encrypted, saved for the customer.
		v := pvAPISession(t, s, tok, map[string]any{"saveForFutureUse": true, "customer": customer,
			"orderInformation": map[string]any{"items": []any{map[string]any{"name": "Batik", "qty": 1}}},
			"metadata":         map[string]any{"cart": "42", "n": 7}, "statementDescriptor": "BATIK SHOP",
			"paymentMethodOptions": map[string]any{"card": map[string]any{"captureMethod": "automatic"}}})
		id := pvStr(v, "id")
		if !strings.HasPrefix(id, "ps_") || v["status"] != "REQUIRE_CONFIRMATION" || v["mode"] != "API" || pvStr(v, "encryptionKey") == "" ||
			dig(v, "amount", "value") != float64(15000) || dig(v, "amount", "currency") != "IDR" || v["saveForFutureUse"] != true ||
			v["paymentUrl"] != nil || !strings.HasPrefix(pvStr(v, "customerId"), "cus_") || v["clientReferenceId"] != "order-1" ||
			dig(v, "metadata", "cart") != "42" || dig(v, "metadata", "n") != "7" || dig(v, "orderInformation", "items") == nil ||
			v["statementDescriptor"] != "BATIK SHOP" || len(v["chargeDetails"].([]any)) != 0 {
			t.Fatalf("created: %v", v)
		}
		if exp, err := time.Parse(time.RFC3339, pvStr(v, "expiryAt")); err != nil || time.Until(exp) < 14*time.Minute || time.Until(exp) > 16*time.Minute {
			t.Errorf("expiryAt %v: want 15 minutes", v["expiryAt"])
		}
		cus := pvStr(v, "customerId")
		ns := s.call("GET", "/v1/sessions/"+id, s.Dev.SecretKey, nil).want(t, 200)
		if ns.str("amount") != "" || dig(ns.Body, "amount") != float64(1500000) || ns.str("order_id") != "order-1" || ns.str("mode") != "api" {
			t.Errorf("the native session: %s", ns.Raw)
		}
		enc := pvEncrypt(t, pvStr(v, "encryptionKey"), pvCardJSON(pan, cvc), true)
		r := pvConfirm(s, tok, id, map[string]any{"encryptedCard": enc})
		pvNoCard(t, s, "confirm", r.Raw, pan, cvc)
		d := pvOK(t, "confirm", r)
		ch, _ := dig(d, "chargeDetails").([]any)
		if d["status"] != "PAID" || len(ch) != 1 || d["encryptionKey"] != nil {
			t.Fatalf("confirmed: %s", r.Raw)
		}
		c0 := ch[0].(map[string]any)
		savedTok := pvStr(c0, "token")
		if c0["status"] != "SUCCESS" || c0["isCaptured"] != true || c0["authorizedAmount"] != float64(15000) || c0["capturedAmount"] != float64(15000) ||
			pvStr(c0, "paidAt") == "" || !strings.HasPrefix(pvStr(c0, "id"), "pay_") || !strings.HasPrefix(savedTok, "tok_") ||
			dig(c0, "card", "first6") != "424242" || dig(c0, "card", "first8") != nil || dig(c0, "card", "last4") != "4242" ||
			dig(c0, "card", "expMonth") != "12" || dig(c0, "card", "expYear") != fmt.Sprint(time.Now().Year()+4) ||
			pvStr(c0, "card", "fingerprint") == "" {
			t.Errorf("charge: %v", c0)
		}
		// Confirming again: 422, already confirmed, with the session.
		r = pvConfirm(s, tok, id, map[string]any{"encryptedCard": enc})
		pvFail(t, "confirm twice", r, 422, "4221", "already confirmed")
		if pvStr(r.Body, "data", "status") != "PAID" {
			t.Errorf("confirm twice: data %s", r.Raw)
		}

		// 2. The customer's stored payment methods.
		cr := s.call("GET", "/pivot/v1/customers/"+cus, tok, nil)
		cd := pvOK(t, "customer", cr)
		spm, _ := cd["storedPaymentMethods"].([]any)
		if cd["givenName"] != "Siti" || cd["sureName"] != "Aminah" || cd["email"] != "siti@example.id" ||
			dig(cd, "phoneNumber", "countryCode") != "62" || dig(cd, "phoneNumber", "number") != "81234567" || len(spm) != 1 {
			t.Fatalf("customer: %s", cr.Raw)
		}
		m0 := spm[0].(map[string]any)
		if m0["token"] != savedTok || m0["paymentMethod"] != "CARD" || m0["paymentChannel"] != "VISA" || m0["status"] != "ACTIVE" ||
			pvStr(m0, "createdAt") == "" || dig(m0, "card", "network") != "VISA" || dig(m0, "card", "first6") != "424242" ||
			dig(m0, "card", "first8") != nil || dig(m0, "card", "last4") != "4242" || dig(m0, "card", "expMonth") != "12" ||
			dig(m0, "card", "cardHolderFirstName") != "Siti" || dig(m0, "card", "cardHolderLastName") != "Aminah" ||
			pvStr(m0, "card", "fingerprint") != pvStr(c0, "card", "fingerprint") {
			t.Errorf("stored payment method: %v", m0)
		}
		pvNoCard(t, s, "customer", cr.Raw, pan, "")
		// The same customer object (same email) finds the same customer.
		v2 := pvAPISession(t, s, tok, map[string]any{"customer": customer})
		if v2["customerId"] != cus {
			t.Errorf("the customer object made another customer: %v", v2["customerId"])
		}

		// 3. A second session paid with the stored token + CVC.
		v3 := pvAPISession(t, s, tok, map[string]any{"customerId": cus, "amount": map[string]any{"value": "2500.50", "currency": "IDR"}})
		r = pvConfirm(s, tok, pvStr(v3, "id"), map[string]any{"token": savedTok, "cvc": cvc})
		d = pvOK(t, "confirm with token", r)
		if d["status"] != "PAID" || dig(d, "amount", "value") != 2500.5 || pvStr(d["chargeDetails"].([]any)[0], "status") != "SUCCESS" {
			t.Errorf("paid with the token: %s", r.Raw)
		}
		pvNoCard(t, s, "confirm with token", r.Raw, pan, cvc)
		// autoConfirm at creation with the stored card (seed: Use Saved Payment, API mode).
		r = s.call("POST", "/pivot/v2/payments", tok, map[string]any{"amount": map[string]any{"value": 1000, "currency": "IDR"}, "mode": "API",
			"customerId": cus, "autoConfirm": true, "paymentMethod": map[string]any{"type": "CARD", "card": map[string]any{"token": savedTok, "cvc": cvc}}})
		if d = pvOK(t, "autoConfirm", r); d["status"] != "PAID" {
			t.Errorf("autoConfirm with the stored card: %s", r.Raw)
		}
		// A token of another customer is not found.
		v4 := pvAPISession(t, s, tok, map[string]any{"customer": map[string]any{"givenName": "Budi", "email": "budi@example.id"}})
		pvFail(t, "someone else's token", pvConfirm(s, tok, pvStr(v4, "id"), map[string]any{"token": savedTok, "cvc": cvc}), 404, "4040", "paymentMethod.card.token")

		// 4. Plain RSA-OAEP, without saving (no customer).
		v5 := pvAPISession(t, s, tok, nil)
		r = pvConfirm(s, tok, pvStr(v5, "id"), map[string]any{"encryptedCard": pvEncrypt(t, pvStr(v5, "encryptionKey"), pvCardJSON("5555555555554444", "123"), false)})
		if d = pvOK(t, "plain OAEP", r); d["status"] != "PAID" || pvStr(d["chargeDetails"].([]any)[0], "card", "network") != "MASTERCARD" ||
			dig(d["chargeDetails"].([]any)[0], "token") != nil {
			t.Errorf("plain OAEP: %s", r.Raw)
		}
		// Garbage and a card encrypted to nothing: 400 naming the field.
		pvFail(t, "garbage encryptedCard", pvConfirm(s, tok, pvStr(v4, "id"), map[string]any{"encryptedCard": "bm90IGEgY2FyZA=="}), 400, "4000",
			"paymentMethod.card.encryptedCard")
		pvFail(t, "no card", pvConfirm(s, tok, pvStr(v4, "id"), map[string]any{}), 400, "4000", "paymentMethod.card.encryptedCard")

		// 5. A declined card leaves the session open for another.
		r = pvConfirm(s, tok, pvStr(v4, "id"), map[string]any{"encryptedCard": pvEncrypt(t, pvStr(v4, "encryptionKey"), pvCardJSON("4000000000000002", "123"), true)})
		pvFail(t, "declined", r, 402, "4020", "")
		if chs, _ := dig(r.Body, "data", "chargeDetails").([]any); pvStr(r.Body, "data", "status") != "REQUIRE_PAYMENT_METHOD" ||
			len(chs) != 1 || pvStr(chs[0], "status") != "FAILED" || pvStr(chs[0], "failureCode") == "" {
			t.Errorf("declined: %s", r.Raw)
		}

		// 6. 3-D Secure: REQUIRE_ACTION with the challenge as paymentUrl.
		v6 := pvAPISession(t, s, tok, map[string]any{"paymentMethodOptions": map[string]any{"card": map[string]any{"threeDsMethod": "CHALLENGE"}}})
		r = pvConfirm(s, tok, pvStr(v6, "id"), map[string]any{"encryptedCard": pvEncrypt(t, pvStr(v6, "encryptionKey"), pvCardJSON("4000002500003155", "123"), true)})
		d = pvOK(t, "3-D Secure", r)
		if d["status"] != "REQUIRE_ACTION" || !strings.HasPrefix(pvStr(d, "paymentUrl"), s.URL) ||
			pvStr(d["chargeDetails"].([]any)[0], "status") != "WAITING_FOR_AUTHENTICATION" ||
			dig(d, "paymentMethodOptions", "card", "threeDsMethod") != "CHALLENGE" {
			t.Fatalf("3-D Secure: %s", r.Raw)
		}
		pvFail(t, "confirm while waiting for 3-D Secure", pvConfirm(s, tok, pvStr(v6, "id"), map[string]any{"encryptedCard": enc}), 422, "4221", "")
		passChallenge(t, pvStr(d, "paymentUrl"))
		g := pvOK(t, "GET after 3-D Secure", s.call("GET", "/pivot/v2/payments/"+pvStr(v6, "id"), tok, nil))
		c6 := g["chargeDetails"].([]any)[0]
		if g["status"] != "PAID" || pvStr(c6, "status") != "SUCCESS" || pvStr(c6, "card", "authenticationResult", "status") != "AUTHENTICATED" {
			t.Errorf("after 3-D Secure: %v", g)
		}

		// 7. Expired: 422.
		v7 := pvAPISession(t, s, tok, nil)
		rvExpireNow(t, s, pvStr(v7, "id"))
		pvFail(t, "confirm expired", pvConfirm(s, tok, pvStr(v7, "id"), map[string]any{"encryptedCard": enc}), 422, "4220", "expired")
		if g := pvOK(t, "GET expired", s.call("GET", "/pivot/v2/payments/"+pvStr(v7, "id"), tok, nil)); g["status"] != "EXPIRED" {
			t.Errorf("expired: %v", g["status"])
		}

		// 8. X-REQUEST-ID: the same request returns the same session; the
		// same id with another body is a conflict.
		a := pvAPISession(t, s, tok, nil, "X-REQUEST-ID", "req-pv-1")
		b := s.call("POST", "/pivot/v2/payments", tok, map[string]any{"clientReferenceId": "order-1", "amount": map[string]any{"value": 15000, "currency": "IDR"},
			"mode": "API", "paymentType": "SINGLE", "autoConfirm": false, "paymentMethod": map[string]any{"type": "CARD"},
			"redirectUrl": map[string]any{"successReturnUrl": "https://shop.example/ok", "failureReturnUrl": "https://shop.example/fail",
				"expirationReturnUrl": "https://shop.example/expired"}}, "X-REQUEST-ID", "req-pv-1")
		if pvOK(t, "replay", b)["id"] != a["id"] || b.Header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("X-REQUEST-ID replay made another session: %v vs %s", a["id"], b.Raw)
		}
		pvFail(t, "X-REQUEST-ID reused", s.call("POST", "/pivot/v2/payments", tok, map[string]any{"amount": map[string]any{"value": 1, "currency": "IDR"}},
			"X-REQUEST-ID", "req-pv-1"), 409, "4090", "X-REQUEST-ID")
		// The same request id on confirm is its own scope.
		enc8 := pvEncrypt(t, pvStr(a, "encryptionKey"), pvCardJSON(pan, cvc), true)
		c1 := pvConfirm(s, tok, pvStr(a, "id"), map[string]any{"encryptedCard": enc8})
		if pvOK(t, "confirm with a request id", c1)["status"] != "PAID" {
			t.Errorf("confirm: %s", c1.Raw)
		}

		pvNoCard(t, s, "the logs", []byte(s.Logs.String()), pan, cvc)
		snNoCardInLogs(t, s, "4000002500003155", "123")
	})
}

// TestPivotBadInput: amounts, expiryAt, modes and options answer 400
// naming the field; unknown paths 404/405 in the envelope.
func TestPivotBadInput(t *testing.T) {
	s := start(t)
	tok := pvToken(t, s, s.Dev.ID, s.Dev.SecretKey)
	base := func() map[string]any {
		return map[string]any{"amount": map[string]any{"value": 10000, "currency": "IDR"}, "mode": "API"}
	}
	for _, c := range []struct {
		set  map[string]any
		want string
	}{
		{map[string]any{"amount": nil}, "amount is required"},
		{map[string]any{"amount": map[string]any{"value": 0, "currency": "IDR"}}, "amount.value must be greater than 0"},
		{map[string]any{"amount": map[string]any{"value": -5, "currency": "IDR"}}, "amount.value must be greater than 0"},
		{map[string]any{"amount": map[string]any{"value": "12.345", "currency": "IDR"}}, "amount.value must have at most 2 decimals"},
		{map[string]any{"amount": map[string]any{"value": 1e15, "currency": "IDR"}}, "amount.value"},
		{map[string]any{"amount": map[string]any{"value": "ten", "currency": "IDR"}}, "amount.value must be a decimal number"},
		{map[string]any{"amount": map[string]any{"value": true, "currency": "IDR"}}, "amount.value"},
		{map[string]any{"amount": map[string]any{"value": 10, "currency": "XXY"}}, "amount.currency"},
		{map[string]any{"mode": "POPUP"}, "mode must be REDIRECT or API"},
		{map[string]any{"paymentType": "MULTIPLE"}, "paymentType must be SINGLE"},
		{map[string]any{"paymentMethod": map[string]any{"type": "EWALLET"}}, "paymentMethod.type must be CARD"},
		{map[string]any{"paymentMethodOptions": map[string]any{"card": map[string]any{"captureMethod": "later"}}}, "captureMethod must be automatic or manual"},
		{map[string]any{"paymentMethodOptions": map[string]any{"card": map[string]any{"threeDsMethod": "MAYBE"}}}, "threeDsMethod must be CHALLENGE or NEVER"},
		{map[string]any{"expiryAt": "tomorrow"}, "expiryAt must be a time in RFC 3339"},
		{map[string]any{"expiryAt": time.Now().Add(10 * time.Second).Format(time.RFC3339)}, "expiryAt must be between 1 minute and 24 hours"},
		{map[string]any{"expiryAt": time.Now().Add(25 * time.Hour).Format(time.RFC3339)}, "expiryAt must be between"},
		{map[string]any{"redirectUrl": map[string]any{"successReturnUrl": "ftp://x"}}, "redirectUrl.successReturnUrl"},
		{map[string]any{"callbackUrl": "http://169.254.169.254/"}, "callbackUrl is not allowed"},
		{map[string]any{"saveForFutureUse": true}, "saveForFutureUse needs customerId or customer"},
		{map[string]any{"saveForFutureUse": true, "saveForFuture": false}, "disagree"},
		{map[string]any{"showSavedPayment": true}, "showSavedPayment"},
		{map[string]any{"clientReferenceId": "card 4242 4242 4242 4242"}, "clientReferenceId must not contain a card number"},
		{map[string]any{"metadata": map[string]any{"note": "4242424242424242"}}, "metadata.note must not contain a card number"},
		{map[string]any{"metadata": map[string]any{"pivot.x": "1"}}, "reserved"},
		{map[string]any{"customer": map[string]any{"email": "not an email"}}, "customer.email"},
		{map[string]any{"autoConfirm": "yes"}, "autoConfirm must not be a JSON string"},
		{map[string]any{"paymentMethod": map[string]any{"type": "CARD", "card": map[string]any{"token": "tok_x"}}}, "autoConfirm true"},
	} {
		body := base()
		for k, v := range c.set {
			body[k] = v
		}
		r := s.call("POST", "/pivot/v2/payments", tok, body)
		pvFail(t, fmt.Sprint(c.set), r, 400, "4000", c.want)
		if bytes.Contains(r.Raw, []byte("4242")) {
			t.Errorf("an error echoes the card number: %s", r.Raw)
		}
	}
	// Not a Pivot session: the native API's sessions are not shown here.
	native := s.call("POST", "/v1/sessions", s.Dev.SecretKey, map[string]any{"amount": 100}).want(t, 201).str("id")
	pvFail(t, "a native session", s.call("GET", "/pivot/v2/payments/"+native, tok, nil), 404, "4040", "not found")
	pvFail(t, "unknown customer", s.call("GET", "/pivot/v1/customers/4242424242424242", tok, nil), 404, "4040", "Customer not found")
	for _, c := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{"GET", "/pivot/v1/access-token", 405, "POST"},
		{"GET", "/pivot/v2/payments", 405, "POST"},
		{"DELETE", "/pivot/v2/payments/" + native, 405, "GET"},
		{"GET", "/pivot/v2/payments/" + native + "/confirm", 405, "POST"},
		{"GET", "/pivot/v2/refunds/4242424242424242", 404, ""},
		{"GET", "/pivot/", 404, ""},
	} {
		r := s.call(c.method, c.path, tok, nil)
		if r.Status != c.status || r.Header.Get("Allow") != c.allow || r.str("code") == "" || bytes.Contains(r.Raw, []byte("4242424242424242")) {
			t.Errorf("%s %s: %d Allow %q: %s", c.method, c.path, r.Status, r.Header.Get("Allow"), r.Raw)
		}
	}
}

// pvHook is one callback the merchant's server received.
type pvHook struct {
	Header http.Header
	Body   map[string]any
}

// pvReceiver is the merchant's callbackUrl; it answers status.
type pvReceiver struct {
	URL    string
	status int
	mu     sync.Mutex
	got    []pvHook
}

func pvNewReceiver(t testing.TB, status int) *pvReceiver {
	rv := &pvReceiver{status: status}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var b map[string]any
		json.Unmarshal(raw, &b)
		rv.mu.Lock()
		rv.got = append(rv.got, pvHook{Header: r.Header.Clone(), Body: b})
		rv.mu.Unlock()
		w.WriteHeader(rv.status)
	}))
	t.Cleanup(srv.Close)
	rv.URL = srv.URL + "/pivot/callback"
	return rv
}

func (rv *pvReceiver) all() []pvHook {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	return append([]pvHook(nil), rv.got...)
}

// TestPivotCallbacks: a session's outcome is POSTed to its callbackUrl as
// {"event","data"} with X-API-Key = the merchant's callback secret; steps
// between are not told; a 400 answer is not retried.
func TestPivotCallbacks(t *testing.T) {
	s := start(t, withWebhookRetryBase(100*time.Millisecond))
	tok := pvToken(t, s, s.Dev.ID, s.Dev.SecretKey)
	secret, _ := s.callbackSecret(s.Dev.SecretKey)
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("callback secret %q", secret)
	}
	rv := pvNewReceiver(t, 200)
	v := pvAPISession(t, s, tok, map[string]any{"callbackUrl": rv.URL})
	id := pvStr(v, "id")
	r := pvConfirm(s, tok, id, map[string]any{"encryptedCard": pvEncrypt(t, pvStr(v, "encryptionKey"), pvCardJSON("4000002500003155", "123"), true)})
	d := pvOK(t, "confirm", r)
	passChallenge(t, pvStr(d, "paymentUrl"))
	s.call("GET", "/pivot/v2/payments/"+id, tok, nil) // a read settles the session
	waitUntil(t, 15*time.Second, "the PAYMENT.PAID callback", func() bool { return len(rv.all()) >= 1 })
	time.Sleep(300 * time.Millisecond)
	hooks := rv.all()
	if len(hooks) != 1 {
		t.Fatalf("%d callbacks, want 1 (the outcome only)", len(hooks))
	}
	h := hooks[0]
	if h.Header.Get("X-API-Key") != secret || h.Header.Get("Content-Type") != "application/json" || h.Body["event"] != "PAYMENT.PAID" ||
		pvStr(h.Body, "data", "id") != id || pvStr(h.Body, "data", "status") != "PAID" ||
		pvStr(dig(h.Body, "data", "chargeDetails").([]any)[0], "paidAt") == "" {
		t.Errorf("callback: %v %v", h.Header, h.Body)
	}

	// A receiver answering 400 gets one attempt: Pivot retries only 5xx, 408, 429.
	bad := pvNewReceiver(t, 400)
	v = pvAPISession(t, s, tok, map[string]any{"callbackUrl": bad.URL})
	pvOK(t, "confirm", pvConfirm(s, tok, pvStr(v, "id"), map[string]any{"encryptedCard": pvEncrypt(t, pvStr(v, "encryptionKey"), pvCardJSON("4242424242424242", "123"), false)}))
	waitUntil(t, 15*time.Second, "the callback", func() bool { return len(bad.all()) >= 1 })
	time.Sleep(time.Second)
	if n := len(bad.all()); n != 1 {
		t.Errorf("a 400 answer was retried: %d attempts", n)
	}
	evs := rwEvents(t, s, s.Dev.SecretKey, "")
	found := false
	for _, e := range evs {
		if e["type"] != "session.succeeded" || dig(e, "data", "object", "id") != pvStr(v, "id") {
			continue
		}
		full := s.call("GET", "/v1/events/"+e["id"].(string), s.Dev.SecretKey, nil).want(t, 200)
		for _, dl := range full.Body["deliveries"].([]any) {
			if pvStr(dl, "url") == bad.URL {
				found = true
				if pvStr(dl, "status") != "failed" || dig(dl, "next_attempt") != nil {
					t.Errorf("the 400 delivery: %v", dl)
				}
			}
		}
	}
	if !found {
		t.Error("no delivery to the 400 receiver in the event log")
	}

	// Cancelled (the card holder's cancel on the hosted page) and expired are told too.
	ex := pvNewReceiver(t, 200)
	v = pvAPISession(t, s, tok, map[string]any{"callbackUrl": ex.URL})
	rvExpireNow(t, s, pvStr(v, "id"))
	s.call("GET", "/pivot/v2/payments/"+pvStr(v, "id"), tok, nil)
	waitUntil(t, 15*time.Second, "the PAYMENT.EXPIRED callback", func() bool { return len(ex.all()) >= 1 })
	if e := ex.all()[0]; e.Body["event"] != "PAYMENT.EXPIRED" || pvStr(e.Body, "data", "status") != "EXPIRED" {
		t.Errorf("expired callback: %v", e.Body)
	}
}
