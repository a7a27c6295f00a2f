package pivot

// Payment sessions in API mode paid with a card encrypted here the way
// Pivot clients do (hybrid RSA-OAEP + AES-256-GCM, or plain RSA-OAEP),
// stored tokens + CVC, 3-D Secure, declines and expiry, autoConfirm at
// creation, and what a session reads after the payment changes natively.

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// TestPivotAPIFlow: API mode end to end, on both backends.
func TestPivotAPIFlow(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		s := harness.Start(t, opts...)
		tok := harness.PivotToken(t, s, s.Dev.ID, s.Dev.SecretKey)
		const pan, cvc = "4242424242424242", "321"
		customer := map[string]any{"givenName": "Siti", "surname": "Aminah", "sureName": "Aminah", "email": "siti@example.id",
			"phoneNumber": map[string]any{"countryCode": "62", "number": "81234567"}, "refundPreference": map[string]any{"method": "ORIGINAL"}}

		// 1. A new card, hybrid-encrypted, saved for the customer.
		v := harness.PivotAPISession(t, s, tok, map[string]any{"saveForFutureUse": true, "customer": customer,
			"orderInformation": map[string]any{"items": []any{map[string]any{"name": "Batik", "qty": 1}}},
			"metadata":         map[string]any{"cart": "42", "n": 7}, "statementDescriptor": "BATIK SHOP",
			"paymentMethodOptions": map[string]any{"card": map[string]any{"captureMethod": "automatic"}}})
		id := harness.Str(v, "id")
		if !strings.HasPrefix(id, "ps_") || v["status"] != "REQUIRE_CONFIRMATION" || v["mode"] != "API" || harness.Str(v, "encryptionKey") == "" ||
			harness.Dig(v, "amount", "value") != float64(15000) || harness.Dig(v, "amount", "currency") != "IDR" || v["saveForFutureUse"] != true ||
			v["paymentUrl"] != nil || !strings.HasPrefix(harness.Str(v, "customerId"), "cus_") || v["clientReferenceId"] != "order-1" ||
			harness.Dig(v, "metadata", "cart") != "42" || harness.Dig(v, "metadata", "n") != "7" || harness.Dig(v, "orderInformation", "items") == nil ||
			v["statementDescriptor"] != "BATIK SHOP" || len(v["chargeDetails"].([]any)) != 0 {
			t.Fatalf("created: %v", v)
		}
		if exp, err := time.Parse(time.RFC3339, harness.Str(v, "expiryAt")); err != nil || time.Until(exp) < 14*time.Minute || time.Until(exp) > 16*time.Minute {
			t.Errorf("expiryAt %v: want 15 minutes", v["expiryAt"])
		}
		cus := harness.Str(v, "customerId")
		ns := s.Call("GET", "/v1/sessions/"+id, s.Dev.SecretKey, nil).Want(t, 200)
		if ns.Str("amount") != "" || harness.Dig(ns.Body, "amount") != float64(1500000) || ns.Str("order_id") != "order-1" || ns.Str("mode") != "api" {
			t.Errorf("the native session: %s", ns.Raw)
		}
		enc := harness.PivotEncrypt(t, harness.Str(v, "encryptionKey"), harness.PivotCardJSON(pan, cvc), true)
		r := harness.PivotConfirm(s, tok, id, map[string]any{"encryptedCard": enc})
		noCard(t, s, "confirm", r.Raw, pan, cvc)
		d := harness.PivotOK(t, "confirm", r)
		ch, _ := harness.Dig(d, "chargeDetails").([]any)
		if d["status"] != "PAID" || len(ch) != 1 || d["encryptionKey"] != nil {
			t.Fatalf("confirmed: %s", r.Raw)
		}
		c0 := ch[0].(map[string]any)
		savedTok := harness.Str(c0, "token")
		if c0["status"] != "SUCCESS" || c0["isCaptured"] != true || c0["authorizedAmount"] != float64(15000) || c0["capturedAmount"] != float64(15000) ||
			harness.Str(c0, "paidAt") == "" || !strings.HasPrefix(harness.Str(c0, "id"), "pay_") || !strings.HasPrefix(savedTok, "tok_") ||
			harness.Dig(c0, "card", "first6") != "424242" || harness.Dig(c0, "card", "first8") != nil || harness.Dig(c0, "card", "last4") != "4242" ||
			harness.Dig(c0, "card", "expMonth") != "12" || harness.Dig(c0, "card", "expYear") != fmt.Sprint(time.Now().Year()+4) ||
			harness.Str(c0, "card", "fingerprint") == "" {
			t.Errorf("charge: %v", c0)
		}
		// Confirming again: 422, already confirmed, with the session.
		r = harness.PivotConfirm(s, tok, id, map[string]any{"encryptedCard": enc})
		harness.PivotFail(t, "confirm twice", r, 422, "4221", "already confirmed")
		if harness.Str(r.Body, "data", "status") != "PAID" {
			t.Errorf("confirm twice: data %s", r.Raw)
		}

		// 2. The customer's stored payment methods.
		cr := s.Call("GET", "/pivot/v1/customers/"+cus, tok, nil)
		cd := harness.PivotOK(t, "customer", cr)
		spm, _ := cd["storedPaymentMethods"].([]any)
		if cd["givenName"] != "Siti" || cd["sureName"] != "Aminah" || cd["email"] != "siti@example.id" ||
			harness.Dig(cd, "phoneNumber", "countryCode") != "62" || harness.Dig(cd, "phoneNumber", "number") != "81234567" || len(spm) != 1 {
			t.Fatalf("customer: %s", cr.Raw)
		}
		m0 := spm[0].(map[string]any)
		if m0["token"] != savedTok || m0["paymentMethod"] != "CARD" || m0["paymentChannel"] != "VISA" || m0["status"] != "ACTIVE" ||
			harness.Str(m0, "createdAt") == "" || harness.Dig(m0, "card", "network") != "VISA" || harness.Dig(m0, "card", "first6") != "424242" ||
			harness.Dig(m0, "card", "first8") != nil || harness.Dig(m0, "card", "last4") != "4242" || harness.Dig(m0, "card", "expMonth") != "12" ||
			harness.Dig(m0, "card", "cardHolderFirstName") != "Siti" || harness.Dig(m0, "card", "cardHolderLastName") != "Aminah" ||
			harness.Str(m0, "card", "fingerprint") != harness.Str(c0, "card", "fingerprint") {
			t.Errorf("stored payment method: %v", m0)
		}
		noCard(t, s, "customer", cr.Raw, pan, "")
		// The same customer object (same email) finds the same customer.
		v2 := harness.PivotAPISession(t, s, tok, map[string]any{"customer": customer})
		if v2["customerId"] != cus {
			t.Errorf("the customer object made another customer: %v", v2["customerId"])
		}

		// 3. A second session paid with the stored token + CVC.
		v3 := harness.PivotAPISession(t, s, tok, map[string]any{"customerId": cus, "amount": map[string]any{"value": "2500.50", "currency": "IDR"}})
		r = harness.PivotConfirm(s, tok, harness.Str(v3, "id"), map[string]any{"token": savedTok, "cvc": cvc})
		d = harness.PivotOK(t, "confirm with token", r)
		if d["status"] != "PAID" || harness.Dig(d, "amount", "value") != 2500.5 || harness.Str(d["chargeDetails"].([]any)[0], "status") != "SUCCESS" {
			t.Errorf("paid with the token: %s", r.Raw)
		}
		noCard(t, s, "confirm with token", r.Raw, pan, cvc)
		// autoConfirm at creation with the stored card (seed: Use Saved Payment, API mode).
		r = s.Call("POST", "/pivot/v2/payments", tok, map[string]any{"amount": map[string]any{"value": 1000, "currency": "IDR"}, "mode": "API",
			"customerId": cus, "autoConfirm": true, "paymentMethod": map[string]any{"type": "CARD", "card": map[string]any{"token": savedTok, "cvc": cvc}}})
		if d = harness.PivotOK(t, "autoConfirm", r); d["status"] != "PAID" {
			t.Errorf("autoConfirm with the stored card: %s", r.Raw)
		}
		// A token of another customer is not found.
		v4 := harness.PivotAPISession(t, s, tok, map[string]any{"customer": map[string]any{"givenName": "Budi", "email": "budi@example.id"}})
		harness.PivotFail(t, "someone else's token", harness.PivotConfirm(s, tok, harness.Str(v4, "id"), map[string]any{"token": savedTok, "cvc": cvc}), 404, "4040", "paymentMethod.card.token")

		// 4. Plain RSA-OAEP, without saving (no customer).
		v5 := harness.PivotAPISession(t, s, tok, nil)
		r = harness.PivotConfirm(s, tok, harness.Str(v5, "id"), map[string]any{"encryptedCard": harness.PivotEncrypt(t, harness.Str(v5, "encryptionKey"), harness.PivotCardJSON("5555555555554444", "123"), false)})
		if d = harness.PivotOK(t, "plain OAEP", r); d["status"] != "PAID" || harness.Str(d["chargeDetails"].([]any)[0], "card", "network") != "MASTERCARD" ||
			harness.Dig(d["chargeDetails"].([]any)[0], "token") != nil {
			t.Errorf("plain OAEP: %s", r.Raw)
		}
		// Garbage and a card encrypted to nothing: 400 naming the field.
		harness.PivotFail(t, "garbage encryptedCard", harness.PivotConfirm(s, tok, harness.Str(v4, "id"), map[string]any{"encryptedCard": "bm90IGEgY2FyZA=="}), 400, "4000",
			"paymentMethod.card.encryptedCard")
		harness.PivotFail(t, "no card", harness.PivotConfirm(s, tok, harness.Str(v4, "id"), map[string]any{}), 400, "4000", "paymentMethod.card.encryptedCard")

		// 5. A declined card leaves the session open for another.
		r = harness.PivotConfirm(s, tok, harness.Str(v4, "id"), map[string]any{"encryptedCard": harness.PivotEncrypt(t, harness.Str(v4, "encryptionKey"), harness.PivotCardJSON("4000000000000002", "123"), true)})
		harness.PivotFail(t, "declined", r, 402, "4020", "")
		if chs, _ := harness.Dig(r.Body, "data", "chargeDetails").([]any); harness.Str(r.Body, "data", "status") != "REQUIRE_PAYMENT_METHOD" ||
			len(chs) != 1 || harness.Str(chs[0], "status") != "FAILED" || harness.Str(chs[0], "failureCode") == "" {
			t.Errorf("declined: %s", r.Raw)
		}

		// 6. 3-D Secure: REQUIRE_ACTION with the challenge as paymentUrl.
		v6 := harness.PivotAPISession(t, s, tok, map[string]any{"paymentMethodOptions": map[string]any{"card": map[string]any{"threeDsMethod": "CHALLENGE"}}})
		r = harness.PivotConfirm(s, tok, harness.Str(v6, "id"), map[string]any{"encryptedCard": harness.PivotEncrypt(t, harness.Str(v6, "encryptionKey"), harness.PivotCardJSON("4000002500003155", "123"), true)})
		d = harness.PivotOK(t, "3-D Secure", r)
		if d["status"] != "REQUIRE_ACTION" || !strings.HasPrefix(harness.Str(d, "paymentUrl"), s.URL) ||
			harness.Str(d["chargeDetails"].([]any)[0], "status") != "WAITING_FOR_AUTHENTICATION" ||
			harness.Dig(d, "paymentMethodOptions", "card", "threeDsMethod") != "CHALLENGE" {
			t.Fatalf("3-D Secure: %s", r.Raw)
		}
		harness.PivotFail(t, "confirm while waiting for 3-D Secure", harness.PivotConfirm(s, tok, harness.Str(v6, "id"), map[string]any{"encryptedCard": enc}), 422, "4221", "")
		harness.PassChallenge(t, harness.Str(d, "paymentUrl"))
		g := harness.PivotOK(t, "GET after 3-D Secure", s.Call("GET", "/pivot/v2/payments/"+harness.Str(v6, "id"), tok, nil))
		c6 := g["chargeDetails"].([]any)[0]
		if g["status"] != "PAID" || harness.Str(c6, "status") != "SUCCESS" || harness.Str(c6, "card", "authenticationResult", "status") != "AUTHENTICATED" {
			t.Errorf("after 3-D Secure: %v", g)
		}

		// 7. Expired: 422.
		v7 := harness.PivotAPISession(t, s, tok, nil)
		s.ExpireSession(t, harness.Str(v7, "id"))
		harness.PivotFail(t, "confirm expired", harness.PivotConfirm(s, tok, harness.Str(v7, "id"), map[string]any{"encryptedCard": enc}), 422, "4220", "expired")
		if g := harness.PivotOK(t, "GET expired", s.Call("GET", "/pivot/v2/payments/"+harness.Str(v7, "id"), tok, nil)); g["status"] != "EXPIRED" {
			t.Errorf("expired: %v", g["status"])
		}

		// 8. X-REQUEST-ID: the same request returns the same session; the
		// same id with another body is a conflict.
		a := harness.PivotAPISession(t, s, tok, nil, "X-REQUEST-ID", "req-pv-1")
		b := s.Call("POST", "/pivot/v2/payments", tok, map[string]any{"clientReferenceId": "order-1", "amount": map[string]any{"value": 15000, "currency": "IDR"},
			"mode": "API", "paymentType": "SINGLE", "autoConfirm": false, "paymentMethod": map[string]any{"type": "CARD"},
			"redirectUrl": map[string]any{"successReturnUrl": "https://shop.example/ok", "failureReturnUrl": "https://shop.example/fail",
				"expirationReturnUrl": "https://shop.example/expired"}}, "X-REQUEST-ID", "req-pv-1")
		if harness.PivotOK(t, "replay", b)["id"] != a["id"] || b.Header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("X-REQUEST-ID replay made another session: %v vs %s", a["id"], b.Raw)
		}
		harness.PivotFail(t, "X-REQUEST-ID reused", s.Call("POST", "/pivot/v2/payments", tok, map[string]any{"amount": map[string]any{"value": 1, "currency": "IDR"}},
			"X-REQUEST-ID", "req-pv-1"), 409, "4090", "X-REQUEST-ID")
		// The same request id on confirm is its own scope.
		enc8 := harness.PivotEncrypt(t, harness.Str(a, "encryptionKey"), harness.PivotCardJSON(pan, cvc), true)
		c1 := harness.PivotConfirm(s, tok, harness.Str(a, "id"), map[string]any{"encryptedCard": enc8})
		if harness.PivotOK(t, "confirm with a request id", c1)["status"] != "PAID" {
			t.Errorf("confirm: %s", c1.Raw)
		}

		noCard(t, s, "the logs", []byte(s.Logs.String()), pan, cvc)
		s.NoCardInLogs(t, "4000002500003155", "123")
	})
}

// regression: chargeDetails[].paidAt was rendered from the payment's
// Updated time, which moves whenever the payment changes after it was paid
// (a refund, a capture, a reconciliation). Clients read
// chargeDetails[0].paidAt as the moment money moved (seed/PROVIDERS.md:
// "clients read chargeDetails[0].paidAt"); it must stay the time of
// payment. Guards: paidAt unchanged by a refund.
func TestPivotPaidAtStableAfterRefund(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	tok := harness.PivotToken(t, s, s.Dev.ID, s.Dev.SecretKey)
	d := paid(t, s, tok, "4242424242424242", nil)
	c := charge(t, d)
	paidAt, payID := harness.Str(c, "paidAt"), harness.Str(c, "id")
	if d["status"] != "PAID" || paidAt == "" {
		t.Fatalf("paid: %v", d)
	}
	time.Sleep(1100 * time.Millisecond)
	s.Call("POST", "/v1/payments/"+payID+"/refunds", s.Dev.SecretKey, map[string]any{"amount": 100000}).Want(t, 201)
	g := harness.PivotOK(t, "GET", s.Call("GET", "/pivot/v2/payments/"+harness.Str(d, "id"), tok, nil))
	if got := harness.Str(charge(t, g), "paidAt"); got != paidAt {
		t.Errorf("paidAt moved from %s to %s after a refund: it must stay the time the charge was paid", paidAt, got)
	}
}

// regression: with captureMethod "manual" the session turns PAID (and the
// PAYMENT.PAID callback fires) at authorization; when the merchant then
// voided the authorization the Pivot session still read status "PAID"
// although its only charge was CANCELLED and no money moved, so a client
// shipping on status == "PAID" shipped unpaid goods. Guards: a session
// whose charge was voided is not PAID (it reads CANCELLED).
func TestPivotVoidedAuthorizationNotPaid(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	tok := harness.PivotToken(t, s, s.Dev.ID, s.Dev.SecretKey)
	d := paid(t, s, tok, "4242424242424242", map[string]any{
		"paymentMethodOptions": map[string]any{"card": map[string]any{"captureMethod": "manual"}}})
	c := charge(t, d)
	if c["status"] != "WAITING_FOR_CAPTURE" {
		t.Fatalf("manual capture: %v", c)
	}
	r := s.Call("POST", "/v1/payments/"+harness.Str(c, "id")+"/cancel", s.Dev.SecretKey, nil)
	if r.Status != 200 {
		t.Fatalf("native cancel: %d %s", r.Status, r.Raw)
	}
	g := harness.PivotOK(t, "GET", s.Call("GET", "/pivot/v2/payments/"+harness.Str(d, "id"), tok, nil))
	if g["status"] == "PAID" {
		t.Errorf("a voided authorization reads status PAID (charge %v)", charge(t, g)["status"])
	}
	if g["status"] != "CANCELLED" || charge(t, g)["status"] != "CANCELLED" || charge(t, g)["paidAt"] != nil {
		t.Errorf("a voided authorization: status %v, charge %v", g["status"], charge(t, g))
	}
}

// regression: a stored token paid without any CVC. The seed's "Use Saved
// Payment" flow always asks the card holder for the CVC of the saved card
// ("input CVV/CVC to proceed"; "fill Saved Payment Information … and CVC"),
// and the dialect's own error says the token goes "with
// paymentMethod.card.cvc"; yet {"token": …} alone was charged (200 PAID),
// so anyone holding the merchant's credentials and a token id could charge
// the card as a card-holder-present payment without the card holder.
// Guards: 400 naming paymentMethod.card.cvc when a token comes without a
// CVC, on confirm and on create with autoConfirm.
func TestPivotStoredTokenNeedsCVC(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	tok := harness.PivotToken(t, s, s.Dev.ID, s.Dev.SecretKey)
	a := paid(t, s, tok, "4242424242424242", map[string]any{"saveForFutureUse": true,
		"customer": map[string]any{"givenName": "Ani", "email": "rpv-cvc@example.id"}})
	saved := harness.Str(charge(t, a), "token")
	v := harness.PivotAPISession(t, s, tok, map[string]any{"customerId": harness.Str(a, "customerId")})
	r := harness.PivotConfirm(s, tok, harness.Str(v, "id"), map[string]any{"token": saved})
	harness.PivotFail(t, "token without cvc", r, 400, "4000", "paymentMethod.card.cvc")
	before := countSessions(t, s, s.Dev.ID)
	r = s.Call("POST", "/pivot/v2/payments", tok, map[string]any{"amount": map[string]any{"value": 1000, "currency": "IDR"}, "mode": "API",
		"customerId": harness.Str(a, "customerId"), "autoConfirm": true, "paymentMethod": map[string]any{"type": "CARD", "card": map[string]any{"token": saved}}})
	if r.Status == 200 {
		t.Errorf("autoConfirm with a token and no cvc was charged: %s", r.Str("data", "status"))
	}
	harness.PivotFail(t, "autoConfirm token without cvc", r, 400, "4000", "paymentMethod.card.cvc")
	if n := countSessions(t, s, s.Dev.ID) - before; n != 0 {
		t.Errorf("a refused autoConfirm left %d session(s)", n)
	}
	// A malformed CVC is refused before anything is charged; the session stays open.
	harness.PivotFail(t, "token with a bad cvc", harness.PivotConfirm(s, tok, harness.Str(v, "id"), map[string]any{"token": saved, "cvc": "12x"}), 400, "4000", "paymentMethod.card.cvc")
	harness.PivotOK(t, "token with its cvc", harness.PivotConfirm(s, tok, harness.Str(v, "id"), map[string]any{"token": saved, "cvc": "123"}))
}

// regression: POST /v2/payments with autoConfirm and a stored token that
// is not the customer's (or any confirm failure that is not a decline)
// answered a 4xx without the session, yet the session was created and
// stayed open: the client, told its request failed, had no id to read,
// retried (each retry leaving another orphan), and each orphan later sent
// a PAYMENT.EXPIRED callback for a payment the merchant never saw. Guards:
// a 4xx from create leaves no session behind (the token is checked before
// creating), or else the answer carries the created session as data.
func TestPivotAutoConfirmFailureLeavesNoOrphan(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	tok := harness.PivotToken(t, s, s.Dev.ID, s.Dev.SecretKey)
	// Customer A with a saved card.
	a := paid(t, s, tok, "4242424242424242", map[string]any{"saveForFutureUse": true,
		"customer": map[string]any{"givenName": "Ani", "email": "rpv-a@example.id"}})
	saved := harness.Str(charge(t, a), "token")
	if saved == "" {
		t.Fatalf("no saved token: %v", a)
	}
	b := harness.PivotAPISession(t, s, tok, map[string]any{"customer": map[string]any{"givenName": "Budi", "email": "rpv-b@example.id"}})
	before := countSessions(t, s, s.Dev.ID)
	r := s.Call("POST", "/pivot/v2/payments", tok, map[string]any{"amount": map[string]any{"value": 1000, "currency": "IDR"}, "mode": "API",
		"customerId": harness.Str(b, "customerId"), "autoConfirm": true,
		"paymentMethod": map[string]any{"type": "CARD", "card": map[string]any{"token": saved, "cvc": "123"}}})
	if r.Status == 200 {
		t.Fatalf("B paid with A's token: %s", r.Raw)
	}
	after := countSessions(t, s, s.Dev.ID)
	if after != before && harness.Str(r.Body, "data", "id") == "" {
		t.Errorf("create answered %d without a session, yet left %d session(s) behind: %s", r.Status, after-before, r.Raw)
	}
	if after != before || r.Status != 404 {
		t.Errorf("another customer's token at create: %d, %d session(s) created: %s", r.Status, after-before, r.Raw)
	}
}

// regression: a create with autoConfirm whose confirmation is refused
// after the session exists (an encryptedCard that cannot be decrypted:
// the key is the session's) cancels that session and answers it as data,
// so that no open session lingers unseen; a decline keeps it open for
// another card.
func TestPivotAutoConfirmBadCardCancelled(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	tok := harness.PivotToken(t, s, s.Dev.ID, s.Dev.SecretKey)
	body := func(enc string) map[string]any {
		return map[string]any{"amount": map[string]any{"value": 1000, "currency": "IDR"}, "mode": "API", "autoConfirm": true,
			"paymentMethod": map[string]any{"type": "CARD", "card": map[string]any{"encryptedCard": enc}}}
	}
	r := s.Call("POST", "/pivot/v2/payments", tok, body("e30="))
	harness.PivotFail(t, "undecryptable card at create", r, 400, "4000", "paymentMethod.card.encryptedCard")
	id := harness.Str(r.Body, "data", "id")
	if id == "" || harness.Str(r.Body, "data", "status") != "CANCELLED" {
		t.Fatalf("the created session is not answered cancelled: %s", r.Raw)
	}
	g := harness.PivotOK(t, "GET", s.Call("GET", "/pivot/v2/payments/"+id, tok, nil))
	if g["status"] != "CANCELLED" {
		t.Errorf("the session left behind is %v", g["status"])
	}
}
