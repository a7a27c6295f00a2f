package dialects

// No card number or CVC anywhere after a run through all four dialects.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// TestNoCardLeakAcrossDialects is the leak scan over a
// run that exercises all four dialects and the cores they share: senangPay
// get_payment_token and pay_cc, SensePass tokenize and a session paid on its
// page, Pivot confirms with hybrid and plain OAEP envelopes, a stored token
// + CVC, a 3-D Secure challenge and X-REQUEST-ID replays, Ottu's hosted
// payment, auto-debit under Tracking-Key and payment_instrument with a CVV;
// every response, every callback/webhook (native endpoint and each
// dialect's), the log, stdout, every data file (running and stopped) and
// every database value is scanned for the card numbers and CVCs sent.
func TestNoCardLeakAcrossDialects(t *testing.T) {
	t.Parallel()
	s := harness.Start(t, harness.WithWebhookRetryBase(100*time.Millisecond))
	sk, mid, sec := s.Dev.SecretKey, s.Dev.ID, s.Dev.HMACSecret
	s.Call("PATCH", "/v1/merchant", sk, map[string]any{"accept_raw_card_data": true}).Want(t, 200)
	rv := harness.NewRecorder(t, "/sensepass/callback")
	s.Call("POST", "/v1/webhook_endpoints", sk, map[string]any{"url": rv.URL, "events": []string{"*"}}).Want(t, 201)
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
	keep := func(r harness.Resp) harness.Resp { raws = append(raws, r.Raw); return r }

	// senangPay.
	exp := time.Now().AddDate(3, 0, 0).Format("0106")
	g := keep(harness.SenangPayPost(t, s, "get_payment_token", mid, sec, "form", map[string]string{"name": "Abu Bin Ali", "email": "abu@example.my",
		"phone": "0109876543", "cc_number": spCard.pan, "cc_exp": exp, "cc_cvv": spCard.cvc}).Want(t, 200))
	spTok := g.Str("token")
	f := map[string]string{"name": "Abu Bin Ali", "email": "abu@example.my", "phone": "60123456789", "detail": "Order rcd",
		"order_id": "rcd-sp-1", "amount": "200", "token": spTok}
	f["hash"] = harness.SenangPaySign(sec, mid, f["name"], f["email"], f["phone"], f["detail"], f["order_id"], f["amount"])
	if r := keep(harness.SenangPayPost(t, s, "pay_cc", mid, sec, "form", f).Want(t, 200)); r.Body["status"] != float64(1) {
		t.Errorf("pay_cc: %s", r.Raw)
	}

	// SensePass.
	dk, _ := harness.SensePassDeviceKey(t, s, sk)
	tk := keep(harness.SensePassPost(t, s, "tokenize", map[string]any{"apiKey": sk, "creditCardDetails": []any{map[string]any{"cardNumber": snTok.pan,
		"cardExpiration": "12/34", "securityCode": snTok.cvc}}}).Want(t, 201))
	snTokID, _ := harness.SensePassArray(t, tk)[0]["token"].(string)
	keep(harness.SensePassPost(t, s, "pay", map[string]any{"amount": 200, "currency": "USD", "deviceId": dk, "token": snTokID}).Want(t, 201))
	in := keep(harness.SensePassPost(t, s, "init", map[string]any{"timeOut": 600, "amount": 3000, "deviceId": dk, "methodType": "Capture+Tokenize",
		"callbackURL": rv.URL}).Want(t, 201))
	num := in.Str("TransactionNumber")
	sess := harness.SensePassSession(t, s, sk, num)
	keep(s.Call("POST", "/v1/sessions/"+num+"/confirm", sk, map[string]any{"encrypted_card": harness.EncryptFor(t, sess, snPage.pan, snPage.cvc)}).Want(t, 200))
	keep(harness.SensePassGet(t, s, num, "apiKey", sk).Want(t, 200))

	// Pivot.
	tok := harness.PivotToken(t, s, mid, sk)
	customer := map[string]any{"givenName": "Siti", "email": "siti@example.id"}
	v := harness.PivotAPISession(t, s, tok, map[string]any{"saveForFutureUse": true, "customer": customer, "callbackUrl": rv.URL}, "X-REQUEST-ID", "rcd-pv-create")
	id := harness.Str(v, "id")
	enc := harness.PivotEncrypt(t, harness.Str(v, "encryptionKey"), harness.PivotCardJSON(pvHybrid.pan, pvHybrid.cvc), true)
	confirmBody := map[string]any{"paymentMethod": map[string]any{"type": "CARD", "card": map[string]any{"encryptedCard": enc}}}
	c1 := keep(s.Call("POST", "/pivot/v2/payments/"+id+"/confirm", tok, confirmBody, "X-REQUEST-ID", "rcd-pv-confirm"))
	d := harness.PivotOK(t, "pivot confirm", c1)
	if r := keep(s.Call("POST", "/pivot/v2/payments/"+id+"/confirm", tok, confirmBody, "X-REQUEST-ID", "rcd-pv-confirm")); r.Header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(r.Raw, c1.Raw) {
		t.Errorf("pivot confirm replay: %s", r.Raw)
	}
	saved := harness.Str(d["chargeDetails"].([]any)[0], "token")
	v2 := harness.PivotAPISession(t, s, tok, map[string]any{"customerId": harness.Str(v, "customerId")})
	if d := harness.PivotOK(t, "pivot token+cvc", keep(harness.PivotConfirm(s, tok, harness.Str(v2, "id"), map[string]any{"token": saved, "cvc": pvHybrid.cvc}))); d["status"] != "PAID" {
		t.Errorf("pivot token+cvc: %v", d)
	}
	v3 := harness.PivotAPISession(t, s, tok, nil)
	if d := harness.PivotOK(t, "pivot plain", keep(harness.PivotConfirm(s, tok, harness.Str(v3, "id"), map[string]any{"encryptedCard": harness.PivotEncrypt(t, harness.Str(v3, "encryptionKey"), harness.PivotCardJSON(pvPlain.pan, pvPlain.cvc), false)}))); d["status"] != "PAID" {
		t.Errorf("pivot plain: %v", d)
	}
	v4 := harness.PivotAPISession(t, s, tok, map[string]any{"callbackUrl": rv.URL})
	ch := harness.PivotOK(t, "challenge", keep(harness.PivotConfirm(s, tok, harness.Str(v4, "id"), map[string]any{"encryptedCard": harness.PivotEncrypt(t, harness.Str(v4, "encryptionKey"), harness.PivotCardJSON(pvChal.pan, pvChal.cvc), true)})))
	harness.PassChallenge(t, harness.Str(ch, "paymentUrl"))
	if d := harness.PivotOK(t, "pivot after challenge", keep(s.Call("GET", "/pivot/v2/payments/"+harness.Str(v4, "id"), tok, nil))); d["status"] != "PAID" {
		t.Errorf("pivot after challenge: %v", d)
	}
	v5 := harness.PivotAPISession(t, s, tok, nil)
	badPlain, _ := json.Marshal(map[string]any{"card": map[string]any{"number": pvBad.pan, "expiryMonth": "13", "expiryYear": "2031", "cvc": pvBad.cvc}})
	if r := keep(harness.PivotConfirm(s, tok, harness.Str(v5, "id"), map[string]any{"encryptedCard": harness.PivotEncrypt(t, harness.Str(v5, "encryptionKey"), badPlain, true)})); r.Status != 400 {
		t.Errorf("pivot bad expiry: %d %s", r.Status, r.Raw)
	}
	badNum, _ := json.Marshal(map[string]any{"card": map[string]any{"number": pvBad.pan[:15] + "9", "expiryMonth": "12", "expiryYear": "2031", "cvc": pvBad.cvc}})
	if r := keep(harness.PivotConfirm(s, tok, harness.Str(v5, "id"), map[string]any{"encryptedCard": harness.PivotEncrypt(t, harness.Str(v5, "encryptionKey"), badNum, false)})); r.Status != 400 {
		t.Errorf("pivot bad number: %d %s", r.Status, r.Raw)
	}
	cards = append(cards, pc{pvBad.pan[:15] + "9", pvBad.cvc})
	keep(s.Call("GET", "/pivot/v1/customers/"+harness.Str(v, "customerId"), tok, nil))

	// Ottu.
	first := ottuAutoDebit(t, s, sk, "rcd-leak", "agr-leak", "rcd-ot-1", rv.URL)
	osid := first.Str("session_id")
	osess := s.Call("GET", "/v1/sessions/"+osid, sk, nil).Want(t, 200)
	if r := keep(s.Call("POST", "/v1/sessions/"+osid+"/confirm", sk, map[string]any{"encrypted_card": harness.EncryptFor(t, osess, otDecl.pan, otDecl.cvc)})); r.Status != 402 {
		t.Errorf("ottu declined: %d %s", r.Status, r.Raw)
	}
	osess = s.Call("GET", "/v1/sessions/"+osid, sk, nil).Want(t, 200)
	p := keep(s.Call("POST", "/v1/sessions/"+osid+"/confirm", sk, map[string]any{"encrypted_card": harness.EncryptFor(t, osess, otPage.pan, otPage.cvc)}).Want(t, 200))
	otTok := p.Str("token")
	second := ottuAutoDebit(t, s, sk, "rcd-leak", "agr-leak", "rcd-ot-2", rv.URL)
	ad := map[string]any{"session_id": second.Str("session_id"), "token": otTok}
	keep(harness.OttuCall(t, s, "POST", "/b/pbl/v2/auto-debit/", sk, ad, "Tracking-Key", "rcd-track-1").Want(t, 200))
	keep(harness.OttuCall(t, s, "POST", "/b/pbl/v2/auto-debit", sk, ad, "Tracking-Key", "rcd-track-1").Want(t, 200))
	keep(harness.OttuCall(t, s, "POST", "/b/checkout/v1/pymt-txn/", sk, map[string]any{"type": "e_commerce", "amount": "1.000", "currency_code": "KWD",
		"pg_codes": []string{"x"}, "customer_id": "rcd-leak", "webhook_url": rv.URL,
		"payment_instrument": map[string]any{"instrument_type": "token", "payload": map[string]any{"token": otTok, "cvv": otPage.cvc}}}).Want(t, 201))
	keep(harness.OttuCall(t, s, "GET", "/b/pbl/v2/card/?customer_id=rcd-leak", sk, nil).Want(t, 200))
	keep(harness.OttuCall(t, s, "GET", "/b/checkout/v1/pymt-txn/"+osid, sk, nil).Want(t, 200))

	// Native views of what the dialects made.
	keep(s.Call("GET", "/v1/events", sk, nil).Want(t, 200))
	for _, tid := range []string{spTok, snTokID, saved, otTok} {
		keep(s.Call("GET", "/v1/tokens/"+tid, sk, nil).Want(t, 200))
	}

	// Let the callbacks and webhooks go out.
	time.Sleep(2 * time.Second)
	harness.WaitUntil(t, 15*time.Second, "callbacks", func() bool { return len(rv.Hits()) >= 10 })
	for _, h := range rv.Hits() {
		raws = append(raws, h.Body, []byte(h.RawQuery))
	}

	running := harness.ReadTree(t, s.DataDir)
	s.Stop()
	stopped := harness.ReadTree(t, s.DataDir)
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
		digits := harness.Digits(c.pan)
		for src, data := range sources {
			for form, n := range map[string][]byte{"digits": []byte(digits), "utf-16le": harness.UTF16LE(digits)} {
				if i := bytes.Index(data, n); i >= 0 {
					t.Errorf("%s holds card %s… in clear (%s): %q", src, digits[:6], form, harness.Around(data, i, len(n)))
				}
			}
			for _, pat := range []string{`"cvc":"%s"`, `"cvv":"%s"`, `"securityCode":"%s"`, `cc_cvv=%s`, `"cc_cvv":"%s"`, `cvc=%s`} {
				n := []byte(fmt.Sprintf(pat, c.cvc))
				if i := bytes.Index(data, n); i >= 0 {
					t.Errorf("%s holds a CVC: %q", src, harness.Around(data, i, len(n)))
				}
			}
			if len(c.cvc) == 4 {
				if i := harness.Isolated(data, []byte(c.cvc), harness.IsAlnum); i >= 0 {
					t.Errorf("%s holds the CVC %s: %q", src, c.cvc, harness.Around(data, i, len(c.cvc)))
				}
			}
		}
		// Answers and callbacks are text: no CVC as a word of its own.
		for i, r := range raws {
			if harness.ContainsIsolated(r, c.cvc) {
				t.Errorf("response/callback %d holds the CVC %s: %s", i, c.cvc, r)
			}
		}
	}
	db := harness.OpenSQLiteReadOnly(t, s.DataDir)
	for table, rows := range harness.DumpDB(t, db) {
		for _, row := range rows {
			for col, val := range row {
				for _, c := range cards {
					if strings.Contains(val, harness.Digits(c.pan)) {
						t.Errorf("%s.%s holds card %s… in clear", table, col, c.pan[:6])
					}
					if i := harness.Isolated([]byte(val), []byte(c.cvc), harness.IsWordByte); i >= 0 {
						t.Errorf("%s.%s holds the CVC %s: %q", table, col, c.cvc, harness.Around([]byte(val), i, len(c.cvc)))
					}
				}
			}
		}
	}
}
