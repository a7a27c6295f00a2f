package e2e

import (
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestThreeDSTokenChallenge: a challenge card tokenizes as requires_action
// with a redirect to this server's challenge page; the right OTP runs the
// verification and activates the token, sends the browser to return_url with
// the token and its status, and erases the CVC kept for it; a replay of the
// same answer does nothing more.
func TestThreeDSTokenChallenge(t *testing.T) {
	backends(t, func(t *testing.T, opts ...option) {
		s := start(t, opts...)
		sk := s.Dev.SecretKey
		rs := newReturnSite(t)
		r := tokenize(t, s, sk, map[string]any{"card": card("4000002500003155"), "return_url": rs.URL}).want(t, 201)
		if r.str("status") != "requires_action" || r.str("verification", "three_d_secure") != "pending" {
			t.Fatalf("token: %s", r.Raw)
		}
		tid, u := r.str("id"), r.str("next_action", "url")
		if g := s.call("GET", "/v1/tokens/"+tid, sk, nil).want(t, 200); g.str("next_action", "url") != u {
			t.Errorf("GET token lost its next_action: %s", g.Raw)
		}
		if n := challengeSecrets(t, s); n != 1 {
			t.Errorf("the CVC must be kept (sealed) across the challenge: %d secrets", n)
		}
		pg := challengePage(t, u)
		if pg.Status != 200 || !strings.Contains(pg.Body, "400000******3155") || !strings.Contains(pg.Body, "Development merchant") ||
			strings.Contains(pg.Body, "4000002500003155") {
			t.Fatalf("challenge page %d: %s", pg.Status, pg.Body)
		}
		verifs := s.Sim.Stats().Verifications
		done := submitOTP(t, u, "123456")
		if done.Status != 303 {
			t.Fatalf("right OTP: %d %s", done.Status, done.Body)
		}
		loc, err := url.Parse(done.Location)
		if err != nil || !strings.HasPrefix(done.Location, strings.Split(rs.URL, "?")[0]) {
			t.Fatalf("redirect to %q, want the return_url", done.Location)
		}
		if q := loc.Query(); q.Get("token") != tid || q.Get("status") != "active" || q.Get("cart") != "42" {
			t.Errorf("return query %v", q)
		}
		g := s.call("GET", "/v1/tokens/"+tid, sk, nil).want(t, 200)
		if g.str("status") != "active" || g.str("verification", "status") != "verified" || g.str("verification", "three_d_secure") != "authenticated" ||
			g.str("verification", "authentication", "eci") != "05" || g.str("verification", "authentication", "version") != "2.2.0" ||
			g.str("verification", "authentication", "transaction_id") == "" || dig(g.Body, "next_action") != nil {
			t.Errorf("token after the challenge: %s", g.Raw)
		}
		if got := s.Sim.Stats().Verifications; got != verifs+1 {
			t.Errorf("verifications %d → %d, want one", verifs, got)
		}
		if n := challengeSecrets(t, s); n != 0 {
			t.Errorf("%d challenge secrets left after the verification", n)
		}
		again := submitOTP(t, u, "123456")
		if again.Status != 409 || again.Location != "" {
			t.Errorf("replayed answer: %d %q", again.Status, again.Location)
		}
		if got := s.Sim.Stats().Verifications; got != verifs+1 {
			t.Errorf("a replayed answer verified again")
		}
	})
}

// TestThreeDSWrongOTP: wrong codes say how many tries are left; the third
// fails the challenge, the token keeps no card, nothing is verified, and the
// browser goes back with status=failed and the reason.
func TestThreeDSWrongOTP(t *testing.T) {
	backends(t, func(t *testing.T, opts ...option) {
		s := start(t, opts...)
		sk := s.Dev.SecretKey
		rs := newReturnSite(t)
		r := tokenize(t, s, sk, map[string]any{"card": card("4000002500003155"), "return_url": rs.URL}).want(t, 201)
		tid, u := r.str("id"), r.str("next_action", "url")
		verifs := s.Sim.Stats().Verifications
		for i, left := range []string{"2 attempts left", "1 attempt left"} {
			pg := submitOTP(t, u, []string{"000000", "123457"}[i])
			if pg.Status != 200 || !strings.Contains(pg.Body, left) || !strings.Contains(pg.Body, `data-state="pending"`) {
				t.Fatalf("wrong OTP %d: %d %s", i+1, pg.Status, pg.Body)
			}
		}
		last := submitOTP(t, u, "654321")
		loc, _ := url.Parse(last.Location)
		if last.Status != 303 || loc == nil || loc.Query().Get("status") != "failed" || loc.Query().Get("reason") != "authentication_failed" ||
			loc.Query().Get("token") != tid {
			t.Fatalf("third wrong OTP: %d %q", last.Status, last.Location)
		}
		g := s.call("GET", "/v1/tokens/"+tid, sk, nil).want(t, 200)
		if g.str("status") != "failed" || g.str("verification", "failure_code") != "authentication_failed" ||
			g.str("verification", "three_d_secure") != "failed" || g.str("verification", "authentication", "eci") != "07" {
			t.Errorf("token after failing: %s", g.Raw)
		}
		if ct := cardCiphertext(t, s, tid); ct != nil {
			t.Errorf("a token that failed 3-D Secure still holds its card")
		}
		if n := challengeSecrets(t, s); n != 0 {
			t.Errorf("%d challenge secrets left", n)
		}
		if got := s.Sim.Stats().Verifications; got != verifs {
			t.Errorf("a failed challenge reached the acquirer: %d → %d", verifs, got)
		}
		// The right code now is too late; the page shows the failure.
		if pg := submitOTP(t, u, "123456"); pg.Status != 409 {
			t.Errorf("right OTP after failing: %d", pg.Status)
		}
		if pg := challengePage(t, u); pg.Status != 200 || !strings.Contains(pg.Body, `data-state="failed"`) {
			t.Errorf("page after failing: %d %s", pg.Status, pg.Body)
		}
		if g := s.call("GET", "/v1/tokens/"+tid, sk, nil).want(t, 200); g.str("status") != "failed" {
			t.Errorf("token changed after a late right answer: %s", g.Raw)
		}
		// A failed token is not "the customer's card": the same card saves again.
		if again := tokenize(t, s, sk, map[string]any{"card": card("4000002500003155")}).want(t, 201); again.str("id") == tid {
			t.Errorf("a failed token was reused")
		}
	})
}

// TestThreeDSConcurrentAnswers: the attempts counter is atomic. Thirty
// simultaneous wrong codes get three tries between them (two "try again"
// pages and one failure) and the rest are told the challenge is over; twenty
// simultaneous right codes verify the card once.
func TestThreeDSConcurrentAnswers(t *testing.T) {
	backends(t, func(t *testing.T, opts ...option) {
		s := start(t, opts...)
		sk := s.Dev.SecretKey
		answerAll := func(u, otp string, n int) map[int]int {
			var mu sync.Mutex
			counts := map[int]int{}
			var wg sync.WaitGroup
			for i := 0; i < n; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					res, err := noRedirect.PostForm(u, url.Values{"otp": {otp}})
					if err != nil {
						t.Error(err)
						return
					}
					res.Body.Close()
					mu.Lock()
					counts[res.StatusCode]++
					mu.Unlock()
				}()
			}
			wg.Wait()
			return counts
		}

		r := tokenize(t, s, sk, map[string]any{"card": card("4000002500003155"), "return_url": "https://shop.example/back"}).want(t, 201)
		counts := answerAll(r.str("next_action", "url"), "000000", 30)
		if counts[200] != 2 || counts[303] != 1 || counts[409] != 27 {
			t.Errorf("30 concurrent wrong OTPs: %v, want 2×200, 1×303, 27×409", counts)
		}
		var attempts int
		if err := openDB(t, s).QueryRow(rebind(s, `SELECT attempts FROM challenges WHERE object_id = ?`), r.str("id")).Scan(&attempts); err != nil || attempts != 3 {
			t.Errorf("attempts recorded: %d (%v), want 3", attempts, err)
		}
		if g := s.call("GET", "/v1/tokens/"+r.str("id"), sk, nil).want(t, 200); g.str("status") != "failed" {
			t.Errorf("token: %s", g.Raw)
		}

		r = tokenize(t, s, sk, map[string]any{"card": card("4000002500003155"), "return_url": "https://shop.example/back"}).want(t, 201)
		verifs := s.Sim.Stats().Verifications
		counts = answerAll(r.str("next_action", "url"), "123456", 20)
		if counts[303] != 1 || counts[409] != 19 {
			t.Errorf("20 concurrent right OTPs: %v, want 1×303, 19×409", counts)
		}
		if got := s.Sim.Stats().Verifications; got != verifs+1 {
			t.Errorf("verifications %d → %d, want exactly one", verifs, got)
		}
		if g := s.call("GET", "/v1/tokens/"+r.str("id"), sk, nil).want(t, 200); g.str("status") != "active" {
			t.Errorf("token: %s", g.Raw)
		}
	})
}

// passChallenge answers a challenge rightly and returns the outcome query
// the browser is sent back with.
func passChallenge(t testing.TB, u string) url.Values {
	t.Helper()
	done := submitOTP(t, u, "123456")
	loc, err := url.Parse(done.Location)
	if done.Status != 303 || err != nil {
		t.Fatalf("right OTP: %d %q %s", done.Status, done.Location, done.Body)
	}
	return loc.Query()
}

// TestThreeDSPayments: a payment that needs 3-D Secure waits in
// requires_action; after the OTP it is authorized (and captured when asked)
// with the authentication recorded, or fails — authentication_failed after
// three wrong codes, card_declined when the issuer declines after it. A card
// saved by such a payment keeps the authentication; a saved card is charged
// with a challenge when the card holder is present (return_url) and without
// one when the merchant charges it on its own. No CVC outlives its payment.
func TestThreeDSPayments(t *testing.T) {
	backends(t, func(t *testing.T, opts ...option) {
		s := start(t, opts...)
		sk := s.Dev.SecretKey
		back := "https://shop.example/back?order=7"
		cus := s.call("POST", "/v1/customers", sk, map[string]any{"reference": "threeds_payer"}).want(t, 201).str("id")
		pay := func(body map[string]any) resp {
			body["return_url"] = back
			if body["amount"] == nil {
				body["amount"] = 1500
			}
			return s.call("POST", "/v1/payments", sk, body)
		}

		// Card, immediate capture, saved for the customer.
		r := payOK(t, pay(map[string]any{"card": card("4000002500003155"), "save_card": true, "customer": cus, "order_id": "o-1"}), 201, "requires_action")
		pid := r["id"].(string)
		if dig(r, "authentication") != nil || dig(r, "next_action", "type") != "redirect" {
			t.Errorf("waiting payment: %v", r)
		}
		auths := s.Sim.Stats().Authorizations
		q := passChallenge(t, dig(r, "next_action", "url").(string))
		if q.Get("payment") != pid || q.Get("status") != "succeeded" || q.Get("order") != "7" {
			t.Errorf("return query: %v", q)
		}
		g := s.call("GET", "/v1/payments/"+pid, sk, nil).want(t, 200)
		if g.str("status") != "succeeded" || dig(g.Body, "amount_captured") != float64(1500) || g.str("authentication", "status") != "authenticated" ||
			g.str("authentication", "eci") != "05" || g.str("authentication", "transaction_id") == "" || dig(g.Body, "next_action") != nil || g.str("token") == "" {
			t.Fatalf("payment after the challenge: %s", g.Raw)
		}
		if got := s.Sim.Stats().Authorizations; got != auths+1 {
			t.Errorf("authorizations %d → %d", auths, got)
		}
		tok := s.call("GET", "/v1/tokens/"+g.str("token"), sk, nil).want(t, 200)
		if tok.str("status") != "active" || tok.str("customer") != cus || tok.str("verification", "three_d_secure") != "authenticated" {
			t.Errorf("card saved by the payment: %s", tok.Raw)
		}
		if n := challengeSecrets(t, s); n != 0 {
			t.Errorf("%d challenge secrets left after the payment", n)
		}

		// Manual capture: authorized only.
		r = payOK(t, pay(map[string]any{"card": card("4000002500003155"), "capture": false}), 201, "requires_action")
		if q := passChallenge(t, dig(r, "next_action", "url").(string)); q.Get("status") != "requires_capture" {
			t.Errorf("manual capture: %v", q)
		}
		s.call("POST", "/v1/payments/"+r["id"].(string)+"/capture", sk, nil).want(t, 200)

		// Declined by the issuer after passing the challenge.
		r = payOK(t, pay(map[string]any{"card": card("4000008400001629")}), 201, "requires_action")
		if q := passChallenge(t, dig(r, "next_action", "url").(string)); q.Get("status") != "failed" || q.Get("reason") != "card_declined" {
			t.Errorf("declined after 3-D Secure: %v", q)
		}
		if g := s.call("GET", "/v1/payments/"+r["id"].(string), sk, nil).want(t, 200); g.str("failure", "code") != "card_declined" ||
			g.str("authentication", "status") != "authenticated" {
			t.Errorf("declined payment: %s", g.Raw)
		}

		// Three wrong codes.
		r = payOK(t, pay(map[string]any{"card": card("4000002500003155")}), 201, "requires_action")
		auths = s.Sim.Stats().Authorizations
		u := dig(r, "next_action", "url").(string)
		submitOTP(t, u, "1")
		submitOTP(t, u, "2")
		if last := submitOTP(t, u, "3"); last.Status != 303 || !strings.Contains(last.Location, "reason=authentication_failed") {
			t.Errorf("third wrong code: %d %q", last.Status, last.Location)
		}
		g = s.call("GET", "/v1/payments/"+r["id"].(string), sk, nil).want(t, 200)
		if g.str("status") != "failed" || g.str("failure", "code") != "authentication_failed" || g.str("authentication", "status") != "failed" {
			t.Errorf("payment failing authentication: %s", g.Raw)
		}
		if got := s.Sim.Stats().Authorizations; got != auths {
			t.Errorf("a payment that failed 3-D Secure was authorized")
		}

		// The saved challenge card: with the card holder present it is
		// challenged again (the CVC kept sealed meanwhile)…
		r = payOK(t, pay(map[string]any{"token": tok.str("id"), "cvc": "123"}), 201, "requires_action")
		if n := challengeSecrets(t, s); n != 1 {
			t.Errorf("the CVC must wait, sealed, for the challenge: %d secrets", n)
		}
		if q := passChallenge(t, dig(r, "next_action", "url").(string)); q.Get("status") != "succeeded" {
			t.Errorf("saved card with a challenge: %v", q)
		}
		if n := challengeSecrets(t, s); n != 0 {
			t.Errorf("%d challenge secrets left", n)
		}
		// A saved card disabled while its holder types the code is not charged.
		r = payOK(t, pay(map[string]any{"token": tok.str("id"), "cvc": "123"}), 201, "requires_action")
		s.call("POST", "/v1/tokens/"+tok.str("id")+"/disable", sk, nil).want(t, 200)
		auths = s.Sim.Stats().Authorizations
		if q := passChallenge(t, dig(r, "next_action", "url").(string)); q.Get("status") != "failed" {
			t.Errorf("disabled during the challenge: %v", q)
		}
		if g := s.call("GET", "/v1/payments/"+r["id"].(string), sk, nil).want(t, 200); g.str("failure", "decline_code") != "token_inactive" ||
			s.Sim.Stats().Authorizations != auths || challengeSecrets(t, s) != 0 {
			t.Errorf("payment of a token disabled during its challenge: %s", g.Raw)
		}
		s.call("POST", "/v1/tokens/"+tok.str("id")+"/enable", sk, nil).want(t, 200)
		// …and charged by the merchant alone (no return_url) it is not.
		m := s.call("POST", "/v1/payments", sk, map[string]any{"amount": 700, "token": tok.str("id")})
		if p := payOK(t, m, 201, "succeeded"); dig(p, "authentication") != nil {
			t.Errorf("merchant-initiated charge was authenticated: %v", p)
		}
	})
}

// TestThreeDSModes: three_d_secure and the merchant's rule. required
// authenticates frictionless cards (ECI per scheme) and records "attempted"
// for an issuer outside 3-D Secure; if_required leaves ordinary cards alone;
// never skips it even for a challenge card; tokenization_requires_3ds
// authenticates every token and refuses never.
func TestThreeDSModes(t *testing.T) {
	s := start(t)
	sk := s.Dev.SecretKey
	for _, c := range []struct{ number, mode, status, eci string }{
		{"4242424242424242", "required", "authenticated", "05"},
		{"5555555555554444", "required", "authenticated", "02"},
		{"4000000000003055", "required", "attempted", "06"},
		{"4242424242424242", "if_required", "not_required", ""},
		{"4242424242424242", "", "not_required", ""},
		{"4000002500003155", "never", "not_required", ""},
	} {
		r := tokenize(t, s, sk, map[string]any{"card": card(c.number), "three_d_secure": c.mode}).want(t, 201)
		if r.str("status") != "active" || r.str("verification", "three_d_secure") != c.status || r.str("verification", "authentication", "eci") != c.eci {
			t.Errorf("%s %q: %s", c.number, c.mode, r.Raw)
		}
		// The issuer's "not required" is recorded; never asks nobody.
		switch a := dig(r.Body, "verification", "authentication"); {
		case c.mode == "never" && a != nil:
			t.Errorf("%s never: an authentication recorded where none ran: %s", c.number, r.Raw)
		case c.mode != "never" && r.str("verification", "authentication", "status") != c.status:
			t.Errorf("%s %q: authentication not recorded: %s", c.number, c.mode, r.Raw)
		}
		p := s.call("POST", "/v1/payments", sk, map[string]any{"amount": 500, "card": card(c.number), "three_d_secure": c.mode})
		pv := payOK(t, p, 201, "succeeded")
		if c.mode != "never" && (dig(pv, "authentication", "status") != c.status || c.eci != "" && dig(pv, "authentication", "eci") != c.eci) ||
			c.mode == "never" && dig(pv, "authentication") != nil {
			t.Errorf("payment %s %q: %s", c.number, c.mode, p.Raw)
		}
	}
	for _, bad := range []any{"always", 1, true} {
		r := tokenize(t, s, sk, map[string]any{"card": card("4242424242424242"), "three_d_secure": bad}).want(t, 400)
		if _, _, param := r.errInfo(); param != "three_d_secure" {
			t.Errorf("three_d_secure %v: %s", bad, r.Raw)
		}
	}
	if r := s.call("POST", "/v1/payments", sk, map[string]any{"amount": 500, "card": card("4242424242424242"), "return_url": "javascript:alert(1)"}).want(t, 400); r.str("error", "param") != "return_url" {
		t.Errorf("return_url: %s", r.Raw)
	}

	s.call("PATCH", "/v1/merchant", sk, map[string]any{"tokenization_requires_3ds": true}).want(t, 200)
	if r := tokenize(t, s, sk, map[string]any{"card": card("4242424242424242")}).want(t, 201); r.str("verification", "three_d_secure") != "authenticated" {
		t.Errorf("merchant rule: %s", r.Raw)
	}
	if r := tokenize(t, s, sk, map[string]any{"card": card("4000002500003155")}).want(t, 201); r.str("status") != "requires_action" {
		t.Errorf("merchant rule, challenge card: %s", r.Raw)
	}
	if r := tokenize(t, s, sk, map[string]any{"card": card("4242424242424242"), "three_d_secure": "never"}).want(t, 400); r.str("error", "param") != "three_d_secure" {
		t.Errorf("never against the merchant rule: %s", r.Raw)
	}
}

// TestThreeDSExpiry: a challenge nobody answers expires — the sweeper fails
// its token (no card kept) or payment (authentication_failed, with its
// event) and erases the CVC even if nobody opens the page again; the page
// then says it expired, and a right code is refused. A challenge opened after
// its time is expired on the spot, sweeper or not.
func TestThreeDSExpiry(t *testing.T) {
	backends(t, func(t *testing.T, opts ...option) {
		s := start(t, append(opts, withChallengeTTL(time.Second), withSweepInterval(100*time.Millisecond))...)
		sk := s.Dev.SecretKey
		tok := tokenize(t, s, sk, map[string]any{"card": card("4000002500003155"), "return_url": "https://shop.example/back"}).want(t, 201)
		pay := payOK(t, s.call("POST", "/v1/payments", sk, map[string]any{"amount": 900, "card": card("4000002500003155")}), 201, "requires_action")
		if n := challengeSecrets(t, s); n != 2 {
			t.Fatalf("%d secrets, want 2", n)
		}
		deadline := time.Now().Add(15 * time.Second)
		for {
			g := s.call("GET", "/v1/tokens/"+tok.str("id"), sk, nil).want(t, 200)
			p := s.call("GET", "/v1/payments/"+pay["id"].(string), sk, nil).want(t, 200)
			if g.str("status") == "failed" && p.str("status") == "failed" {
				if g.str("verification", "failure_code") != "authentication_failed" || p.str("failure", "code") != "authentication_failed" ||
					!strings.Contains(p.str("failure", "message"), "expired") {
					t.Errorf("expired: token %s\npayment %s", g.Raw, p.Raw)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the sweeper did not expire the challenges: token %s, payment %s", g.str("status"), p.str("status"))
			}
			time.Sleep(100 * time.Millisecond)
		}
		if ct := cardCiphertext(t, s, tok.str("id")); ct != nil {
			t.Errorf("an expired token still holds its card")
		}
		if n := challengeSecrets(t, s); n != 0 {
			t.Errorf("%d challenge secrets left after expiry", n)
		}
		u := tok.str("next_action", "url")
		pg := challengePage(t, u)
		if pg.Status != 410 || !strings.Contains(pg.Body, `data-state="expired"`) || !strings.Contains(pg.Body, "status=failed") {
			t.Errorf("expired page: %d %s", pg.Status, pg.Body)
		}
		if pg := submitOTP(t, u, "123456"); pg.Status != 410 {
			t.Errorf("right code after expiry: %d", pg.Status)
		}
		if g := s.call("GET", "/v1/tokens/"+tok.str("id"), sk, nil).want(t, 200); g.str("status") != "failed" {
			t.Errorf("token after a late answer: %s", g.Raw)
		}
	})

	t.Run("on open", func(t *testing.T) {
		s := start(t, withChallengeTTL(time.Second), withSweepInterval(time.Hour))
		sk := s.Dev.SecretKey
		tok := tokenize(t, s, sk, map[string]any{"card": card("4000002500003155")}).want(t, 201)
		time.Sleep(1100 * time.Millisecond)
		if pg := submitOTP(t, tok.str("next_action", "url"), "123456"); pg.Status != 410 || !strings.Contains(pg.Body, `data-state="expired"`) {
			t.Errorf("answer after expiry: %d %s", pg.Status, pg.Body)
		}
		if g := s.call("GET", "/v1/tokens/"+tok.str("id"), sk, nil).want(t, 200); g.str("status") != "failed" {
			t.Errorf("token: %s", g.Raw)
		}
		if n := challengeSecrets(t, s); n != 0 {
			t.Errorf("%d challenge secrets left", n)
		}
	})
}

// TestThreeDSChallengePage: the page is a capability — long random ids,
// anything else is 404 — and it is served uncached, unframeable, under a CSP
// that allows no script and only this page's own style, and lets the form
// lead nowhere but here and the merchant's return origin.
func TestThreeDSChallengePage(t *testing.T) {
	s := start(t)
	sk := s.Dev.SecretKey
	seen := map[string]bool{}
	var u string
	for i := 0; i < 5; i++ {
		r := tokenize(t, s, sk, map[string]any{"card": card("4000002500003155"), "return_url": "https://shop.example:8443/back"}).want(t, 201)
		u = r.str("next_action", "url")
		cid := u[strings.LastIndex(u, "/")+1:]
		if !strings.HasPrefix(cid, "3ds_") || len(cid) < 4+32 || seen[cid] {
			t.Fatalf("challenge id %q: want 3ds_ and at least 160 random bits, unique", cid)
		}
		seen[cid] = true
	}
	pg := challengePage(t, u)
	h := pg.Header
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "form-action 'self' https://shop.example:8443", "base-uri 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "script-src") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP allows scripts or inline code: %q", csp)
	}
	if h.Get("Cache-Control") != "no-store" || h.Get("X-Frame-Options") != "DENY" || h.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("headers: %v", h)
	}
	for _, bad := range []string{"3ds_" + strings.Repeat("a", 32), "3ds_", "tok_abc", "3ds_" + strings.Repeat("a", 200), "..%2f..%2fetc"} {
		if pg := challengePage(t, s.URL+"/3ds/"+bad); pg.Status != 404 || pg.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%q: %d", bad, pg.Status)
		}
		if pg := submitOTP(t, s.URL+"/3ds/"+bad, "123456"); pg.Status != 404 {
			t.Errorf("POST %q: %d", bad, pg.Status)
		}
	}
}
