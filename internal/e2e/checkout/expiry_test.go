package checkout

// Session expiry: the sweeper, the API, the page and a confirmation or
// challenge in flight when the session's time runs out.

import (
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// TestSessionExpiry: a session past its time is expired even if nobody
// looks (the sweeper), refuses payment, and its page goes to expired_url.
func TestSessionExpiry(t *testing.T) {
	t.Parallel()
	s := harness.Start(t, harness.WithSweepInterval(100*time.Millisecond))
	sk := s.Dev.SecretKey
	r := s.NewSession(t, sk, map[string]any{"amount": 100, "expires_in": 60, "expired_url": "https://shop.example/expired"})
	// Move the session's expiry into the past through the database, as time
	// would: 60 s is the shortest expires_in a merchant may ask for.
	db := s.OpenDB(t)
	if _, err := db.Exec(s.Rebind(`UPDATE sessions SET expires_at = ? WHERE id = ?`), time.Now().Add(-time.Second).UnixMicro(), r.Str("id")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var status string
		if err := db.QueryRow(s.Rebind(`SELECT status FROM sessions WHERE id = ?`), r.Str("id")).Scan(&status); err != nil {
			t.Fatal(err)
		}
		if status == "expired" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sweeper did not expire the session: %s", status)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if c := s.Call("POST", "/v1/sessions/"+r.Str("id")+"/confirm", sk, map[string]any{"encrypted_card": harness.EncryptFor(t, r, "4242424242424242", "123")}); c.Status != 422 || c.Str("error", "code") != "session_expired" {
		t.Errorf("confirm expired: %d %s", c.Status, c.Raw)
	}
	pg := harness.ChallengePage(t, r.Str("url"))
	if pg.Status != 303 || pg.Location != "https://shop.example/expired?session_id="+r.Str("id") {
		t.Errorf("expired page: %d %q", pg.Status, pg.Location)
	}
}

// TestSessionPastExpiryReadsExpired: a session past its expires_at reads
// "expired" and refuses cancel with 422 session_expired before the sweeper
// comes by. The defect it was written against: GET /v1/sessions/{id} is "the
// source of truth" (GetSession's comment), yet an open session past its
// expires_at reads "open" — with a live encryption_key — until the sweeper
// happens by (every 30 s by default), and POST …/cancel turns it into
// "canceled" instead of answering 422 session_expired. The page and confirm
// both already treat it as expired; the API read and cancel do not.
func TestSessionPastExpiryReadsExpired(t *testing.T) {
	t.Parallel()
	s := harness.Start(t, harness.WithSweepInterval(time.Hour))
	sk := s.Dev.SecretKey
	r := s.NewSession(t, sk, map[string]any{"amount": 100, "expires_in": 60})
	s.ExpireSession(t, r.Str("id"))
	if g := s.Call("GET", "/v1/sessions/"+r.Str("id"), sk, nil).Want(t, 200); g.Str("status") != "expired" {
		t.Errorf("GET of a session past its expiry: status %q (encryption_key %v), want expired", g.Str("status"), harness.Dig(g.Body, "encryption_key") != nil)
	}
	r2 := s.NewSession(t, sk, map[string]any{"amount": 100, "expires_in": 60})
	s.ExpireSession(t, r2.Str("id"))
	if c := s.Call("POST", "/v1/sessions/"+r2.Str("id")+"/cancel", sk, nil); c.Status != 422 || c.Str("error", "code") != "session_expired" {
		t.Errorf("cancel of a session past its expiry: %d %s, want 422 session_expired", c.Status, c.Raw)
	}
}

// TestSessionSweeperSparesConfirmationInFlight: the sweeper does not expire
// a session whose confirmation is charging the card. The defect it was
// written against: a confirmation claimed the session before its expiry and is charging the card; the sweeper ignores
// the claim (ConfirmingUntil) and marks the session expired mid-charge —
// cancel respects the claim, the sweeper does not. The merchant reads
// "expired" (a final state) for a session that then turns "succeeded".
func TestSessionSweeperSparesConfirmationInFlight(t *testing.T) {
	// Not parallel: it gives the sweeper (every 50 ms) a 1.5 s window, which
	// other tests' load would stretch.
	proc := harness.NewAcquirer()
	s := harness.Start(t, harness.WithProcessor(proc), harness.WithSweepInterval(50*time.Millisecond))
	sk := s.Dev.SecretKey
	r := s.NewSession(t, sk, map[string]any{"amount": 2500, "expires_in": 60})
	id := r.Str("id")
	ct := harness.EncryptFor(t, r, "4242424242424242", "123")
	held := proc.HoldSale()
	done := make(chan harness.Resp, 1)
	go func() {
		done <- s.Call("POST", "/v1/sessions/"+id+"/confirm", sk, map[string]any{"encrypted_card": ct})
	}()
	select {
	case <-held.Entered:
	case <-time.After(20 * time.Second):
		t.Fatal("the charge never reached the acquirer")
	}
	s.ExpireSession(t, id) // the expiry passes while the acquirer works
	sawExpired := false
	for deadline := time.Now().Add(1500 * time.Millisecond); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if s.SessionDBStatus(t, id) == "expired" {
			sawExpired = true
			break
		}
	}
	close(held.Release)
	c := <-done
	if sawExpired {
		t.Errorf("the sweeper expired the session while its claimed confirmation was charging the card (final: %d %s)", c.Status, c.Str("status"))
	}
}

// TestSessionChargedAfterChallengeEndsSucceeded: a session whose card is
// charged after its challenge ends succeeded even if its time ran out
// meanwhile. The defect it was written against: the card holder passes 3-D
// Secure just before the session's expiry; while the charge after the
// challenge is at the acquirer (the payment is processing), the sweeper
// finds the session requires_action and past its time and marks it expired.
// The charge then succeeds — the card is charged — but the session stays
// expired for good (syncSession only looks at requires_action sessions), so
// the merchant is told the shopper never paid.
func TestSessionChargedAfterChallengeEndsSucceeded(t *testing.T) {
	// Not parallel: it gives the sweeper (every 50 ms) a 1.5 s window, which
	// other tests' load would stretch.
	proc := harness.NewAcquirer()
	s := harness.Start(t, harness.WithProcessor(proc), harness.WithSweepInterval(50*time.Millisecond))
	sk := s.Dev.SecretKey
	r := s.NewSession(t, sk, map[string]any{"amount": 3100, "expires_in": 60, "success_url": "https://shop.example/ok",
		"expired_url": "https://shop.example/expired"})
	id := r.Str("id")
	c := s.Call("POST", "/v1/sessions/"+id+"/confirm", sk, map[string]any{"encrypted_card": harness.EncryptFor(t, r, "4000002500003155", "123")}).Want(t, 200)
	if c.Str("status") != "requires_action" {
		t.Fatalf("3-D Secure card: %s", c.Raw)
	}
	held := proc.HoldSale()
	done := make(chan harness.Page, 1)
	go func() { done <- harness.SubmitOTP(t, c.Str("next_action", "url"), "123456") }()
	select {
	case <-held.Entered:
	case <-time.After(20 * time.Second):
		t.Fatal("the charge after the challenge never reached the acquirer")
	}
	s.ExpireSession(t, id)
	for deadline := time.Now().Add(1500 * time.Millisecond); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if s.SessionDBStatus(t, id) == "expired" {
			break
		}
	}
	close(held.Release)
	<-done
	p := s.Call("GET", "/v1/payments/"+c.Str("payment"), sk, nil).Want(t, 200)
	g := s.Call("GET", "/v1/sessions/"+id, sk, nil).Want(t, 200)
	if p.Str("status") == "succeeded" && g.Str("status") != "succeeded" {
		t.Errorf("the card was charged (payment %s succeeded) but the session reads %q", p.Str("id"), g.Str("status"))
	}
	if pg := harness.ChallengePage(t, r.Str("url")); p.Str("status") == "succeeded" && pg.Location != "https://shop.example/ok?session_id="+id {
		t.Errorf("the paid session's page sends the shopper to %q", pg.Location)
	}
}

// TestSessionChallengeAfterExpiryChargesNothing: a challenge answered after
// its session expired charges nothing. The defect it was written against: a
// session's 3-D Secure challenge is created with the challenge TTL (10 min) regardless of the
// session's expires_at, so a shopper can still pass it — and be charged —
// after the session has expired, as long as the sweeper has not yet come by.
// An expired session must refuse payment, whatever the sweeper's timing.
func TestSessionChallengeAfterExpiryChargesNothing(t *testing.T) {
	t.Parallel()
	s := harness.Start(t, harness.WithSweepInterval(time.Hour))
	sk := s.Dev.SecretKey
	r := s.NewSession(t, sk, map[string]any{"amount": 1700, "expires_in": 60})
	id := r.Str("id")
	c := s.Call("POST", "/v1/sessions/"+id+"/confirm", sk, map[string]any{"encrypted_card": harness.EncryptFor(t, r, "4000002500003155", "123")}).Want(t, 200)
	if c.Str("status") != "requires_action" {
		t.Fatalf("3-D Secure card: %s", c.Raw)
	}
	s.ExpireSession(t, id)
	auths := s.Sim.Stats().Authorizations
	harness.SubmitOTP(t, c.Str("next_action", "url"), "123456")
	if got := s.Sim.Stats().Authorizations; got != auths {
		t.Errorf("a challenge answered after the session expired charged the card (authorizations %d → %d)", auths, got)
	}
	if g := s.Call("GET", "/v1/sessions/"+id, sk, nil).Want(t, 200); g.Str("status") == "succeeded" {
		t.Errorf("a session past its expiry was paid: %s", g.Raw)
	}
}
