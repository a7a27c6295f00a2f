package threeds

// Real-browser tests of the 3-D Secure challenge page: headless Chromium
// opens next_action.url, a person's keystrokes go into #otp, #submit is
// clicked, and the test follows the browser wherever the server sends it (the
// merchant's return_url, or the page again). They run on SQLite only: the
// HTTP-level tests in challenge_test.go cover both backends.

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// TestBrowserThreeDSToken: a shopper's browser opens the challenge of a
// token, sees whom and what it is for (with the card masked), types the
// right code and lands back at the shop with the token active.
func TestBrowserThreeDSToken(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	rs := harness.NewReturnSite(t)
	tid, u := s.StartChallenge(t, "/v1/tokens", map[string]any{"card": harness.Card(harness.ChallengeCard), "return_url": rs.URL})
	ctx := harness.NewBrowser(t)

	if st := harness.Open(t, ctx, u); st != 200 {
		t.Fatalf("challenge page: HTTP %d", st)
	}
	harness.WaitVisible(t, ctx, "otp")
	if st := harness.PageState(t, ctx); st != "pending" {
		t.Errorf("data-state %q, want pending", st)
	}
	text := harness.PageText(t, ctx)
	for _, want := range []string{"Development merchant", "1.00", harness.ChallengeMask} {
		if !strings.Contains(text, want) {
			t.Errorf("the page does not show %q:\n%s", want, text)
		}
	}
	if amt := harness.ElementText(t, ctx, "amount"); amt != "MYR 1.00" {
		t.Errorf("#amount %q, want the verification amount in the merchant's currency, MYR 1.00", amt)
	}
	if m := harness.ElementText(t, ctx, "merchant"); m != "Development merchant" {
		t.Errorf("#merchant %q", m)
	}
	harness.PageNoPAN(t, ctx, harness.ChallengeCard)
	if hint := harness.ElementText(t, ctx, "hint"); !strings.Contains(hint, harness.OTP) {
		t.Errorf("test-mode #hint %q does not give the test OTP", hint)
	}
	harness.WantPNG(t, harness.Screenshot(t, ctx, "challenge"))

	if n := s.ChallengeSecrets(t); n != 1 {
		t.Errorf("%d challenge secrets while the challenge is open, want 1 (the sealed CVC)", n)
	}
	if st := harness.EnterOTP(t, ctx, harness.OTP); st != 200 {
		t.Errorf("return site answered HTTP %d", st)
	}
	q := harness.AtReturn(t, ctx, rs)
	harness.WantQuery(t, q, map[string]string{"token": tid, "status": "active", "cart": "42"})

	g := s.Call("GET", "/v1/tokens/"+tid, s.Dev.SecretKey, nil).Want(t, 200)
	if g.Str("status") != "active" || g.Str("verification", "three_d_secure") != "authenticated" || harness.Dig(g.Body, "next_action") != nil {
		t.Errorf("token after the challenge: %s", g.Raw)
	}
	if n := s.ChallengeSecrets(t); n != 0 {
		t.Errorf("%d challenge secrets left after the challenge", n)
	}
}

// TestBrowserThreeDSWrongOTP: two wrong codes leave the shopper on the page
// and the count of attempts left; the third fails the token, which keeps no
// card and was never sent for verification.
func TestBrowserThreeDSWrongOTP(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	rs := harness.NewReturnSite(t)
	tid, u := s.StartChallenge(t, "/v1/tokens", map[string]any{"card": harness.Card(harness.ChallengeCard), "return_url": rs.URL})
	ctx := harness.NewBrowser(t)

	if st := harness.Open(t, ctx, u); st != 200 {
		t.Fatalf("challenge page: HTTP %d", st)
	}
	if a := harness.ElementText(t, ctx, "attempts"); a != "3 attempts left" {
		t.Errorf("#attempts %q before any try", a)
	}
	verifs := s.Sim.Stats().Verifications
	for _, left := range []int{2, 1} {
		if st := harness.EnterOTP(t, ctx, "000000"); st != 200 {
			t.Errorf("wrong OTP (%d left): HTTP %d", left, st)
		}
		harness.WaitVisible(t, ctx, "error")
		attempts := fmt.Sprintf("%d attempts left", left)
		if left == 1 {
			attempts = "1 attempt left"
		}
		if e := harness.ElementText(t, ctx, "error"); !strings.Contains(e, "not correct") {
			t.Errorf("#error %q, want it to say the code is not correct", e)
		}
		if a := harness.ElementText(t, ctx, "attempts"); a != attempts {
			t.Errorf("#attempts %q, want %q", a, attempts)
		}
		if st := harness.PageState(t, ctx); st != "pending" {
			t.Errorf("data-state %q after a wrong OTP with %d left, want pending", st, left)
		}
		if loc := harness.PageLocation(t, ctx); loc != u {
			t.Errorf("after a wrong OTP the browser is at %q, want the challenge page", loc)
		}
		// The refused code is not written back into the form.
		if v := harness.RunStep(t, ctx, "read #otp", chromedp.Value(chromedp.ID("otp"))); v != "" {
			t.Errorf("#otp holds %q after a wrong OTP, want it empty", v)
		}
		harness.PageNoPAN(t, ctx, harness.ChallengeCard)
	}
	if st := harness.EnterOTP(t, ctx, "000000"); st != 200 {
		t.Errorf("return site answered HTTP %d", st)
	}
	q := harness.AtReturn(t, ctx, rs)
	harness.WantQuery(t, q, map[string]string{"token": tid, "status": "failed", "reason": "authentication_failed", "cart": "42"})

	g := s.Call("GET", "/v1/tokens/"+tid, s.Dev.SecretKey, nil).Want(t, 200)
	if g.Str("status") != "failed" || g.Str("verification", "failure_code") != "authentication_failed" {
		t.Errorf("token after three wrong OTPs: %s", g.Raw)
	}
	if ct := s.CardCiphertext(t, tid); ct != nil {
		t.Errorf("a failed token keeps its card: %d bytes of ciphertext", len(ct))
	}
	if n := s.ChallengeSecrets(t); n != 0 {
		t.Errorf("%d challenge secrets left after the challenge failed", n)
	}
	if got := s.Sim.Stats().Verifications; got != verifs {
		t.Errorf("verifications %d → %d: a card that failed 3-D Secure was sent for verification", verifs, got)
	}
}

// TestBrowserThreeDSPayment: a payment waiting on a challenge is authorized
// and captured once the shopper passes it, or fails with the issuer's decline
// if the issuer declines after the challenge.
func TestBrowserThreeDSPayment(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	rs := harness.NewReturnSite(t)
	ctx := harness.NewBrowser(t)
	pay := func(number string) map[string]any {
		return map[string]any{"amount": 1500, "currency": "MYR", "card": harness.Card(number), "return_url": rs.URL}
	}

	t.Run("succeeds", func(t *testing.T) {
		pid, u := s.StartChallenge(t, "/v1/payments", pay(harness.ChallengeCard))
		if st := harness.Open(t, ctx, u); st != 200 {
			t.Fatalf("challenge page: HTTP %d", st)
		}
		harness.WaitVisible(t, ctx, "otp")
		if amt := harness.ElementText(t, ctx, "amount"); amt != "MYR 15.00" {
			t.Errorf("#amount %q, want MYR 15.00", amt)
		}
		if !strings.Contains(harness.PageText(t, ctx), harness.ChallengeMask) {
			t.Errorf("the page does not show the masked card %s", harness.ChallengeMask)
		}
		harness.PageNoPAN(t, ctx, harness.ChallengeCard)
		if n := s.ChallengeSecrets(t); n != 1 {
			t.Errorf("%d challenge secrets while the challenge is open, want 1", n)
		}
		harness.EnterOTP(t, ctx, harness.OTP)
		q := harness.AtReturn(t, ctx, rs)
		harness.WantQuery(t, q, map[string]string{"payment": pid, "status": "succeeded", "cart": "42"})

		g := s.Call("GET", "/v1/payments/"+pid, s.Dev.SecretKey, nil).Want(t, 200)
		if g.Str("status") != "succeeded" || harness.Dig(g.Body, "amount_captured") != float64(1500) ||
			g.Str("authentication", "status") != "authenticated" || harness.Dig(g.Body, "next_action") != nil {
			t.Errorf("payment after the challenge: %s", g.Raw)
		}
		if n := s.ChallengeSecrets(t); n != 0 {
			t.Errorf("%d challenge secrets left after the payment", n)
		}
	})

	t.Run("declined", func(t *testing.T) {
		pid, u := s.StartChallenge(t, "/v1/payments", pay(harness.DeclineCard))
		if st := harness.Open(t, ctx, u); st != 200 {
			t.Fatalf("challenge page: HTTP %d", st)
		}
		harness.WaitVisible(t, ctx, "otp")
		harness.PageNoPAN(t, ctx, harness.DeclineCard)
		harness.EnterOTP(t, ctx, harness.OTP)
		q := harness.AtReturn(t, ctx, rs)
		harness.WantQuery(t, q, map[string]string{"payment": pid, "status": "failed", "reason": "card_declined", "cart": "42"})

		g := s.Call("GET", "/v1/payments/"+pid, s.Dev.SecretKey, nil).Want(t, 200)
		if g.Str("status") != "failed" || g.Str("failure", "code") != "card_declined" ||
			harness.Dig(g.Body, "amount_captured") != float64(0) || g.Str("authentication", "status") != "authenticated" {
			t.Errorf("declined payment after the challenge: %s", g.Raw)
		}
		if n := s.ChallengeSecrets(t); n != 0 {
			t.Errorf("%d challenge secrets left after the decline", n)
		}
	})
}

// TestBrowserThreeDSExpired: a challenge nobody answers in time is expired
// by the sweeper; the page then says so and leads back to the shop with the
// failure, and a code typed into a page left open past the expiry does not
// authenticate anything.
func TestBrowserThreeDSExpired(t *testing.T) {
	t.Parallel()
	// The page must open before the challenge expires: a lifetime long enough
	// for a loaded machine, short enough that the test mostly waits.
	s := harness.Start(t, harness.WithChallengeTTL(6*time.Second), harness.WithSweepInterval(200*time.Millisecond))
	rs := harness.NewReturnSite(t)
	body := map[string]any{"card": harness.Card(harness.ChallengeCard), "return_url": rs.URL}
	ctx := harness.NewBrowser(t)

	t.Run("opened after expiry", func(t *testing.T) {
		tid, u := s.StartChallenge(t, "/v1/tokens", body)
		// Nobody opens the page: the sweeper alone must fail the token.
		g := s.AwaitStatus(t, "/v1/tokens/"+tid, "failed", 20*time.Second)
		if g.Str("verification", "failure_code") != "authentication_failed" {
			t.Errorf("expired token: %s", g.Raw)
		}
		if n := s.ChallengeSecrets(t); n != 0 {
			t.Errorf("%d challenge secrets left after the expiry", n)
		}

		if st := harness.Open(t, ctx, u); st != 410 {
			t.Errorf("expired challenge page: HTTP %d, want 410", st)
		}
		harness.WaitVisible(t, ctx, "return")
		if st := harness.PageState(t, ctx); st != "expired" {
			t.Errorf("data-state %q, want expired", st)
		}
		if harness.RunStep(t, ctx, "count #otp", chromedp.Evaluate[int](`document.querySelectorAll("#otp, #submit, form").length`)) != 0 {
			t.Error("the expired page still offers the OTP form")
		}
		href := harness.RunStep(t, ctx, "read #return's href", chromedp.Evaluate[string](`document.getElementById("return").href`))
		ru, err := url.Parse(href)
		if err != nil || !strings.HasPrefix(href, strings.Split(rs.URL, "?")[0]+"?") {
			t.Fatalf("#return goes to %q, want the return_url %s", href, rs.URL)
		}
		harness.WantQuery(t, ru.Query(), map[string]string{"token": tid, "status": "failed", "reason": "authentication_failed", "cart": "42"})
		harness.WantPNG(t, harness.Screenshot(t, ctx, "expired"))

		// The link works in a browser (the page's CSP does not get in the way).
		harness.RunStep(t, ctx, "follow #return", chromedp.Click(chromedp.ID("return")))
		harness.WantQuery(t, harness.AtReturn(t, ctx, rs), map[string]string{"token": tid, "status": "failed", "cart": "42"})
		if n := s.ChallengeSecrets(t); n != 0 {
			t.Errorf("%d challenge secrets left", n)
		}
	})

	t.Run("answered after expiry", func(t *testing.T) {
		tid, u := s.StartChallenge(t, "/v1/tokens", body)
		if st := harness.Open(t, ctx, u); st != 200 {
			t.Fatalf("fresh challenge page: HTTP %d (TTL too short for this machine?)", st)
		}
		harness.WaitVisible(t, ctx, "otp")
		if st := harness.PageState(t, ctx); st != "pending" {
			t.Fatalf("data-state %q on a fresh challenge, want pending", st)
		}
		verifs := s.Sim.Stats().Verifications
		// The shopper leaves the page open past the expiry ...
		s.AwaitStatus(t, "/v1/tokens/"+tid, "failed", 20*time.Second)
		// ... then types the right code into it.
		st := harness.EnterOTP(t, ctx, harness.OTP)
		loc := harness.PageLocation(t, ctx)
		state := harness.PageState(t, ctx)
		text := harness.PageText(t, ctx)
		t.Logf("right OTP after expiry: HTTP %d, at %s, data-state %q:\n%s", st, loc, state, text)
		harness.WantPNG(t, harness.Screenshot(t, ctx, "answered-after-expiry"))
		switch {
		case strings.HasPrefix(loc, strings.Split(rs.URL, "?")[0]+"?"):
			// Sent back to the shop: with the failure, never a success.
			harness.WantQuery(t, harness.AtReturn(t, ctx, rs), map[string]string{"token": tid, "status": "failed",
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
		g := s.Call("GET", "/v1/tokens/"+tid, s.Dev.SecretKey, nil).Want(t, 200)
		if g.Str("status") != "failed" || g.Str("verification", "failure_code") != "authentication_failed" {
			t.Errorf("token answered after its expiry: %s", g.Raw)
		}
		if ct := s.CardCiphertext(t, tid); ct != nil {
			t.Errorf("an expired token keeps its card: %d bytes", len(ct))
		}
		if got := s.Sim.Stats().Verifications; got != verifs {
			t.Errorf("verifications %d → %d: an expired challenge was verified", verifs, got)
		}
		if n := s.ChallengeSecrets(t); n != 0 {
			t.Errorf("%d challenge secrets left", n)
		}
	})
}

// TestBrowserThreeDSPhone: on a 360-px-wide phone the challenge page fits
// the screen (no sideways scrolling) and its form is usable, also with the
// error shown after a wrong code.
func TestBrowserThreeDSPhone(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	rs := harness.NewReturnSite(t)
	_, u := s.StartChallenge(t, "/v1/tokens", map[string]any{"card": harness.Card(harness.ChallengeCard), "return_url": rs.URL})
	ctx := harness.NewBrowser(t)
	harness.RunStep(t, ctx, "emulate a 360 px phone", chromedp.EmulateViewport(360, 740))

	fits := func(when string) {
		t.Helper()
		w := harness.RunStep(t, ctx, "read widths", chromedp.Evaluate[[]int](
			`[document.documentElement.scrollWidth, document.body.scrollWidth, window.innerWidth]`))
		if w[2] != 360 {
			t.Errorf("%s: window.innerWidth %d, the viewport emulation did not take", when, w[2])
		}
		if w[0] > 360 || w[1] > 360 {
			t.Errorf("%s: scrollWidth %d (html) / %d (body) > 360: the page scrolls sideways", when, w[0], w[1])
		}
		for _, id := range []string{"otp", "submit"} {
			harness.WaitVisible(t, ctx, id)
			r := harness.RunStep(t, ctx, "measure #"+id, chromedp.Evaluate[[]float64](
				`(function(){ var r = document.getElementById("`+id+`").getBoundingClientRect(); return [r.left, r.right, r.width, r.height]; })()`))
			if r[0] < 0 || r[1] > 360 || r[2] < 44 || r[3] < 24 {
				t.Errorf("%s: #%s at left %.0f right %.0f, %.0f×%.0f px: not fully on a 360 px screen or too small to tap",
					when, id, r[0], r[1], r[2], r[3])
			}
		}
	}

	if st := harness.Open(t, ctx, u); st != 200 {
		t.Fatalf("challenge page: HTTP %d", st)
	}
	fits("fresh page")
	harness.WantPNG(t, harness.Screenshot(t, ctx, "challenge-360"))

	harness.EnterOTP(t, ctx, "000000")
	harness.WaitVisible(t, ctx, "error")
	fits("after a wrong OTP")
	harness.WantPNG(t, harness.Screenshot(t, ctx, "challenge-360-error"))
}
