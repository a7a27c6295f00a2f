package checkout

// Real-browser tests of payment sessions against the real server: headless
// Chromium opens a session's hosted checkout page, a person's keystrokes go
// into its fields, the page's own script encrypts the card and confirms, and
// the test follows the browser to wherever the server sends it (the
// merchant's success, expired or cancel URL, or the 3-D Secure challenge on
// the way). Then the API is asked what really happened. An API-mode session
// is paid from a merchant's own test page that encrypts the card with
// WebCrypto; and the checkout page is paid framed in the merchant's page. They
// run on SQLite only: the HTTP-level tests in sessions_test.go cover both
// backends.
//
// To look at the screenshots, set COFFER_SCREENSHOT_DIR.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// TestBrowserSessionNewCardSave: a new card typed into the page with "save
// this card" ticked pays the session, lands on success_url with the session
// id, and leaves a token for the session's customer.
func TestBrowserSessionNewCardSave(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	rs := harness.NewReturnSite(t)
	r := s.NewSession(t, sk, map[string]any{"amount": 3000, "currency": "MYR", "customer_reference": "shopper_1", "save_card": "optional",
		"order_id": "order-1001", "success_url": rs.To("success"), "failure_url": rs.To("failure")})
	sid, cus := r.Str("id"), r.Str("customer")
	if cus == "" {
		t.Fatalf("customer_reference made no customer: %s", r.Raw)
	}
	ctx := harness.NewBrowser(t)
	console := harness.WatchConsole(t, ctx)

	harness.OpenCheckout(t, ctx, r.Str("url"))
	if amt := harness.ElementText(t, ctx, "amount"); amt != "MYR 30.00" {
		t.Errorf("#amount %q, want MYR 30.00", amt)
	}
	if m := harness.ElementText(t, ctx, "merchant"); m != "Development merchant" {
		t.Errorf("#merchant %q", m)
	}
	if l := harness.ElementText(t, ctx, "pay"); l != "Pay MYR 30.00" {
		t.Errorf("#pay says %q", l)
	}
	if !strings.Contains(harness.PageText(t, ctx), "order-1001") {
		t.Errorf("the page does not show the order id")
	}
	harness.FillCard(t, ctx, "4242 4242 4242 4242", "123", "Siti Aminah")
	if v := harness.JS[string](t, ctx, `document.getElementById("number").value`); v != "4242 4242 4242 4242" {
		t.Errorf("#number shows %q", v)
	}
	if b := harness.Shown(t, ctx, "number-brand"); b != "Visa" {
		t.Errorf("brand badge %q, want Visa", b)
	}
	if harness.JS[bool](t, ctx, `document.getElementById("save").checked`) {
		t.Error(`"save this card" is ticked before the holder ticks it`)
	}
	harness.Click(t, ctx, "save")
	auths := s.Sim.Stats().Authorizations
	// An impatient double click pays once.
	harness.Steps(t, ctx, "double-click #pay", chromedp.DoubleClick(chromedp.ID("pay")))
	harness.Landed(t, ctx, rs, "success", sid)
	console("paying")

	g := s.AwaitSession(t, sid, "succeeded")
	pid, tok := g.Str("payment"), g.Str("token")
	if pid == "" || tok == "" || g.Str("customer") != cus || harness.Dig(g.Body, "attempts") != float64(0) {
		t.Fatalf("session after paying: %s", g.Raw)
	}
	p := s.Call("GET", "/v1/payments/"+pid, sk, nil).Want(t, 200)
	if p.Str("status") != "succeeded" || harness.Dig(p.Body, "amount") != float64(3000) || p.Str("currency") != "MYR" ||
		p.Str("customer") != cus || p.Str("token") != tok || p.Str("card", "last4") != "4242" {
		t.Errorf("payment: %s", p.Raw)
	}
	tk := s.Call("GET", "/v1/tokens/"+tok, sk, nil).Want(t, 200)
	_, year := harness.TypedExpiry()
	if tk.Str("status") != "active" || tk.Str("customer") != cus || tk.Str("card", "last4") != "4242" || tk.Str("card", "brand") != "visa" ||
		harness.Dig(tk.Body, "card", "exp_month") != float64(12) || harness.Dig(tk.Body, "card", "exp_year") != float64(year) ||
		tk.Str("card", "holder_name") != "Siti Aminah" {
		t.Errorf("saved card: %s", tk.Raw)
	}
	if got := s.Sim.Stats().Authorizations; got != auths+1 {
		t.Errorf("authorizations %d → %d, want one", auths, got)
	}
	// The customer's cards: exactly this one.
	l := s.Call("GET", "/v1/tokens?customer="+cus, sk, nil).Want(t, 200)
	if data, _ := harness.Dig(l.Body, "data").([]any); len(data) != 1 || harness.Dig(data[0], "id") != tok {
		t.Errorf("the customer's tokens: %s", l.Raw)
	}
	// The page of a paid session goes on to the success URL.
	if st := harness.Open(t, ctx, r.Str("url")); st != 200 {
		t.Errorf("the paid session's page: HTTP %d at the end", st)
	}
	harness.Landed(t, ctx, rs, "success", sid)
}

// TestBrowserSessionSavedCard: a returning customer's session lists the
// saved card; with the merchant requiring the CVC for saved cards, the
// holder chooses it and types only the CVC; without, one click pays.
func TestBrowserSessionSavedCard(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	rs := harness.NewReturnSite(t)
	tok := s.SavedCard(t, "returning", "4242424242424242")
	if m := s.Call("PATCH", "/v1/merchant", sk, map[string]any{"require_cvc_for_saved_cards": true}).Want(t, 200); m.Body["require_cvc_for_saved_cards"] != true {
		t.Fatalf("merchant setting: %s", m.Raw)
	}
	ctx := harness.NewBrowser(t)
	console := harness.WatchConsole(t, ctx)

	// The page lists the card, brand and masked number, and asks its CVC.
	r := s.NewSession(t, sk, map[string]any{"amount": 2000, "customer_reference": "returning", "show_saved_cards": true,
		"success_url": rs.To("success")})
	sid := r.Str("id")
	harness.OpenCheckout(t, ctx, r.Str("url"))
	label := strings.Join(strings.Fields(harness.JS[string](t, ctx,
		fmt.Sprintf(`(function(){ var l = document.querySelector('label[for="saved-%s"]'); return l ? l.innerText : ""; })()`, tok))), " ")
	if !strings.Contains(label, "Visa") || !strings.Contains(label, "•••• 4242") {
		t.Errorf("the saved card's label %q, want the brand and the last four digits", label)
	}
	exp, year := harness.TypedExpiry()
	if want := "Expires " + exp[:2] + "/" + exp[2:]; !strings.Contains(label, want) {
		t.Errorf("the saved card's label %q, want %q (expiry %d)", label, want, year)
	}
	harness.PageNoPAN(t, ctx, "4242424242424242")
	harness.Click(t, ctx, "saved-"+tok)
	if harness.Shown(t, ctx, "number") != "" || harness.JS[bool](t, ctx, `document.getElementById("new-card-fields").offsetParent !== null`) {
		t.Error("the new-card form shows while the saved card is chosen")
	}
	harness.WaitVisible(t, ctx, "saved-cvc")
	auths := s.Sim.Stats().Authorizations
	harness.Type(t, ctx, "saved-cvc", "123")
	harness.Click(t, ctx, "pay")
	harness.Landed(t, ctx, rs, "success", sid)
	g := s.AwaitSession(t, sid, "succeeded")
	if g.Str("token") != tok || g.Str("payment") == "" {
		t.Errorf("session paid with the saved card: %s", g.Raw)
	}
	p := s.Call("GET", "/v1/payments/"+g.Str("payment"), sk, nil).Want(t, 200)
	if p.Str("status") != "succeeded" || p.Str("token") != tok || harness.Dig(p.Body, "amount") != float64(2000) || p.Str("card", "last4") != "4242" {
		t.Errorf("payment with the saved card: %s", p.Raw)
	}
	if got := s.Sim.Stats().Authorizations; got != auths+1 {
		t.Errorf("authorizations %d → %d, want one", auths, got)
	}

	// Without the setting: no CVC field, one click.
	s.Call("PATCH", "/v1/merchant", sk, map[string]any{"require_cvc_for_saved_cards": false}).Want(t, 200)
	r2 := s.NewSession(t, sk, map[string]any{"amount": 2500, "customer_reference": "returning", "show_saved_cards": true,
		"success_url": rs.To("success")})
	harness.OpenCheckout(t, ctx, r2.Str("url"))
	if n := harness.JS[int](t, ctx, `document.querySelectorAll("#saved-cvc, #saved-cvc-field").length`); n != 0 {
		t.Errorf("a CVC field is on the page though the merchant does not require it")
	}
	if !harness.JS[bool](t, ctx, fmt.Sprintf(`!!document.getElementById("saved-%s")`, tok)) {
		t.Fatalf("the saved card is not listed:\n%s", harness.PageText(t, ctx))
	}
	harness.Click(t, ctx, "saved-"+tok)
	harness.Click(t, ctx, "pay")
	harness.Landed(t, ctx, rs, "success", r2.Str("id"))
	g2 := s.AwaitSession(t, r2.Str("id"), "succeeded")
	if g2.Str("token") != tok {
		t.Errorf("one-click session: %s", g2.Raw)
	}
	if p2 := s.Call("GET", "/v1/payments/"+g2.Str("payment"), sk, nil).Want(t, 200); p2.Str("token") != tok || p2.Str("status") != "succeeded" {
		t.Errorf("one-click payment: %s", p2.Raw)
	}
	console("paying with saved cards")
}

// TestBrowserSessionThreeDS: a card that needs 3-D Secure goes from the
// page to the simulator's challenge and, with the right code, on to the
// session's success URL. A card the issuer declines after the challenge
// brings the holder back to the page, with the reason, to try another.
func TestBrowserSessionThreeDS(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	rs := harness.NewReturnSite(t)
	ctx := harness.NewBrowser(t)
	console := harness.WatchConsole(t, ctx)
	body := func() map[string]any {
		return map[string]any{"amount": 1200, "success_url": rs.To("success"), "failure_url": rs.To("failure")}
	}
	// challenge pays r's page with number and answers the challenge.
	challenge := func(t *testing.T, r harness.Resp, number, mask string) {
		t.Helper()
		harness.OpenCheckout(t, ctx, r.Str("url"))
		harness.FillCard(t, ctx, number, "123", "Abu Bin Ali")
		harness.Click(t, ctx, "pay")
		harness.WaitJS(t, ctx, "the 3-D Secure challenge page", `!!document.getElementById("otp")`)
		if loc := harness.PageLocation(t, ctx); !strings.HasPrefix(loc, s.URL+"/3ds/") {
			t.Errorf("the challenge is at %s, want this server's /3ds/", loc)
		}
		if amt := harness.ElementText(t, ctx, "amount"); amt != "MYR 12.00" {
			t.Errorf("challenge #amount %q, want MYR 12.00", amt)
		}
		if !strings.Contains(harness.PageText(t, ctx), mask) {
			t.Errorf("the challenge does not show the masked card %s", mask)
		}
		harness.PageNoPAN(t, ctx, strings.ReplaceAll(number, " ", ""))
		if g := s.Call("GET", "/v1/sessions/"+r.Str("id"), sk, nil).Want(t, 200); g.Str("status") != "requires_action" {
			t.Errorf("session during the challenge: %s", g.Raw)
		}
		// The checkout page, opened again meanwhile (a reload, another
		// tab), leads to the same challenge.
		challengeURL := harness.PageLocation(t, ctx)
		if st := harness.Open(t, ctx, r.Str("url")); st != 200 {
			t.Errorf("the checkout page during the challenge: HTTP %d at the end", st)
		}
		if loc := harness.PageLocation(t, ctx); loc != challengeURL {
			t.Errorf("the checkout page during the challenge leads to %s, want the challenge %s", loc, challengeURL)
		}
		harness.EnterOTP(t, ctx, harness.OTP)
	}

	t.Run("passed", func(t *testing.T) {
		r := s.NewSession(t, sk, body())
		sid := r.Str("id")
		challenge(t, r, "4000 0025 0000 3155", harness.ChallengeMask)
		harness.Landed(t, ctx, rs, "success", sid)
		g := s.AwaitSession(t, sid, "succeeded")
		p := s.Call("GET", "/v1/payments/"+g.Str("payment"), sk, nil).Want(t, 200)
		if p.Str("status") != "succeeded" || p.Str("authentication", "status") != "authenticated" || harness.Dig(p.Body, "amount_captured") != float64(1200) {
			t.Errorf("payment after the challenge: %s", p.Raw)
		}
		if n := s.ChallengeSecrets(t); n != 0 {
			t.Errorf("%d challenge secrets left", n)
		}
	})

	t.Run("declined after the challenge", func(t *testing.T) {
		r := s.NewSession(t, sk, body())
		sid := r.Str("id")
		challenge(t, r, "4000 0084 0000 1629", "400000******1629")
		// Back on the checkout page, open, with the reason.
		harness.WaitJS(t, ctx, "the checkout page again", `!!document.getElementById("pay") && !document.getElementById("pay").disabled`)
		if loc := harness.PageLocation(t, ctx); loc != r.Str("url") {
			t.Errorf("after a decline behind 3-D Secure the browser is at %s, want the checkout page", loc)
		}
		if e := harness.Shown(t, ctx, "form-error"); !strings.Contains(strings.ToLower(e), "declined") {
			t.Errorf("#form-error %q after a decline behind 3-D Secure", e)
		}
		g := s.Call("GET", "/v1/sessions/"+sid, sk, nil).Want(t, 200)
		if g.Str("status") != "open" || harness.Dig(g.Body, "attempts") != float64(1) {
			t.Errorf("session after a decline behind 3-D Secure: %s", g.Raw)
		}
		harness.FillCard(t, ctx, "4242 4242 4242 4242", "123", "Abu Bin Ali")
		harness.Click(t, ctx, "pay")
		harness.Landed(t, ctx, rs, "success", sid)
		s.AwaitSession(t, sid, "succeeded")
	})
	console("through 3-D Secure")
}

// TestBrowserSessionDeclined: a declined card leaves the holder on the page
// with the reason shown; they replace the number and pay.
func TestBrowserSessionDeclined(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	rs := harness.NewReturnSite(t)
	r := s.NewSession(t, sk, map[string]any{"amount": 900, "success_url": rs.To("success"), "failure_url": rs.To("failure")})
	sid := r.Str("id")
	ctx := harness.NewBrowser(t)
	console := harness.WatchConsole(t, ctx)

	harness.OpenCheckout(t, ctx, r.Str("url"))
	harness.FillCard(t, ctx, "4000 0000 0000 0002", "123", "Abu Bin Ali")
	harness.Click(t, ctx, "pay")
	harness.WaitJS(t, ctx, "the decline shown", `(function(){
		var f = document.getElementById("form-error"), n = document.getElementById("number-error");
		return !f.hidden && f.textContent.trim() !== "" || !n.hidden && n.textContent.trim() !== ""; })()`)
	msg := harness.Shown(t, ctx, "form-error") + harness.Shown(t, ctx, "number-error")
	if !strings.Contains(strings.ToLower(msg), "declined") {
		t.Errorf("the page says %q after a decline, want it to say the card was declined", msg)
	}
	if loc := harness.PageLocation(t, ctx); loc != r.Str("url") {
		t.Errorf("after a decline the browser is at %s, want the checkout page", loc)
	}
	if st := harness.PageState(t, ctx); st != "open" {
		t.Errorf("data-state %q after a decline", st)
	}
	harness.WaitJS(t, ctx, "the pay button enabled again", `!document.getElementById("pay").disabled`)
	if l := harness.ElementText(t, ctx, "pay"); l != "Pay MYR 9.00" {
		t.Errorf("#pay says %q after a decline", l)
	}
	harness.PageNoPAN(t, ctx, "4000000000000002")
	harness.WantPNG(t, harness.Screenshot(t, ctx, "declined"))
	g := s.Call("GET", "/v1/sessions/"+sid, sk, nil).Want(t, 200)
	if g.Str("status") != "open" || harness.Dig(g.Body, "attempts") != float64(1) || g.Str("last_error", "code") != "card_declined" {
		t.Errorf("session after a decline: %s", g.Raw)
	}
	declined := g.Str("payment")

	// Clear the number (select it all, Backspace) and type another card.
	harness.Steps(t, ctx, "clear #number", chromedp.Click(chromedp.ID("number")),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("number").select()`),
		chromedp.SendKeys(chromedp.ID("number"), "\b"))
	if v := harness.JS[string](t, ctx, `document.getElementById("number").value`); v != "" {
		t.Fatalf("#number holds %q after clearing it", v)
	}
	harness.Type(t, ctx, "number", "4242 4242 4242 4242")
	if e := harness.Shown(t, ctx, "number-error"); e != "" {
		t.Errorf("#number-error %q for the new card", e)
	}
	// Enter in a field pays, as in any form.
	harness.Steps(t, ctx, "press Enter in #name", chromedp.SendKeys(chromedp.ID("name"), "\r"))
	harness.Landed(t, ctx, rs, "success", sid)
	console("after a decline")

	g = s.AwaitSession(t, sid, "succeeded")
	if g.Str("payment") == "" || g.Str("payment") == declined || harness.Dig(g.Body, "last_error") != nil {
		t.Errorf("session after the second card: %s", g.Raw)
	}
	if p := s.Call("GET", "/v1/payments/"+g.Str("payment"), sk, nil).Want(t, 200); p.Str("status") != "succeeded" || p.Str("card", "last4") != "4242" {
		t.Errorf("the second card's payment: %s", p.Raw)
	}
	if declined != "" {
		if p := s.Call("GET", "/v1/payments/"+declined, sk, nil).Want(t, 200); p.Str("status") != "failed" || p.Str("card", "last4") != "0002" {
			t.Errorf("the declined payment: %s", p.Raw)
		}
	}
}

// TestBrowserSessionExpired: an expired session's page sends the browser to
// expired_url; a page opened in time and paid after the expiry charges
// nothing and ends there too (or says it has expired).
func TestBrowserSessionExpired(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	rs := harness.NewReturnSite(t)
	db := s.OpenDB(t)
	expire := func(id string) {
		t.Helper()
		if _, err := db.Exec(s.Rebind(`UPDATE sessions SET expires_at = ? WHERE id = ?`), time.Now().Add(-time.Second).UnixMicro(), id); err != nil {
			t.Fatal(err)
		}
	}
	body := func() map[string]any {
		return map[string]any{"amount": 1500, "expires_in": 60, "expired_url": rs.To("expired"), "success_url": rs.To("success"),
			"cancel_url": rs.To("cancel")}
	}
	ctx := harness.NewBrowser(t)
	console := harness.WatchConsole(t, ctx)

	t.Run("opened after expiry", func(t *testing.T) {
		r := s.NewSession(t, sk, body())
		expire(r.Str("id"))
		if st := harness.Open(t, ctx, r.Str("url")); st != 200 {
			t.Errorf("expired session's page: HTTP %d at the end", st)
		}
		harness.Landed(t, ctx, rs, "expired", r.Str("id"))
		s.AwaitSession(t, r.Str("id"), "expired")
	})

	t.Run("paid after expiry", func(t *testing.T) {
		r := s.NewSession(t, sk, body())
		sid := r.Str("id")
		harness.OpenCheckout(t, ctx, r.Str("url"))
		harness.FillCard(t, ctx, "4242 4242 4242 4242", "123", "Abu Bin Ali")
		stats := s.Sim.Stats()
		expire(sid) // the holder dawdles
		harness.Click(t, ctx, "pay")
		harness.WaitJS(t, ctx, "the expired URL or an expired page", `!!document.getElementById("back") ||
			(document.querySelector("main") && document.querySelector("main").dataset.state === "expired")`)
		if harness.JS[bool](t, ctx, `!!document.getElementById("back")`) {
			harness.Landed(t, ctx, rs, "expired", sid)
			t.Logf("paid after expiry: the browser went on to expired_url")
		} else {
			t.Logf("paid after expiry: the page shows its expired state:\n%s", harness.PageText(t, ctx))
		}
		g := s.AwaitSession(t, sid, "expired")
		if p := g.Str("payment"); p != "" {
			t.Errorf("an expired session has a payment %s: %s", p, g.Raw)
		}
		if after := s.Sim.Stats(); after.Authorizations != stats.Authorizations || after.Captures != stats.Captures {
			t.Errorf("paying after the expiry reached the acquirer: %+v → %+v", stats, after)
		}
	})
	t.Run("no expired_url", func(t *testing.T) {
		r := s.NewSession(t, sk, map[string]any{"amount": 1500, "expires_in": 60})
		expire(r.Str("id"))
		if st := harness.Open(t, ctx, r.Str("url")); st != 200 {
			t.Errorf("expired session's page without expired_url: HTTP %d", st)
		}
		if st := harness.PageState(t, ctx); st != "expired" {
			t.Errorf("data-state %q, want expired", st)
		}
		text := harness.PageText(t, ctx)
		if !strings.Contains(strings.ToLower(text), "expired") || harness.JS[int](t, ctx, `document.querySelectorAll("input, #pay").length`) != 0 {
			t.Errorf("the expired page offers a form or does not say it has expired:\n%s", text)
		}
	})
	console("with expired sessions")
}

// TestBrowserSessionAPIMode: an API-mode session, paid from the merchant's
// own page: the browser encrypts the card with WebCrypto under the session's
// JWK and the merchant confirms the ciphertext through the API, with its
// secret key, or with the publishable key and the client secret.
func TestBrowserSessionAPIMode(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	var mu sync.Mutex
	pages := map[string]string{}
	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		pg, ok := pages[r.URL.Path]
		mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(pg))
	}))
	t.Cleanup(shop.Close)
	ctx := harness.NewBrowser(t)
	console := harness.WatchConsole(t, ctx)

	// encrypt serves the merchant's page for session r, types the card into
	// it and returns the ciphertext the page's script made.
	encrypt := func(t *testing.T, r harness.Resp, number, month, year, cvc, holder string) string {
		t.Helper()
		jwk, err := json.Marshal(harness.Dig(r.Body, "encryption_key", "jwk"))
		if err != nil || string(jwk) == "null" {
			t.Fatalf("session has no encryption_key.jwk: %s", r.Raw)
		}
		sid, _ := json.Marshal(r.Str("id"))
		path := "/checkout/" + r.Str("id")
		mu.Lock()
		pages[path] = fmt.Sprintf(harness.MerchantCheckoutPage, jwk, sid) // json.Marshal escapes <, > and &
		mu.Unlock()
		if st := harness.Open(t, ctx, shop.URL+path); st != 200 {
			t.Fatalf("the shop's page: HTTP %d", st)
		}
		if !harness.JS[bool](t, ctx, `window.isSecureContext && !!(window.crypto && crypto.subtle)`) {
			t.Fatal("the shop's page on 127.0.0.1 is not a secure context: no WebCrypto")
		}
		harness.Type(t, ctx, "number", number)
		harness.Type(t, ctx, "exp-month", month)
		harness.Type(t, ctx, "exp-year", year)
		harness.Type(t, ctx, "cvc", cvc)
		harness.Type(t, ctx, "holder", holder)
		harness.Click(t, ctx, "encrypt")
		harness.WaitJS(t, ctx, "the card encrypted", `document.getElementById("ciphertext").textContent !== "" || document.getElementById("error").textContent !== ""`)
		if e := harness.Shown(t, ctx, "error"); e != "" {
			t.Fatalf("the page could not encrypt with the session's JWK: %s (jwk %s)", e, jwk)
		}
		ct := harness.JS[string](t, ctx, `document.getElementById("ciphertext").textContent`)
		if len(ct) != 344 { // 256 bytes of RSA-2048 in standard base64
			t.Errorf("ciphertext of %d characters, want 344: %q", len(ct), ct)
		}
		if strings.Contains(ct, strings.ReplaceAll(number, " ", "")) {
			t.Fatal("the ciphertext holds the card number")
		}
		return ct
	}
	_, y := harness.TypedExpiry()
	year := fmt.Sprint(y)

	t.Run("secret key", func(t *testing.T) {
		r := s.NewSession(t, sk, map[string]any{"mode": "api", "amount": 3000, "order_id": "api-1"})
		if harness.Dig(r.Body, "url") != nil || r.Str("encryption_key", "alg") != "RSA-OAEP-256" {
			t.Fatalf("api session: %s", r.Raw)
		}
		ct := encrypt(t, r, "4242 4242 4242 4242", "12", year, "123", "Siti Aminah")
		c := s.Call("POST", "/v1/sessions/"+r.Str("id")+"/confirm", sk, map[string]any{"encrypted_card": ct}).Want(t, 200)
		if c.Str("status") != "succeeded" || c.Str("payment") == "" {
			t.Fatalf("confirm: %s", c.Raw)
		}
		p := s.Call("GET", "/v1/payments/"+c.Str("payment"), sk, nil).Want(t, 200)
		if p.Str("status") != "succeeded" || harness.Dig(p.Body, "amount") != float64(3000) || p.Str("card", "last4") != "4242" ||
			harness.Dig(p.Body, "card", "exp_year") != float64(y) || p.Str("order_id") != "api-1" {
			t.Errorf("payment: %s", p.Raw)
		}
	})

	t.Run("publishable key and client secret", func(t *testing.T) {
		r := s.NewSession(t, sk, map[string]any{"mode": "api", "amount": 1999, "customer_reference": "api_shopper", "save_card": "always"})
		other := s.NewSession(t, sk, map[string]any{"mode": "api", "amount": 1999})
		const holder = "Zoë Ångström-Nguyễn"
		ct := encrypt(t, r, "5555 5555 5555 4444", "12", year, "321", holder)
		pk := s.Dev.PublishableKey
		// The ciphertext is bound to its session.
		auths := s.Sim.Stats().Authorizations
		if bad := s.Call("POST", "/v1/sessions/"+other.Str("id")+"/confirm", sk, map[string]any{"encrypted_card": ct}); bad.Status != 400 || bad.Str("error", "param") != "encrypted_card" {
			t.Errorf("the ciphertext confirmed into another session: %d %s", bad.Status, bad.Raw)
		}
		if s.Sim.Stats().Authorizations != auths {
			t.Error("a refused ciphertext reached the acquirer")
		}
		c := s.Call("POST", "/v1/sessions/"+r.Str("id")+"/confirm", pk, map[string]any{"encrypted_card": ct, "client_secret": r.Str("client_secret")}).Want(t, 200)
		if c.Str("status") != "succeeded" || c.Str("payment") == "" || c.Str("token") == "" {
			t.Fatalf("confirm with the publishable key: %s", c.Raw)
		}
		if p := s.Call("GET", "/v1/payments/"+c.Str("payment"), sk, nil).Want(t, 200); p.Str("status") != "succeeded" || p.Str("card", "brand") != "mastercard" {
			t.Errorf("payment: %s", p.Raw)
		}
		// The name went through the browser's UTF-8 and back intact.
		if tk := s.Call("GET", "/v1/tokens/"+c.Str("token"), sk, nil).Want(t, 200); tk.Str("card", "holder_name") != holder || tk.Str("customer") != r.Str("customer") {
			t.Errorf("saved card: %s", tk.Raw)
		}
	})
	console("on the shop's page")
}

// TestBrowserSessionCancel: the page's cancel link cancels the session and
// sends the browser to cancel_url.
func TestBrowserSessionCancel(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	rs := harness.NewReturnSite(t)
	r := s.NewSession(t, sk, map[string]any{"amount": 4500, "success_url": rs.To("success"), "cancel_url": rs.To("cancel")})
	sid := r.Str("id")
	ctx := harness.NewBrowser(t)
	console := harness.WatchConsole(t, ctx)

	harness.OpenCheckout(t, ctx, r.Str("url"))
	if c := harness.Shown(t, ctx, "cancel"); !strings.Contains(c, "Development merchant") {
		t.Errorf("#cancel says %q", c)
	}
	auths := s.Sim.Stats().Authorizations
	harness.Click(t, ctx, "cancel")
	harness.Landed(t, ctx, rs, "cancel", sid)
	console("canceling")
	g := s.AwaitSession(t, sid, "canceled")
	if g.Str("payment") != "" {
		t.Errorf("canceled session: %s", g.Raw)
	}
	if s.Sim.Stats().Authorizations != auths {
		t.Error("canceling charged")
	}
	// Coming back to the page goes to the cancel URL again; the API refuses
	// to confirm it.
	harness.Open(t, ctx, r.Str("url"))
	harness.Landed(t, ctx, rs, "cancel", sid)
	if c := s.Call("POST", "/v1/sessions/"+sid+"/confirm", sk, map[string]any{"encrypted_card": harness.EncryptFor(t, r, "4242424242424242", "123")}); c.Status != 422 {
		t.Errorf("confirm a canceled session: %d %s", c.Status, c.Raw)
	}

	// Without a cancel_url the page offers no cancel link.
	r2 := s.NewSession(t, sk, map[string]any{"amount": 4500})
	harness.OpenCheckout(t, ctx, r2.Str("url"))
	if n := harness.JS[int](t, ctx, `document.querySelectorAll("#cancel").length`); n != 0 {
		t.Error("a cancel link without a cancel_url")
	}
}

// TestBrowserSessionLooks: screenshots of the checkout page (a new card,
// and a returning customer's saved card) at 1280 px and on a 360-px phone,
// which must not scroll sideways and keeps every control on screen.
func TestBrowserSessionLooks(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	rs := harness.NewReturnSite(t)
	s.SavedCard(t, "looks", "5555555555554444")
	s.Call("PATCH", "/v1/merchant", sk, map[string]any{"require_cvc_for_saved_cards": true}).Want(t, 200)
	fresh := s.NewSession(t, sk, map[string]any{"amount": 12990, "order_id": "A-2024-0042", "save_card": "optional",
		"customer_reference": "newcomer", "success_url": rs.To("success"), "cancel_url": rs.To("cancel")})
	saved := s.NewSession(t, sk, map[string]any{"amount": 12990, "order_id": "A-2024-0043", "customer_reference": "looks",
		"show_saved_cards": true, "save_card": "optional", "success_url": rs.To("success"), "cancel_url": rs.To("cancel")})
	ctx := harness.NewBrowser(t)
	console := harness.WatchConsole(t, ctx)

	// fits checks the page is no wider than the screen and each control
	// (a CSS selector: a radio or checkbox is tapped through its label) is
	// on screen and big enough to tap.
	fits := func(width int, what string, sels ...string) {
		t.Helper()
		w := harness.JS[[]int](t, ctx, `[document.documentElement.scrollWidth, document.body.scrollWidth, window.innerWidth]`)
		if w[2] != width {
			t.Errorf("%s: window.innerWidth %d, want %d", what, w[2], width)
		}
		if w[0] > width || w[1] > width {
			t.Errorf("%s at %d px: scrollWidth %d (html) / %d (body): the page scrolls sideways", what, width, w[0], w[1])
		}
		for _, sel := range sels {
			r := harness.JS[[]float64](t, ctx, fmt.Sprintf(`(function(){ var e = document.querySelector(%q);
				if (!e) return [-1, -1, 0, 0]; var r = e.getBoundingClientRect(); return [r.left, r.right, r.width, r.height]; })()`, sel))
			if r[0] < 0 || r[1] > float64(width) || r[2] < 24 || r[3] < 24 {
				t.Errorf("%s at %d px: %s at left %.0f right %.0f, %.0f×%.0f px: missing, off screen or too small to tap", what, width, sel, r[0], r[1], r[2], r[3])
			}
		}
	}
	for _, v := range []struct {
		width, height int64
		opts          []chromedp.EmulateViewportOption
	}{
		{1280, 800, nil},
		// A phone: its viewport follows the page's <meta name="viewport">,
		// at a phone's pixel density, with touch.
		{360, 740, []chromedp.EmulateViewportOption{chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulateScale(2)}},
	} {
		harness.Steps(t, ctx, "set the viewport", chromedp.EmulateViewport(v.width, v.height, v.opts...))
		harness.OpenCheckout(t, ctx, fresh.Str("url"))
		harness.WaitJS(t, ctx, "the QR code loaded", `(function(){ var i = document.getElementById("qr"); return i.complete && i.naturalWidth > 0; })()`)
		fits(int(v.width), "new card", "#number", "#exp", "#cvc", "#name", `label[for="save"]`, "#pay", "#cancel")
		if unlabeled := harness.JS[string](t, ctx, `Array.prototype.filter.call(document.querySelectorAll("input"), function (i) {
				return i.offsetParent !== null && (!i.labels || i.labels.length === 0 || !i.labels[0].textContent.trim()); }).map(function (i) { return i.id; }).join(" ")`); unlabeled != "" {
			t.Errorf("inputs without a label: %s", unlabeled)
		}
		harness.WantPNG(t, harness.Screenshot(t, ctx, fmt.Sprintf("new-card-%d", v.width)))
		// With a card typed and a field error showing.
		harness.Type(t, ctx, "number", "4242 4242 4242 4242")
		harness.Type(t, ctx, "exp", "13")
		harness.Type(t, ctx, "cvc", "1")
		fits(int(v.width), "new card with errors", "#number", "#cvc", "#pay")
		harness.WantPNG(t, harness.Screenshot(t, ctx, fmt.Sprintf("new-card-errors-%d", v.width)))

		harness.OpenCheckout(t, ctx, saved.Str("url"))
		harness.WaitVisible(t, ctx, "saved-cvc")
		fits(int(v.width), "saved card", "#saved-cvc", `label[for="new-card"]`, "#pay")
		harness.WantPNG(t, harness.Screenshot(t, ctx, fmt.Sprintf("saved-card-%d", v.width)))
	}
	console("on the checkout page")
}

// TestBrowserSessionSaveOnly: a session without an amount saves the card:
// the page says nothing will be charged, its button saves, and the session
// ends with a token and no payment.
func TestBrowserSessionSaveOnly(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	rs := harness.NewReturnSite(t)
	r := s.NewSession(t, sk, map[string]any{"customer_reference": "saver", "success_url": rs.To("success")})
	sid := r.Str("id")
	ctx := harness.NewBrowser(t)
	console := harness.WatchConsole(t, ctx)

	harness.OpenCheckout(t, ctx, r.Str("url"))
	if l := harness.ElementText(t, ctx, "pay"); l != "Save card" {
		t.Errorf("#pay says %q on a save-only session", l)
	}
	if !strings.Contains(harness.Shown(t, ctx, "save-only"), "Nothing will be charged") {
		t.Errorf("the save-only page does not say nothing is charged:\n%s", harness.PageText(t, ctx))
	}
	stats := s.Sim.Stats()
	harness.FillCard(t, ctx, "3782 822463 10005", "1234", "Abu Bin Ali")
	harness.Click(t, ctx, "pay")
	harness.Landed(t, ctx, rs, "success", sid)
	console("saving a card")
	g := s.AwaitSession(t, sid, "succeeded")
	if g.Str("token") == "" || harness.Dig(g.Body, "payment") != nil {
		t.Errorf("save-only session: %s", g.Raw)
	}
	if tk := s.Call("GET", "/v1/tokens/"+g.Str("token"), sk, nil).Want(t, 200); tk.Str("customer") != r.Str("customer") || tk.Str("card", "brand") != "amex" {
		t.Errorf("saved card: %s", tk.Raw)
	}
	if after := s.Sim.Stats(); after.Verifications != stats.Verifications+1 || after.Captures != stats.Captures {
		t.Errorf("a save-only session must verify and charge nothing: %+v → %+v", stats, after)
	}
}

// TestBrowserSessionFailed: five declined cards fail the session; the fifth
// sends the browser to failure_url.
func TestBrowserSessionFailed(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	rs := harness.NewReturnSite(t)
	r := s.NewSession(t, sk, map[string]any{"amount": 700, "success_url": rs.To("success"), "failure_url": rs.To("failure")})
	sid := r.Str("id")
	ctx := harness.NewBrowser(t)
	console := harness.WatchConsole(t, ctx)

	harness.OpenCheckout(t, ctx, r.Str("url"))
	harness.FillCard(t, ctx, "4000 0000 0000 0002", "123", "Abu Bin Ali")
	for i := 1; i <= 4; i++ {
		harness.JS[bool](t, ctx, `(document.getElementById("form-error").textContent = "", true)`)
		harness.Click(t, ctx, "pay")
		harness.WaitJS(t, ctx, fmt.Sprintf("decline %d shown", i), `document.getElementById("form-error").textContent !== "" && !document.getElementById("pay").disabled`)
		if g := s.Call("GET", "/v1/sessions/"+sid, sk, nil).Want(t, 200); g.Str("status") != "open" || harness.Dig(g.Body, "attempts") != float64(i) {
			t.Fatalf("after decline %d: %s", i, g.Raw)
		}
	}
	harness.Click(t, ctx, "pay")
	harness.Landed(t, ctx, rs, "failure", sid)
	console("declined five times")
	g := s.AwaitSession(t, sid, "failed")
	if harness.Dig(g.Body, "attempts") != float64(5) || g.Str("last_error", "code") != "card_declined" {
		t.Errorf("failed session: %s", g.Raw)
	}
}

// TestBrowserSessionIframe: a merchant that allows its origin to frame the
// checkout page (frame_ancestors) embeds it in its own page; the holder
// pays inside the frame, also with a card that needs 3-D Secure, and the
// browser ends on the success URL (in the frame or the whole tab).
//
// When written, the 3-D Secure case failed: the page follows next_action
// inside the frame, and the challenge page (/3ds/…) refuses every framing
// (frame-ancestors 'none', X-Frame-Options: DENY), so the holder sees
// Chrome's "refused to connect" and the session waits in requires_action.
// The test accepts either fix: the challenge framable by the merchant's
// frame_ancestors, or shown in the whole tab.
func TestBrowserSessionIframe(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	rs := harness.NewReturnSite(t)
	var mu sync.Mutex
	shopPage := ""
	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		pg := shopPage
		mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(pg))
	}))
	t.Cleanup(shop.Close)
	s.Call("PATCH", "/v1/merchant", sk, map[string]any{"frame_ancestors": []string{shop.URL}}).Want(t, 200)
	ctx := harness.NewBrowser(t)
	successBase := strings.Split(rs.URL, "?")[0] + "?"

	// pay opens the shop's page framing session r and pays with number.
	pay := func(t *testing.T, r harness.Resp, number string) {
		t.Helper()
		mu.Lock()
		shopPage = `<!doctype html><link rel="icon" href="data:,"><title>Shop</title><h1 id="shop">The shop</h1>` +
			`<iframe title="Payment" src="` + r.Str("url") + `" width="460" height="1100"></iframe>`
		mu.Unlock()
		if st := harness.Open(t, ctx, shop.URL); st != 200 {
			t.Fatalf("shop page: HTTP %d", st)
		}
		deadline := time.Now().Add(harness.BrowserStep)
		for !harness.FrameHas(t, ctx, "number") {
			if time.Now().After(deadline) {
				u, unreachable := harness.FrameURL(t, ctx)
				t.Fatalf("the checkout page did not load in the merchant's iframe (frame at %s, refused %v)", u, unreachable)
			}
			time.Sleep(100 * time.Millisecond)
		}
		exp, _ := harness.TypedExpiry()
		harness.InFrame(t, ctx, "type the card", func(in chromedp.QueryOption) []chromedp.Action[chromedp.Void] {
			return []chromedp.Action[chromedp.Void]{
				chromedp.WaitEnabled(chromedp.ID("pay"), in),
				chromedp.Click(chromedp.ID("number"), in), chromedp.SendKeys(chromedp.ID("number"), number, in),
				chromedp.SendKeys(chromedp.ID("exp"), exp, in), chromedp.SendKeys(chromedp.ID("cvc"), "123", in),
				chromedp.SendKeys(chromedp.ID("name"), "Abu Bin Ali", in), chromedp.Click(chromedp.ID("pay"), in)}
		})
	}
	// landed waits for the success URL, in the frame or the whole tab.
	landed := func(t *testing.T, sid string) {
		t.Helper()
		deadline := time.Now().Add(harness.BrowserStep)
		for {
			top := harness.PageLocation(t, ctx)
			fu, _ := harness.FrameURL(t, ctx)
			for _, u := range []string{top, fu} {
				if strings.HasPrefix(u, successBase) {
					if !strings.Contains(u, "session_id="+sid) || !strings.Contains(u, "to=success") {
						t.Errorf("landed on %s, want the success URL with session_id=%s", u, sid)
					}
					return
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("never reached the success URL: the tab is at %s, its frame at %s", top, fu)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	t.Run("new card", func(t *testing.T) {
		r := s.NewSession(t, sk, map[string]any{"amount": 1000, "success_url": rs.To("success")})
		pay(t, r, "4242 4242 4242 4242")
		landed(t, r.Str("id"))
		s.AwaitSession(t, r.Str("id"), "succeeded")
		// The frame's document is followed across its navigations (what
		// the 3-D Secure case below relies on to find the challenge).
		if u, _ := harness.FrameURL(t, ctx); strings.HasPrefix(u, successBase) && !harness.FrameHas(t, ctx, "back") {
			t.Errorf("the merchant's success page in the frame has no #back")
		}
	})

	t.Run("3-D Secure", func(t *testing.T) {
		r := s.NewSession(t, sk, map[string]any{"amount": 1000, "success_url": rs.To("success")})
		pay(t, r, "4000 0025 0000 3155")
		// The challenge shows in the frame or in the whole tab.
		deadline := time.Now().Add(harness.BrowserStep)
		inFrame := false
		for {
			if harness.JS[bool](t, ctx, `!!document.getElementById("otp")`) {
				break
			}
			if harness.FrameHas(t, ctx, "otp") {
				inFrame = true
				break
			}
			u, refused := harness.FrameURL(t, ctx)
			if time.Now().After(deadline) || refused && strings.Contains(u, "/3ds/") {
				g := s.Call("GET", "/v1/sessions/"+r.Str("id"), sk, nil)
				t.Fatalf("the holder never sees the 3-D Secure challenge: the tab is at %s, the checkout frame at %s (load refused: %v); "+
					"the session is %s. A card that needs 3-D Secure cannot be paid in a framed checkout page.",
					harness.PageLocation(t, ctx), u, refused, g.Str("status"))
			}
			time.Sleep(100 * time.Millisecond)
		}
		if inFrame {
			harness.InFrame(t, ctx, "answer the challenge", func(in chromedp.QueryOption) []chromedp.Action[chromedp.Void] {
				return []chromedp.Action[chromedp.Void]{chromedp.SendKeys(chromedp.ID("otp"), harness.OTP, in), chromedp.Click(chromedp.ID("submit"), in)}
			})
		} else {
			harness.EnterOTP(t, ctx, harness.OTP)
		}
		landed(t, r.Str("id"))
		s.AwaitSession(t, r.Str("id"), "succeeded")
	})
}
