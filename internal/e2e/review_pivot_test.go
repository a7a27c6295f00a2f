package e2e

// Adversarial review of the Pivot Payment dialect (/pivot). Tests whose
// comment starts with "regression:" guard a bug the review found (and that
// was fixed), stating the behaviour they hold; "pin:" tests hold
// properties that passed at the review and must keep passing.
// Helper names start with rpv.

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// rpvPaid creates an API-mode session (extra merged into the body), pays
// it with a hybrid-encrypted card and returns the confirm's data.
func rpvPaid(t *testing.T, s *server, tok, pan string, extra map[string]any) map[string]any {
	t.Helper()
	v := pvAPISession(t, s, tok, extra)
	r := pvConfirm(s, tok, pvStr(v, "id"), map[string]any{"encryptedCard": pvEncrypt(t, pvStr(v, "encryptionKey"), pvCardJSON(pan, "123"), true)})
	return pvOK(t, "confirm", r)
}

// rpvCharge is chargeDetails[0] of a session object.
func rpvCharge(t *testing.T, d map[string]any) map[string]any {
	t.Helper()
	ch, _ := d["chargeDetails"].([]any)
	if len(ch) == 0 {
		t.Fatalf("no chargeDetails: %v", d)
	}
	c, _ := ch[0].(map[string]any)
	return c
}

// rpvCountSessions counts the merchant's sessions in the database.
func rpvCountSessions(t *testing.T, s *server, merchantID string) int {
	t.Helper()
	var n int
	if err := openDB(t, s).QueryRow(rebind(s, `SELECT COUNT(*) FROM sessions WHERE merchant_id = ?`), merchantID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// regression: chargeDetails[].paidAt was rendered from the payment's
// Updated time, which moves whenever the payment changes after it was paid
// (a refund, a capture, a reconciliation). Clients read
// chargeDetails[0].paidAt as the moment money moved (seed/PROVIDERS.md:
// "clients read chargeDetails[0].paidAt"); it must stay the time of
// payment. Guards: paidAt unchanged by a refund.
func TestReviewPivotPaidAtStableAfterRefund(t *testing.T) {
	s := start(t)
	tok := pvToken(t, s, s.Dev.ID, s.Dev.SecretKey)
	d := rpvPaid(t, s, tok, "4242424242424242", nil)
	c := rpvCharge(t, d)
	paidAt, payID := pvStr(c, "paidAt"), pvStr(c, "id")
	if d["status"] != "PAID" || paidAt == "" {
		t.Fatalf("paid: %v", d)
	}
	time.Sleep(1100 * time.Millisecond)
	s.call("POST", "/v1/payments/"+payID+"/refunds", s.Dev.SecretKey, map[string]any{"amount": 100000}).want(t, 201)
	g := pvOK(t, "GET", s.call("GET", "/pivot/v2/payments/"+pvStr(d, "id"), tok, nil))
	if got := pvStr(rpvCharge(t, g), "paidAt"); got != paidAt {
		t.Errorf("paidAt moved from %s to %s after a refund: it must stay the time the charge was paid", paidAt, got)
	}
}

// regression: with captureMethod "manual" the session turns PAID (and the
// PAYMENT.PAID callback fires) at authorization; when the merchant then
// voided the authorization the Pivot session still read status "PAID"
// although its only charge was CANCELLED and no money moved, so a client
// shipping on status == "PAID" shipped unpaid goods. Guards: a session
// whose charge was voided is not PAID (it reads CANCELLED).
func TestReviewPivotVoidedAuthorizationNotPaid(t *testing.T) {
	s := start(t)
	tok := pvToken(t, s, s.Dev.ID, s.Dev.SecretKey)
	d := rpvPaid(t, s, tok, "4242424242424242", map[string]any{
		"paymentMethodOptions": map[string]any{"card": map[string]any{"captureMethod": "manual"}}})
	c := rpvCharge(t, d)
	if c["status"] != "WAITING_FOR_CAPTURE" {
		t.Fatalf("manual capture: %v", c)
	}
	r := s.call("POST", "/v1/payments/"+pvStr(c, "id")+"/cancel", s.Dev.SecretKey, nil)
	if r.Status != 200 {
		t.Fatalf("native cancel: %d %s", r.Status, r.Raw)
	}
	g := pvOK(t, "GET", s.call("GET", "/pivot/v2/payments/"+pvStr(d, "id"), tok, nil))
	if g["status"] == "PAID" {
		t.Errorf("a voided authorization reads status PAID (charge %v)", rpvCharge(t, g)["status"])
	}
	if g["status"] != "CANCELLED" || rpvCharge(t, g)["status"] != "CANCELLED" || rpvCharge(t, g)["paidAt"] != nil {
		t.Errorf("a voided authorization: status %v, charge %v", g["status"], rpvCharge(t, g))
	}
}

// regression: expiryAt was converted to whole seconds from "now" and the
// core added them to its own, later "now", so the session object's
// expiryAt was not the instant the merchant asked for (off by the
// request's latency and the rounding, e.g. 10:00:00.000Z asked,
// 10:00:00.213Z shown). Guards: the expiryAt sent (any time zone) is the
// expiryAt kept and shown, as the same instant.
func TestReviewPivotExpiryAtEchoed(t *testing.T) {
	s := start(t)
	tok := pvToken(t, s, s.Dev.ID, s.Dev.SecretKey)
	want := time.Now().Add(30 * time.Minute).Truncate(time.Second)
	jakarta := time.FixedZone("WIB", 7*3600)
	v := pvAPISession(t, s, tok, map[string]any{"expiryAt": want.In(jakarta).Format(time.RFC3339)})
	got, err := time.Parse(time.RFC3339, pvStr(v, "expiryAt"))
	if err != nil {
		t.Fatalf("expiryAt %v: %v", v["expiryAt"], err)
	}
	if !got.Equal(want) {
		t.Errorf("expiryAt %s asked, %s kept (off by %v)", want.UTC().Format(time.RFC3339Nano), got.Format(time.RFC3339Nano), got.Sub(want))
	}
}

// pin: expiryAt in the past, or with a time zone that puts it in the past,
// is a 400 naming expiryAt; a +07:00 time 30 minutes ahead is accepted.
func TestReviewPivotPinExpiryAtZones(t *testing.T) {
	s := start(t)
	tok := pvToken(t, s, s.Dev.ID, s.Dev.SecretKey)
	base := func(exp string) map[string]any {
		return map[string]any{"amount": map[string]any{"value": 10000, "currency": "IDR"}, "mode": "API", "expiryAt": exp}
	}
	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	pvFail(t, "past", s.call("POST", "/pivot/v2/payments", tok, base(past)), 400, "4000", "expiryAt")
	// 30 minutes ahead in UTC written as local Jakarta time without shifting: 7 hours in the past.
	local := time.Now().Add(30*time.Minute).UTC().Format("2006-01-02T15:04:05") + "+07:00"
	pvFail(t, "wall clock with the wrong zone", s.call("POST", "/pivot/v2/payments", tok, base(local)), 400, "4000", "expiryAt")
	ok := time.Now().Add(30 * time.Minute).In(time.FixedZone("WIB", 7*3600)).Format(time.RFC3339)
	pvOK(t, "+07:00", s.call("POST", "/pivot/v2/payments", tok, base(ok)))
}

// regression: the dialect checked X-REQUEST-ID against idempotency.MaxKey
// (255) and then prefixed it with its scope ("confirm|<session id>|"), so
// a key of 220 characters – within the limit the error itself states – was
// refused on confirm with "X-REQUEST-ID must be at most 255 characters".
// Guards: any X-REQUEST-ID of at most 255 characters is accepted on every
// endpoint (the stored key is the scope's name and a SHA-256).
func TestReviewPivotRequestIDLengthOnConfirm(t *testing.T) {
	s := start(t)
	tok := pvToken(t, s, s.Dev.ID, s.Dev.SecretKey)
	v := pvAPISession(t, s, tok, nil)
	key := strings.Repeat("k", 220)
	body := map[string]any{"paymentMethod": map[string]any{"type": "CARD", "card": map[string]any{
		"encryptedCard": pvEncrypt(t, pvStr(v, "encryptionKey"), pvCardJSON("4242424242424242", "123"), true)}}}
	r := s.call("POST", "/pivot/v2/payments/"+pvStr(v, "id")+"/confirm", tok, body, "X-REQUEST-ID", key)
	if r.Status != 200 || r.str("data", "status") != "PAID" {
		t.Errorf("a 220-character X-REQUEST-ID on confirm: %d %s", r.Status, r.Raw)
	}
}

// regression: an unknown payment id whose text happens to contain
// "customer" or "token" was answered "Customer not found." / "The stored
// payment method … was not found": notFoundMessage looked for those words
// in the core's message, which quotes the id asked for. Guards: GET
// /v2/payments/{id} of an unknown id always says the payment session was
// not found.
func TestReviewPivotNotFoundMessageFollowsID(t *testing.T) {
	s := start(t)
	tok := pvToken(t, s, s.Dev.ID, s.Dev.SecretKey)
	for _, id := range []string{"ps_customer0000000", "ps_tokenabcdefghijk"} {
		pvFail(t, id, s.call("GET", "/pivot/v2/payments/"+id, tok, nil), 404, "4040", "Payment session not found")
	}
}

// regression: confirming with both an encryptedCard and a token answered
// with the core's native wording: "paymentMethod.card.token give either
// encrypted_card or token, not both" – a field name (encrypted_card) that
// does not exist in Pivot's API. Guards: the message names Pivot's fields
// only (paymentMethod.card.encryptedCard / paymentMethod.card.token).
func TestReviewPivotErrorNamesPivotFields(t *testing.T) {
	s := start(t)
	tok := pvToken(t, s, s.Dev.ID, s.Dev.SecretKey)
	v := pvAPISession(t, s, tok, map[string]any{"customer": map[string]any{"email": "rpv-both@example.id"}})
	enc := pvEncrypt(t, pvStr(v, "encryptionKey"), pvCardJSON("4242424242424242", "123"), true)
	r := pvConfirm(s, tok, pvStr(v, "id"), map[string]any{"encryptedCard": enc, "token": "tok_0000000000000000", "cvc": "123"})
	pvFail(t, "both", r, 400, "4000", "paymentMethod.card")
	if strings.Contains(r.str("message"), "encrypted_card") {
		t.Errorf("the message names a native field: %q", r.str("message"))
	}
}

// regression: POST /v2/payments with autoConfirm and a stored token that
// is not the customer's (or any confirm failure that is not a decline)
// answered a 4xx without the session, yet the session was created and
// stayed open: the client, told its request failed, had no id to read,
// retried (each retry leaving another orphan), and each orphan later sent
// a PAYMENT.EXPIRED callback for a payment the merchant never saw. Guards:
// a 4xx from create leaves no session behind (the token is checked before
// creating), or else the answer carries the created session as data.
func TestReviewPivotCreateAutoConfirmFailureLeavesNoOrphan(t *testing.T) {
	s := start(t)
	tok := pvToken(t, s, s.Dev.ID, s.Dev.SecretKey)
	// Customer A with a saved card.
	a := rpvPaid(t, s, tok, "4242424242424242", map[string]any{"saveForFutureUse": true,
		"customer": map[string]any{"givenName": "Ani", "email": "rpv-a@example.id"}})
	saved := pvStr(rpvCharge(t, a), "token")
	if saved == "" {
		t.Fatalf("no saved token: %v", a)
	}
	b := pvAPISession(t, s, tok, map[string]any{"customer": map[string]any{"givenName": "Budi", "email": "rpv-b@example.id"}})
	before := rpvCountSessions(t, s, s.Dev.ID)
	r := s.call("POST", "/pivot/v2/payments", tok, map[string]any{"amount": map[string]any{"value": 1000, "currency": "IDR"}, "mode": "API",
		"customerId": pvStr(b, "customerId"), "autoConfirm": true,
		"paymentMethod": map[string]any{"type": "CARD", "card": map[string]any{"token": saved, "cvc": "123"}}})
	if r.Status == 200 {
		t.Fatalf("B paid with A's token: %s", r.Raw)
	}
	after := rpvCountSessions(t, s, s.Dev.ID)
	if after != before && pvStr(r.Body, "data", "id") == "" {
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
func TestReviewPivotCreateAutoConfirmBadCardCancelled(t *testing.T) {
	s := start(t)
	tok := pvToken(t, s, s.Dev.ID, s.Dev.SecretKey)
	body := func(enc string) map[string]any {
		return map[string]any{"amount": map[string]any{"value": 1000, "currency": "IDR"}, "mode": "API", "autoConfirm": true,
			"paymentMethod": map[string]any{"type": "CARD", "card": map[string]any{"encryptedCard": enc}}}
	}
	r := s.call("POST", "/pivot/v2/payments", tok, body("e30="))
	pvFail(t, "undecryptable card at create", r, 400, "4000", "paymentMethod.card.encryptedCard")
	id := pvStr(r.Body, "data", "id")
	if id == "" || pvStr(r.Body, "data", "status") != "CANCELLED" {
		t.Fatalf("the created session is not answered cancelled: %s", r.Raw)
	}
	g := pvOK(t, "GET", s.call("GET", "/pivot/v2/payments/"+id, tok, nil))
	if g["status"] != "CANCELLED" {
		t.Errorf("the session left behind is %v", g["status"])
	}
}

// pin: a stored token of customer A can never pay customer B's session,
// neither on confirm nor at create with autoConfirm; another merchant's
// token cannot read A's customer.
func TestReviewPivotPinTokenCrossCustomer(t *testing.T) {
	s := start(t)
	tok := pvToken(t, s, s.Dev.ID, s.Dev.SecretKey)
	a := rpvPaid(t, s, tok, "4242424242424242", map[string]any{"saveForFutureUse": true,
		"customer": map[string]any{"givenName": "Ani", "email": "rpv-pa@example.id"}})
	saved, cusA := pvStr(rpvCharge(t, a), "token"), pvStr(a, "customerId")
	b := pvAPISession(t, s, tok, map[string]any{"customer": map[string]any{"givenName": "Budi", "email": "rpv-pb@example.id"}})
	r := pvConfirm(s, tok, pvStr(b, "id"), map[string]any{"token": saved, "cvc": "123"})
	if r.Status == 200 {
		t.Fatalf("B's session paid with A's token: %s", r.Raw)
	}
	// No customer at all.
	n := pvAPISession(t, s, tok, nil)
	if r = pvConfirm(s, tok, pvStr(n, "id"), map[string]any{"token": saved, "cvc": "123"}); r.Status == 200 {
		t.Fatalf("a customerless session paid with A's token: %s", r.Raw)
	}
	other := s.newMerchant("Other")
	otok := pvToken(t, s, other.ID, other.SecretKey)
	pvFail(t, "other merchant's customer", s.call("GET", "/pivot/v1/customers/"+cusA, otok, nil), 404, "4040", "Customer not found")
	ov := pvAPISession(t, s, otok, map[string]any{"customer": map[string]any{"email": "rpv-pa@example.id"}})
	if ov["customerId"] == cusA {
		t.Fatal("another merchant's customer object (same email) found this merchant's customer")
	}
	if r = pvConfirm(s, otok, pvStr(ov, "id"), map[string]any{"token": saved, "cvc": "123"}); r.Status == 200 {
		t.Fatalf("another merchant's session paid with this merchant's token: %s", r.Raw)
	}
	// A ciphertext under this merchant's key does not open under another's.
	if r = pvConfirm(s, otok, pvStr(ov, "id"), map[string]any{"encryptedCard": pvEncrypt(t, pvStr(b, "encryptionKey"), pvCardJSON("4242424242424242", "123"), true)}); r.Status != 400 {
		t.Errorf("another merchant's ciphertext: %d %s", r.Status, r.Raw)
	}
	// Another merchant cannot confirm this merchant's session.
	pvFail(t, "other merchant confirms", pvConfirm(s, otok, pvStr(b, "id"), map[string]any{"token": saved, "cvc": "123"}), 404, "4040", "not found")
}

// pin: malformed, oversize and wrong-layout encryptedCard values are one
// 400 naming the field, never a 500, and never echo the card or CVC that
// was (validly) encrypted inside.
func TestReviewPivotPinMalformedEnvelopes(t *testing.T) {
	s := start(t)
	tok := pvToken(t, s, s.Dev.ID, s.Dev.SecretKey)
	v := pvAPISession(t, s, tok, nil)
	key, id := pvStr(v, "encryptionKey"), pvStr(v, "id")
	const pan = "4242424242424242"
	cases := map[string]string{
		"huge":                strings.Repeat("A", 60000),
		"envelope, bad parts": "eyJlbmNyeXB0ZWRLZXkiOiJAIiwibm9uY2UiOiJAIiwiY2lwaGVydGV4dCI6IkAifQ==",
		"envelope, empty":     "e30=",
		"not json plaintext":  pvEncrypt(t, key, []byte("card "+pan+" cvc 987"), true),
		"bad month":           pvEncrypt(t, key, []byte(`{"card":{"number":"`+pan+`","expiryMonth":"13","expiryYear":"2031","cvc":"987"}}`), false),
		"bad luhn":            pvEncrypt(t, key, []byte(`{"card":{"number":"4242424242424241","expiryMonth":"12","expiryYear":"2031","cvc":"987"}}`), true),
		"letters in number":   pvEncrypt(t, key, []byte(`{"card":{"number":"`+pan+`x","expiryMonth":"12","expiryYear":"2031","cvc":"987"}}`), true),
		"expired":             pvEncrypt(t, key, []byte(`{"card":{"number":"`+pan+`","expiryMonth":"01","expiryYear":"2001","cvc":"987"}}`), true),
		"bad cvc":             pvEncrypt(t, key, []byte(`{"card":{"number":"`+pan+`","expiryMonth":"12","expiryYear":"2031","cvc":"98x7"}}`), true),
		"card is a string":    pvEncrypt(t, key, []byte(`{"card":"`+pan+`"}`), true),
	}
	for what, enc := range cases {
		r := pvConfirm(s, tok, id, map[string]any{"encryptedCard": enc})
		if r.Status != 400 && r.Status != 413 {
			t.Errorf("%s: %d %s", what, r.Status, r.Raw)
		}
		if strings.Contains(string(r.Raw), pan) || strings.Contains(string(r.Raw), "4242424242424241") || snIsolated(r.Raw, "987") || strings.Contains(string(r.Raw), "98x7") {
			t.Errorf("%s: the answer echoes card data: %s", what, r.Raw)
		}
	}
	// The session is still open for a good card.
	pvOK(t, "good card after bad ones", pvConfirm(s, tok, id, map[string]any{"encryptedCard": pvEncrypt(t, key, pvCardJSON(pan, "123"), true)}))
	logs := s.Logs.String()
	if strings.Contains(logs, pan) || strings.Contains(logs, "4242424242424241") || strings.Contains(logs, "98x7") {
		t.Error("card data reached the logs")
	}
}

// pin: a PAYMENT.PAID callback carries X-API-Key, and a 503 answer is
// retried on Pivot's schedule: the first retry 5 minutes later.
func TestReviewPivotPinCallbackRetrySchedule(t *testing.T) {
	s := start(t)
	tok := pvToken(t, s, s.Dev.ID, s.Dev.SecretKey)
	rv := pvNewReceiver(t, http.StatusServiceUnavailable)
	d := rpvPaid(t, s, tok, "4242424242424242", map[string]any{"callbackUrl": rv.URL})
	waitUntil(t, 15*time.Second, "the first callback attempt", func() bool { return len(rv.all()) >= 1 })
	h := rv.all()[0]
	if h.Body["event"] != "PAYMENT.PAID" || h.Header.Get("X-API-Key") == "" {
		t.Errorf("callback: %v %v", h.Header, h.Body)
	}
	var next any
	waitUntil(t, 10*time.Second, "the delivery's next attempt", func() bool {
		for _, e := range rwEvents(t, s, s.Dev.SecretKey, "") {
			if e["type"] != "session.succeeded" || dig(e, "data", "object", "id") != pvStr(d, "id") {
				continue
			}
			full := s.call("GET", "/v1/events/"+e["id"].(string), s.Dev.SecretKey, nil).want(t, 200)
			for _, dl := range full.Body["deliveries"].([]any) {
				if pvStr(dl, "url") == rv.URL && dig(dl, "next_attempt") != nil {
					next = dig(dl, "next_attempt")
					return true
				}
			}
		}
		return false
	})
	var at time.Time
	switch n := next.(type) {
	case string:
		at, _ = time.Parse(time.RFC3339, n)
	case float64:
		at = time.Unix(int64(n), 0)
	}
	if in := time.Until(at); in < 4*time.Minute || in > 5*time.Minute+5*time.Second {
		t.Errorf("next attempt in %v (%v), want 5 minutes", in, next)
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
func TestReviewPivotTokenWithoutCVC(t *testing.T) {
	s := start(t)
	tok := pvToken(t, s, s.Dev.ID, s.Dev.SecretKey)
	a := rpvPaid(t, s, tok, "4242424242424242", map[string]any{"saveForFutureUse": true,
		"customer": map[string]any{"givenName": "Ani", "email": "rpv-cvc@example.id"}})
	saved := pvStr(rpvCharge(t, a), "token")
	v := pvAPISession(t, s, tok, map[string]any{"customerId": pvStr(a, "customerId")})
	r := pvConfirm(s, tok, pvStr(v, "id"), map[string]any{"token": saved})
	pvFail(t, "token without cvc", r, 400, "4000", "paymentMethod.card.cvc")
	before := rpvCountSessions(t, s, s.Dev.ID)
	r = s.call("POST", "/pivot/v2/payments", tok, map[string]any{"amount": map[string]any{"value": 1000, "currency": "IDR"}, "mode": "API",
		"customerId": pvStr(a, "customerId"), "autoConfirm": true, "paymentMethod": map[string]any{"type": "CARD", "card": map[string]any{"token": saved}}})
	if r.Status == 200 {
		t.Errorf("autoConfirm with a token and no cvc was charged: %s", r.str("data", "status"))
	}
	pvFail(t, "autoConfirm token without cvc", r, 400, "4000", "paymentMethod.card.cvc")
	if n := rpvCountSessions(t, s, s.Dev.ID) - before; n != 0 {
		t.Errorf("a refused autoConfirm left %d session(s)", n)
	}
	// A malformed CVC is refused before anything is charged; the session stays open.
	pvFail(t, "token with a bad cvc", pvConfirm(s, tok, pvStr(v, "id"), map[string]any{"token": saved, "cvc": "12x"}), 400, "4000", "paymentMethod.card.cvc")
	pvOK(t, "token with its cvc", pvConfirm(s, tok, pvStr(v, "id"), map[string]any{"token": saved, "cvc": "123"}))
}

// regression: amount.value with trailing zeros beyond the currency's
// exponent was refused although it is exact: "12.500" USD → "must have at
// most 2 decimals", "1000.0" JPY → "must have no decimals". ParseAmount
// promises a decimal "never rounded"; dropping zeros is not rounding, and
// clients that format amounts with a fixed scale (BigDecimal,
// Decimal("12.500"), "%.3f") were refused. Guards: exact values are
// accepted (1250 cents, 1000 yen); only non-zero excess digits are an
// error.
func TestReviewPivotAmountTrailingZeros(t *testing.T) {
	s := start(t)
	tok := pvToken(t, s, s.Dev.ID, s.Dev.SecretKey)
	for _, c := range []struct {
		value, currency string
		want            float64
	}{{"12.500", "USD", 12.5}, {"1000.0", "JPY", 1000}, {"15000.000", "IDR", 15000}} {
		r := s.call("POST", "/pivot/v2/payments", tok, map[string]any{"amount": map[string]any{"value": c.value, "currency": c.currency}, "mode": "API"})
		if r.Status != 200 || dig(r.Body, "data", "amount", "value") != c.want {
			t.Errorf("%s %s: %d %s", c.value, c.currency, r.Status, r.Raw)
		}
	}
	r := s.call("POST", "/pivot/v2/payments", tok, map[string]any{"amount": map[string]any{"value": "12.501", "currency": "USD"}, "mode": "API"})
	pvFail(t, "12.501 USD", r, 400, "4000", "amount.value")
}

// pin: X-REQUEST-ID is per merchant: another merchant reusing the same id
// and body gets its own session, never a replay of this one's (which holds
// this merchant's encryptionKey and customer).
func TestReviewPivotPinRequestIDPerMerchant(t *testing.T) {
	s := start(t)
	tok := pvToken(t, s, s.Dev.ID, s.Dev.SecretKey)
	other := s.newMerchant("Other")
	otok := pvToken(t, s, other.ID, other.SecretKey)
	a := pvAPISession(t, s, tok, nil, "X-REQUEST-ID", "rpv-same-id")
	b := s.call("POST", "/pivot/v2/payments", otok, map[string]any{"clientReferenceId": "order-1", "amount": map[string]any{"value": 15000, "currency": "IDR"},
		"mode": "API", "paymentType": "SINGLE", "autoConfirm": false, "paymentMethod": map[string]any{"type": "CARD"},
		"redirectUrl": map[string]any{"successReturnUrl": "https://shop.example/ok", "failureReturnUrl": "https://shop.example/fail",
			"expirationReturnUrl": "https://shop.example/expired"}}, "X-REQUEST-ID", "rpv-same-id")
	bd := pvOK(t, "other merchant", b)
	if bd["id"] == a["id"] || b.Header.Get("Idempotent-Replayed") == "true" || bd["encryptionKey"] == a["encryptionKey"] {
		t.Errorf("another merchant's X-REQUEST-ID replayed this merchant's session: %s", b.Raw)
	}
	// And a replay of the same merchant's request still works after a new access token.
	tok2 := pvToken(t, s, s.Dev.ID, s.Dev.SecretKey)
	c := pvAPISession(t, s, tok2, nil, "X-REQUEST-ID", "rpv-same-id")
	if c["id"] != a["id"] {
		t.Errorf("replay with a fresh access token: %v vs %v", c["id"], a["id"])
	}
}
