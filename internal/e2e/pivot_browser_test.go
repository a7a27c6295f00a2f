package e2e

// A Pivot REDIRECT-mode session paid on Coffer's hosted page in real
// headless Chromium, as the seed's "Redirection Mode" describes: the
// paymentUrl is opened, a card that needs 3-D Secure is typed, "save for
// future use" ticked, the OTP answered, and the browser lands on
// successReturnUrl; the callbackUrl receives PAYMENT.PAID with X-API-Key
// and the customer then has the card among its storedPaymentMethods.
// SQLite only: pivot_test.go covers both backends over HTTP.

import (
	"testing"
	"time"
)

func TestBrowserPivotRedirect(t *testing.T) {
	s := start(t)
	tok := pvToken(t, s, s.Dev.ID, s.Dev.SecretKey)
	secret, _ := s.callbackSecret(s.Dev.SecretKey)
	rs, rv := newReturnSite(t), pvNewReceiver(t, 200)
	// The seed's steps: mode REDIRECT, saveForFutureUse true, autoConfirm
	// true with paymentMethod and paymentMethodOptions, the three URLs,
	// customer and orderInformation.
	r := s.call("POST", "/pivot/v2/payments", tok, map[string]any{
		"clientReferenceId": "INV-1001", "amount": map[string]any{"value": 30000, "currency": "IDR"}, "paymentType": "SINGLE",
		"mode": "REDIRECT", "saveForFutureUse": true, "autoConfirm": true, "paymentMethod": map[string]any{"type": "CARD"},
		"paymentMethodOptions": map[string]any{"card": map[string]any{"captureMethod": "automatic", "threeDsMethod": "CHALLENGE"}},
		"redirectUrl": map[string]any{"successReturnUrl": bsTo(rs, "success"), "failureReturnUrl": bsTo(rs, "failure"),
			"expirationReturnUrl": bsTo(rs, "expired")},
		"customer": map[string]any{"givenName": "Abu", "surname": "Ali", "email": "abu@example.id",
			"phoneNumber": map[string]any{"countryCode": "62", "number": "8111222"}},
		"orderInformation": map[string]any{"productDetails": []any{map[string]any{"name": "Kopi", "quantity": 2}}},
		"callbackUrl":      rv.URL,
	}, "X-REQUEST-ID", "browser-1")
	d := pvOK(t, "create", r)
	id, cus := pvStr(d, "id"), pvStr(d, "customerId")
	if d["status"] != "REQUIRE_PAYMENT_METHOD" || pvStr(d, "paymentUrl") != s.URL+"/pay/"+id || d["mode"] != "REDIRECT" || d["saveForFutureUse"] != true {
		t.Fatalf("created: %s", r.Raw)
	}

	ctx := newBrowser(t)
	console := bsConsole(t, ctx)
	bsOpenCheckout(t, ctx, pvStr(d, "paymentUrl"))
	if amt := b3dsElemText(t, ctx, "amount"); amt != "IDR 30000.00" {
		t.Errorf("#amount %q", amt)
	}
	bsFillCard(t, ctx, "4000 0025 0000 3155", "123", "Abu Ali")
	bsClick(t, ctx, "save")
	bsClick(t, ctx, "pay")
	bsWait(t, ctx, "the 3-D Secure challenge page", `!!document.getElementById("otp")`)
	b3dsNoPAN(t, ctx, "4000002500003155")
	if g := pvOK(t, "GET during 3-D Secure", s.call("GET", "/pivot/v2/payments/"+id, tok, nil)); g["status"] != "REQUIRE_ACTION" {
		t.Errorf("during the challenge: %v", g["status"])
	}
	b3dsSubmit(t, ctx, b3dsOTP)
	bsWait(t, ctx, "the merchant's successReturnUrl", `!!document.getElementById("back")`)
	b3dsWantQuery(t, b3dsAtReturn(t, ctx, rs), map[string]string{"cart": "42", "to": "success", "session_id": id})
	console("paying through 3-D Secure")

	g := pvOK(t, "GET", s.call("GET", "/pivot/v2/payments/"+id, tok, nil))
	ch := g["chargeDetails"].([]any)
	if g["status"] != "PAID" || len(ch) != 1 || pvStr(ch[0], "status") != "SUCCESS" || pvStr(ch[0], "card", "authenticationResult", "status") != "AUTHENTICATED" {
		t.Fatalf("after paying: %v", g)
	}
	waitUntil(t, 15*time.Second, "the PAYMENT.PAID callback", func() bool { return len(rv.all()) >= 1 })
	h := rv.all()[0]
	if h.Header.Get("X-API-Key") != secret || h.Body["event"] != "PAYMENT.PAID" || pvStr(h.Body, "data", "id") != id ||
		pvStr(h.Body, "data", "status") != "PAID" {
		t.Errorf("callback: %v %v", h.Header, h.Body)
	}
	c := pvOK(t, "customer", s.call("GET", "/pivot/v1/customers/"+cus, tok, nil))
	spm := c["storedPaymentMethods"].([]any)
	if len(spm) != 1 || pvStr(spm[0], "token") != pvStr(ch[0], "token") || pvStr(spm[0], "card", "last4") != "3155" || pvStr(spm[0], "status") != "ACTIVE" {
		t.Errorf("stored payment methods: %v", c)
	}
	snNoCardInLogs(t, s, "4000002500003155", "123")
}
