package threeds

import (
	"strings"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// TestThreeDSExpiry: a challenge nobody answers expires — the sweeper fails
// its token (no card kept) or payment (authentication_failed, with its
// event) and erases the CVC even if nobody opens the page again; the page
// then says it expired, and a right code is refused. A challenge opened after
// its time is expired on the spot, sweeper or not.
func TestThreeDSExpiry(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		s := harness.Start(t, append(opts, harness.WithSweepInterval(100*time.Millisecond))...)
		sk := s.Dev.SecretKey
		tok := s.Tokenize(t, sk, map[string]any{"card": harness.Card("4000002500003155"), "return_url": "https://shop.example/back"}).Want(t, 201)
		pay := harness.PaymentOK(t, s.Call("POST", "/v1/payments", sk, map[string]any{"amount": 900, "card": harness.Card("4000002500003155")}), 201, "requires_action")
		if n := s.ChallengeSecrets(t); n != 2 {
			t.Fatalf("%d secrets, want 2", n)
		}
		s.ExpireChallenges(t) // their time passes
		deadline := time.Now().Add(15 * time.Second)
		for {
			g := s.Call("GET", "/v1/tokens/"+tok.Str("id"), sk, nil).Want(t, 200)
			p := s.Call("GET", "/v1/payments/"+pay["id"].(string), sk, nil).Want(t, 200)
			if g.Str("status") == "failed" && p.Str("status") == "failed" {
				if g.Str("verification", "failure_code") != "authentication_failed" || p.Str("failure", "code") != "authentication_failed" ||
					!strings.Contains(p.Str("failure", "message"), "expired") {
					t.Errorf("expired: token %s\npayment %s", g.Raw, p.Raw)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the sweeper did not expire the challenges: token %s, payment %s", g.Str("status"), p.Str("status"))
			}
			time.Sleep(100 * time.Millisecond)
		}
		if ct := s.CardCiphertext(t, tok.Str("id")); ct != nil {
			t.Errorf("an expired token still holds its card")
		}
		if n := s.ChallengeSecrets(t); n != 0 {
			t.Errorf("%d challenge secrets left after expiry", n)
		}
		u := tok.Str("next_action", "url")
		pg := harness.ChallengePage(t, u)
		if pg.Status != 410 || !strings.Contains(pg.Body, `data-state="expired"`) || !strings.Contains(pg.Body, "status=failed") {
			t.Errorf("expired page: %d %s", pg.Status, pg.Body)
		}
		if pg := harness.SubmitOTP(t, u, "123456"); pg.Status != 410 {
			t.Errorf("right code after expiry: %d", pg.Status)
		}
		if g := s.Call("GET", "/v1/tokens/"+tok.Str("id"), sk, nil).Want(t, 200); g.Str("status") != "failed" {
			t.Errorf("token after a late answer: %s", g.Raw)
		}
	})

	t.Run("on open", func(t *testing.T) {
		s := harness.Start(t, harness.WithSweepInterval(time.Hour))
		sk := s.Dev.SecretKey
		tok := s.Tokenize(t, sk, map[string]any{"card": harness.Card("4000002500003155")}).Want(t, 201)
		s.ExpireChallenges(t) // its time passes; no sweep runs
		if pg := harness.SubmitOTP(t, tok.Str("next_action", "url"), "123456"); pg.Status != 410 || !strings.Contains(pg.Body, `data-state="expired"`) {
			t.Errorf("answer after expiry: %d %s", pg.Status, pg.Body)
		}
		if g := s.Call("GET", "/v1/tokens/"+tok.Str("id"), sk, nil).Want(t, 200); g.Str("status") != "failed" {
			t.Errorf("token: %s", g.Raw)
		}
		if n := s.ChallengeSecrets(t); n != 0 {
			t.Errorf("%d challenge secrets left", n)
		}
	})
}

// TestChallengeSweeperFailsTokenMidVerification: The sweeper fails a token
// whose challenge was answered rightly just before its expiry while the
// verification after it is still running: it treats every expired,
// authenticated challenge that still holds its CVC as "interrupted by a
// crash". The acquirer verified the card, the holder passed 3-D Secure, yet
// the token ends failed (authentication_failed) with its card erased, and the
// holder is sent back with status=failed.
func TestChallengeSweeperFailsTokenMidVerification(t *testing.T) {
	t.Parallel()
	// The answer must reach the verification before the challenge expires: a
	// lifetime long enough for a loaded machine; the test then waits it out.
	const ttl = 8 * time.Second
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		fp := harness.NewAcquirer()
		s := harness.Start(t, append(opts, harness.WithProcessor(fp), harness.WithChallengeTTL(ttl), harness.WithSweepInterval(50*time.Millisecond))...)
		sk := s.Dev.SecretKey
		rs := harness.NewReturnSite(t)
		tok := s.Tokenize(t, sk, map[string]any{"card": harness.Card(harness.ChallengeCard), "return_url": rs.URL}).Want(t, 201)
		tid := tok.Str("id")
		hold := fp.HoldVerify()
		done := make(chan harness.Page, 1)
		go func() { done <- harness.SubmitOTP(t, tok.Str("next_action", "url"), "123456") }()
		select {
		case <-hold.Entered:
		case <-time.After(10 * time.Second):
			t.Fatal("the verification after the challenge never started")
		}
		time.Sleep(ttl + 500*time.Millisecond) // the challenge's expiry passes; the sweeper runs
		close(hold.Release)
		pg := <-done
		g := s.Call("GET", "/v1/tokens/"+tid, sk, nil).Want(t, 200)
		if g.Str("status") != "active" {
			t.Errorf("card holder passed, acquirer verified, but the token is %s (%s) and the holder was sent back with %v",
				g.Str("status"), g.Str("verification", "failure_code"), redirectQuery(pg))
		}
	})
}

// TestChallengeCrashedTokenNotMisreported: After a crash between the right
// OTP and the token's verification, the token sits in requires_action until
// its challenge expires, then the sweeper fails it as authentication_failed
// with three_d_secure still "pending" — telling the merchant the card holder
// failed 3-D Secure when they passed it. (The CVC is still sealed and the
// authentication passed: the sweeper could finish the verification; failing
// it, it must at least not misreport the cause.)
func TestChallengeCrashedTokenNotMisreported(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		s := harness.Start(t, opts...)
		sk := s.Dev.SecretKey
		tok := s.Tokenize(t, sk, map[string]any{"card": harness.Card(harness.ChallengeCard)}).Want(t, 201)
		tid := tok.Str("id")
		db := s.OpenDB(t)
		// The right answer's transaction committed; the server died before
		// finishToken. Expiry brought forward so the test need not wait 10 minutes.
		if _, err := db.Exec(s.Rebind(`UPDATE challenges SET status = 'authenticated', attempts = 1, expires_at = ? WHERE object_id = ?`),
			time.Now().Add(time.Second).UnixMicro(), tid); err != nil {
			t.Fatal(err)
		}
		s.Stop()
		s2 := harness.Start(t, append(opts, harness.WithDataDir(s.DataDir), harness.WithSweepInterval(100*time.Millisecond))...)
		harness.WaitUntil(t, 10*time.Second, "the sweeper to settle the token", func() bool { return s2.Call("GET", "/v1/tokens/"+tid, sk, nil).Str("status") != "requires_action" })
		g := s2.Call("GET", "/v1/tokens/"+tid, sk, nil).Want(t, 200)
		if g.Str("status") == "failed" && (g.Str("verification", "failure_code") == "authentication_failed" || g.Str("verification", "three_d_secure") == "pending") {
			t.Errorf("a holder who passed the challenge is recorded as failing it: %s", g.Raw)
		}
	})
}
