package ottu

// Ottu's tokenization showcase (seed 004) in real headless Chromium: a
// payment link with customer_id is paid on Coffer's hosted page with a new
// card and "save" ticked; a second link for the same customer_id offers the
// saved card, asks only its CVV (the merchant requires it) or a new card,
// and pays. Each time the browser ends on redirect_url and the merchant's
// webhook_url gets a notification whose signature is recomputed here.
// SQLite only: the other tests here cover both backends over HTTP.

import (
	"fmt"
	"strings"
	"testing"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

func TestBrowserOttuSaveThenReuse(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk, secret := s.Dev.SecretKey, s.Dev.HMACSecret
	s.Call("PATCH", "/v1/merchant", sk, map[string]any{"require_cvc_for_saved_cards": true}).Want(t, 200)
	rs, rv := harness.NewReturnSite(t), harness.NewRecorder(t, "/ottu/webhook")
	ctx := harness.NewBrowser(t)
	console := harness.WatchConsole(t, ctx)

	// First link: a new card, "save" ticked.
	first := harness.OttuLink(t, s, "token_showcase", "19", rs, rv)
	sid1 := first.Str("session_id")
	harness.OpenCheckout(t, ctx, first.Str("checkout_url"))
	if amt := harness.ElementText(t, ctx, "amount"); amt != "KWD 19.000" {
		t.Errorf("#amount %q, want KWD 19.000", amt)
	}
	if !harness.JS[bool](t, ctx, `(function(){ var e = document.getElementById("save"); return !!e && e.offsetParent !== null && !e.checked; })()`) ||
		!strings.Contains(harness.JS[string](t, ctx, `(function(){ var l = document.querySelector('label[for="save"]'); return l ? l.innerText : ""; })()`), "Save") {
		t.Fatalf("no save option on a link with customer_id:\n%s", harness.PageText(t, ctx))
	}
	harness.FillCard(t, ctx, "4242 4242 4242 4242", "321", "Abu Bin Ali")
	harness.Click(t, ctx, "save")
	harness.Click(t, ctx, "pay")
	harness.WaitJS(t, ctx, "redirect_url", `!!document.getElementById("back")`)
	harness.WantQuery(t, harness.AtReturn(t, ctx, rs), map[string]string{"cart": "42", "session_id": sid1, "order_no": "token_showcase"})
	console("paying the first link")

	h1 := harness.OttuHooks(t, rv, secret, 1)[0]
	tok, _ := harness.Dig(h1, "token", "token").(string)
	if h1["session_id"] != sid1 || h1["result"] != "success" || h1["state"] != "paid" || h1["amount"] != "19.000" ||
		h1["order_no"] != "token_showcase" || h1["customer_first_name"] != "example-customer" || !strings.HasPrefix(tok, "tok_") ||
		harness.Dig(h1, "token", "number") != "**** 4242" || harness.Dig(h1, "token", "customer_id") != "user_example" {
		t.Fatalf("first webhook: %v", h1)
	}
	if g := harness.OttuCall(t, s, "GET", "/b/checkout/v1/pymt-txn/"+sid1, sk, nil).Want(t, 200); g.Str("state") != "paid" {
		t.Errorf("first link after paying: %s", g.Raw)
	}
	cards := harness.OttuArray(t, harness.OttuCall(t, s, "GET", "/b/pbl/v2/card/?customer_id=user_example", sk, nil).Want(t, 200))
	if len(cards) != 1 || cards[0]["token"] != tok || cards[0]["cvv_required"] != true {
		t.Fatalf("saved cards: %v", cards)
	}

	// Second link, same customer_id: the saved card or a new one; the
	// saved card asks only its CVV.
	second := harness.OttuLink(t, s, "token_showcase_2", "7.500", rs, rv)
	sid2 := second.Str("session_id")
	harness.OpenCheckout(t, ctx, second.Str("checkout_url"))
	label := strings.Join(strings.Fields(harness.JS[string](t, ctx,
		fmt.Sprintf(`(function(){ var l = document.querySelector('label[for="saved-%s"]'); return l ? l.innerText : ""; })()`, tok))), " ")
	if !strings.Contains(label, "Visa") || !strings.Contains(label, "4242") {
		t.Fatalf("the saved card is not offered (label %q):\n%s", label, harness.PageText(t, ctx))
	}
	if !harness.JS[bool](t, ctx, `!!document.getElementById("new-card")`) {
		t.Error("no choice of a new card")
	}
	harness.PageNoPAN(t, ctx, "4242424242424242")
	harness.Click(t, ctx, "saved-"+tok)
	harness.WaitVisible(t, ctx, "saved-cvc")
	if harness.JS[bool](t, ctx, `document.getElementById("number").offsetParent !== null`) {
		t.Error("the card number is asked for the saved card")
	}
	auths := s.Sim.Stats().Authorizations
	harness.Type(t, ctx, "saved-cvc", "321")
	harness.Click(t, ctx, "pay")
	harness.WaitJS(t, ctx, "redirect_url", `!!document.getElementById("back")`)
	harness.WantQuery(t, harness.AtReturn(t, ctx, rs), map[string]string{"cart": "42", "session_id": sid2, "order_no": "token_showcase_2"})
	console("paying the second link with the saved card")
	if got := s.Sim.Stats().Authorizations; got != auths+1 {
		t.Errorf("authorizations %d → %d, want one", auths, got)
	}

	hooks := harness.OttuHooks(t, rv, secret, 2)
	h2 := hooks[1]
	if h2["session_id"] != sid2 || h2["result"] != "success" || h2["state"] != "paid" || h2["amount"] != "7.500" ||
		harness.Dig(h2, "token", "token") != tok || !strings.HasPrefix(fmt.Sprint(h2["reference_number"]), "pay_") {
		t.Errorf("second webhook: %v", h2)
	}
	if p := s.Call("GET", "/v1/payments/"+fmt.Sprint(h2["reference_number"]), sk, nil).Want(t, 200); p.Str("token") != tok || harness.Dig(p.Body, "amount") != float64(7500) {
		t.Errorf("the second payment: %s", p.Raw)
	}
	s.NoCardInLogs(t, "4242424242424242", "321")
}
