package e2e

// Ottu's tokenization showcase (seed 004) in real headless Chromium: a
// payment link with customer_id is paid on Coffer's hosted page with a new
// card and "save" ticked; a second link for the same customer_id offers the
// saved card, asks only its CVV (the merchant requires it) or a new card,
// and pays. Each time the browser ends on redirect_url and the merchant's
// webhook_url gets a notification whose signature is recomputed here.
// SQLite only: ottu_test.go covers both backends over HTTP.

import (
	"fmt"
	"strings"
	"testing"
)

// otLink creates the seed's payment link for customer_id, ending on rs.
func otLink(t *testing.T, s *server, order, amount string, rs *returnSite, rv *snReceiver) resp {
	t.Helper()
	return otCheckout(t, s, s.Dev.SecretKey, map[string]any{"type": "payment_request", "pg_codes": []string{"ottu_pg_kwd_tkn"},
		"amount": amount, "customer_id": "user_example", "order_no": order, "currency_code": "KWD", "redirect_url": rs.URL,
		"webhook_url": rv.URL, "customer_first_name": "example-customer"})
}

func TestBrowserOttuSaveThenReuse(t *testing.T) {
	s := start(t)
	sk, secret := s.Dev.SecretKey, s.Dev.HMACSecret
	s.call("PATCH", "/v1/merchant", sk, map[string]any{"require_cvc_for_saved_cards": true}).want(t, 200)
	rs, rv := newReturnSite(t), snNewReceiver(t)
	ctx := newBrowser(t)
	console := bsConsole(t, ctx)

	// First link: a new card, "save" ticked.
	first := otLink(t, s, "token_showcase", "19", rs, rv)
	sid1 := first.str("session_id")
	bsOpenCheckout(t, ctx, first.str("checkout_url"))
	if amt := b3dsElemText(t, ctx, "amount"); amt != "KWD 19.000" {
		t.Errorf("#amount %q, want KWD 19.000", amt)
	}
	if !bsJS[bool](t, ctx, `(function(){ var e = document.getElementById("save"); return !!e && e.offsetParent !== null && !e.checked; })()`) ||
		!strings.Contains(bsJS[string](t, ctx, `(function(){ var l = document.querySelector('label[for="save"]'); return l ? l.innerText : ""; })()`), "Save") {
		t.Fatalf("no save option on a link with customer_id:\n%s", b3dsText(t, ctx))
	}
	bsFillCard(t, ctx, "4242 4242 4242 4242", "321", "Abu Bin Ali")
	bsClick(t, ctx, "save")
	bsClick(t, ctx, "pay")
	bsWait(t, ctx, "redirect_url", `!!document.getElementById("back")`)
	b3dsWantQuery(t, b3dsAtReturn(t, ctx, rs), map[string]string{"cart": "42", "session_id": sid1, "order_no": "token_showcase"})
	console("paying the first link")

	h1 := otHooks(t, rv, secret, 1)[0]
	tok, _ := dig(h1, "token", "token").(string)
	if h1["session_id"] != sid1 || h1["result"] != "success" || h1["state"] != "paid" || h1["amount"] != "19.000" ||
		h1["order_no"] != "token_showcase" || h1["customer_first_name"] != "example-customer" || !strings.HasPrefix(tok, "tok_") ||
		dig(h1, "token", "number") != "**** 4242" || dig(h1, "token", "customer_id") != "user_example" {
		t.Fatalf("first webhook: %v", h1)
	}
	if g := otCall(t, s, "GET", "/b/checkout/v1/pymt-txn/"+sid1, sk, nil).want(t, 200); g.str("state") != "paid" {
		t.Errorf("first link after paying: %s", g.Raw)
	}
	cards := otArray(t, otCall(t, s, "GET", "/b/pbl/v2/card/?customer_id=user_example", sk, nil).want(t, 200))
	if len(cards) != 1 || cards[0]["token"] != tok || cards[0]["cvv_required"] != true {
		t.Fatalf("saved cards: %v", cards)
	}

	// Second link, same customer_id: the saved card or a new one; the
	// saved card asks only its CVV.
	second := otLink(t, s, "token_showcase_2", "7.500", rs, rv)
	sid2 := second.str("session_id")
	bsOpenCheckout(t, ctx, second.str("checkout_url"))
	label := strings.Join(strings.Fields(bsJS[string](t, ctx,
		fmt.Sprintf(`(function(){ var l = document.querySelector('label[for="saved-%s"]'); return l ? l.innerText : ""; })()`, tok))), " ")
	if !strings.Contains(label, "Visa") || !strings.Contains(label, "4242") {
		t.Fatalf("the saved card is not offered (label %q):\n%s", label, b3dsText(t, ctx))
	}
	if !bsJS[bool](t, ctx, `!!document.getElementById("new-card")`) {
		t.Error("no choice of a new card")
	}
	b3dsNoPAN(t, ctx, "4242424242424242")
	bsClick(t, ctx, "saved-"+tok)
	b3dsWaitVisible(t, ctx, "saved-cvc")
	if bsJS[bool](t, ctx, `document.getElementById("number").offsetParent !== null`) {
		t.Error("the card number is asked for the saved card")
	}
	auths := s.Sim.Stats().Authorizations
	bsType(t, ctx, "saved-cvc", "321")
	bsClick(t, ctx, "pay")
	bsWait(t, ctx, "redirect_url", `!!document.getElementById("back")`)
	b3dsWantQuery(t, b3dsAtReturn(t, ctx, rs), map[string]string{"cart": "42", "session_id": sid2, "order_no": "token_showcase_2"})
	console("paying the second link with the saved card")
	if got := s.Sim.Stats().Authorizations; got != auths+1 {
		t.Errorf("authorizations %d → %d, want one", auths, got)
	}

	hooks := otHooks(t, rv, secret, 2)
	h2 := hooks[1]
	if h2["session_id"] != sid2 || h2["result"] != "success" || h2["state"] != "paid" || h2["amount"] != "7.500" ||
		dig(h2, "token", "token") != tok || !strings.HasPrefix(fmt.Sprint(h2["reference_number"]), "pay_") {
		t.Errorf("second webhook: %v", h2)
	}
	if p := s.call("GET", "/v1/payments/"+fmt.Sprint(h2["reference_number"]), sk, nil).want(t, 200); p.str("token") != tok || dig(p.Body, "amount") != float64(7500) {
		t.Errorf("the second payment: %s", p.Raw)
	}
	snNoCardInLogs(t, s, "4242424242424242", "321")
}
