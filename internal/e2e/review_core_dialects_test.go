package e2e

// An adversarial review of the core changes behind the provider dialects
// (payment.CardCipher / decryptCard, idempotency.HTTP under Idempotency-Key,
// X-REQUEST-ID and Tracking-Key, MerchantInitiated, token metadata
// "session", SessionParams.ExpiresAt, SessionView.CallbackFormat) and how
// the four dialects interact through them. Tests whose name has no "Pin"
// guard a bug the review found (fixed since); "Pin" tests hold properties
// that held already. Helper names start with rcd.

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// rcdOttuAutoDebit makes an auto_debit checkout for customer under the
// agreement id agr.
func rcdOttuAutoDebit(t testing.TB, s *server, sk, customer, agr, order, webhook string) resp {
	t.Helper()
	body := map[string]any{"type": "e_commerce", "amount": "5.000", "currency_code": "KWD", "pg_codes": []string{"ottu_pg_kwd_tkn"},
		"payment_type": "auto_debit", "customer_id": customer, "order_no": order, "agreement": map[string]any{"id": agr, "type": "unscheduled"}}
	if webhook != "" {
		body["webhook_url"] = webhook
	}
	return otCheckout(t, s, sk, body)
}

// rcdSavedUnderAgreement pays a fresh auto_debit checkout on its hosted
// page (native confirm, as the page does) with pan and returns the token
// it saved under the agreement.
func rcdSavedUnderAgreement(t testing.TB, s *server, sk, customer, agr, pan, cvc string) (tok, sid string) {
	t.Helper()
	c := rcdOttuAutoDebit(t, s, sk, customer, agr, "rcd-save-"+agr, "")
	sid = c.str("session_id")
	p := otPayNative(t, s, sk, sid, pan, cvc, true)
	tok = p.str("token")
	if p.str("status") != "succeeded" || !strings.HasPrefix(tok, "tok_") {
		t.Fatalf("saving a card under %s: %s", agr, p.Raw)
	}
	return tok, sid
}

// rcdPivotEnvelope builds a hybrid envelope from its parts (each base64).
func rcdPivotEnvelope(parts map[string]any) string {
	b, _ := json.Marshal(parts)
	return base64.StdEncoding.EncodeToString(b)
}

// TestReviewCoreDialectsTrackingKeySharesNativeKeySpace
//
// Bug: Ottu's Tracking-Key and the native Idempotency-Key are stored in one
// key space per merchant (idempotency.HTTP digests the raw key; Ottu's
// AutoDebit passes Tracking-Key unscoped, while Pivot scopes X-REQUEST-ID
// as "pivot:<op>|…"). A Tracking-Key that happens to equal a key the
// merchant's native integration used (or the other way round) is answered
// 409 "used with another request" instead of running.
//
// Why it matters: the two integrations pick keys independently (often the
// same order number or UUID scheme); an auto-debit refused with a 409 is a
// missed collection the Ottu client cannot resolve by retrying, and a native
// request can be blocked for the key's lifetime by an Ottu call.
//
// Expected: each API's idempotency keys live in their own namespace (scope
// the Tracking-Key as Pivot does): the native request creates its customer
// (201) and the auto-debit is answered on its merits (400 for an unknown
// checkout).
func TestReviewCoreDialectsTrackingKeySharesNativeKeySpace(t *testing.T) {
	s := start(t)
	sk := s.Dev.SecretKey
	unknown := map[string]any{"session_id": "ps_rcdnosuchcheckout000000", "token": "tok_rcdnosuchtoken00000000"}

	// Ottu first: its 400 is stored under the key.
	a := otCall(t, s, "POST", "/b/pbl/v2/auto-debit/", sk, unknown, "Tracking-Key", "order-1001")
	if a.Status != 400 {
		t.Fatalf("auto-debit of an unknown checkout: %d %s", a.Status, a.Raw)
	}
	if n := s.call("POST", "/v1/customers", sk, map[string]any{"reference": "rcd-cust-1001"}, "Idempotency-Key", "order-1001"); n.Status != 201 {
		t.Errorf("a native Idempotency-Key equal to an earlier Ottu Tracking-Key: want 201, got %d %s", n.Status, n.Raw)
	}

	// Native first: the Ottu call with the same value is refused.
	s.call("POST", "/v1/customers", sk, map[string]any{"reference": "rcd-cust-1002"}, "Idempotency-Key", "order-1002").want(t, 201)
	if b := otCall(t, s, "POST", "/b/pbl/v2/auto-debit/", sk, unknown, "Tracking-Key", "order-1002"); b.Status != 400 {
		t.Errorf("an Ottu Tracking-Key equal to an earlier native Idempotency-Key: want 400 (unknown checkout), got %d %s", b.Status, b.Raw)
	}
}

// TestReviewCoreDialectsSensePassReachesOtherDialectsSessions
//
// Bug: SensePass's GET /transactions/{ps_…} and POST /transactions/cancel/
// {ps_…} (transaction.go lookup) read and cancel any session of the
// merchant: it never checks SessionView.CallbackFormat, which Pivot
// (pivotSession) and Ottu (session) do so that "only the checkouts this
// dialect created are Ottu checkouts" (docs/dialects.md).
//
// Why it matters: an Ottu auto_debit checkout or a Pivot session, whose
// dialect promises it is invisible elsewhere, is shown in SensePass's shape
// and can be cancelled through SensePass — a cross-dialect path around the
// owning dialect's rules (Ottu has no cancel; Pivot never cancels a session
// the client did not create with autoConfirm).
//
// Expected: SensePass answers 404 for sessions it did not create (format
// "sensepass" or "sensepass_get"), and the Ottu checkout stays "created".
func TestReviewCoreDialectsSensePassReachesOtherDialectsSessions(t *testing.T) {
	s := start(t)
	sk := s.Dev.SecretKey
	ot := otCheckout(t, s, sk, map[string]any{"type": "e_commerce", "amount": "1.000", "currency_code": "KWD", "pg_codes": []string{"x"}})
	osid := ot.str("session_id")
	pv := pvAPISession(t, s, pvToken(t, s, s.Dev.ID, sk), nil)
	psid := pvStr(pv, "id")

	for name, id := range map[string]string{"an Ottu checkout": osid, "a Pivot session": psid} {
		if g := snGet(t, s, id, "apiKey", sk); g.Status != 404 {
			t.Errorf("SensePass GET of %s: want 404, got %d %s", name, g.Status, g.Raw)
		}
	}
	if c := snPost(t, s, "cancel/"+osid, map[string]any{"apiKey": sk}); c.Status != 404 {
		t.Errorf("SensePass cancel of an Ottu checkout: want 404, got %d %s", c.Status, c.Raw)
	}
	if g := otCall(t, s, "GET", "/b/checkout/v1/pymt-txn/"+osid, sk, nil).want(t, 200); g.str("state") != "created" {
		t.Errorf("the Ottu checkout after SensePass's cancel: state %q, want created", g.str("state"))
	}
}

// TestReviewCoreDialectsPinSessionsStayInTheirDialect: Pivot and Ottu
// neither show nor pay a session another API made (CallbackFormat); the
// native API cannot give a session a dialect's format.
func TestReviewCoreDialectsPinSessionsStayInTheirDialect(t *testing.T) {
	s := start(t)
	sk := s.Dev.SecretKey
	tok := pvToken(t, s, s.Dev.ID, sk)
	dk, _ := snDeviceKey(t, s, sk)

	native := s.call("POST", "/v1/sessions", sk, map[string]any{"amount": 1000, "mode": "api"}).want(t, 201).str("id")
	// json:"-" fields are not JSON: a native caller cannot claim a format.
	forged := s.call("POST", "/v1/sessions", sk, map[string]any{"amount": 1000, "mode": "api", "CallbackFormat": "ottu",
		"callback_format": "pivot", "-": "ottu"})
	sense := snPost(t, s, "init", map[string]any{"timeOut": 600, "amount": 100, "deviceId": dk, "methodType": "Capture"}).want(t, 201).str("TransactionNumber")
	ottu := otCheckout(t, s, sk, map[string]any{"type": "e_commerce", "amount": "1.000", "currency_code": "KWD", "pg_codes": []string{"x"},
		"payment_type": "auto_debit", "customer_id": "rcd-iso", "agreement": map[string]any{"id": "agr-iso", "type": "unscheduled"}}).str("session_id")
	pivot := pvStr(pvAPISession(t, s, tok, nil), "id")

	if forged.Status != 400 {
		t.Logf("native session with CallbackFormat keys: %d", forged.Status)
	}
	foreignToPivot := []string{native, sense, ottu}
	foreignToOttu := []string{native, sense, pivot}
	if forged.Status == 201 {
		foreignToPivot = append(foreignToPivot, forged.str("id"))
		foreignToOttu = append(foreignToOttu, forged.str("id"))
	}
	for _, id := range foreignToPivot {
		if g := s.call("GET", "/pivot/v2/payments/"+id, tok, nil); g.Status != 404 {
			t.Errorf("Pivot GET of foreign session %s: %d %s", id, g.Status, g.Raw)
		}
		if c := pvConfirm(s, tok, id, map[string]any{"encryptedCard": "AAAA"}); c.Status != 404 {
			t.Errorf("Pivot confirm of foreign session %s: %d %s", id, c.Status, c.Raw)
		}
	}
	for _, id := range foreignToOttu {
		if g := otCall(t, s, "GET", "/b/checkout/v1/pymt-txn/"+id, sk, nil); g.Status != 404 {
			t.Errorf("Ottu GET of foreign session %s: %d %s", id, g.Status, g.Raw)
		}
		if a := otCall(t, s, "POST", "/b/pbl/v2/auto-debit/", sk, map[string]any{"session_id": id, "token": "tok_x"}); a.Status != 400 ||
			dig(a.Body, "session_id") == nil {
			t.Errorf("Ottu auto-debit of foreign session %s: %d %s", id, a.Status, a.Raw)
		}
	}
}

// TestReviewCoreDialectsPinMerchantInitiatedOnlyForAgreementCards: the
// holder-absent charge (no CVC although require_cvc_for_saved_cards, no
// 3-D Secure) is reachable only through Ottu's auto-debit of a card saved
// under the same agreement: not through native JSON (json:"-"), not with a
// card saved elsewhere whose token metadata names an Ottu checkout, not with
// a card saved under another agreement.
func TestReviewCoreDialectsPinMerchantInitiatedOnlyForAgreementCards(t *testing.T) {
	s := start(t)
	sk := s.Dev.SecretKey
	agrTok, agrSession := rcdSavedUnderAgreement(t, s, sk, "rcd-mi", "agr-A", "5555555555554444", "529")
	otherTok, _ := rcdSavedUnderAgreement(t, s, sk, "rcd-mi", "agr-B", "6011111111111117", "284")
	s.call("PATCH", "/v1/merchant", sk, map[string]any{"require_cvc_for_saved_cards": true}).want(t, 200)

	// A native token for the same customer claiming the agreement
	// checkout as its origin.
	cus := s.call("GET", "/v1/sessions/"+agrSession, sk, nil).want(t, 200).str("customer")
	forged := s.call("POST", "/v1/tokens", sk, map[string]any{"card": card("3566002020360505"), "customer": cus,
		"metadata": map[string]any{"session": agrSession}})
	if forged.Status != 201 {
		t.Fatalf("a native token with metadata.session: %d %s", forged.Status, forged.Raw)
	}
	auths := s.Sim.Stats().Authorizations
	target := rcdOttuAutoDebit(t, s, sk, "rcd-mi", "agr-A", "rcd-mi-1", "").str("session_id")
	if forged.Status == 201 {
		if a := otCall(t, s, "POST", "/b/pbl/v2/auto-debit/", sk, map[string]any{"session_id": target, "token": forged.str("id")}); a.Status != 400 || dig(a.Body, "token") == nil {
			t.Errorf("auto-debit of a native token whose metadata names the agreement checkout: %d %s", a.Status, a.Raw)
		}
	}
	if a := otCall(t, s, "POST", "/b/pbl/v2/auto-debit/", sk, map[string]any{"session_id": target, "token": otherTok}); a.Status != 400 || dig(a.Body, "token") == nil {
		t.Errorf("auto-debit with a card saved under another agreement: %d %s", a.Status, a.Raw)
	}
	// Native confirm of the auto_debit checkout with the agreement card
	// and the json:"-" field spelled every way: the CVC is still required.
	for _, k := range []string{"MerchantInitiated", "merchant_initiated", "merchantInitiated"} {
		r := s.call("POST", "/v1/sessions/"+target+"/confirm", sk, map[string]any{"token": agrTok, k: true})
		if r.Status != 400 {
			t.Errorf("native confirm with %s:true and no CVC: want 400, got %d %s", k, r.Status, r.Raw)
		}
		p := s.call("POST", "/v1/payments", sk, map[string]any{"amount": 100, "token": agrTok, k: true})
		if p.Status != 400 {
			t.Errorf("native payment with %s:true and no CVC: want 400, got %d %s", k, p.Status, p.Raw)
		}
	}
	// Pivot: a saved card always needs its CVC.
	pt := pvToken(t, s, s.Dev.ID, sk)
	pv := pvAPISession(t, s, pt, map[string]any{"customerId": cus})
	if c := pvConfirm(s, pt, pvStr(pv, "id"), map[string]any{"token": agrTok}); c.Status != 400 {
		t.Errorf("Pivot confirm with the agreement card and no CVC: %d %s", c.Status, c.Raw)
	}
	if got := s.Sim.Stats().Authorizations; got != auths {
		t.Errorf("a refused merchant-initiated attempt charged: %d → %d", auths, got)
	}
	// The genuine one goes through, with no CVC.
	a := otCall(t, s, "POST", "/b/pbl/v2/auto-debit/", sk, map[string]any{"session_id": target, "token": agrTok}).want(t, 200)
	if a.str("result") != "success" {
		t.Errorf("auto-debit under the agreement: %s", a.Raw)
	}
}

// TestReviewCoreDialectsPinDialectCardEnvelopes: every malformed or
// forged encryptedCard (envelope fields missing, mistyped, wrong sizes,
// tampered tag, a short AES key, the session-bound native form, garbage)
// is the same 400 naming the field, never a 5xx or a dropped connection,
// and never counts as an attempt.
func TestReviewCoreDialectsPinDialectCardEnvelopes(t *testing.T) {
	s := start(t)
	sk := s.Dev.SecretKey
	tok := pvToken(t, s, s.Dev.ID, sk)
	v := pvAPISession(t, s, tok, nil)
	id := pvStr(v, "id")
	der, _ := base64.StdEncoding.DecodeString(pvStr(v, "encryptionKey"))
	k, _ := x509.ParsePKIXPublicKey(der)
	pub := k.(*rsa.PublicKey)
	b64 := base64.StdEncoding.EncodeToString
	wrap := func(key []byte, label []byte) string {
		ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, key, label)
		if err != nil {
			t.Fatal(err)
		}
		return b64(ct)
	}
	key32 := make([]byte, 32)
	rand.Read(key32)
	good := pvEncrypt(t, pvStr(v, "encryptionKey"), pvCardJSON("4000056655665556", "846"), true)
	raw, _ := base64.StdEncoding.DecodeString(good)
	var env map[string]string
	json.Unmarshal(raw, &env)
	tampered := func(field string, f func([]byte) []byte) string {
		m := map[string]any{}
		for k, v := range env {
			m[k] = v
		}
		b, _ := base64.StdEncoding.DecodeString(env[field])
		m[field] = b64(f(append([]byte(nil), b...)))
		return rcdPivotEnvelope(m)
	}
	cases := map[string]string{
		"empty object":       b64([]byte(`{}`)),
		"not json":           b64([]byte(`{not json`)),
		"array":              b64([]byte(`[1,2,3]`)),
		"numbers":            rcdPivotEnvelope(map[string]any{"encryptedKey": 1, "nonce": 2, "ciphertext": 3}),
		"null fields":        rcdPivotEnvelope(map[string]any{"encryptedKey": nil, "nonce": nil, "ciphertext": nil}),
		"bad base64 fields":  rcdPivotEnvelope(map[string]any{"encryptedKey": "%%%", "nonce": "***", "ciphertext": "!!"}),
		"short nonce":        rcdPivotEnvelope(map[string]any{"encryptedKey": env["encryptedKey"], "nonce": b64([]byte("short")), "ciphertext": env["ciphertext"]}),
		"empty ciphertext":   rcdPivotEnvelope(map[string]any{"encryptedKey": env["encryptedKey"], "nonce": env["nonce"], "ciphertext": ""}),
		"tampered tag":       tampered("ciphertext", func(b []byte) []byte { b[len(b)-1] ^= 1; return b }),
		"tampered key":       tampered("encryptedKey", func(b []byte) []byte { b[10] ^= 1; return b }),
		"truncated key":      tampered("encryptedKey", func(b []byte) []byte { return b[:100] }),
		"16-byte aes key":    rcdPivotEnvelope(map[string]any{"encryptedKey": wrap(key32[:16], nil), "nonce": env["nonce"], "ciphertext": env["ciphertext"]}),
		"other label":        rcdPivotEnvelope(map[string]any{"encryptedKey": wrap(key32, []byte("ps_other")), "nonce": env["nonce"], "ciphertext": env["ciphertext"]}),
		"plain oaep garbage": wrap([]byte("not a card"), nil),
		"plain oaep empty":   wrap([]byte{}, nil),
		"plain oaep '{'":     wrap([]byte("{"), nil),
		"random bytes":       b64(bytes.Repeat([]byte{0x7b}, 256)),
		"too long":           strings.Repeat("A", 5000),
		"whitespace":         "   ",
		"url-safe garbage":   "-_-_-_-_",
	}
	var msg string
	for name, enc := range cases {
		r := pvConfirm(s, tok, id, map[string]any{"encryptedCard": enc})
		if r.Status != 400 || !strings.Contains(r.str("message"), "paymentMethod.card.encryptedCard") {
			t.Errorf("%s: want 400 naming paymentMethod.card.encryptedCard, got %d %s", name, r.Status, r.Raw)
			continue
		}
		if msg == "" {
			msg = r.str("message")
		} else if r.str("message") != msg {
			t.Errorf("%s: a distinguishable error %q (others: %q)", name, r.str("message"), msg)
		}
	}
	if g := pvOK(t, "after the bad cards", s.call("GET", "/pivot/v2/payments/"+id, tok, nil)); g["status"] != "REQUIRE_CONFIRMATION" {
		t.Errorf("the session after malformed cards: %v", g["status"])
	}
	if n := s.call("GET", "/v1/sessions/"+id, sk, nil).want(t, 200); dig(n.Body, "attempts") != float64(0) {
		t.Errorf("malformed cards counted as attempts: %s", n.Raw)
	}
	// A label-less dialect ciphertext (plain or hybrid) does not open a
	// native session, whose cards are bound to it by the OAEP label; nor
	// does one made for this merchant open another merchant's session.
	ns := s.call("POST", "/v1/sessions", sk, map[string]any{"amount": 1000, "mode": "api"}).want(t, 201)
	for _, hybrid := range []bool{false, true} {
		enc := pvEncrypt(t, ns.str("encryption_key", "spki"), []byte(`{"number":"4000056655665556","exp_month":12,"exp_year":2031,"cvc":"846"}`), hybrid)
		if r := s.call("POST", "/v1/sessions/"+ns.str("id")+"/confirm", sk, map[string]any{"encrypted_card": enc}); r.Status != 400 ||
			r.str("error", "code") != "encrypted_card_invalid" {
			t.Errorf("a label-less ciphertext (hybrid %v) on a native session: %d %s", hybrid, r.Status, r.Raw)
		}
	}
	other := s.newMerchant("Toko Lain")
	otok := pvToken(t, s, other.ID, other.SecretKey)
	ov := pvAPISession(t, s, otok, nil)
	if r := pvConfirm(s, otok, pvStr(ov, "id"), map[string]any{"encryptedCard": good}); r.Status != 400 {
		t.Errorf("merchant A's ciphertext on merchant B's session: %d %s", r.Status, r.Raw)
	}
	// The genuine envelope still pays.
	if d := pvOK(t, "the good envelope", pvConfirm(s, tok, id, map[string]any{"encryptedCard": good})); d["status"] != "PAID" {
		t.Errorf("good envelope: %v", d)
	}
}

// TestReviewCoreDialectsPinExpiryAt: Pivot's expiryAt in any zone is kept
// as the same instant; outside 1 minute – 24 hours it is refused.
func TestReviewCoreDialectsPinExpiryAt(t *testing.T) {
	s := start(t)
	sk := s.Dev.SecretKey
	tok := pvToken(t, s, s.Dev.ID, sk)
	jakarta := time.FixedZone("WIB", 7*3600)
	want := time.Now().Add(2 * time.Hour).Truncate(time.Second)
	v := pvAPISession(t, s, tok, map[string]any{"expiryAt": want.In(jakarta).Format(time.RFC3339)})
	got, err := time.Parse(time.RFC3339, pvStr(v, "expiryAt"))
	if err != nil || !got.Equal(want) {
		t.Errorf("expiryAt %q, want the instant %s", pvStr(v, "expiryAt"), want.UTC())
	}
	n := s.call("GET", "/v1/sessions/"+pvStr(v, "id"), sk, nil).want(t, 200)
	if ne, err := time.Parse(time.RFC3339Nano, n.str("expires_at")); err != nil || !ne.Equal(want) {
		t.Errorf("native expires_at %q, want %s", n.str("expires_at"), want.UTC())
	}
	for _, bad := range []time.Time{time.Now().Add(30 * time.Second), time.Now().Add(25 * time.Hour), time.Now().Add(-time.Hour)} {
		r := s.call("POST", "/pivot/v2/payments", tok, map[string]any{"amount": map[string]any{"value": 1000, "currency": "IDR"}, "mode": "API",
			"expiryAt": bad.In(jakarta).Format(time.RFC3339)})
		if r.Status != 400 {
			t.Errorf("expiryAt %s: want 400, got %d %s", bad, r.Status, r.Raw)
		}
	}
}

// TestReviewCoreDialectsPinIdempotencyAcrossMerchantsAndEndpoints: one
// X-REQUEST-ID / Idempotency-Key used by two merchants runs for each; the
// same native key on another endpoint is a 409, never a replay of the
// other endpoint's answer; a replay says so.
func TestReviewCoreDialectsPinIdempotencyAcrossMerchantsAndEndpoints(t *testing.T) {
	s := start(t)
	a, b := s.Dev, s.newMerchant("Kedai B")
	ta, tb := pvToken(t, s, a.ID, a.SecretKey), pvToken(t, s, b.ID, b.SecretKey)
	body := map[string]any{"amount": map[string]any{"value": 1000, "currency": "IDR"}, "mode": "API"}
	ra := s.call("POST", "/pivot/v2/payments", ta, body, "X-REQUEST-ID", "shared-req-1")
	rb := s.call("POST", "/pivot/v2/payments", tb, body, "X-REQUEST-ID", "shared-req-1")
	ida, idb := pvStr(pvOK(t, "merchant A", ra), "id"), pvStr(pvOK(t, "merchant B", rb), "id")
	if ida == idb || rb.Header.Get("Idempotent-Replayed") != "" {
		t.Errorf("one X-REQUEST-ID across merchants replayed: %s / %s", ra.Raw, rb.Raw)
	}
	if g := s.call("GET", "/pivot/v2/payments/"+ida, tb, nil); g.Status != 404 {
		t.Errorf("merchant B reads A's session: %d", g.Status)
	}
	again := s.call("POST", "/pivot/v2/payments", ta, body, "X-REQUEST-ID", "shared-req-1")
	if !bytes.Equal(again.Raw, ra.Raw) || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("X-REQUEST-ID replay: %s / %s", ra.Raw, again.Raw)
	}

	c1 := s.call("POST", "/v1/customers", a.SecretKey, map[string]any{"reference": "rcd-idem"}, "Idempotency-Key", "k-cross").want(t, 201)
	c2 := s.call("POST", "/v1/customers", b.SecretKey, map[string]any{"reference": "rcd-idem"}, "Idempotency-Key", "k-cross").want(t, 201)
	if c1.str("id") == c2.str("id") || c2.Header.Get("Idempotent-Replayed") != "" {
		t.Errorf("one Idempotency-Key across merchants replayed")
	}
	if x := s.call("POST", "/v1/sessions", a.SecretKey, map[string]any{"amount": 100}, "Idempotency-Key", "k-cross"); x.Status != 409 ||
		x.str("error", "code") != "idempotency_key_reused" {
		t.Errorf("a key reused on another endpoint: want 409 idempotency_key_reused, got %d %s", x.Status, x.Raw)
	}
	if r := s.call("POST", "/v1/customers", a.SecretKey, map[string]any{"reference": "rcd-idem"}, "Idempotency-Key", "k-cross"); !bytes.Equal(r.Raw, c1.Raw) ||
		r.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("native replay: %d %s", r.Status, r.Raw)
	}
}

// TestReviewCoreDialectsPinNoCardLeakAcrossDialects is the leak scan over a
// run that exercises all four dialects and the cores they share: senangPay
// get_payment_token and pay_cc, SensePass tokenize and a session paid on its
// page, Pivot confirms with hybrid and plain OAEP envelopes, a stored token
// + CVC, a 3-D Secure challenge and X-REQUEST-ID replays, Ottu's hosted
// payment, auto-debit under Tracking-Key and payment_instrument with a CVV;
// every response, every callback/webhook (native endpoint and each
// dialect's), the log, stdout, every data file (running and stopped) and
// every database value is scanned for the card numbers and CVCs sent.
func TestReviewCoreDialectsPinNoCardLeakAcrossDialects(t *testing.T) {
	s := start(t, withWebhookRetryBase(100*time.Millisecond))
	sk, mid, sec := s.Dev.SecretKey, s.Dev.ID, s.Dev.HMACSecret
	s.call("PATCH", "/v1/merchant", sk, map[string]any{"accept_raw_card_data": true}).want(t, 200)
	rv := snNewReceiver(t)
	s.call("POST", "/v1/webhook_endpoints", sk, map[string]any{"url": rv.URL, "events": []string{"*"}}).want(t, 201)
	type pc struct{ pan, cvc string }
	var (
		spCard   = pc{"378282246310005", "7391"} // senangPay get_payment_token (raw)
		snTok    = pc{"5200828282828210", "417"} // SensePass tokenize (raw)
		snPage   = pc{"3566002020360505", "613"} // SensePass session paid on its page
		pvHybrid = pc{"4000056655665556", "846"} // Pivot hybrid, saved
		pvPlain  = pc{"5555555555554444", "529"} // Pivot plain OAEP
		pvChal   = pc{"4000002500003155", "908"} // Pivot 3-D Secure
		otPage   = pc{"36227206271667", "958"}   // Ottu auto_debit hosted payment, saved
		otDecl   = pc{"4000000000000002", "162"} // Ottu declined
		pvBad    = pc{"6200000000000005", "382"} // Pivot: a card with a bad expiry, refused after decryption
	)
	cards := []pc{spCard, snTok, snPage, pvHybrid, pvPlain, pvChal, otPage, otDecl, pvBad}
	var raws [][]byte
	keep := func(r resp) resp { raws = append(raws, r.Raw); return r }

	// senangPay.
	exp := time.Now().AddDate(3, 0, 0).Format("0106")
	g := keep(spPost(t, s, "get_payment_token", mid, sec, "form", map[string]string{"name": "Abu Bin Ali", "email": "abu@example.my",
		"phone": "0109876543", "cc_number": spCard.pan, "cc_exp": exp, "cc_cvv": spCard.cvc}).want(t, 200))
	spTok := g.str("token")
	f := map[string]string{"name": "Abu Bin Ali", "email": "abu@example.my", "phone": "60123456789", "detail": "Order rcd",
		"order_id": "rcd-sp-1", "amount": "200", "token": spTok}
	f["hash"] = spSign(sec, mid, f["name"], f["email"], f["phone"], f["detail"], f["order_id"], f["amount"])
	if r := keep(spPost(t, s, "pay_cc", mid, sec, "form", f).want(t, 200)); r.Body["status"] != float64(1) {
		t.Errorf("pay_cc: %s", r.Raw)
	}

	// SensePass.
	dk, _ := snDeviceKey(t, s, sk)
	tk := keep(snPost(t, s, "tokenize", map[string]any{"apiKey": sk, "creditCardDetails": []any{map[string]any{"cardNumber": snTok.pan,
		"cardExpiration": "12/34", "securityCode": snTok.cvc}}}).want(t, 201))
	snTokID, _ := snArray(t, tk)[0]["token"].(string)
	keep(snPost(t, s, "pay", map[string]any{"amount": 200, "currency": "USD", "deviceId": dk, "token": snTokID}).want(t, 201))
	in := keep(snPost(t, s, "init", map[string]any{"timeOut": 600, "amount": 3000, "deviceId": dk, "methodType": "Capture+Tokenize",
		"callbackURL": rv.URL}).want(t, 201))
	num := in.str("TransactionNumber")
	sess := snSession(t, s, sk, num)
	keep(s.call("POST", "/v1/sessions/"+num+"/confirm", sk, map[string]any{"encrypted_card": encryptFor(t, sess, snPage.pan, snPage.cvc)}).want(t, 200))
	keep(snGet(t, s, num, "apiKey", sk).want(t, 200))

	// Pivot.
	tok := pvToken(t, s, mid, sk)
	customer := map[string]any{"givenName": "Siti", "email": "siti@example.id"}
	v := pvAPISession(t, s, tok, map[string]any{"saveForFutureUse": true, "customer": customer, "callbackUrl": rv.URL}, "X-REQUEST-ID", "rcd-pv-create")
	id := pvStr(v, "id")
	enc := pvEncrypt(t, pvStr(v, "encryptionKey"), pvCardJSON(pvHybrid.pan, pvHybrid.cvc), true)
	confirmBody := map[string]any{"paymentMethod": map[string]any{"type": "CARD", "card": map[string]any{"encryptedCard": enc}}}
	c1 := keep(s.call("POST", "/pivot/v2/payments/"+id+"/confirm", tok, confirmBody, "X-REQUEST-ID", "rcd-pv-confirm"))
	d := pvOK(t, "pivot confirm", c1)
	if r := keep(s.call("POST", "/pivot/v2/payments/"+id+"/confirm", tok, confirmBody, "X-REQUEST-ID", "rcd-pv-confirm")); r.Header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(r.Raw, c1.Raw) {
		t.Errorf("pivot confirm replay: %s", r.Raw)
	}
	saved := pvStr(d["chargeDetails"].([]any)[0], "token")
	v2 := pvAPISession(t, s, tok, map[string]any{"customerId": pvStr(v, "customerId")})
	if d := pvOK(t, "pivot token+cvc", keep(pvConfirm(s, tok, pvStr(v2, "id"), map[string]any{"token": saved, "cvc": pvHybrid.cvc}))); d["status"] != "PAID" {
		t.Errorf("pivot token+cvc: %v", d)
	}
	v3 := pvAPISession(t, s, tok, nil)
	if d := pvOK(t, "pivot plain", keep(pvConfirm(s, tok, pvStr(v3, "id"), map[string]any{"encryptedCard": pvEncrypt(t, pvStr(v3, "encryptionKey"), pvCardJSON(pvPlain.pan, pvPlain.cvc), false)}))); d["status"] != "PAID" {
		t.Errorf("pivot plain: %v", d)
	}
	v4 := pvAPISession(t, s, tok, map[string]any{"callbackUrl": rv.URL})
	ch := pvOK(t, "challenge", keep(pvConfirm(s, tok, pvStr(v4, "id"), map[string]any{"encryptedCard": pvEncrypt(t, pvStr(v4, "encryptionKey"), pvCardJSON(pvChal.pan, pvChal.cvc), true)})))
	passChallenge(t, pvStr(ch, "paymentUrl"))
	if d := pvOK(t, "pivot after challenge", keep(s.call("GET", "/pivot/v2/payments/"+pvStr(v4, "id"), tok, nil))); d["status"] != "PAID" {
		t.Errorf("pivot after challenge: %v", d)
	}
	v5 := pvAPISession(t, s, tok, nil)
	badPlain, _ := json.Marshal(map[string]any{"card": map[string]any{"number": pvBad.pan, "expiryMonth": "13", "expiryYear": "2031", "cvc": pvBad.cvc}})
	if r := keep(pvConfirm(s, tok, pvStr(v5, "id"), map[string]any{"encryptedCard": pvEncrypt(t, pvStr(v5, "encryptionKey"), badPlain, true)})); r.Status != 400 {
		t.Errorf("pivot bad expiry: %d %s", r.Status, r.Raw)
	}
	badNum, _ := json.Marshal(map[string]any{"card": map[string]any{"number": pvBad.pan[:15] + "9", "expiryMonth": "12", "expiryYear": "2031", "cvc": pvBad.cvc}})
	if r := keep(pvConfirm(s, tok, pvStr(v5, "id"), map[string]any{"encryptedCard": pvEncrypt(t, pvStr(v5, "encryptionKey"), badNum, false)})); r.Status != 400 {
		t.Errorf("pivot bad number: %d %s", r.Status, r.Raw)
	}
	cards = append(cards, pc{pvBad.pan[:15] + "9", pvBad.cvc})
	keep(s.call("GET", "/pivot/v1/customers/"+pvStr(v, "customerId"), tok, nil))

	// Ottu.
	first := rcdOttuAutoDebit(t, s, sk, "rcd-leak", "agr-leak", "rcd-ot-1", rv.URL)
	osid := first.str("session_id")
	osess := s.call("GET", "/v1/sessions/"+osid, sk, nil).want(t, 200)
	if r := keep(s.call("POST", "/v1/sessions/"+osid+"/confirm", sk, map[string]any{"encrypted_card": encryptFor(t, osess, otDecl.pan, otDecl.cvc)})); r.Status != 402 {
		t.Errorf("ottu declined: %d %s", r.Status, r.Raw)
	}
	osess = s.call("GET", "/v1/sessions/"+osid, sk, nil).want(t, 200)
	p := keep(s.call("POST", "/v1/sessions/"+osid+"/confirm", sk, map[string]any{"encrypted_card": encryptFor(t, osess, otPage.pan, otPage.cvc)}).want(t, 200))
	otTok := p.str("token")
	second := rcdOttuAutoDebit(t, s, sk, "rcd-leak", "agr-leak", "rcd-ot-2", rv.URL)
	ad := map[string]any{"session_id": second.str("session_id"), "token": otTok}
	keep(otCall(t, s, "POST", "/b/pbl/v2/auto-debit/", sk, ad, "Tracking-Key", "rcd-track-1").want(t, 200))
	keep(otCall(t, s, "POST", "/b/pbl/v2/auto-debit", sk, ad, "Tracking-Key", "rcd-track-1").want(t, 200))
	keep(otCall(t, s, "POST", "/b/checkout/v1/pymt-txn/", sk, map[string]any{"type": "e_commerce", "amount": "1.000", "currency_code": "KWD",
		"pg_codes": []string{"x"}, "customer_id": "rcd-leak", "webhook_url": rv.URL,
		"payment_instrument": map[string]any{"instrument_type": "token", "payload": map[string]any{"token": otTok, "cvv": otPage.cvc}}}).want(t, 201))
	keep(otCall(t, s, "GET", "/b/pbl/v2/card/?customer_id=rcd-leak", sk, nil).want(t, 200))
	keep(otCall(t, s, "GET", "/b/checkout/v1/pymt-txn/"+osid, sk, nil).want(t, 200))

	// Native views of what the dialects made.
	keep(s.call("GET", "/v1/events", sk, nil).want(t, 200))
	for _, tid := range []string{spTok, snTokID, saved, otTok} {
		keep(s.call("GET", "/v1/tokens/"+tid, sk, nil).want(t, 200))
	}

	// Let the callbacks and webhooks go out.
	time.Sleep(2 * time.Second)
	waitUntil(t, 15*time.Second, "callbacks", func() bool { return len(rv.all()) >= 10 })
	for _, h := range rv.all() {
		raws = append(raws, h.Body, []byte(h.RawQuery))
	}

	running := lkReadTree(t, s.DataDir)
	s.stop()
	stopped := lkReadTree(t, s.DataDir)
	sources := map[string][]byte{"server log": []byte(s.Logs.String()), "stdout": []byte(s.Stdout.String())}
	for name, b := range running {
		sources["running:"+name] = b
	}
	for name, b := range stopped {
		sources[name] = b
	}
	for i, r := range raws {
		sources[fmt.Sprintf("response/callback %d", i)] = r
	}
	for _, c := range cards {
		digits := biDigits(c.pan)
		for src, data := range sources {
			for form, n := range map[string][]byte{"digits": []byte(digits), "utf-16le": lkUTF16LE(digits)} {
				if i := bytes.Index(data, n); i >= 0 {
					t.Errorf("%s holds card %s… in clear (%s): %q", src, digits[:6], form, lkContext(data, i, len(n)))
				}
			}
			for _, pat := range []string{`"cvc":"%s"`, `"cvv":"%s"`, `"securityCode":"%s"`, `cc_cvv=%s`, `"cc_cvv":"%s"`, `cvc=%s`} {
				n := []byte(fmt.Sprintf(pat, c.cvc))
				if i := bytes.Index(data, n); i >= 0 {
					t.Errorf("%s holds a CVC: %q", src, lkContext(data, i, len(n)))
				}
			}
			if len(c.cvc) == 4 {
				if i := lkIsolated(data, []byte(c.cvc), lkAlnum); i >= 0 {
					t.Errorf("%s holds the CVC %s: %q", src, c.cvc, lkContext(data, i, len(c.cvc)))
				}
			}
		}
		// Answers and callbacks are text: no CVC as a word of its own.
		for i, r := range raws {
			if snIsolated(r, c.cvc) {
				t.Errorf("response/callback %d holds the CVC %s: %s", i, c.cvc, r)
			}
		}
	}
	db := lkOpenDB(t, s.DataDir)
	for table, rows := range lkDumpDB(t, db) {
		for _, row := range rows {
			for col, val := range row {
				for _, c := range cards {
					if strings.Contains(val, biDigits(c.pan)) {
						t.Errorf("%s.%s holds card %s… in clear", table, col, c.pan[:6])
					}
					if i := lkIsolated([]byte(val), []byte(c.cvc), lkWordByte); i >= 0 {
						t.Errorf("%s.%s holds the CVC %s: %q", table, col, c.cvc, lkContext([]byte(val), i, len(c.cvc)))
					}
				}
			}
		}
	}
}
