package ottu

// Auto-debit and payment_instrument: merchant-initiated charges of a saved
// card, only under the agreement the holder paid with it; everything else
// is the holder's own charge and needs the CVV.

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// TestOttuCardsAndAutoDebit: an auto_debit checkout paid once saves the
// card (webhook with token{}); the card is listed (GET and POST, a bare
// array); auto-debit charges it on a new checkout without a CVV even
// though the merchant requires CVVs of card holders; Tracking-Key replays;
// payment_instrument pays at once; delete answers 204. No card number or
// code in any answer or log.
func TestOttuCardsAndAutoDebit(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		s := harness.Start(t, append(opts, harness.WithWebhookRetryBase(100*time.Millisecond))...)
		sk, secret := s.Dev.SecretKey, s.Dev.HMACSecret
		const pan, cvc = "4242424242424242", "739"
		var raws [][]byte
		keep := func(r harness.Resp) harness.Resp { raws = append(raws, r.Raw); return r }
		rv := harness.NewRecorder(t, "/ottu/webhook")
		agreement := map[string]any{"id": "agr-1", "type": "unscheduled", "frequency": "irregular", "amount_variability": "variable"}
		mk := func(order string) harness.Resp {
			return keep(harness.OttuCheckout(t, s, sk, map[string]any{"type": "e_commerce", "amount": "20.500", "currency_code": "KWD",
				"pg_codes": []string{"ottu_pg_kwd_tkn"}, "payment_type": "auto_debit", "customer_id": "cust_ad", "order_no": order,
				"agreement": agreement, "webhook_url": rv.URL, "customer_email": "abu@example.com"}))
		}
		first := mk("ad-1")
		if first.Str("payment_type") != "auto_debit" || harness.Dig(first.Body, "agreement", "frequency") != "irregular" {
			t.Errorf("auto_debit checkout: %s", first.Raw)
		}
		harness.OttuPayNative(t, s, sk, first.Str("session_id"), pan, cvc, false)
		h := harness.OttuHooks(t, rv, secret, 1)[0]
		tok, _ := harness.Dig(h, "token", "token").(string)
		if h["result"] != "success" || h["state"] != "paid" || h["session_id"] != first.Str("session_id") || !strings.HasPrefix(tok, "tok_") ||
			harness.Dig(h, "token", "number") != "**** 4242" || harness.Dig(h, "token", "brand") != "VISA" || harness.Dig(h, "amount_details", "amount") != "20.500" ||
			!strings.HasPrefix(fmt.Sprint(h["reference_number"]), "pay_") || h["customer_email"] != "abu@example.com" ||
			harness.Dig(h, "token", "is_preferred") != true || harness.Dig(h, "token", "pg_code") != "ottu_pg_kwd_tkn" {
			t.Fatalf("first webhook: %v", h)
		}
		if g := keep(harness.OttuCall(t, s, "GET", "/b/checkout/v1/pymt-txn/"+first.Str("session_id"), sk, nil)); g.Str("state") != "paid" {
			t.Errorf("paid checkout: %s", g.Raw)
		}

		// The merchant requires the CVV of card holders, not of itself.
		s.Call("PATCH", "/v1/merchant", sk, map[string]any{"require_cvc_for_saved_cards": true}).Want(t, 200)
		_, year := harness.TypedExpiry()
		for _, l := range [][]map[string]any{
			harness.OttuArray(t, keep(harness.OttuCall(t, s, "GET", "/b/pbl/v2/card/?customer_id=cust_ad&type=sandbox", sk, nil).Want(t, 200))),
			harness.OttuArray(t, keep(harness.OttuCall(t, s, "POST", "/b/pbl/v2/card/", sk, map[string]any{"type": "sandbox", "customer_id": "cust_ad",
				"pg_codes": []string{"ottu_pg_kwd_tkn"}, "agreement_id": "agr-1"}).Want(t, 200))),
			harness.OttuArray(t, keep(harness.OttuCall(t, s, "POST", "/b/pbl/v2/card", sk, map[string]any{"customer_id": "cust_ad"}).Want(t, 200))),
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
			if len(ag) != 1 || c["pg_code"] != "ottu_pg_kwd_tkn" || harness.Dig(ag[0], "id") != "agr-1" || harness.Dig(ag[0], "type") != "unscheduled" {
				t.Errorf("card agreements/pg_code: %v", c)
			}
		}
		if l := harness.OttuArray(t, harness.OttuCall(t, s, "GET", "/b/pbl/v2/card/?customer_id=nobody", sk, nil).Want(t, 200)); len(l) != 0 {
			t.Errorf("an unknown customer's cards: %v", l)
		}
		harness.OttuFieldError(t, "cards without customer_id", harness.OttuCall(t, s, "POST", "/b/pbl/v2/card/", sk, map[string]any{"type": "sandbox"}), "customer_id")

		// Auto-debit: merchant initiated, no CVV, the notification answered.
		auths := s.Sim.Stats().Authorizations
		second := mk("ad-2")
		a := keep(harness.OttuCall(t, s, "POST", "/b/pbl/v2/auto-debit/", sk, map[string]any{"session_id": second.Str("session_id"), "token": tok}).Want(t, 200))
		harness.OttuVerify(t, secret, a.Body)
		if a.Str("result") != "success" || a.Str("state") != "paid" || a.Str("session_id") != second.Str("session_id") ||
			!strings.HasPrefix(a.Str("reference_number"), "pay_") || a.Str("amount") != "20.500" || a.Str("order_no") != "ad-2" ||
			a.Str("amount_details", "total") != "20.500" || a.Str("token", "token") != tok || a.Str("signature") == "" ||
			a.Str("timestamp_utc") == "" || harness.Dig(a.Body, "agreement", "id") != "agr-1" || harness.Dig(a.Body, "token", "is_preferred") != true ||
			harness.Dig(a.Body, "token", "pg_code") != "ottu_pg_kwd_tkn" {
			t.Errorf("auto-debit: %s", a.Raw)
		}
		if got := s.Sim.Stats().Authorizations; got != auths+1 {
			t.Errorf("authorizations %d → %d, want one", auths, got)
		}
		hooks := harness.OttuHooks(t, rv, secret, 2)
		if hooks[1]["session_id"] != second.Str("session_id") || hooks[1]["result"] != "success" || hooks[1]["reference_number"] != a.Str("reference_number") {
			t.Errorf("auto-debit webhook: %v", hooks[1])
		}
		harness.OttuDetail(t, "auto-debit of a paid checkout", harness.OttuCall(t, s, "POST", "/b/pbl/v2/auto-debit", sk, map[string]any{"session_id": second.Str("session_id"), "token": tok}), 400)
		oneOff := harness.OttuCheckout(t, s, sk, map[string]any{"type": "e_commerce", "amount": "1", "currency_code": "KWD", "pg_codes": []string{"x"}, "customer_id": "cust_ad"})
		harness.OttuFieldError(t, "auto-debit of a one_off checkout", harness.OttuCall(t, s, "POST", "/b/pbl/v2/auto-debit/", sk, map[string]any{"session_id": oneOff.Str("session_id"), "token": tok}), "session_id")
		harness.OttuFieldError(t, "auto-debit without a token", harness.OttuCall(t, s, "POST", "/b/pbl/v2/auto-debit/", sk, map[string]any{"session_id": oneOff.Str("session_id")}), "token")
		// Another customer's auto_debit checkout cannot use this card.
		stranger := keep(harness.OttuCheckout(t, s, sk, map[string]any{"type": "e_commerce", "amount": "3", "currency_code": "KWD", "pg_codes": []string{"x"},
			"payment_type": "auto_debit", "customer_id": "someone_else", "agreement": agreement}))
		harness.OttuFieldError(t, "another customer's token", harness.OttuCall(t, s, "POST", "/b/pbl/v2/auto-debit/", sk, map[string]any{"session_id": stranger.Str("session_id"), "token": tok}), "token")

		// Tracking-Key: a retry replays the answer, charging once.
		third := mk("ad-3")
		auths = s.Sim.Stats().Authorizations
		body := map[string]any{"session_id": third.Str("session_id"), "token": tok}
		r1 := harness.OttuCall(t, s, "POST", "/b/pbl/v2/auto-debit/", sk, body, "Tracking-Key", "track-3").Want(t, 200)
		r2 := harness.OttuCall(t, s, "POST", "/b/pbl/v2/auto-debit/", sk, body, "Tracking-Key", "track-3").Want(t, 200)
		if !bytes.Equal(r1.Raw, r2.Raw) || r2.Header.Get("Idempotent-Replayed") != "true" || s.Sim.Stats().Authorizations != auths+1 {
			t.Errorf("Tracking-Key replay: %s / %s", r1.Raw, r2.Raw)
		}

		// payment_instrument: a one-step payment with the token. On a
		// one_off checkout it is the holder's own charge, so the CVV the
		// merchant requires comes in payload.cvv (400 without it).
		pay := func(ptype string, payload map[string]any) harness.Resp {
			return harness.OttuCall(t, s, "POST", "/b/checkout/v1/pymt-txn/", sk, map[string]any{"type": "e_commerce", "amount": "4.000",
				"currency_code": "KWD", "pg_codes": []string{"x"}, "customer_id": "cust_ad", "payment_type": ptype, "agreement": agreement,
				"payment_instrument": map[string]any{"instrument_type": "token", "payload": payload}})
		}
		auths = s.Sim.Stats().Authorizations
		if r := keep(pay("one_off", map[string]any{"token": tok})); r.Status != 400 || harness.Dig(r.Body, "payment_instrument", "payload", "cvv") == nil {
			t.Errorf("payment_instrument on one_off without the required CVV: %d %s", r.Status, r.Raw)
		}
		if r := keep(pay("one_off", map[string]any{"token": tok, "cvv": "12"})); r.Status != 400 || harness.Dig(r.Body, "payment_instrument", "payload", "cvv") == nil {
			t.Errorf("payment_instrument with a malformed CVV: %d %s", r.Status, r.Raw)
		}
		if r := keep(pay("auto_debit", map[string]any{"token": tok, "cvv": cvc})); r.Status != 400 || harness.Dig(r.Body, "payment_instrument", "payload", "cvv") == nil {
			t.Errorf("payment_instrument on auto_debit with a CVV: %d %s", r.Status, r.Raw)
		}
		if s.Sim.Stats().Authorizations != auths {
			t.Error("a refused payment_instrument charged")
		}
		if one := keep(pay("one_off", map[string]any{"token": tok, "cvv": cvc}).Want(t, 201)); one.Str("state") != "paid" {
			t.Errorf("payment_instrument with its CVV: %s", one.Raw)
		}
		// On an auto_debit checkout under the card's agreement: merchant
		// initiated, no CVV.
		if ad := keep(pay("auto_debit", map[string]any{"token": tok}).Want(t, 201)); ad.Str("state") != "paid" {
			t.Errorf("payment_instrument on auto_debit: %s", ad.Raw)
		}

		// Delete: only the owner's, then gone.
		harness.OttuDetail(t, "deleting as another customer", harness.OttuCall(t, s, "DELETE", "/b/pbl/v2/card/"+tok+"/?customer_id=someone_else", sk, nil), 404)
		harness.OttuFieldError(t, "deleting without customer_id", harness.OttuCall(t, s, "DELETE", "/b/pbl/v2/card/"+tok+"/", sk, nil), "customer_id")
		d := harness.OttuCall(t, s, "DELETE", "/b/pbl/v2/card/"+tok+"/?customer_id=cust_ad&type=sandbox", sk, nil)
		if d.Status != 204 || len(d.Raw) != 0 {
			t.Errorf("delete: %d %q", d.Status, d.Raw)
		}
		if l := harness.OttuArray(t, harness.OttuCall(t, s, "GET", "/b/pbl/v2/card?customer_id=cust_ad", sk, nil).Want(t, 200)); len(l) != 0 {
			t.Errorf("cards after delete: %v", l)
		}
		harness.OttuDetail(t, "deleting again", harness.OttuCall(t, s, "DELETE", "/b/pbl/v2/card/"+tok+"?customer_id=cust_ad", sk, nil), 404)
		if tk := s.Call("GET", "/v1/tokens/"+tok, sk, nil); tk.Status != 404 {
			t.Errorf("the deleted token natively: %d", tk.Status)
		}

		for _, h := range rv.Hits() {
			raws = append(raws, h.Body)
		}
		raws = append(raws, []byte(s.Logs.String()))
		for i, raw := range raws {
			if bytes.Contains(raw, []byte(pan)) || harness.ContainsIsolated(raw, cvc) {
				t.Errorf("answer, webhook or log %d holds the card number or CVV: %s", i, raw)
			}
		}
	})
}

// Regression: auto-debit charged any saved card of the
// customer under any agreement the merchant made up. A card saved on a
// one_off checkout (the holder ticked "Save Your Card" to reuse it themselves, entering
// its CVV each time, as the seed's showcase says) was never placed under
// an agreement; yet a new auto_debit checkout with an invented agreement
// plus POST /b/pbl/v2/auto-debit/ charged it merchant-initiated: no CVV
// (although the merchant requires it of saved cards) and no 3-D Secure.
// That is a charge without the holder's agreement. Guarded: auto-debit
// takes only a token saved under that agreement (the card's agreements[]
// hold its id, i.e. the holder paid an auto_debit checkout with it);
// otherwise 400 {"token":[…]} and nothing is charged.
func TestOttuAutoDebitNeedsHoldersAgreement(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	tok := savedOnOneOff(t, s, sk, "cust_noagr")
	s.Call("PATCH", "/v1/merchant", sk, map[string]any{"require_cvc_for_saved_cards": true}).Want(t, 200)

	sid := autoDebitCheckout(t, s, sk, "cust_noagr", "invented-by-merchant", "mit-1")
	auths := s.Sim.Stats().Authorizations
	r := harness.OttuCall(t, s, "POST", "/b/pbl/v2/auto-debit/", sk, map[string]any{"session_id": sid, "token": tok})
	if r.Status == 200 || s.Sim.Stats().Authorizations != auths {
		t.Errorf("a card saved without any agreement was auto-debited under an agreement the holder never saw: %d %s", r.Status, r.Raw)
	}
	harness.OttuFieldError(t, "auto-debit of a card outside the agreement", r, "token")

	// Same with a card saved under agreement A, charged under agreement B.
	tokA := savedOnAutoDebit(t, s, sk, "cust_agrA", "agr-A")
	sidB := autoDebitCheckout(t, s, sk, "cust_agrA", "agr-B", "mit-2")
	auths = s.Sim.Stats().Authorizations
	rb := harness.OttuCall(t, s, "POST", "/b/pbl/v2/auto-debit/", sk, map[string]any{"session_id": sidB, "token": tokA})
	if rb.Status == 200 || s.Sim.Stats().Authorizations != auths {
		t.Errorf("a card saved under agr-A was auto-debited under agr-B: %d %s", rb.Status, rb.Raw)
	}
}

// Regression: payment_instrument on a one_off checkout was
// charged as merchant initiated (ConfirmParams.MerchantInitiated: true)
// although a one_off checkout carries no agreement at all: the saved card
// is charged without its CVV even though the merchant requires CVVs of
// saved cards (require_cvc_for_saved_cards) and without 3-D Secure. The
// brief's rule is that the merchant-initiated path is for auto_debit
// under an agreement only. Guarded: on a one_off (or any non-auto_debit)
// checkout payment_instrument is not merchant initiated, so here (no
// payload.cvv) it is refused (400) and nothing is charged; it must never
// come back "paid".
func TestOttuPaymentInstrumentOneOffNeedsCVV(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	tok := savedOnOneOff(t, s, sk, "cust_pi")
	s.Call("PATCH", "/v1/merchant", sk, map[string]any{"require_cvc_for_saved_cards": true}).Want(t, 200)
	auths := s.Sim.Stats().Authorizations
	r := harness.OttuCall(t, s, "POST", "/b/checkout/v1/pymt-txn/", sk, map[string]any{"type": "e_commerce", "amount": "4.000",
		"currency_code": "KWD", "pg_codes": []string{"x"}, "customer_id": "cust_pi", "payment_type": "one_off",
		"payment_instrument": map[string]any{"instrument_type": "token", "payload": map[string]any{"token": tok}}})
	if r.Str("state") == "paid" || s.Sim.Stats().Authorizations != auths {
		t.Errorf("a one_off checkout (no agreement) charged a saved card without its CVV: %d %s", r.Status, r.Raw)
	}
}

// TestOttuMerchantInitiatedNotNative: MerchantInitiated is not reachable
// through the native API: a confirm naming it in any spelling is still a
// holder-present charge, so require_cvc_for_saved_cards refuses a token
// without its CVC.
func TestOttuMerchantInitiatedNotNative(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	tok := savedOnAutoDebit(t, s, sk, "cust_native", "agr-n")
	s.Call("PATCH", "/v1/merchant", sk, map[string]any{"require_cvc_for_saved_cards": true}).Want(t, 200)
	sid := autoDebitCheckout(t, s, sk, "cust_native", "agr-n", "native-1")
	auths := s.Sim.Stats().Authorizations
	r := s.Call("POST", "/v1/sessions/"+sid+"/confirm", sk, map[string]any{"token": tok, "MerchantInitiated": true,
		"merchant_initiated": true, "merchantInitiated": true})
	if r.Status == 200 || s.Sim.Stats().Authorizations != auths {
		t.Errorf("native confirm with MerchantInitiated skipped the CVC: %d %s", r.Status, r.Raw)
	}
	if g := harness.OttuCall(t, s, "GET", "/b/checkout/v1/pymt-txn/"+sid, sk, nil).Want(t, 200); g.Str("state") != "created" {
		t.Errorf("after the refused native confirm: %s", g.Raw)
	}
}

// TestOttuAutoDebitRefusals: auto-debit refuses a save_card checkout, an
// expired auto_debit checkout, and a deleted card; and the
// payment_instrument token of another customer; none charges.
func TestOttuAutoDebitRefusals(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	tok := savedOnAutoDebit(t, s, sk, "cust_ref", "agr-r")
	auths := s.Sim.Stats().Authorizations
	sc := harness.OttuCheckout(t, s, sk, map[string]any{"type": "e_commerce", "amount": "0", "currency_code": "KWD", "pg_codes": []string{"x"},
		"payment_type": "save_card", "customer_id": "cust_ref"}).Str("session_id")
	harness.OttuFieldError(t, "auto-debit of a save_card checkout", harness.OttuCall(t, s, "POST", "/b/pbl/v2/auto-debit/", sk, map[string]any{"session_id": sc, "token": tok}), "session_id")
	exp := autoDebitCheckout(t, s, sk, "cust_ref", "agr-r", "exp-r")
	s.ExpireSession(t, exp)
	if r := harness.OttuCall(t, s, "POST", "/b/pbl/v2/auto-debit/", sk, map[string]any{"session_id": exp, "token": tok}); r.Status != 400 {
		t.Errorf("auto-debit of an expired checkout: %d %s", r.Status, r.Raw)
	}
	pi := harness.OttuCall(t, s, "POST", "/b/checkout/v1/pymt-txn/", sk, map[string]any{"type": "e_commerce", "amount": "1", "currency_code": "KWD",
		"pg_codes": []string{"x"}, "customer_id": "someone_else", "payment_type": "auto_debit", "agreement": agreement("agr-r"),
		"payment_instrument": map[string]any{"instrument_type": "token", "payload": map[string]any{"token": tok}}})
	if pi.Status != 400 {
		t.Errorf("payment_instrument with another customer's token: %d %s", pi.Status, pi.Raw)
	}
	harness.OttuCall(t, s, "DELETE", "/b/pbl/v2/card/"+tok+"/?customer_id=cust_ref", sk, nil).Want(t, 204)
	live := autoDebitCheckout(t, s, sk, "cust_ref", "agr-r", "del-r")
	if r := harness.OttuCall(t, s, "POST", "/b/pbl/v2/auto-debit/", sk, map[string]any{"session_id": live, "token": tok}); r.Str("result") == "success" {
		t.Errorf("auto-debit of a deleted card: %s", r.Raw)
	}
	if s.Sim.Stats().Authorizations != auths {
		t.Errorf("a refused auto-debit charged: %d → %d", auths, s.Sim.Stats().Authorizations)
	}
}

// TestOttuForgedTokenMetadata: a token's metadata {"session": …} proves
// nothing by itself: a native API caller can write it. A token created
// natively that names the auto_debit checkout which saved another card is
// not under that checkout's agreement: auto-debit and payment_instrument
// refuse it, and the card list shows it with no agreement.
func TestOttuForgedTokenMetadata(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	savedOnAutoDebit(t, s, sk, "cust_forge", "agr-F")
	first := harness.OttuArray(t, harness.OttuCall(t, s, "GET", "/b/pbl/v2/card/?customer_id=cust_forge", sk, nil).Want(t, 200))
	// The session that saved the real card, and the customer's Coffer id.
	var origin, cus string
	l := s.Call("GET", "/v1/tokens/"+fmt.Sprint(first[0]["token"]), sk, nil).Want(t, 200)
	origin, _ = harness.Dig(l.Body, "metadata", "session").(string)
	cus, _ = l.Body["customer"].(string)
	if origin == "" || cus == "" {
		t.Fatalf("the saved card's token: %s", l.Raw)
	}
	forged := s.Call("POST", "/v1/tokens", sk, map[string]any{"card": harness.Card("5555555555554444"), "customer": cus,
		"metadata": map[string]any{"session": origin}}).Want(t, 201).Str("id")
	auths := s.Sim.Stats().Authorizations
	sid := autoDebitCheckout(t, s, sk, "cust_forge", "agr-F", "forge-1")
	harness.OttuFieldError(t, "auto-debit of a token with forged metadata", harness.OttuCall(t, s, "POST", "/b/pbl/v2/auto-debit/", sk,
		map[string]any{"session_id": sid, "token": forged}), "token")
	pi := harness.OttuCall(t, s, "POST", "/b/checkout/v1/pymt-txn/", sk, map[string]any{"type": "e_commerce", "amount": "1", "currency_code": "KWD",
		"pg_codes": []string{"x"}, "customer_id": "cust_forge", "payment_type": "auto_debit", "agreement": agreement("agr-F"),
		"payment_instrument": map[string]any{"instrument_type": "token", "payload": map[string]any{"token": forged}}})
	if pi.Status != 400 || harness.Dig(pi.Body, "payment_instrument", "payload", "token") == nil {
		t.Errorf("payment_instrument with a token with forged metadata: %d %s", pi.Status, pi.Raw)
	}
	if s.Sim.Stats().Authorizations != auths {
		t.Error("a token with forged metadata was charged")
	}
	for _, c := range harness.OttuArray(t, harness.OttuCall(t, s, "POST", "/b/pbl/v2/card/", sk, map[string]any{"customer_id": "cust_forge", "agreement_id": "agr-F"}).Want(t, 200)) {
		if c["token"] == forged {
			t.Errorf("the forged token is listed under agr-F: %v", c)
		}
	}
}
