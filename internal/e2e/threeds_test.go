package e2e

import (
	"net/url"
	"strings"
	"testing"
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
