package e2e

// Real-browser tests of the 3-D Secure challenge page: headless Chromium
// opens next_action.url, a person's keystrokes go into #otp, #submit is
// clicked, and the test follows the browser wherever the server sends it (the
// merchant's return_url, or the page again). They run on SQLite only: the
// HTTP-level tests in threeds_test.go cover both backends.

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// b3dsStep bounds one browser step, so a page that never comes fails with
// the step's name instead of at the browser's overall deadline.
const b3dsStep = 15 * time.Second

const (
	b3dsChallengeCard = "4000002500003155" // challenge, then the verification/authorization succeeds
	b3dsDeclineCard   = "4000008400001629" // challenge, then the issuer declines
	b3dsMask          = "400000******3155"
	b3dsOTP           = "123456"
)

// b3dsRun runs one action with a step timeout and fails the test on error.
func b3dsRun[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, b3dsStep)
	defer cancel()
	v, err := chromedp.Run(sctx, a)
	if err != nil {
		t.Fatalf("browser: %s: %v", what, err)
	}
	return v
}

// b3dsOpen loads u in the tab and returns the document's HTTP status.
func b3dsOpen(t *testing.T, ctx context.Context, u string) int64 {
	t.Helper()
	res := b3dsRun(t, ctx, "open "+u, chromedp.NavigateResponse(u))
	if res == nil {
		t.Fatalf("browser: open %s: no response", u)
	}
	return res.Status
}

// b3dsSubmit types otp into #otp, clicks #submit and waits until whatever
// page the form leads to (after any redirects) has loaded; it returns that
// document's HTTP status.
func b3dsSubmit(t *testing.T, ctx context.Context, otp string) int64 {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, b3dsStep)
	defer cancel()
	res, err := chromedp.RunResponse(sctx,
		chromedp.WaitVisible(chromedp.ID("otp")),
		chromedp.SendKeys(chromedp.ID("otp"), otp),
		chromedp.Click(chromedp.ID("submit")))
	if err != nil {
		t.Fatalf("browser: submitting an OTP: %v", err)
	}
	if res == nil {
		t.Fatal("browser: submitting an OTP: no response")
	}
	return res.Status
}

// b3dsWaitVisible waits for an element of the page now in the tab.
func b3dsWaitVisible(t *testing.T, ctx context.Context, id string) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, b3dsStep)
	defer cancel()
	if err := chromedp.Do(sctx, chromedp.WaitVisible(chromedp.ID(id))); err != nil {
		t.Fatalf("browser: #%s never became visible (%v); the page is %s:\n%s", id, err,
			b3dsLocation(t, ctx), b3dsText(t, ctx))
	}
}

// b3dsText is what the page says: document.body.innerText.
func b3dsText(t *testing.T, ctx context.Context) string {
	t.Helper()
	return b3dsRun(t, ctx, "read the page text", chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
}

// b3dsHTML is the page's whole markup as the browser holds it.
func b3dsHTML(t *testing.T, ctx context.Context) string {
	t.Helper()
	return b3dsRun(t, ctx, "read the page markup", chromedp.Evaluate[string](`document.documentElement.outerHTML`))
}

// b3dsState is <main data-state>, "" when there is none.
func b3dsState(t *testing.T, ctx context.Context) string {
	t.Helper()
	return b3dsRun(t, ctx, "read data-state",
		chromedp.Evaluate[string](`(function(){ var m = document.querySelector("main"); return m && m.dataset.state || ""; })()`))
}

// b3dsElemText is the visible text of the element with this id.
func b3dsElemText(t *testing.T, ctx context.Context, id string) string {
	t.Helper()
	return strings.TrimSpace(b3dsRun(t, ctx, "read #"+id, chromedp.Text(chromedp.ID(id))))
}

func b3dsLocation(t *testing.T, ctx context.Context) string {
	t.Helper()
	return b3dsRun(t, ctx, "read the location", chromedp.Location())
}

// b3dsAtReturn checks that the tab is on the merchant's return site (its
// #back heading showing) and returns the query the browser arrived with.
func b3dsAtReturn(t *testing.T, ctx context.Context, rs *returnSite) url.Values {
	t.Helper()
	b3dsWaitVisible(t, ctx, "back")
	loc := b3dsLocation(t, ctx)
	base := strings.Split(rs.URL, "?")[0]
	u, err := url.Parse(loc)
	if err != nil || !strings.HasPrefix(loc, base+"?") {
		t.Fatalf("browser is at %q, want the return_url %s", loc, rs.URL)
	}
	q := u.Query()
	// The site must have served that very arrival. (Not just rs.last():
	// the browser also asks the site for /favicon.ico, with no query.)
	rs.mu.Lock()
	seen := false
	for _, got := range rs.got {
		seen = seen || got.Encode() == q.Encode()
	}
	rs.mu.Unlock()
	if !seen {
		t.Errorf("the return site never served the browser's arrival with %v", q)
	}
	return q
}

// b3dsWantQuery checks the outcome the return URL carries.
func b3dsWantQuery(t *testing.T, q url.Values, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got := q.Get(k); got != v {
			t.Errorf("return query %s=%q, want %q (query %v)", k, got, v, q)
		}
	}
	if st := want["status"]; (st == "active" || st == "succeeded") && q.Has("reason") {
		t.Errorf("return query has reason=%q on a success (query %v)", q.Get("reason"), q)
	}
}

// b3dsNoPAN fails if the page, as rendered or in its markup, holds the full
// card number.
func b3dsNoPAN(t *testing.T, ctx context.Context, number string) {
	t.Helper()
	if strings.Contains(b3dsText(t, ctx), number) || strings.Contains(b3dsHTML(t, ctx), number) {
		t.Errorf("the page shows the full card number %s", number)
	}
}

// b3dsPNG checks a screenshot file is there and is a non-empty PNG.
func b3dsPNG(t *testing.T, path string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if fi.Size() == 0 {
		t.Fatalf("screenshot %s is empty", path)
	}
	png, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Errorf("screenshot %s is not a PNG", path)
	}
}

// b3dsChallenge makes a token or payment that waits on a challenge and
// returns its id and next_action.url.
func b3dsChallenge(t *testing.T, s *server, path string, body map[string]any) (string, string) {
	t.Helper()
	r := s.call("POST", path, s.Dev.SecretKey, body).want(t, 201)
	id, u := r.str("id"), r.str("next_action", "url")
	if r.str("status") != "requires_action" || id == "" || u == "" || r.str("next_action", "type") != "redirect" {
		t.Fatalf("POST %s: want requires_action with a redirect: %s", path, r.Raw)
	}
	if !strings.HasPrefix(u, s.URL+"/3ds/") {
		t.Fatalf("next_action.url %q is not this server's challenge page", u)
	}
	return id, u
}

// b3dsAwaitStatus polls GET path until its status is want.
func b3dsAwaitStatus(t *testing.T, s *server, path, want string, within time.Duration) resp {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		g := s.call("GET", path, s.Dev.SecretKey, nil).want(t, 200)
		if g.str("status") == want {
			return g
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: status still %q after %s, want %q: %s", path, g.str("status"), within, want, g.Raw)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestBrowserThreeDSToken: a shopper's browser opens the challenge of a
// token, sees whom and what it is for (with the card masked), types the
// right code and lands back at the shop with the token active.
func TestBrowserThreeDSToken(t *testing.T) {
	s := start(t)
	rs := newReturnSite(t)
	tid, u := b3dsChallenge(t, s, "/v1/tokens", map[string]any{"card": card(b3dsChallengeCard), "return_url": rs.URL})
	ctx := newBrowser(t)

	if st := b3dsOpen(t, ctx, u); st != 200 {
		t.Fatalf("challenge page: HTTP %d", st)
	}
	b3dsWaitVisible(t, ctx, "otp")
	if st := b3dsState(t, ctx); st != "pending" {
		t.Errorf("data-state %q, want pending", st)
	}
	text := b3dsText(t, ctx)
	for _, want := range []string{"Development merchant", "1.00", b3dsMask} {
		if !strings.Contains(text, want) {
			t.Errorf("the page does not show %q:\n%s", want, text)
		}
	}
	if amt := b3dsElemText(t, ctx, "amount"); amt != "MYR 1.00" {
		t.Errorf("#amount %q, want the verification amount in the merchant's currency, MYR 1.00", amt)
	}
	if m := b3dsElemText(t, ctx, "merchant"); m != "Development merchant" {
		t.Errorf("#merchant %q", m)
	}
	b3dsNoPAN(t, ctx, b3dsChallengeCard)
	if hint := b3dsElemText(t, ctx, "hint"); !strings.Contains(hint, b3dsOTP) {
		t.Errorf("test-mode #hint %q does not give the test OTP", hint)
	}
	b3dsPNG(t, screenshot(t, ctx, "challenge"))

	if n := challengeSecrets(t, s); n != 1 {
		t.Errorf("%d challenge secrets while the challenge is open, want 1 (the sealed CVC)", n)
	}
	if st := b3dsSubmit(t, ctx, b3dsOTP); st != 200 {
		t.Errorf("return site answered HTTP %d", st)
	}
	q := b3dsAtReturn(t, ctx, rs)
	b3dsWantQuery(t, q, map[string]string{"token": tid, "status": "active", "cart": "42"})

	g := s.call("GET", "/v1/tokens/"+tid, s.Dev.SecretKey, nil).want(t, 200)
	if g.str("status") != "active" || g.str("verification", "three_d_secure") != "authenticated" || dig(g.Body, "next_action") != nil {
		t.Errorf("token after the challenge: %s", g.Raw)
	}
	if n := challengeSecrets(t, s); n != 0 {
		t.Errorf("%d challenge secrets left after the challenge", n)
	}
}

// TestBrowserThreeDSWrongOTP: two wrong codes leave the shopper on the page
// and the count of attempts left; the third fails the token, which keeps no
// card and was never sent for verification.
func TestBrowserThreeDSWrongOTP(t *testing.T) {
	s := start(t)
	rs := newReturnSite(t)
	tid, u := b3dsChallenge(t, s, "/v1/tokens", map[string]any{"card": card(b3dsChallengeCard), "return_url": rs.URL})
	ctx := newBrowser(t)

	if st := b3dsOpen(t, ctx, u); st != 200 {
		t.Fatalf("challenge page: HTTP %d", st)
	}
	if a := b3dsElemText(t, ctx, "attempts"); a != "3 attempts left" {
		t.Errorf("#attempts %q before any try", a)
	}
	verifs := s.Sim.Stats().Verifications
	for _, left := range []int{2, 1} {
		if st := b3dsSubmit(t, ctx, "000000"); st != 200 {
			t.Errorf("wrong OTP (%d left): HTTP %d", left, st)
		}
		b3dsWaitVisible(t, ctx, "error")
		attempts := fmt.Sprintf("%d attempts left", left)
		if left == 1 {
			attempts = "1 attempt left"
		}
		if e := b3dsElemText(t, ctx, "error"); !strings.Contains(e, "not correct") {
			t.Errorf("#error %q, want it to say the code is not correct", e)
		}
		if a := b3dsElemText(t, ctx, "attempts"); a != attempts {
			t.Errorf("#attempts %q, want %q", a, attempts)
		}
		if st := b3dsState(t, ctx); st != "pending" {
			t.Errorf("data-state %q after a wrong OTP with %d left, want pending", st, left)
		}
		if loc := b3dsLocation(t, ctx); loc != u {
			t.Errorf("after a wrong OTP the browser is at %q, want the challenge page", loc)
		}
		// The refused code is not written back into the form.
		if v := b3dsRun(t, ctx, "read #otp", chromedp.Value(chromedp.ID("otp"))); v != "" {
			t.Errorf("#otp holds %q after a wrong OTP, want it empty", v)
		}
		b3dsNoPAN(t, ctx, b3dsChallengeCard)
	}
	if st := b3dsSubmit(t, ctx, "000000"); st != 200 {
		t.Errorf("return site answered HTTP %d", st)
	}
	q := b3dsAtReturn(t, ctx, rs)
	b3dsWantQuery(t, q, map[string]string{"token": tid, "status": "failed", "reason": "authentication_failed", "cart": "42"})

	g := s.call("GET", "/v1/tokens/"+tid, s.Dev.SecretKey, nil).want(t, 200)
	if g.str("status") != "failed" || g.str("verification", "failure_code") != "authentication_failed" {
		t.Errorf("token after three wrong OTPs: %s", g.Raw)
	}
	if ct := cardCiphertext(t, s, tid); ct != nil {
		t.Errorf("a failed token keeps its card: %d bytes of ciphertext", len(ct))
	}
	if n := challengeSecrets(t, s); n != 0 {
		t.Errorf("%d challenge secrets left after the challenge failed", n)
	}
	if got := s.Sim.Stats().Verifications; got != verifs {
		t.Errorf("verifications %d → %d: a card that failed 3-D Secure was sent for verification", verifs, got)
	}
}

// TestBrowserThreeDSPayment: a payment waiting on a challenge is
// authorized and captured once the shopper passes it, or fails with the
// issuer's decline if the issuer declines after the challenge.
func TestBrowserThreeDSPayment(t *testing.T) {
	s := start(t)
	rs := newReturnSite(t)
	ctx := newBrowser(t)
	pay := func(number string) map[string]any {
		return map[string]any{"amount": 1500, "currency": "MYR", "card": card(number), "return_url": rs.URL}
	}

	t.Run("succeeds", func(t *testing.T) {
		pid, u := b3dsChallenge(t, s, "/v1/payments", pay(b3dsChallengeCard))
		if st := b3dsOpen(t, ctx, u); st != 200 {
			t.Fatalf("challenge page: HTTP %d", st)
		}
		b3dsWaitVisible(t, ctx, "otp")
		if amt := b3dsElemText(t, ctx, "amount"); amt != "MYR 15.00" {
			t.Errorf("#amount %q, want MYR 15.00", amt)
		}
		if !strings.Contains(b3dsText(t, ctx), b3dsMask) {
			t.Errorf("the page does not show the masked card %s", b3dsMask)
		}
		b3dsNoPAN(t, ctx, b3dsChallengeCard)
		if n := challengeSecrets(t, s); n != 1 {
			t.Errorf("%d challenge secrets while the challenge is open, want 1", n)
		}
		b3dsSubmit(t, ctx, b3dsOTP)
		q := b3dsAtReturn(t, ctx, rs)
		b3dsWantQuery(t, q, map[string]string{"payment": pid, "status": "succeeded", "cart": "42"})

		g := s.call("GET", "/v1/payments/"+pid, s.Dev.SecretKey, nil).want(t, 200)
		if g.str("status") != "succeeded" || dig(g.Body, "amount_captured") != float64(1500) ||
			g.str("authentication", "status") != "authenticated" || dig(g.Body, "next_action") != nil {
			t.Errorf("payment after the challenge: %s", g.Raw)
		}
		if n := challengeSecrets(t, s); n != 0 {
			t.Errorf("%d challenge secrets left after the payment", n)
		}
	})

	t.Run("declined", func(t *testing.T) {
		pid, u := b3dsChallenge(t, s, "/v1/payments", pay(b3dsDeclineCard))
		if st := b3dsOpen(t, ctx, u); st != 200 {
			t.Fatalf("challenge page: HTTP %d", st)
		}
		b3dsWaitVisible(t, ctx, "otp")
		b3dsNoPAN(t, ctx, b3dsDeclineCard)
		b3dsSubmit(t, ctx, b3dsOTP)
		q := b3dsAtReturn(t, ctx, rs)
		b3dsWantQuery(t, q, map[string]string{"payment": pid, "status": "failed", "reason": "card_declined", "cart": "42"})

		g := s.call("GET", "/v1/payments/"+pid, s.Dev.SecretKey, nil).want(t, 200)
		if g.str("status") != "failed" || g.str("failure", "code") != "card_declined" ||
			dig(g.Body, "amount_captured") != float64(0) || g.str("authentication", "status") != "authenticated" {
			t.Errorf("declined payment after the challenge: %s", g.Raw)
		}
		if n := challengeSecrets(t, s); n != 0 {
			t.Errorf("%d challenge secrets left after the decline", n)
		}
	})
}

// TestBrowserThreeDSExpired: a challenge nobody answers in time is expired
// by the sweeper; the page then says so and leads back to the shop with the
// failure, and a code typed into a page left open past the expiry does not
// authenticate anything.
func TestBrowserThreeDSExpired(t *testing.T) {
	s := start(t, withChallengeTTL(2*time.Second), withSweepInterval(200*time.Millisecond))
	rs := newReturnSite(t)
	body := map[string]any{"card": card(b3dsChallengeCard), "return_url": rs.URL}
	ctx := newBrowser(t)

	t.Run("opened after expiry", func(t *testing.T) {
		tid, u := b3dsChallenge(t, s, "/v1/tokens", body)
		// Nobody opens the page: the sweeper alone must fail the token.
		g := b3dsAwaitStatus(t, s, "/v1/tokens/"+tid, "failed", 10*time.Second)
		if g.str("verification", "failure_code") != "authentication_failed" {
			t.Errorf("expired token: %s", g.Raw)
		}
		if n := challengeSecrets(t, s); n != 0 {
			t.Errorf("%d challenge secrets left after the expiry", n)
		}

		if st := b3dsOpen(t, ctx, u); st != 410 {
			t.Errorf("expired challenge page: HTTP %d, want 410", st)
		}
		b3dsWaitVisible(t, ctx, "return")
		if st := b3dsState(t, ctx); st != "expired" {
			t.Errorf("data-state %q, want expired", st)
		}
		if b3dsRun(t, ctx, "count #otp", chromedp.Evaluate[int](`document.querySelectorAll("#otp, #submit, form").length`)) != 0 {
			t.Error("the expired page still offers the OTP form")
		}
		href := b3dsRun(t, ctx, "read #return's href", chromedp.Evaluate[string](`document.getElementById("return").href`))
		ru, err := url.Parse(href)
		if err != nil || !strings.HasPrefix(href, strings.Split(rs.URL, "?")[0]+"?") {
			t.Fatalf("#return goes to %q, want the return_url %s", href, rs.URL)
		}
		b3dsWantQuery(t, ru.Query(), map[string]string{"token": tid, "status": "failed", "reason": "authentication_failed", "cart": "42"})
		b3dsPNG(t, screenshot(t, ctx, "expired"))

		// The link works in a browser (the page's CSP does not get in the way).
		b3dsRun(t, ctx, "follow #return", chromedp.Click(chromedp.ID("return")))
		b3dsWantQuery(t, b3dsAtReturn(t, ctx, rs), map[string]string{"token": tid, "status": "failed", "cart": "42"})
		if n := challengeSecrets(t, s); n != 0 {
			t.Errorf("%d challenge secrets left", n)
		}
	})

	t.Run("answered after expiry", func(t *testing.T) {
		tid, u := b3dsChallenge(t, s, "/v1/tokens", body)
		if st := b3dsOpen(t, ctx, u); st != 200 {
			t.Fatalf("fresh challenge page: HTTP %d (TTL too short for this machine?)", st)
		}
		b3dsWaitVisible(t, ctx, "otp")
		if st := b3dsState(t, ctx); st != "pending" {
			t.Fatalf("data-state %q on a fresh challenge, want pending", st)
		}
		verifs := s.Sim.Stats().Verifications
		// The shopper leaves the page open past the expiry ...
		b3dsAwaitStatus(t, s, "/v1/tokens/"+tid, "failed", 10*time.Second)
		// ... then types the right code into it.
		st := b3dsSubmit(t, ctx, b3dsOTP)
		loc := b3dsLocation(t, ctx)
		state := b3dsState(t, ctx)
		text := b3dsText(t, ctx)
		t.Logf("right OTP after expiry: HTTP %d, at %s, data-state %q:\n%s", st, loc, state, text)
		b3dsPNG(t, screenshot(t, ctx, "answered-after-expiry"))
		switch {
		case strings.HasPrefix(loc, strings.Split(rs.URL, "?")[0]+"?"):
			// Sent back to the shop: with the failure, never a success.
			b3dsWantQuery(t, b3dsAtReturn(t, ctx, rs), map[string]string{"token": tid, "status": "failed",
				"reason": "authentication_failed", "cart": "42"})
		default:
			if state != "expired" {
				t.Errorf("a right OTP typed after the expiry shows data-state %q (HTTP %d), want expired (HTTP 410) or a "+
					"redirect to the shop with status=failed; the page says:\n%s", state, st, text)
			}
			if !strings.Contains(strings.ToLower(text), "expired") {
				t.Errorf("the page does not say the verification expired:\n%s", text)
			}
			if strings.Contains(text, "You're verified") || strings.Contains(text, "You have been verified") {
				t.Errorf("the page claims success after the expiry:\n%s", text)
			}
		}
		g := s.call("GET", "/v1/tokens/"+tid, s.Dev.SecretKey, nil).want(t, 200)
		if g.str("status") != "failed" || g.str("verification", "failure_code") != "authentication_failed" {
			t.Errorf("token answered after its expiry: %s", g.Raw)
		}
		if ct := cardCiphertext(t, s, tid); ct != nil {
			t.Errorf("an expired token keeps its card: %d bytes", len(ct))
		}
		if got := s.Sim.Stats().Verifications; got != verifs {
			t.Errorf("verifications %d → %d: an expired challenge was verified", verifs, got)
		}
		if n := challengeSecrets(t, s); n != 0 {
			t.Errorf("%d challenge secrets left", n)
		}
	})
}

// TestBrowserThreeDSPhone: on a 360-px-wide phone the challenge page fits
// the screen (no sideways scrolling) and its form is usable, also with the
// error shown after a wrong code.
func TestBrowserThreeDSPhone(t *testing.T) {
	s := start(t)
	rs := newReturnSite(t)
	_, u := b3dsChallenge(t, s, "/v1/tokens", map[string]any{"card": card(b3dsChallengeCard), "return_url": rs.URL})
	ctx := newBrowser(t)
	b3dsRun(t, ctx, "emulate a 360 px phone", chromedp.EmulateViewport(360, 740))

	fits := func(when string) {
		t.Helper()
		w := b3dsRun(t, ctx, "read widths", chromedp.Evaluate[[]int](
			`[document.documentElement.scrollWidth, document.body.scrollWidth, window.innerWidth]`))
		if w[2] != 360 {
			t.Errorf("%s: window.innerWidth %d, the viewport emulation did not take", when, w[2])
		}
		if w[0] > 360 || w[1] > 360 {
			t.Errorf("%s: scrollWidth %d (html) / %d (body) > 360: the page scrolls sideways", when, w[0], w[1])
		}
		for _, id := range []string{"otp", "submit"} {
			b3dsWaitVisible(t, ctx, id)
			r := b3dsRun(t, ctx, "measure #"+id, chromedp.Evaluate[[]float64](
				`(function(){ var r = document.getElementById("`+id+`").getBoundingClientRect(); return [r.left, r.right, r.width, r.height]; })()`))
			if r[0] < 0 || r[1] > 360 || r[2] < 44 || r[3] < 24 {
				t.Errorf("%s: #%s at left %.0f right %.0f, %.0f×%.0f px: not fully on a 360 px screen or too small to tap",
					when, id, r[0], r[1], r[2], r[3])
			}
		}
	}

	if st := b3dsOpen(t, ctx, u); st != 200 {
		t.Fatalf("challenge page: HTTP %d", st)
	}
	fits("fresh page")
	b3dsPNG(t, screenshot(t, ctx, "challenge-360"))

	b3dsSubmit(t, ctx, "000000")
	b3dsWaitVisible(t, ctx, "error")
	fits("after a wrong OTP")
	b3dsPNG(t, screenshot(t, ctx, "challenge-360-error"))
}
