package pivot

// A Pivot REDIRECT-mode session paid on Coffer's hosted page in real
// headless Chromium, as the seed's "Redirection Mode" describes: the
// paymentUrl is opened, a card that needs 3-D Secure is typed, "save for
// future use" ticked, the OTP answered, and the browser lands on
// successReturnUrl; the callbackUrl receives PAYMENT.PAID with X-API-Key
// and the customer then has the card among its storedPaymentMethods.
// SQLite only: payments_test.go covers both backends over HTTP.

import (
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

func TestBrowserPivotRedirect(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	tok := harness.PivotToken(t, s, s.Dev.ID, s.Dev.SecretKey)
	secret := s.CallbackSecret(s.Dev.SecretKey)
	rs, rv := harness.NewReturnSite(t), harness.NewRecorder(t, "/pivot/callback")
	// The seed's steps: mode REDIRECT, saveForFutureUse true, autoConfirm
	// true with paymentMethod and paymentMethodOptions, the three URLs,
	// customer and orderInformation.
	r := s.Call("POST", "/pivot/v2/payments", tok, map[string]any{
		"clientReferenceId": "INV-1001", "amount": map[string]any{"value": 30000, "currency": "IDR"}, "paymentType": "SINGLE",
		"mode": "REDIRECT", "saveForFutureUse": true, "autoConfirm": true, "paymentMethod": map[string]any{"type": "CARD"},
		"paymentMethodOptions": map[string]any{"card": map[string]any{"captureMethod": "automatic", "threeDsMethod": "CHALLENGE"}},
		"redirectUrl": map[string]any{"successReturnUrl": rs.To("success"), "failureReturnUrl": rs.To("failure"),
			"expirationReturnUrl": rs.To("expired")},
		"customer": map[string]any{"givenName": "Abu", "surname": "Ali", "email": "abu@example.id",
			"phoneNumber": map[string]any{"countryCode": "62", "number": "8111222"}},
		"orderInformation": map[string]any{"productDetails": []any{map[string]any{"name": "Kopi", "quantity": 2}}},
		"callbackUrl":      rv.URL,
	}, "X-REQUEST-ID", "browser-1")
	d := harness.PivotOK(t, "create", r)
	id, cus := harness.Str(d, "id"), harness.Str(d, "customerId")
	if d["status"] != "REQUIRE_PAYMENT_METHOD" || harness.Str(d, "paymentUrl") != s.URL+"/pay/"+id || d["mode"] != "REDIRECT" || d["saveForFutureUse"] != true {
		t.Fatalf("created: %s", r.Raw)
	}

	ctx := harness.NewBrowser(t)
	console := harness.WatchConsole(t, ctx)
	harness.OpenCheckout(t, ctx, harness.Str(d, "paymentUrl"))
	if amt := harness.ElementText(t, ctx, "amount"); amt != "IDR 30000.00" {
		t.Errorf("#amount %q", amt)
	}
	harness.FillCard(t, ctx, "4000 0025 0000 3155", "123", "Abu Ali")
	harness.Click(t, ctx, "save")
	harness.Click(t, ctx, "pay")
	harness.WaitJS(t, ctx, "the 3-D Secure challenge page", `!!document.getElementById("otp")`)
	harness.PageNoPAN(t, ctx, "4000002500003155")
	if g := harness.PivotOK(t, "GET during 3-D Secure", s.Call("GET", "/pivot/v2/payments/"+id, tok, nil)); g["status"] != "REQUIRE_ACTION" {
		t.Errorf("during the challenge: %v", g["status"])
	}
	harness.EnterOTP(t, ctx, harness.OTP)
	harness.WaitJS(t, ctx, "the merchant's successReturnUrl", `!!document.getElementById("back")`)
	harness.WantQuery(t, harness.AtReturn(t, ctx, rs), map[string]string{"cart": "42", "to": "success", "session_id": id})
	console("paying through 3-D Secure")

	g := harness.PivotOK(t, "GET", s.Call("GET", "/pivot/v2/payments/"+id, tok, nil))
	ch := g["chargeDetails"].([]any)
	if g["status"] != "PAID" || len(ch) != 1 || harness.Str(ch[0], "status") != "SUCCESS" || harness.Str(ch[0], "card", "authenticationResult", "status") != "AUTHENTICATED" {
		t.Fatalf("after paying: %v", g)
	}
	harness.WaitUntil(t, 15*time.Second, "the PAYMENT.PAID callback", func() bool { return len(rv.Hits()) >= 1 })
	h := rv.Hits()[0]
	if h.Header.Get("X-API-Key") != secret || h.JSON()["event"] != "PAYMENT.PAID" || harness.Str(h.JSON(), "data", "id") != id ||
		harness.Str(h.JSON(), "data", "status") != "PAID" {
		t.Errorf("callback: %v %v", h.Header, h.JSON())
	}
	c := harness.PivotOK(t, "customer", s.Call("GET", "/pivot/v1/customers/"+cus, tok, nil))
	spm := c["storedPaymentMethods"].([]any)
	if len(spm) != 1 || harness.Str(spm[0], "token") != harness.Str(ch[0], "token") || harness.Str(spm[0], "card", "last4") != "3155" || harness.Str(spm[0], "status") != "ACTIVE" {
		t.Errorf("stored payment methods: %v", c)
	}
	s.NoCardInLogs(t, "4000002500003155", "123")
}
