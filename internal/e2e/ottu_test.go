package e2e

// The Ottu dialect (/ottu) against the real server: the seed's (004)
// example checkout taken as written, checkouts created and read with and
// without the trailing slash (JSON and multipart), Django REST framework's
// error shapes, expiry, saved cards, auto-debit and webhooks whose
// signature is recomputed here independently. Helper names start with ot.

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"sort"
	"strings"
	"testing"
	"time"
)

// otSeedCheckout is the seed's tokenization showcase request, verbatim.
const otSeedCheckout = `{
    "type": "payment_request",
    "pg_codes": ["ottu_pg_kwd_tkn"],
    "amount": "19",
    "customer_id":"user_example",
    "order_no": "token_showcase",
    "currency_code": "KWD"
}`

// otCall sends a request under /ottu with `Authorization: Api-Key sk`.
func otCall(t testing.TB, s *server, method, path, sk string, body any, hdr ...string) resp {
	t.Helper()
	if sk != "" {
		hdr = append(hdr, "Authorization", "Api-Key "+sk)
	}
	return s.call(method, "/ottu"+path, "", body, hdr...)
}

// otCheckout creates a checkout and expects 201.
func otCheckout(t testing.TB, s *server, sk string, body any) resp {
	t.Helper()
	return otCall(t, s, "POST", "/b/checkout/v1/pymt-txn/", sk, body).want(t, 201)
}

// otArray decodes an answer that must be a bare JSON array.
func otArray(t testing.TB, r resp) []map[string]any {
	t.Helper()
	var v []map[string]any
	if err := json.Unmarshal(r.Raw, &v); err != nil || !bytes.HasPrefix(bytes.TrimSpace(r.Raw), []byte("[")) {
		t.Fatalf("not a bare JSON array (%d): %s", r.Status, r.Raw)
	}
	return v
}

// otSign recomputes Ottu's signature as PROVIDERS.md words it, without
// the dialect's code.
func otSign(secret string, body map[string]any) string {
	listed := strings.Fields(`amount currency_code customer_first_name customer_last_name customer_email customer_phone
		gateway_name gateway_account order_no reference_number result state`)
	var keys []string
	for k, v := range body {
		s, _ := v.(string)
		if s == "" {
			continue
		}
		for _, l := range listed {
			if k == l {
				keys = append(keys, k)
			}
		}
		if strings.HasPrefix(k, "customer_address_") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var msg strings.Builder
	for _, k := range keys {
		msg.WriteString(k + body[k].(string))
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(msg.String()))
	return hex.EncodeToString(mac.Sum(nil))
}

// otVerify checks a notification's signature.
func otVerify(t testing.TB, secret string, body map[string]any) {
	t.Helper()
	if got, want := fmt.Sprint(body["signature"]), otSign(secret, body); got != want {
		t.Errorf("signature %q, recomputed %q: %v", got, want, body)
	}
}

// otFieldError checks DRF's validation shape: 400 {"<field>":["…"]}.
func otFieldError(t testing.TB, what string, r resp, field string) {
	t.Helper()
	l, _ := r.Body[field].([]any)
	if r.Status != 400 || len(l) == 0 {
		t.Errorf("%s: want 400 {%q:[…]}, got %d %s", what, field, r.Status, r.Raw)
	}
}

// otDetail checks DRF's non-field shape: {"detail":"…"}.
func otDetail(t testing.TB, what string, r resp, status int) {
	t.Helper()
	if r.Status != status || r.str("detail") == "" || len(r.Body) != 1 {
		t.Errorf("%s: want %d {\"detail\":…}, got %d %s", what, status, r.Status, r.Raw)
	}
}

// otPayNative pays a checkout as its hosted page would: a card encrypted
// to the session's key, confirmed.
func otPayNative(t testing.TB, s *server, sk, sid, pan, cvc string, save bool) resp {
	t.Helper()
	sess := s.call("GET", "/v1/sessions/"+sid, sk, nil).want(t, 200)
	return s.call("POST", "/v1/sessions/"+sid+"/confirm", sk, map[string]any{"encrypted_card": encryptFor(t, sess, pan, cvc),
		"save_card": save}).want(t, 200)
}

// otHooks waits for n webhooks and decodes them, each verified.
func otHooks(t testing.TB, rv *snReceiver, secret string, n int) []map[string]any {
	t.Helper()
	hooks, bodies := snCallbacks(t, rv, n)
	for i, h := range hooks {
		if h.Method != "POST" || !strings.HasPrefix(h.Header.Get("Content-Type"), "application/json") {
			t.Errorf("webhook %d: %s %s", i, h.Method, h.Header.Get("Content-Type"))
		}
		otVerify(t, secret, bodies[i])
	}
	return bodies
}

// TestOttuCheckout: the seed's request as written, then the fields of
// Ottu's checkout API, read back with and without the trailing slash.
func TestOttuCheckout(t *testing.T) {
	backends(t, func(t *testing.T, opts ...option) {
		s := start(t, opts...)
		sk := s.Dev.SecretKey

		r := otCheckout(t, s, sk, otSeedCheckout)
		sid := r.str("session_id")
		if !strings.HasPrefix(sid, "ps_") || r.str("amount") != "19.000" || r.str("currency_code") != "KWD" ||
			r.str("type") != "payment_request" || r.str("customer_id") != "user_example" || r.str("order_no") != "token_showcase" ||
			r.str("payment_type") != "one_off" || r.str("state") != "created" || r.str("expiration_time") != "1 00:00:00" ||
			r.str("operation") != "purchase" || r.str("checkout_url") != s.URL+"/pay/"+sid || r.str("checkout_short_url") == "" ||
			r.str("qr_code_url") != s.URL+"/pay/"+sid+"/qr.png" {
			t.Fatalf("the seed's checkout: %s", r.Raw)
		}
		if pg, _ := r.Body["pg_codes"].([]any); len(pg) != 1 || pg[0] != "ottu_pg_kwd_tkn" {
			t.Errorf("pg_codes: %s", r.Raw)
		}
		pm, _ := r.Body["payment_methods"].([]any)
		if len(pm) != 1 || dig(pm[0], "code") != "ottu_pg_kwd_tkn" || dig(pm[0], "flow") != "redirect" ||
			dig(pm[0], "redirect_url") != r.str("checkout_url") || dig(pm[0], "fee") != "0.000" || dig(pm[0], "pg") == nil {
			t.Errorf("payment_methods: %s", r.Raw)
		}
		// The native session: a customer by reference, offered the save
		// option and its saved cards; the Ottu format for its webhooks.
		n := s.call("GET", "/v1/sessions/"+sid, sk, nil).want(t, 200)
		if n.str("save_card") != "optional" || n.Body["show_saved_cards"] != true || n.str("customer") == "" || dig(n.Body, "amount") != float64(19000) {
			t.Errorf("native session: %s", n.Raw)
		}
		if c := s.call("GET", "/v1/customers?reference=user_example", sk, nil); !strings.Contains(string(c.Raw), n.str("customer")) {
			t.Errorf("customer_id made no customer by reference: %s", c.Raw)
		}
		for _, p := range []string{"/b/checkout/v1/pymt-txn/" + sid, "/b/checkout/v1/pymt-txn/" + sid + "/"} {
			g := otCall(t, s, "GET", p, sk, nil).want(t, 200)
			if g.str("session_id") != sid || g.str("amount") != "19.000" || g.str("state") != "created" || g.str("customer_id") != "user_example" {
				t.Errorf("GET %s: %s", p, g.Raw)
			}
		}
		if pg := s.call("GET", "/pay/"+sid, "", nil); pg.Status != 200 {
			t.Errorf("checkout_url: HTTP %d", pg.Status)
		}
		if q := s.call("GET", "/pay/"+sid+"/qr.png", "", nil); q.Status != 200 || q.Header.Get("Content-Type") != "image/png" {
			t.Errorf("qr_code_url: HTTP %d %s", q.Status, q.Header.Get("Content-Type"))
		}

		// Without the slash, every field, amount echoed at KWD precision.
		full := map[string]any{"type": "e_commerce", "amount": "12.34", "currency_code": "KWD", "pg_codes": []string{"knet", "credit-card"},
			"order_no": "ord-7", "customer_email": "abu@example.com", "customer_first_name": "Abu", "customer_last_name": "Ali",
			"customer_phone": "+96550000000", "webhook_url": "https://shop.example/hooks/ottu", "redirect_url": "https://shop.example/back",
			"expiration_time": "00:30:00", "operation": "authorize"}
		f := otCall(t, s, "POST", "/b/checkout/v1/pymt-txn", sk, full).want(t, 201)
		for k, v := range full {
			if want := fmt.Sprint(v); k != "amount" && k != "pg_codes" && f.str(k) != want {
				t.Errorf("%s echoed %q, want %q", k, f.str(k), want)
			}
		}
		if f.str("amount") != "12.340" || f.str("customer_id") != "" || len(f.Body["payment_methods"].([]any)) != 2 {
			t.Errorf("full checkout: %s", f.Raw)
		}
		n = s.call("GET", "/v1/sessions/"+f.str("session_id"), sk, nil).want(t, 200)
		if n.str("capture_method") != "manual" || n.str("save_card") != "off" || n.str("order_id") != "ord-7" ||
			n.str("success_url") != "https://shop.example/back?order_no=ord-7" {
			t.Errorf("native session of the full checkout: %s", n.Raw)
		}
		// A JSON number amount is read as its text.
		if j := otCheckout(t, s, sk, `{"type":"e_commerce","amount":86.5,"currency_code":"kwd","pg_codes":["x"]}`); j.str("amount") != "86.500" || j.str("currency_code") != "KWD" {
			t.Errorf("numeric amount: %s", j.Raw)
		}

		// save_card: amount "0", always saved, needs customer_id.
		sc := otCheckout(t, s, sk, map[string]any{"type": "e_commerce", "amount": "0", "currency_code": "KWD", "pg_codes": []string{"x"},
			"payment_type": "save_card", "customer_id": "saver"})
		if sc.str("amount") != "0.000" || sc.str("payment_type") != "save_card" || sc.str("state") != "created" {
			t.Errorf("save_card: %s", sc.Raw)
		}
		if n := s.call("GET", "/v1/sessions/"+sc.str("session_id"), sk, nil); n.str("save_card") != "always" {
			t.Errorf("save_card native: %s", n.Raw)
		}

		// Multipart, as when the checkout carries an attachment.
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		for k, v := range map[string]string{"type": "payment_request", "amount": "7.250", "currency_code": "KWD", "order_no": "mp-1",
			"customer_id": "mp_user", "agreement": `{"id":"a1","type":"unscheduled"}`} {
			mw.WriteField(k, v)
		}
		mw.WriteField("pg_codes", "knet")
		mw.WriteField("pg_codes", "ottu_pg_kwd_tkn")
		fw, _ := mw.CreateFormFile("attachment", "invoice.pdf")
		fw.Write([]byte("%PDF-1.4 not really"))
		mw.Close()
		mp := otCall(t, s, "POST", "/b/checkout/v1/pymt-txn/", sk, buf.Bytes(), "Content-Type", mw.FormDataContentType()).want(t, 201)
		if mp.str("amount") != "7.250" || mp.str("order_no") != "mp-1" || len(mp.Body["pg_codes"].([]any)) != 2 || dig(mp.Body, "agreement", "id") != "a1" {
			t.Errorf("multipart checkout: %s", mp.Raw)
		}
	})
}

// TestOttuErrors: credentials, amounts and fields answered in Django REST
// framework's shapes.
func TestOttuErrors(t *testing.T) {
	s := start(t)
	sk := s.Dev.SecretKey
	path := "/b/checkout/v1/pymt-txn/"
	otDetail(t, "no Authorization", otCall(t, s, "POST", path, "", otSeedCheckout), 401)
	otDetail(t, "a wrong key", otCall(t, s, "POST", path, "sk_test_nope", otSeedCheckout), 401)
	otDetail(t, "Bearer instead of Api-Key", s.call("POST", "/ottu"+path, sk, otSeedCheckout), 401)
	otDetail(t, "the publishable key", otCall(t, s, "POST", path, s.Dev.PublishableKey, otSeedCheckout), 401)
	otDetail(t, "cards without a key", otCall(t, s, "GET", "/b/pbl/v2/card/?customer_id=x", "", nil), 401)
	if r := otCall(t, s, "POST", path, "", otSeedCheckout); r.Header.Get("WWW-Authenticate") == "" {
		t.Error("401 without WWW-Authenticate")
	}

	base := func(kv ...any) map[string]any {
		return cardWith(map[string]any{"type": "e_commerce", "amount": "10.000", "currency_code": "KWD", "pg_codes": []string{"knet"}}, kv...)
	}
	for _, a := range []any{"1.2345", "-5", "-5.000", "abc", "", "1e3", "12,5", true, "0"} {
		otFieldError(t, fmt.Sprintf("amount %v", a), otCall(t, s, "POST", path, sk, base("amount", a)), "amount")
	}
	otFieldError(t, "USD with 3 decimals", otCall(t, s, "POST", path, sk, base("currency_code", "USD", "amount", "1.234")), "amount")
	otFieldError(t, "no amount", otCall(t, s, "POST", path, sk, base("amount", nil)), "amount")
	otFieldError(t, "save_card with an amount", otCall(t, s, "POST", path, sk, base("payment_type", "save_card", "customer_id", "c1")), "amount")
	otFieldError(t, "save_card without customer_id", otCall(t, s, "POST", path, sk, base("payment_type", "save_card", "amount", "0")), "customer_id")
	otFieldError(t, "no type", otCall(t, s, "POST", path, sk, base("type", nil)), "type")
	otFieldError(t, "a wrong type", otCall(t, s, "POST", path, sk, base("type", "shop")), "type")
	otFieldError(t, "no currency", otCall(t, s, "POST", path, sk, base("currency_code", nil)), "currency_code")
	otFieldError(t, "an unknown currency", otCall(t, s, "POST", path, sk, base("currency_code", "XYZ")), "currency_code")
	otFieldError(t, "no pg_codes", otCall(t, s, "POST", path, sk, base("pg_codes", nil)), "pg_codes")
	otFieldError(t, "a wrong payment_type", otCall(t, s, "POST", path, sk, base("payment_type", "monthly")), "payment_type")
	otFieldError(t, "a wrong operation", otCall(t, s, "POST", path, sk, base("operation", "refund")), "operation")
	otFieldError(t, "a bad expiration_time", otCall(t, s, "POST", path, sk, base("expiration_time", "tomorrow")), "expiration_time")
	otFieldError(t, "expiration_time over a day", otCall(t, s, "POST", path, sk, base("expiration_time", "2 00:00:00")), "expiration_time")
	otFieldError(t, "a relative redirect_url", otCall(t, s, "POST", path, sk, base("redirect_url", "/back")), "redirect_url")
	otFieldError(t, "a bad webhook_url", otCall(t, s, "POST", path, sk, base("webhook_url", "ftp://x")), "webhook_url")
	otFieldError(t, "a bad email", otCall(t, s, "POST", path, sk, base("customer_email", "nobody")), "customer_email")
	otFieldError(t, "a card number in order_no", otCall(t, s, "POST", path, sk, base("order_no", "4242424242424242")), "order_no")
	ad := otCall(t, s, "POST", path, sk, base("payment_type", "auto_debit"))
	otFieldError(t, "auto_debit without customer_id", ad, "customer_id")
	otFieldError(t, "auto_debit without agreement", ad, "agreement")
	na := otCall(t, s, "POST", path, sk, base("payment_type", "auto_debit", "customer_id", "c1", "agreement", map[string]any{"type": "unscheduled"}))
	if dig(na.Body, "agreement", "id") == nil || na.Status != 400 {
		t.Errorf("agreement without id: want 400 {\"agreement\":{\"id\":[…]}}, got %d %s", na.Status, na.Raw)
	}
	pi := otCall(t, s, "POST", path, sk, base("customer_id", "c1", "payment_instrument", map[string]any{"instrument_type": "token", "payload": map[string]any{"token": "tok_unknown0000000000"}}))
	if pi.Status != 400 || dig(pi.Body, "payment_instrument", "payload", "token") == nil {
		t.Errorf("an unknown instrument token: %d %s", pi.Status, pi.Raw)
	}
	many := otCall(t, s, "POST", path, sk, base("amount", "x", "type", nil))
	if many.Body["amount"] == nil || many.Body["type"] == nil {
		t.Errorf("every field's error at once: %s", many.Raw)
	}
	otDetail(t, "not JSON", otCall(t, s, "POST", path, sk, "{"), 400)
	if strings.Contains(s.Logs.String(), "4242424242424242") {
		t.Error("a card number sent in order_no reached the logs")
	}

	otDetail(t, "an unknown checkout", otCall(t, s, "GET", "/b/checkout/v1/pymt-txn/ps_nothere", sk, nil), 404)
	native := newSession(t, s, sk, map[string]any{"amount": 500})
	otDetail(t, "a native session", otCall(t, s, "GET", "/b/checkout/v1/pymt-txn/"+native.str("id")+"/", sk, nil), 404)
	other := s.newMerchant("Other")
	own := otCheckout(t, s, sk, otSeedCheckout).str("session_id")
	otDetail(t, "another merchant's checkout", otCall(t, s, "GET", "/b/checkout/v1/pymt-txn/"+own, other.SecretKey, nil), 404)
	otDetail(t, "an unserved path", otCall(t, s, "POST", "/b/pbl/v2/operation/", sk, map[string]any{}), 404)
	m := otCall(t, s, "PUT", "/b/pbl/v2/card/", sk, nil)
	otDetail(t, "PUT on cards", m, 405)
	if m.Header.Get("Allow") == "" {
		t.Error("405 without Allow")
	}
	// PATCH of a checkout is not offered (docs/dialects.md): 405 with or
	// without the slash, and the checkout is unchanged.
	for _, p := range []string{"/b/checkout/v1/pymt-txn/" + own + "/", "/b/checkout/v1/pymt-txn/" + own} {
		pr := otCall(t, s, "PATCH", p, sk, map[string]any{"amount": "25"})
		otDetail(t, "PATCH of a checkout", pr, 405)
		if pr.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("PATCH's Allow: %q", pr.Header.Get("Allow"))
		}
	}
	if g := otCall(t, s, "GET", "/b/checkout/v1/pymt-txn/"+own, sk, nil).want(t, 200); g.str("amount") == "25.000" {
		t.Errorf("PATCH changed the checkout: %s", g.Raw)
	}
}

// TestOttuExpired: a checkout past its expiration_time is expired; the
// webhook says so, signed.
func TestOttuExpired(t *testing.T) {
	s := start(t, withWebhookRetryBase(100*time.Millisecond))
	sk, secret := s.Dev.SecretKey, s.Dev.HMACSecret
	rv := snNewReceiver(t)
	r := otCheckout(t, s, sk, map[string]any{"type": "e_commerce", "amount": "5", "currency_code": "KWD", "pg_codes": []string{"knet"},
		"order_no": "exp-1", "expiration_time": "00:01:00", "webhook_url": rv.URL, "customer_first_name": "Abu"})
	sid := r.str("session_id")
	if r.str("expiration_time") != "00:01:00" {
		t.Errorf("expiration_time: %s", r.Raw)
	}
	rvExpireNow(t, s, sid)
	g := otCall(t, s, "GET", "/b/checkout/v1/pymt-txn/"+sid, sk, nil).want(t, 200)
	if g.str("state") != "expired" {
		t.Errorf("after its time: %s", g.Raw)
	}
	b := otHooks(t, rv, secret, 1)[0]
	if b["session_id"] != sid || b["state"] != "expired" || b["result"] != "failed" || b["order_no"] != "exp-1" ||
		b["amount"] != "5.000" || b["customer_first_name"] != "Abu" || b["timestamp_utc"] == "" {
		t.Errorf("expiry webhook: %v", b)
	}

	// A declined attempt leaves the checkout payable: state attempted,
	// result failed; the processor's own failure is result error.
	d := otCheckout(t, s, sk, map[string]any{"type": "e_commerce", "amount": "6", "currency_code": "KWD", "pg_codes": []string{"knet"},
		"webhook_url": rv.URL})
	did := d.str("session_id")
	sess := s.call("GET", "/v1/sessions/"+did, sk, nil).want(t, 200)
	s.call("POST", "/v1/sessions/"+did+"/confirm", sk, map[string]any{"encrypted_card": encryptFor(t, sess, "4000000000000002", "123")}).want(t, 402)
	s.call("POST", "/v1/sessions/"+did+"/confirm", sk, map[string]any{"encrypted_card": encryptFor(t, sess, "4000000000000119", "123")}).want(t, 402)
	hooks := otHooks(t, rv, secret, 3)
	results := map[string]bool{}
	for _, h := range hooks[1:] {
		if h["session_id"] != did || h["state"] != "attempted" || h["message"] == "" || !strings.HasPrefix(fmt.Sprint(h["reference_number"]), "pay_") {
			t.Errorf("declined attempt's webhook: %v", h)
		}
		results[fmt.Sprint(h["result"])] = true
	}
	if !results["failed"] || !results["error"] {
		t.Errorf("declined attempts' results: %v", results)
	}
	if g := otCall(t, s, "GET", "/b/checkout/v1/pymt-txn/"+did+"/", sk, nil); g.str("state") != "attempted" {
		t.Errorf("after declines: %s", g.Raw)
	}
}

// TestOttuCardsAndAutoDebit: an auto_debit checkout paid once saves the
// card (webhook with token{}); the card is listed (GET and POST, a bare
// array); auto-debit charges it on a new checkout without a CVV even
// though the merchant requires CVVs of card holders; Tracking-Key replays;
// payment_instrument pays at once; delete answers 204. No card number or
// code in any answer or log.
func TestOttuCardsAndAutoDebit(t *testing.T) {
	backends(t, func(t *testing.T, opts ...option) {
		s := start(t, append(opts, withWebhookRetryBase(100*time.Millisecond))...)
		sk, secret := s.Dev.SecretKey, s.Dev.HMACSecret
		const pan, cvc = "4242424242424242", "739"
		var raws [][]byte
		keep := func(r resp) resp { raws = append(raws, r.Raw); return r }
		rv := snNewReceiver(t)
		agreement := map[string]any{"id": "agr-1", "type": "unscheduled", "frequency": "irregular", "amount_variability": "variable"}
		mk := func(order string) resp {
			return keep(otCheckout(t, s, sk, map[string]any{"type": "e_commerce", "amount": "20.500", "currency_code": "KWD",
				"pg_codes": []string{"ottu_pg_kwd_tkn"}, "payment_type": "auto_debit", "customer_id": "cust_ad", "order_no": order,
				"agreement": agreement, "webhook_url": rv.URL, "customer_email": "abu@example.com"}))
		}
		first := mk("ad-1")
		if first.str("payment_type") != "auto_debit" || dig(first.Body, "agreement", "frequency") != "irregular" {
			t.Errorf("auto_debit checkout: %s", first.Raw)
		}
		otPayNative(t, s, sk, first.str("session_id"), pan, cvc, false)
		h := otHooks(t, rv, secret, 1)[0]
		tok, _ := dig(h, "token", "token").(string)
		if h["result"] != "success" || h["state"] != "paid" || h["session_id"] != first.str("session_id") || !strings.HasPrefix(tok, "tok_") ||
			dig(h, "token", "number") != "**** 4242" || dig(h, "token", "brand") != "VISA" || dig(h, "amount_details", "amount") != "20.500" ||
			!strings.HasPrefix(fmt.Sprint(h["reference_number"]), "pay_") || h["customer_email"] != "abu@example.com" ||
			dig(h, "token", "is_preferred") != true || dig(h, "token", "pg_code") != "ottu_pg_kwd_tkn" {
			t.Fatalf("first webhook: %v", h)
		}
		if g := keep(otCall(t, s, "GET", "/b/checkout/v1/pymt-txn/"+first.str("session_id"), sk, nil)); g.str("state") != "paid" {
			t.Errorf("paid checkout: %s", g.Raw)
		}

		// The merchant requires the CVV of card holders, not of itself.
		s.call("PATCH", "/v1/merchant", sk, map[string]any{"require_cvc_for_saved_cards": true}).want(t, 200)
		_, year := bsExp()
		for _, l := range [][]map[string]any{
			otArray(t, keep(otCall(t, s, "GET", "/b/pbl/v2/card/?customer_id=cust_ad&type=sandbox", sk, nil).want(t, 200))),
			otArray(t, keep(otCall(t, s, "POST", "/b/pbl/v2/card/", sk, map[string]any{"type": "sandbox", "customer_id": "cust_ad",
				"pg_codes": []string{"ottu_pg_kwd_tkn"}, "agreement_id": "agr-1"}).want(t, 200))),
			otArray(t, keep(otCall(t, s, "POST", "/b/pbl/v2/card", sk, map[string]any{"customer_id": "cust_ad"}).want(t, 200))),
		} {
			if len(l) != 1 {
				t.Fatalf("cards: %v", l)
			}
			c := l[0]
			if c["token"] != tok || c["customer_id"] != "cust_ad" || c["brand"] != "VISA" || c["number"] != "**** 4242" ||
				c["expiry_month"] != "12" || c["expiry_year"] != fmt.Sprintf("%02d", year%100) || c["is_preferred"] != true ||
				c["is_expired"] != false || c["will_expire_soon"] != false || c["cvv_required"] != true || c["name_on_card"] != "Siti Aminah" {
				t.Errorf("card: %v", c)
			}
			// pg_code is the saving checkout's; agreements[] its agreement.
			ag, _ := c["agreements"].([]any)
			if len(ag) != 1 || c["pg_code"] != "ottu_pg_kwd_tkn" || dig(ag[0], "id") != "agr-1" || dig(ag[0], "type") != "unscheduled" {
				t.Errorf("card agreements/pg_code: %v", c)
			}
		}
		if l := otArray(t, otCall(t, s, "GET", "/b/pbl/v2/card/?customer_id=nobody", sk, nil).want(t, 200)); len(l) != 0 {
			t.Errorf("an unknown customer's cards: %v", l)
		}
		otFieldError(t, "cards without customer_id", otCall(t, s, "POST", "/b/pbl/v2/card/", sk, map[string]any{"type": "sandbox"}), "customer_id")

		// Auto-debit: merchant initiated, no CVV, the notification answered.
		auths := s.Sim.Stats().Authorizations
		second := mk("ad-2")
		a := keep(otCall(t, s, "POST", "/b/pbl/v2/auto-debit/", sk, map[string]any{"session_id": second.str("session_id"), "token": tok}).want(t, 200))
		otVerify(t, secret, a.Body)
		if a.str("result") != "success" || a.str("state") != "paid" || a.str("session_id") != second.str("session_id") ||
			!strings.HasPrefix(a.str("reference_number"), "pay_") || a.str("amount") != "20.500" || a.str("order_no") != "ad-2" ||
			a.str("amount_details", "total") != "20.500" || a.str("token", "token") != tok || a.str("signature") == "" ||
			a.str("timestamp_utc") == "" || dig(a.Body, "agreement", "id") != "agr-1" || dig(a.Body, "token", "is_preferred") != true ||
			dig(a.Body, "token", "pg_code") != "ottu_pg_kwd_tkn" {
			t.Errorf("auto-debit: %s", a.Raw)
		}
		if got := s.Sim.Stats().Authorizations; got != auths+1 {
			t.Errorf("authorizations %d → %d, want one", auths, got)
		}
		hooks := otHooks(t, rv, secret, 2)
		if hooks[1]["session_id"] != second.str("session_id") || hooks[1]["result"] != "success" || hooks[1]["reference_number"] != a.str("reference_number") {
			t.Errorf("auto-debit webhook: %v", hooks[1])
		}
		otDetail(t, "auto-debit of a paid checkout", otCall(t, s, "POST", "/b/pbl/v2/auto-debit", sk, map[string]any{"session_id": second.str("session_id"), "token": tok}), 400)
		oneOff := otCheckout(t, s, sk, map[string]any{"type": "e_commerce", "amount": "1", "currency_code": "KWD", "pg_codes": []string{"x"}, "customer_id": "cust_ad"})
		otFieldError(t, "auto-debit of a one_off checkout", otCall(t, s, "POST", "/b/pbl/v2/auto-debit/", sk, map[string]any{"session_id": oneOff.str("session_id"), "token": tok}), "session_id")
		otFieldError(t, "auto-debit without a token", otCall(t, s, "POST", "/b/pbl/v2/auto-debit/", sk, map[string]any{"session_id": oneOff.str("session_id")}), "token")
		// Another customer's auto_debit checkout cannot use this card.
		stranger := keep(otCheckout(t, s, sk, map[string]any{"type": "e_commerce", "amount": "3", "currency_code": "KWD", "pg_codes": []string{"x"},
			"payment_type": "auto_debit", "customer_id": "someone_else", "agreement": agreement}))
		otFieldError(t, "another customer's token", otCall(t, s, "POST", "/b/pbl/v2/auto-debit/", sk, map[string]any{"session_id": stranger.str("session_id"), "token": tok}), "token")

		// Tracking-Key: a retry replays the answer, charging once.
		third := mk("ad-3")
		auths = s.Sim.Stats().Authorizations
		body := map[string]any{"session_id": third.str("session_id"), "token": tok}
		r1 := otCall(t, s, "POST", "/b/pbl/v2/auto-debit/", sk, body, "Tracking-Key", "track-3").want(t, 200)
		r2 := otCall(t, s, "POST", "/b/pbl/v2/auto-debit/", sk, body, "Tracking-Key", "track-3").want(t, 200)
		if !bytes.Equal(r1.Raw, r2.Raw) || r2.Header.Get("Idempotent-Replayed") != "true" || s.Sim.Stats().Authorizations != auths+1 {
			t.Errorf("Tracking-Key replay: %s / %s", r1.Raw, r2.Raw)
		}

		// payment_instrument: a one-step payment with the token. On a
		// one_off checkout it is the holder's own charge, so the CVV the
		// merchant requires comes in payload.cvv (400 without it).
		pay := func(ptype string, payload map[string]any) resp {
			return otCall(t, s, "POST", "/b/checkout/v1/pymt-txn/", sk, map[string]any{"type": "e_commerce", "amount": "4.000",
				"currency_code": "KWD", "pg_codes": []string{"x"}, "customer_id": "cust_ad", "payment_type": ptype, "agreement": agreement,
				"payment_instrument": map[string]any{"instrument_type": "token", "payload": payload}})
		}
		auths = s.Sim.Stats().Authorizations
		if r := keep(pay("one_off", map[string]any{"token": tok})); r.Status != 400 || dig(r.Body, "payment_instrument", "payload", "cvv") == nil {
			t.Errorf("payment_instrument on one_off without the required CVV: %d %s", r.Status, r.Raw)
		}
		if r := keep(pay("one_off", map[string]any{"token": tok, "cvv": "12"})); r.Status != 400 || dig(r.Body, "payment_instrument", "payload", "cvv") == nil {
			t.Errorf("payment_instrument with a malformed CVV: %d %s", r.Status, r.Raw)
		}
		if r := keep(pay("auto_debit", map[string]any{"token": tok, "cvv": cvc})); r.Status != 400 || dig(r.Body, "payment_instrument", "payload", "cvv") == nil {
			t.Errorf("payment_instrument on auto_debit with a CVV: %d %s", r.Status, r.Raw)
		}
		if s.Sim.Stats().Authorizations != auths {
			t.Error("a refused payment_instrument charged")
		}
		if one := keep(pay("one_off", map[string]any{"token": tok, "cvv": cvc}).want(t, 201)); one.str("state") != "paid" {
			t.Errorf("payment_instrument with its CVV: %s", one.Raw)
		}
		// On an auto_debit checkout under the card's agreement: merchant
		// initiated, no CVV.
		if ad := keep(pay("auto_debit", map[string]any{"token": tok}).want(t, 201)); ad.str("state") != "paid" {
			t.Errorf("payment_instrument on auto_debit: %s", ad.Raw)
		}

		// Delete: only the owner's, then gone.
		otDetail(t, "deleting as another customer", otCall(t, s, "DELETE", "/b/pbl/v2/card/"+tok+"/?customer_id=someone_else", sk, nil), 404)
		otFieldError(t, "deleting without customer_id", otCall(t, s, "DELETE", "/b/pbl/v2/card/"+tok+"/", sk, nil), "customer_id")
		d := otCall(t, s, "DELETE", "/b/pbl/v2/card/"+tok+"/?customer_id=cust_ad&type=sandbox", sk, nil)
		if d.Status != 204 || len(d.Raw) != 0 {
			t.Errorf("delete: %d %q", d.Status, d.Raw)
		}
		if l := otArray(t, otCall(t, s, "GET", "/b/pbl/v2/card?customer_id=cust_ad", sk, nil).want(t, 200)); len(l) != 0 {
			t.Errorf("cards after delete: %v", l)
		}
		otDetail(t, "deleting again", otCall(t, s, "DELETE", "/b/pbl/v2/card/"+tok+"?customer_id=cust_ad", sk, nil), 404)
		if tk := s.call("GET", "/v1/tokens/"+tok, sk, nil); tk.Status != 404 {
			t.Errorf("the deleted token natively: %d", tk.Status)
		}

		for _, h := range rv.all() {
			raws = append(raws, h.Body)
		}
		raws = append(raws, []byte(s.Logs.String()))
		for i, raw := range raws {
			if bytes.Contains(raw, []byte(pan)) || snIsolated(raw, cvc) {
				t.Errorf("answer, webhook or log %d holds the card number or CVV: %s", i, raw)
			}
		}
	})
}

// TestOttuCardsNewestPreferred: with two saved cards the list is newest
// first and only the newest is preferred (the store lists tokens newest
// first; the dialect once reversed them and preferred the oldest).
func TestOttuCardsNewestPreferred(t *testing.T) {
	s := start(t)
	sk := s.Dev.SecretKey
	cus := s.call("POST", "/v1/customers", sk, map[string]any{"reference": "cust_two"}).want(t, 201).str("id")
	var toks []string
	for _, pan := range []string{"4242424242424242", "5555555555554444"} {
		toks = append(toks, s.call("POST", "/v1/tokens", sk, map[string]any{"customer": cus,
			"card": map[string]any{"number": pan, "exp_month": 12, "exp_year": 2030, "cvc": "123"}}).want(t, 201).str("id"))
		time.Sleep(5 * time.Millisecond) // distinct creation times
	}
	cards := otArray(t, otCall(t, s, "GET", "/b/pbl/v2/card/?customer_id=cust_two", sk, nil).want(t, 200))
	if len(cards) != 2 || cards[0]["token"] != toks[1] || cards[0]["is_preferred"] != true || cards[1]["is_preferred"] != false {
		t.Errorf("cards: %v", cards)
	}
}
