package e2e

// Adversarial review of 3-D Secure (issue 4). Every test here targets one
// concrete defect and fails until it is fixed; see each test's comment.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/coffer-vault/coffer/internal/processor"
	"github.com/coffer-vault/coffer/internal/processor/simulator"
)

const r3ChallengeCard = "4000002500003155"

// r3Proc is the simulator with seams: Sale can be made to fail without
// reaching the acquirer, and one Verify can be held (after the acquirer
// verified) until the test releases it.
type r3Proc struct {
	*simulator.Simulator

	mu      sync.Mutex
	saleErr error

	holdVerify atomic.Bool
	entered    chan struct{}
	release    chan struct{}
}

func r3NewProc() *r3Proc {
	return &r3Proc{Simulator: simulator.New(), entered: make(chan struct{}), release: make(chan struct{})}
}

func (p *r3Proc) failSales(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.saleErr = err
}

func (p *r3Proc) Sale(ctx context.Context, r processor.AuthorizeRequest) (processor.Authorization, processor.Capture, error) {
	p.mu.Lock()
	err := p.saleErr
	p.mu.Unlock()
	if err != nil {
		return processor.Authorization{}, processor.Capture{}, err
	}
	return p.Simulator.Sale(ctx, r)
}

func (p *r3Proc) Verify(ctx context.Context, r processor.VerifyRequest) (processor.Verification, error) {
	v, err := p.Simulator.Verify(ctx, r)
	if p.holdVerify.CompareAndSwap(true, false) {
		close(p.entered)
		<-p.release
	}
	return v, err
}

// r3Query is the query of a redirect's Location (nil if none).
func r3Query(pg page) url.Values {
	if pg.Location == "" {
		return nil
	}
	u, err := url.Parse(pg.Location)
	if err != nil {
		return nil
	}
	return u.Query()
}

// 1. Deleting a token (or its customer) while its 3-D Secure challenge is
// pending leaves the CVC sealed in the challenge row until the card holder
// answers or the challenge expires (up to 10 minutes). The verification it
// was kept for can no longer happen, and deleting a token must crypto-shred
// its card data: the CVC must go in the same transaction.
func TestReview3DSDeletedTokenKeepsCVC(t *testing.T) {
	backends(t, func(t *testing.T, opts ...option) {
		s := start(t, opts...)
		sk := s.Dev.SecretKey
		tok := tokenize(t, s, sk, map[string]any{"card": card(r3ChallengeCard)}).want(t, 201)
		if tok.str("status") != "requires_action" || challengeSecrets(t, s) != 1 {
			t.Fatalf("setup: %s", tok.Raw)
		}
		s.call("DELETE", "/v1/tokens/"+tok.str("id"), sk, nil).want(t, 200)
		if n := challengeSecrets(t, s); n != 0 {
			t.Errorf("token deleted during its challenge: %d sealed CVC(s) still in the challenges table", n)
		}

		// The same through deleting the customer.
		cus := s.call("POST", "/v1/customers", sk, map[string]any{"reference": "r3_deleted"}).want(t, 201).str("id")
		ctok := tokenize(t, s, sk, map[string]any{"card": card("4000008400001629"), "customer": cus}).want(t, 201).str("id")
		s.call("DELETE", "/v1/customers/"+cus, sk, nil).want(t, 200)
		if r3SecretFor(t, s, ctok) {
			t.Errorf("customer deleted during its token's challenge: the token's CVC is still sealed in its challenge")
		}
	})
}

// 2. The challenge page of a token deleted during its challenge still asks
// the card holder for the OTP, and after the right code tells them "You
// were verified, but your bank declined the card" — blaming the issuer for
// the merchant's deletion. The return URL carries status=deleted.
func TestReview3DSDeletedTokenPage(t *testing.T) {
	s := start(t)
	sk := s.Dev.SecretKey
	tok := tokenize(t, s, sk, map[string]any{"card": card(r3ChallengeCard)}).want(t, 201)
	u := tok.str("next_action", "url")
	s.call("DELETE", "/v1/tokens/"+tok.str("id"), sk, nil).want(t, 200)
	if pg := challengePage(t, u); strings.Contains(pg.Body, `data-state="pending"`) || strings.Contains(pg.Body, `name="otp"`) {
		t.Errorf("the page of a deleted token still asks for the OTP: %d", pg.Status)
	}
	pg := submitOTP(t, u, "123456")
	if strings.Contains(pg.Body, "bank declined") {
		t.Errorf("after the right OTP for a deleted token the holder is told the bank declined the card: %d %s", pg.Status, r3Main(pg.Body))
	}

	// Same text for a saved card the merchant disabled during the payment's
	// challenge (failure token_inactive): the bank declined nothing.
	pay := payOK(t, s.call("POST", "/v1/payments", sk, map[string]any{"amount": 500, "card": card(r3ChallengeCard), "save_card": true}), 201, "requires_action")
	submitOTP(t, pay["next_action"].(map[string]any)["url"].(string), "123456")
	saved := s.call("GET", "/v1/payments/"+pay["id"].(string), sk, nil).want(t, 200).str("token")
	pay = payOK(t, s.call("POST", "/v1/payments", sk, map[string]any{"amount": 500, "token": saved, "three_d_secure": "required"}), 201, "requires_action")
	s.call("POST", "/v1/tokens/"+saved+"/disable", sk, nil).want(t, 200)
	pg = submitOTP(t, pay["next_action"].(map[string]any)["url"].(string), "123456")
	if g := s.call("GET", "/v1/payments/"+pay["id"].(string), sk, nil).want(t, 200); g.str("failure", "decline_code") != "token_inactive" {
		t.Fatalf("setup: %s", g.Raw)
	}
	if strings.Contains(pg.Body, "bank declined") {
		t.Errorf("token disabled by the merchant during the challenge: the holder is told the bank declined the card: %s", r3Main(pg.Body))
	}
}

// r3SecretFor reports whether the challenge of an object still holds sealed card data.
func r3SecretFor(t testing.TB, s *server, objectID string) bool {
	t.Helper()
	var n int
	if err := openDB(t, s).QueryRow(rebind(s, `SELECT COUNT(*) FROM challenges WHERE object_id = ? AND secret_ct IS NOT NULL`), objectID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

// r3Main is what a page says, for short failure messages: its data-state
// and its message or error paragraph.
func r3Main(body string) string {
	out := ""
	for _, mark := range []string{`data-state="`, `id="message" class="message">`, `id="error" class="error" role="alert">`} {
		if i := strings.Index(body, mark); i >= 0 {
			rest := body[i+len(mark):]
			if j := strings.IndexAny(rest, `"<`); j >= 0 {
				rest = rest[:j]
			}
			out += "[" + rest + "] "
		}
	}
	return out
}

// 3. A crash between the right OTP (challenge authenticated, payment moved
// to processing) and the authorization leaves the whole card — PAN, expiry,
// CVC — sealed in the challenge row. Reconcile settles the payment as failed
// at the next start, but nothing erases the card data: it stays until the
// sweeper reaches the challenge's expiry, although the authorization it was
// kept for has ended.
func TestReview3DSReconcileLeavesSealedCard(t *testing.T) {
	backends(t, func(t *testing.T, opts ...option) {
		s := start(t, opts...)
		sk := s.Dev.SecretKey
		p := payOK(t, s.call("POST", "/v1/payments", sk, map[string]any{"amount": 1200, "card": card(r3ChallengeCard),
			"return_url": "https://shop.example/back"}), 201, "requires_action")
		pid := p["id"].(string)
		db := openDB(t, s)
		// What AnswerChallenge's transaction commits for a right answer; the
		// server dies before finishPayment runs.
		if _, err := db.Exec(rebind(s, `UPDATE challenges SET status = 'authenticated', attempts = 1 WHERE object_id = ?`), pid); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(rebind(s, `UPDATE payments SET status = 'processing', updated = 0 WHERE id = ?`), pid); err != nil {
			t.Fatal(err)
		}
		s2 := s.restart() // Reconcile runs at start
		waitFor(t, func() bool { return s2.call("GET", "/v1/payments/"+pid, sk, nil).str("status") == "failed" })
		if n := challengeSecrets(t, s2); n != 0 {
			t.Errorf("payment %s was settled (failed) by Reconcile, yet its challenge still holds the sealed card number and CVC (%d secret)", pid, n)
		}
	})
}

// 4. A processor failure (not a decline) in the authorization that follows
// a passed challenge answers the card holder with a 500 "Something went
// wrong" page: they are never sent back to the merchant's return_url, even
// when the payment has definitely failed. It should redirect with the
// payment's status (failed, or processing when the outcome is unknown).
func TestReview3DSProcessorErrorAfterChallenge(t *testing.T) {
	for _, c := range []struct {
		name   string
		err    error
		status string
	}{
		{"refused request", fmt.Errorf("%w: acquirer refused the message", processor.ErrInvalidRequest), "failed"},
		{"unknown outcome", errors.New("acquirer: read timeout"), "processing"},
	} {
		t.Run(c.name, func(t *testing.T) {
			fp := r3NewProc()
			s := start(t, withProcessorImpl(fp))
			sk := s.Dev.SecretKey
			rs := newReturnSite(t)
			p := payOK(t, s.call("POST", "/v1/payments", sk, map[string]any{"amount": 1300, "card": card(r3ChallengeCard),
				"return_url": rs.URL}), 201, "requires_action")
			fp.failSales(c.err)
			pg := submitOTP(t, p["next_action"].(map[string]any)["url"].(string), "123456")
			g := s.call("GET", "/v1/payments/"+p["id"].(string), sk, nil).want(t, 200)
			if g.str("status") != c.status {
				t.Fatalf("payment status %s, want %s", g.str("status"), c.status)
			}
			if q := r3Query(pg); pg.Status != 303 || q.Get("status") != c.status {
				t.Errorf("the card holder passed 3-D Secure, the payment is %s, but the page answered %d (Location %q) instead of sending them back: %s",
					g.str("status"), pg.Status, pg.Location, r3Main(pg.Body))
			}
		})
	}
}

// 5. A card the customer has in a token still waiting on its challenge
// (requires_action) counts as "the customer's card": a payment that saves
// the same card (save_card) — or a tokenization that verifies it without a
// challenge — is answered with that requires_action token instead of an
// active one. When the pending challenge then fails, that token is failed
// and its card erased, so the card the merchant just saved (and verified)
// is gone.
func TestReview3DSSaveOntoPendingToken(t *testing.T) {
	backends(t, func(t *testing.T, opts ...option) {
		s := start(t, opts...)
		sk := s.Dev.SecretKey
		for _, how := range []string{"payment save_card", "tokenize three_d_secure=never"} {
			cus := s.call("POST", "/v1/customers", sk, map[string]any{"reference": "r3_" + strings.ReplaceAll(how, " ", "_")}).want(t, 201).str("id")
			pending := tokenize(t, s, sk, map[string]any{"card": card(r3ChallengeCard), "customer": cus}).want(t, 201)
			if pending.str("status") != "requires_action" {
				t.Fatalf("setup: %s", pending.Raw)
			}
			var saved string
			if how == "payment save_card" {
				p := payOK(t, s.call("POST", "/v1/payments", sk, map[string]any{"amount": 800, "card": card(r3ChallengeCard),
					"save_card": true, "customer": cus, "three_d_secure": "never"}), 201, "succeeded")
				saved, _ = p["token"].(string)
			} else {
				r := tokenize(t, s, sk, map[string]any{"card": card(r3ChallengeCard), "customer": cus, "three_d_secure": "never"})
				if r.Status != 200 && r.Status != 201 {
					t.Fatalf("%s: %d %s", how, r.Status, r.Raw)
				}
				saved = r.str("id")
			}
			if st := s.call("GET", "/v1/tokens/"+saved, sk, nil).want(t, 200).str("status"); st != "active" {
				t.Errorf("%s: the card was verified and saved, but the merchant got token %s in status %s", how, saved, st)
			}
			// The card holder abandons the first challenge (three wrong codes).
			u := pending.str("next_action", "url")
			for _, otp := range []string{"1", "2", "3"} {
				submitOTP(t, u, otp)
			}
			if st := s.call("GET", "/v1/tokens/"+saved, sk, nil).want(t, 200).str("status"); st != "active" || cardCiphertext(t, s, saved) == nil {
				t.Errorf("%s: the saved token %s is %s after an older abandoned challenge failed (card kept: %v)",
					how, saved, st, cardCiphertext(t, s, saved) != nil)
			}
		}
	})
}

// 6. A customer deleted while the card holder answers the challenge of a
// save_card payment: after the right OTP the acquirer captures the money,
// then saving the card fails (customer gone), the transaction that records
// the success rolls back, the holder gets a 500 page, and the payment is
// left processing — for Reconcile to refund the capture minutes later. The
// 3-D Secure wait made this window minutes long. The payment should succeed
// (without saving the card), with the holder sent back.
func TestReview3DSCustomerDeletedDuringSaveCardChallenge(t *testing.T) {
	backends(t, func(t *testing.T, opts ...option) {
		s := start(t, opts...)
		sk := s.Dev.SecretKey
		rs := newReturnSite(t)
		cus := s.call("POST", "/v1/customers", sk, map[string]any{"reference": "r3_gone"}).want(t, 201).str("id")
		p := payOK(t, s.call("POST", "/v1/payments", sk, map[string]any{"amount": 2100, "card": card(r3ChallengeCard),
			"save_card": true, "customer": cus, "return_url": rs.URL}), 201, "requires_action")
		pid := p["id"].(string)
		s.call("DELETE", "/v1/customers/"+cus, sk, nil).want(t, 200)
		pg := submitOTP(t, p["next_action"].(map[string]any)["url"].(string), "123456")
		g := s.call("GET", "/v1/payments/"+pid, sk, nil).want(t, 200)
		captured, _ := s.Sim.Lookup(context.Background(), s.Dev.ID, pid)
		if g.str("status") != "succeeded" || pg.Status != 303 {
			t.Errorf("customer deleted during the challenge: acquirer captured %d, payment is %s, holder got %d %s",
				captured.Captured, g.str("status"), pg.Status, r3Main(pg.Body))
		}
	})
}

// 7. The sweeper fails a token whose challenge was answered rightly just
// before its expiry while the verification after it is still running: it
// treats every expired, authenticated challenge that still holds its CVC as
// "interrupted by a crash". The acquirer verified the card, the holder
// passed 3-D Secure, yet the token ends failed (authentication_failed) with
// its card erased, and the holder is sent back with status=failed.
func TestReview3DSSweeperFailsTokenMidVerification(t *testing.T) {
	backends(t, func(t *testing.T, opts ...option) {
		fp := r3NewProc()
		s := start(t, append(opts, withProcessorImpl(fp), withChallengeTTL(3*time.Second), withSweepInterval(50*time.Millisecond))...)
		sk := s.Dev.SecretKey
		rs := newReturnSite(t)
		tok := tokenize(t, s, sk, map[string]any{"card": card(r3ChallengeCard), "return_url": rs.URL}).want(t, 201)
		tid := tok.str("id")
		fp.holdVerify.Store(true)
		done := make(chan page, 1)
		go func() { done <- submitOTP(t, tok.str("next_action", "url"), "123456") }()
		select {
		case <-fp.entered:
		case <-time.After(10 * time.Second):
			t.Fatal("the verification after the challenge never started")
		}
		time.Sleep(3500 * time.Millisecond) // the challenge's expiry passes; the sweeper runs
		close(fp.release)
		pg := <-done
		g := s.call("GET", "/v1/tokens/"+tid, sk, nil).want(t, 200)
		if g.str("status") != "active" {
			t.Errorf("card holder passed, acquirer verified, but the token is %s (%s) and the holder was sent back with %v",
				g.str("status"), g.str("verification", "failure_code"), r3Query(pg))
		}
	})
}

// 8. After a crash between the right OTP and the token's verification, the
// token sits in requires_action until its challenge expires, then the
// sweeper fails it as authentication_failed with three_d_secure still
// "pending" — telling the merchant the card holder failed 3-D Secure when
// they passed it. (The CVC is still sealed and the authentication passed:
// the sweeper could finish the verification; failing it, it must at least
// not misreport the cause.)
func TestReview3DSCrashedTokenMisreported(t *testing.T) {
	backends(t, func(t *testing.T, opts ...option) {
		s := start(t, opts...)
		sk := s.Dev.SecretKey
		tok := tokenize(t, s, sk, map[string]any{"card": card(r3ChallengeCard)}).want(t, 201)
		tid := tok.str("id")
		db := openDB(t, s)
		// The right answer's transaction committed; the server died before
		// finishToken. Expiry brought forward so the test need not wait 10 minutes.
		if _, err := db.Exec(rebind(s, `UPDATE challenges SET status = 'authenticated', attempts = 1, expires_at = ? WHERE object_id = ?`),
			time.Now().Add(time.Second).UnixMicro(), tid); err != nil {
			t.Fatal(err)
		}
		s.stop()
		s2 := start(t, append(opts, withDataDir(s.DataDir), withSweepInterval(100*time.Millisecond))...)
		waitFor(t, func() bool { return s2.call("GET", "/v1/tokens/"+tid, sk, nil).str("status") != "requires_action" })
		g := s2.call("GET", "/v1/tokens/"+tid, sk, nil).want(t, 200)
		if g.str("status") == "failed" && (g.str("verification", "failure_code") == "authentication_failed" || g.str("verification", "three_d_secure") == "pending") {
			t.Errorf("a holder who passed the challenge is recorded as failing it: %s", g.Raw)
		}
	})
}

// 9. The API accepts any absolute http(s) return_url, but the challenge
// page's CSP form-action only admits return origins that match a narrow
// host pattern: an IPv6 literal (http://[::1]:port), an IDN host, an
// underscore — all accepted with 201 — get form-action 'self' alone, and
// the browser then blocks the 303 that ends the challenge, leaving the card
// holder on the challenge page after a right OTP. Either the API must refuse
// such return URLs or the page must allow them (punycode; a scheme source).
func TestReview3DSReturnURLBlockedByCSP(t *testing.T) {
	s := start(t)
	sk := s.Dev.SecretKey
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	arrived := make(chan string, 4)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/return" {
			arrived <- r.URL.RawQuery
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(`<!doctype html><link rel="icon" href="data:,"><title>shop</title><h1 id="back">Back at the shop</h1>`))
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	ret := "http://" + ln.Addr().String() + "/return?cart=42"

	// At the HTTP level: every accepted return_url must be an origin the
	// page lets its form lead to.
	for _, rurl := range []string{ret, "https://bücher.example/back", "https://my_shop.example/back"} {
		r := tokenize(t, s, sk, map[string]any{"card": card(r3ChallengeCard), "return_url": rurl})
		if r.Status == 400 {
			continue // refused up front: fine
		}
		r.want(t, 201)
		csp := challengePage(t, r.str("next_action", "url")).Header.Get("Content-Security-Policy")
		fa := csp[strings.Index(csp, "form-action"):]
		fa = fa[:strings.Index(fa, ";")]
		if fa == "form-action 'self'" {
			t.Errorf("return_url %q was accepted, but the page's %q does not let the challenge's final redirect reach it", rurl, fa)
		}
	}

	// In a real browser: the right code must lead back (unless such a
	// return_url is refused up front, as it now is).
	tok := tokenize(t, s, sk, map[string]any{"card": card(r3ChallengeCard), "return_url": ret})
	if tok.Status == 400 && tok.str("error", "param") == "return_url" {
		return
	}
	tok.want(t, 201)
	ctx := newBrowser(t)
	b3dsOpen(t, ctx, tok.str("next_action", "url"))
	sctx, cancel := context.WithTimeout(ctx, b3dsStep)
	defer cancel()
	_, _ = chromedp.RunResponse(sctx, chromedp.WaitVisible(chromedp.ID("otp")), chromedp.SendKeys(chromedp.ID("otp"), "123456"),
		chromedp.Click(chromedp.ID("submit")))
	select {
	case <-arrived:
	case <-time.After(5 * time.Second):
		g := s.call("GET", "/v1/tokens/"+tok.str("id"), sk, nil).want(t, 200)
		t.Errorf("token %s after the right OTP, but the browser never reached return_url %s; it is at %s",
			g.str("status"), ret, b3dsLocation(t, ctx))
	}
}

// 10. The merchant rule tokenization_requires_3ds ("3-D Secure mandatory for
// every token", senangPay's rule) is enforced on POST /v1/tokens only. A
// payment with save_card — which mints a token just the same — ignores it:
// with the default mode a frictionless card is saved with three_d_secure
// not_required, and with three_d_secure "never" (refused with 400 on
// POST /v1/tokens under the rule) the card is saved with no 3-D Secure at all.
func TestReview3DSSaveCardBypassesMerchantRule(t *testing.T) {
	s := start(t)
	sk := s.Dev.SecretKey
	s.call("PATCH", "/v1/merchant", sk, map[string]any{"tokenization_requires_3ds": true}).want(t, 200)
	if r := tokenize(t, s, sk, map[string]any{"card": card("4242424242424242")}).want(t, 201); r.str("verification", "three_d_secure") != "authenticated" {
		t.Fatalf("setup: the rule on POST /v1/tokens: %s", r.Raw)
	}
	for _, mode := range []string{"", "never"} {
		body := map[string]any{"amount": 500, "card": card("5555555555554444"), "save_card": true}
		if mode != "" {
			body["three_d_secure"] = mode
		}
		r := s.call("POST", "/v1/payments", sk, body)
		if r.Status == 400 && r.str("error", "param") == "three_d_secure" {
			continue // refused like POST /v1/tokens: fine
		}
		tok := r.str("token")
		if r.Status != 201 || tok == "" {
			t.Fatalf("save_card (mode %q): %d %s", mode, r.Status, r.Raw)
		}
		if g := s.call("GET", "/v1/tokens/"+tok, sk, nil).want(t, 200); g.str("verification", "three_d_secure") != "authenticated" {
			t.Errorf("tokenization_requires_3ds is on, yet save_card (three_d_secure %q) stored token %s with three_d_secure %q",
				mode, tok, g.str("verification", "three_d_secure"))
		}
	}
}

// 11. API.md: "after the OTP the token becomes active (event
// token.activated) or failed". A token activated by its challenge writes no
// event to the outbox (no event of any kind for the token), so the
// merchant's server — which only learns of the outcome through the card
// holder's browser coming back to return_url, if it does — is never told.
// Payments write payment.succeeded / payment.failed in the same situation.
func TestReview3DSTokenActivatedEvent(t *testing.T) {
	backends(t, func(t *testing.T, opts ...option) {
		s := start(t, opts...)
		sk := s.Dev.SecretKey
		tok := tokenize(t, s, sk, map[string]any{"card": card(r3ChallengeCard), "return_url": "https://shop.example/back"}).want(t, 201)
		passChallenge(t, tok.str("next_action", "url"))
		if st := s.call("GET", "/v1/tokens/"+tok.str("id"), sk, nil).want(t, 200).str("status"); st != "active" {
			t.Fatalf("token %s", st)
		}
		rows, err := openDB(t, s).Query(rebind(s, `SELECT type FROM events WHERE object_id = ?`), tok.str("id"))
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var types []string
		for rows.Next() {
			var typ string
			if err := rows.Scan(&typ); err != nil {
				t.Fatal(err)
			}
			types = append(types, typ)
		}
		found := false
		for _, typ := range types {
			found = found || typ == "token.activated"
		}
		if !found {
			t.Errorf("token %s became active after its challenge; events written for it: %v, want token.activated", tok.str("id"), types)
		}
	})
}
