package threeds

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
	"github.com/coffer-vault/coffer/internal/processor"
)

// TestThreeDSTokenChallenge: a challenge card tokenizes as requires_action
// with a redirect to this server's challenge page; the right OTP runs the
// verification and activates the token, sends the browser to return_url with
// the token and its status, and erases the CVC kept for it; a replay of the
// same answer does nothing more.
func TestThreeDSTokenChallenge(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		s := harness.Start(t, opts...)
		sk := s.Dev.SecretKey
		rs := harness.NewReturnSite(t)
		r := s.Tokenize(t, sk, map[string]any{"card": harness.Card("4000002500003155"), "return_url": rs.URL}).Want(t, 201)
		if r.Str("status") != "requires_action" || r.Str("verification", "three_d_secure") != "pending" {
			t.Fatalf("token: %s", r.Raw)
		}
		tid, u := r.Str("id"), r.Str("next_action", "url")
		if g := s.Call("GET", "/v1/tokens/"+tid, sk, nil).Want(t, 200); g.Str("next_action", "url") != u {
			t.Errorf("GET token lost its next_action: %s", g.Raw)
		}
		if n := s.ChallengeSecrets(t); n != 1 {
			t.Errorf("the CVC must be kept (sealed) across the challenge: %d secrets", n)
		}
		pg := harness.ChallengePage(t, u)
		if pg.Status != 200 || !strings.Contains(pg.Body, "400000******3155") || !strings.Contains(pg.Body, "Development merchant") ||
			strings.Contains(pg.Body, "4000002500003155") {
			t.Fatalf("challenge page %d: %s", pg.Status, pg.Body)
		}
		verifs := s.Sim.Stats().Verifications
		done := harness.SubmitOTP(t, u, "123456")
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
		g := s.Call("GET", "/v1/tokens/"+tid, sk, nil).Want(t, 200)
		if g.Str("status") != "active" || g.Str("verification", "status") != "verified" || g.Str("verification", "three_d_secure") != "authenticated" ||
			g.Str("verification", "authentication", "eci") != "05" || g.Str("verification", "authentication", "version") != "2.2.0" ||
			g.Str("verification", "authentication", "transaction_id") == "" || harness.Dig(g.Body, "next_action") != nil {
			t.Errorf("token after the challenge: %s", g.Raw)
		}
		if got := s.Sim.Stats().Verifications; got != verifs+1 {
			t.Errorf("verifications %d → %d, want one", verifs, got)
		}
		if n := s.ChallengeSecrets(t); n != 0 {
			t.Errorf("%d challenge secrets left after the verification", n)
		}
		again := harness.SubmitOTP(t, u, "123456")
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
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		s := harness.Start(t, opts...)
		sk := s.Dev.SecretKey
		rs := harness.NewReturnSite(t)
		r := s.Tokenize(t, sk, map[string]any{"card": harness.Card("4000002500003155"), "return_url": rs.URL}).Want(t, 201)
		tid, u := r.Str("id"), r.Str("next_action", "url")
		verifs := s.Sim.Stats().Verifications
		for i, left := range []string{"2 attempts left", "1 attempt left"} {
			pg := harness.SubmitOTP(t, u, []string{"000000", "123457"}[i])
			if pg.Status != 200 || !strings.Contains(pg.Body, left) || !strings.Contains(pg.Body, `data-state="pending"`) {
				t.Fatalf("wrong OTP %d: %d %s", i+1, pg.Status, pg.Body)
			}
		}
		last := harness.SubmitOTP(t, u, "654321")
		loc, _ := url.Parse(last.Location)
		if last.Status != 303 || loc == nil || loc.Query().Get("status") != "failed" || loc.Query().Get("reason") != "authentication_failed" ||
			loc.Query().Get("token") != tid {
			t.Fatalf("third wrong OTP: %d %q", last.Status, last.Location)
		}
		g := s.Call("GET", "/v1/tokens/"+tid, sk, nil).Want(t, 200)
		if g.Str("status") != "failed" || g.Str("verification", "failure_code") != "authentication_failed" ||
			g.Str("verification", "three_d_secure") != "failed" || g.Str("verification", "authentication", "eci") != "07" {
			t.Errorf("token after failing: %s", g.Raw)
		}
		if ct := s.CardCiphertext(t, tid); ct != nil {
			t.Errorf("a token that failed 3-D Secure still holds its card")
		}
		if n := s.ChallengeSecrets(t); n != 0 {
			t.Errorf("%d challenge secrets left", n)
		}
		if got := s.Sim.Stats().Verifications; got != verifs {
			t.Errorf("a failed challenge reached the acquirer: %d → %d", verifs, got)
		}
		// The right code now is too late; the page shows the failure.
		if pg := harness.SubmitOTP(t, u, "123456"); pg.Status != 409 {
			t.Errorf("right OTP after failing: %d", pg.Status)
		}
		if pg := harness.ChallengePage(t, u); pg.Status != 200 || !strings.Contains(pg.Body, `data-state="failed"`) {
			t.Errorf("page after failing: %d %s", pg.Status, pg.Body)
		}
		if g := s.Call("GET", "/v1/tokens/"+tid, sk, nil).Want(t, 200); g.Str("status") != "failed" {
			t.Errorf("token changed after a late right answer: %s", g.Raw)
		}
		// A failed token is not "the customer's card": the same card saves again.
		if again := s.Tokenize(t, sk, map[string]any{"card": harness.Card("4000002500003155")}).Want(t, 201); again.Str("id") == tid {
			t.Errorf("a failed token was reused")
		}
	})
}

// TestThreeDSConcurrentAnswers: the attempts counter is atomic. Thirty
// simultaneous wrong codes get three tries between them (two "try again"
// pages and one failure) and the rest are told the challenge is over; twenty
// simultaneous right codes verify the card once.
func TestThreeDSConcurrentAnswers(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		s := harness.Start(t, opts...)
		sk := s.Dev.SecretKey
		answerAll := func(u, otp string, n int) map[int]int {
			var mu sync.Mutex
			counts := map[int]int{}
			var wg sync.WaitGroup
			for i := 0; i < n; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					res, err := harness.NoRedirect.PostForm(u, url.Values{"otp": {otp}})
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

		r := s.Tokenize(t, sk, map[string]any{"card": harness.Card("4000002500003155"), "return_url": "https://shop.example/back"}).Want(t, 201)
		counts := answerAll(r.Str("next_action", "url"), "000000", 30)
		if counts[200] != 2 || counts[303] != 1 || counts[409] != 27 {
			t.Errorf("30 concurrent wrong OTPs: %v, want 2×200, 1×303, 27×409", counts)
		}
		var attempts int
		if err := s.OpenDB(t).QueryRow(s.Rebind(`SELECT attempts FROM challenges WHERE object_id = ?`), r.Str("id")).Scan(&attempts); err != nil || attempts != 3 {
			t.Errorf("attempts recorded: %d (%v), want 3", attempts, err)
		}
		if g := s.Call("GET", "/v1/tokens/"+r.Str("id"), sk, nil).Want(t, 200); g.Str("status") != "failed" {
			t.Errorf("token: %s", g.Raw)
		}

		r = s.Tokenize(t, sk, map[string]any{"card": harness.Card("4000002500003155"), "return_url": "https://shop.example/back"}).Want(t, 201)
		verifs := s.Sim.Stats().Verifications
		counts = answerAll(r.Str("next_action", "url"), "123456", 20)
		if counts[303] != 1 || counts[409] != 19 {
			t.Errorf("20 concurrent right OTPs: %v, want 1×303, 19×409", counts)
		}
		if got := s.Sim.Stats().Verifications; got != verifs+1 {
			t.Errorf("verifications %d → %d, want exactly one", verifs, got)
		}
		if g := s.Call("GET", "/v1/tokens/"+r.Str("id"), sk, nil).Want(t, 200); g.Str("status") != "active" {
			t.Errorf("token: %s", g.Raw)
		}
	})
}

// TestChallengeSaveOntoPendingToken: A card the customer has in a token still
// waiting on its challenge (requires_action) counts as "the customer's card":
// a payment that saves the same card (save_card) — or a tokenization that
// verifies it without a challenge — is answered with that requires_action
// token instead of an active one. When the pending challenge then fails, that
// token is failed and its card erased, so the card the merchant just saved
// (and verified) is gone.
func TestChallengeSaveOntoPendingToken(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		s := harness.Start(t, opts...)
		sk := s.Dev.SecretKey
		for _, how := range []string{"payment save_card", "tokenize three_d_secure=never"} {
			cus := s.Call("POST", "/v1/customers", sk, map[string]any{"reference": "r3_" + strings.ReplaceAll(how, " ", "_")}).Want(t, 201).Str("id")
			pending := s.Tokenize(t, sk, map[string]any{"card": harness.Card(harness.ChallengeCard), "customer": cus}).Want(t, 201)
			if pending.Str("status") != "requires_action" {
				t.Fatalf("setup: %s", pending.Raw)
			}
			var saved string
			if how == "payment save_card" {
				p := harness.PaymentOK(t, s.Call("POST", "/v1/payments", sk, map[string]any{"amount": 800, "card": harness.Card(harness.ChallengeCard),
					"save_card": true, "customer": cus, "three_d_secure": "never"}), 201, "succeeded")
				saved, _ = p["token"].(string)
			} else {
				r := s.Tokenize(t, sk, map[string]any{"card": harness.Card(harness.ChallengeCard), "customer": cus, "three_d_secure": "never"})
				if r.Status != 200 && r.Status != 201 {
					t.Fatalf("%s: %d %s", how, r.Status, r.Raw)
				}
				saved = r.Str("id")
			}
			if st := s.Call("GET", "/v1/tokens/"+saved, sk, nil).Want(t, 200).Str("status"); st != "active" {
				t.Errorf("%s: the card was verified and saved, but the merchant got token %s in status %s", how, saved, st)
			}
			// The card holder abandons the first challenge (three wrong codes).
			u := pending.Str("next_action", "url")
			for _, otp := range []string{"1", "2", "3"} {
				harness.SubmitOTP(t, u, otp)
			}
			if st := s.Call("GET", "/v1/tokens/"+saved, sk, nil).Want(t, 200).Str("status"); st != "active" || s.CardCiphertext(t, saved) == nil {
				t.Errorf("%s: the saved token %s is %s after an older abandoned challenge failed (card kept: %v)",
					how, saved, st, s.CardCiphertext(t, saved) != nil)
			}
		}
	})
}

// TestChallengeTokenActivatedEvent: API.md: "after the OTP the token becomes
// active (event token.activated) or failed". A token activated by its
// challenge writes no event to the outbox (no event of any kind for the
// token), so the merchant's server — which only learns of the outcome through
// the card holder's browser coming back to return_url, if it does — is never
// told. Payments write payment.succeeded / payment.failed in the same
// situation.
func TestChallengeTokenActivatedEvent(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		s := harness.Start(t, opts...)
		sk := s.Dev.SecretKey
		tok := s.Tokenize(t, sk, map[string]any{"card": harness.Card(harness.ChallengeCard), "return_url": "https://shop.example/back"}).Want(t, 201)
		harness.PassChallenge(t, tok.Str("next_action", "url"))
		if st := s.Call("GET", "/v1/tokens/"+tok.Str("id"), sk, nil).Want(t, 200).Str("status"); st != "active" {
			t.Fatalf("token %s", st)
		}
		rows, err := s.OpenDB(t).Query(s.Rebind(`SELECT type FROM events WHERE object_id = ?`), tok.Str("id"))
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
			t.Errorf("token %s became active after its challenge; events written for it: %v, want token.activated", tok.Str("id"), types)
		}
	})
}

// TestThreeDSPayments: a payment that needs 3-D Secure waits in
// requires_action; after the OTP it is authorized (and captured when asked)
// with the authentication recorded, or fails — authentication_failed after
// three wrong codes, card_declined when the issuer declines after it. A card
// saved by such a payment keeps the authentication; a saved card is charged
// with a challenge when the card holder is present (return_url) and without
// one when the merchant charges it on its own. No CVC outlives its payment.
func TestThreeDSPayments(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		s := harness.Start(t, opts...)
		sk := s.Dev.SecretKey
		back := "https://shop.example/back?order=7"
		cus := s.Call("POST", "/v1/customers", sk, map[string]any{"reference": "threeds_payer"}).Want(t, 201).Str("id")
		pay := func(body map[string]any) harness.Resp {
			body["return_url"] = back
			if body["amount"] == nil {
				body["amount"] = 1500
			}
			return s.Call("POST", "/v1/payments", sk, body)
		}

		// Card, immediate capture, saved for the customer.
		r := harness.PaymentOK(t, pay(map[string]any{"card": harness.Card("4000002500003155"), "save_card": true, "customer": cus, "order_id": "o-1"}), 201, "requires_action")
		pid := r["id"].(string)
		if harness.Dig(r, "authentication") != nil || harness.Dig(r, "next_action", "type") != "redirect" {
			t.Errorf("waiting payment: %v", r)
		}
		auths := s.Sim.Stats().Authorizations
		q := harness.PassChallenge(t, harness.Dig(r, "next_action", "url").(string))
		if q.Get("payment") != pid || q.Get("status") != "succeeded" || q.Get("order") != "7" {
			t.Errorf("return query: %v", q)
		}
		g := s.Call("GET", "/v1/payments/"+pid, sk, nil).Want(t, 200)
		if g.Str("status") != "succeeded" || harness.Dig(g.Body, "amount_captured") != float64(1500) || g.Str("authentication", "status") != "authenticated" ||
			g.Str("authentication", "eci") != "05" || g.Str("authentication", "transaction_id") == "" || harness.Dig(g.Body, "next_action") != nil || g.Str("token") == "" {
			t.Fatalf("payment after the challenge: %s", g.Raw)
		}
		if got := s.Sim.Stats().Authorizations; got != auths+1 {
			t.Errorf("authorizations %d → %d", auths, got)
		}
		tok := s.Call("GET", "/v1/tokens/"+g.Str("token"), sk, nil).Want(t, 200)
		if tok.Str("status") != "active" || tok.Str("customer") != cus || tok.Str("verification", "three_d_secure") != "authenticated" {
			t.Errorf("card saved by the payment: %s", tok.Raw)
		}
		if n := s.ChallengeSecrets(t); n != 0 {
			t.Errorf("%d challenge secrets left after the payment", n)
		}

		// Manual capture: authorized only.
		r = harness.PaymentOK(t, pay(map[string]any{"card": harness.Card("4000002500003155"), "capture": false}), 201, "requires_action")
		if q := harness.PassChallenge(t, harness.Dig(r, "next_action", "url").(string)); q.Get("status") != "requires_capture" {
			t.Errorf("manual capture: %v", q)
		}
		s.Call("POST", "/v1/payments/"+r["id"].(string)+"/capture", sk, nil).Want(t, 200)

		// Declined by the issuer after passing the challenge.
		r = harness.PaymentOK(t, pay(map[string]any{"card": harness.Card("4000008400001629")}), 201, "requires_action")
		if q := harness.PassChallenge(t, harness.Dig(r, "next_action", "url").(string)); q.Get("status") != "failed" || q.Get("reason") != "card_declined" {
			t.Errorf("declined after 3-D Secure: %v", q)
		}
		if g := s.Call("GET", "/v1/payments/"+r["id"].(string), sk, nil).Want(t, 200); g.Str("failure", "code") != "card_declined" ||
			g.Str("authentication", "status") != "authenticated" {
			t.Errorf("declined payment: %s", g.Raw)
		}

		// Three wrong codes.
		r = harness.PaymentOK(t, pay(map[string]any{"card": harness.Card("4000002500003155")}), 201, "requires_action")
		auths = s.Sim.Stats().Authorizations
		u := harness.Dig(r, "next_action", "url").(string)
		harness.SubmitOTP(t, u, "1")
		harness.SubmitOTP(t, u, "2")
		if last := harness.SubmitOTP(t, u, "3"); last.Status != 303 || !strings.Contains(last.Location, "reason=authentication_failed") {
			t.Errorf("third wrong code: %d %q", last.Status, last.Location)
		}
		g = s.Call("GET", "/v1/payments/"+r["id"].(string), sk, nil).Want(t, 200)
		if g.Str("status") != "failed" || g.Str("failure", "code") != "authentication_failed" || g.Str("authentication", "status") != "failed" {
			t.Errorf("payment failing authentication: %s", g.Raw)
		}
		if got := s.Sim.Stats().Authorizations; got != auths {
			t.Errorf("a payment that failed 3-D Secure was authorized")
		}

		// The saved challenge card: with the card holder present it is
		// challenged again (the CVC kept sealed meanwhile)…
		r = harness.PaymentOK(t, pay(map[string]any{"token": tok.Str("id"), "cvc": "123"}), 201, "requires_action")
		if n := s.ChallengeSecrets(t); n != 1 {
			t.Errorf("the CVC must wait, sealed, for the challenge: %d secrets", n)
		}
		if q := harness.PassChallenge(t, harness.Dig(r, "next_action", "url").(string)); q.Get("status") != "succeeded" {
			t.Errorf("saved card with a challenge: %v", q)
		}
		if n := s.ChallengeSecrets(t); n != 0 {
			t.Errorf("%d challenge secrets left", n)
		}
		// A saved card disabled while its holder types the code is not charged.
		r = harness.PaymentOK(t, pay(map[string]any{"token": tok.Str("id"), "cvc": "123"}), 201, "requires_action")
		s.Call("POST", "/v1/tokens/"+tok.Str("id")+"/disable", sk, nil).Want(t, 200)
		auths = s.Sim.Stats().Authorizations
		if q := harness.PassChallenge(t, harness.Dig(r, "next_action", "url").(string)); q.Get("status") != "failed" {
			t.Errorf("disabled during the challenge: %v", q)
		}
		if g := s.Call("GET", "/v1/payments/"+r["id"].(string), sk, nil).Want(t, 200); g.Str("failure", "decline_code") != "token_inactive" ||
			s.Sim.Stats().Authorizations != auths || s.ChallengeSecrets(t) != 0 {
			t.Errorf("payment of a token disabled during its challenge: %s", g.Raw)
		}
		s.Call("POST", "/v1/tokens/"+tok.Str("id")+"/enable", sk, nil).Want(t, 200)
		// …and charged by the merchant alone (no return_url) it is not.
		m := s.Call("POST", "/v1/payments", sk, map[string]any{"amount": 700, "token": tok.Str("id")})
		if p := harness.PaymentOK(t, m, 201, "succeeded"); harness.Dig(p, "authentication") != nil {
			t.Errorf("merchant-initiated charge was authenticated: %v", p)
		}
	})
}

// TestChallengeProcessorErrorSendsHolderBack: A processor failure (not a
// decline) in the authorization that follows a passed challenge answers the
// card holder with a 500 "Something went wrong" page: they are never sent
// back to the merchant's return_url, even when the payment has definitely
// failed. It should redirect with the payment's status (failed, or processing
// when the outcome is unknown).
func TestChallengeProcessorErrorSendsHolderBack(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		err    error
		status string
	}{
		{"refused request", fmt.Errorf("%w: acquirer refused the message", processor.ErrInvalidRequest), "failed"},
		{"unknown outcome", errors.New("acquirer: read timeout"), "processing"},
	} {
		t.Run(c.name, func(t *testing.T) {
			fp := harness.NewAcquirer()
			s := harness.Start(t, harness.WithProcessor(fp))
			sk := s.Dev.SecretKey
			rs := harness.NewReturnSite(t)
			p := harness.PaymentOK(t, s.Call("POST", "/v1/payments", sk, map[string]any{"amount": 1300, "card": harness.Card(harness.ChallengeCard),
				"return_url": rs.URL}), 201, "requires_action")
			fp.FailSales(c.err)
			pg := harness.SubmitOTP(t, p["next_action"].(map[string]any)["url"].(string), "123456")
			g := s.Call("GET", "/v1/payments/"+p["id"].(string), sk, nil).Want(t, 200)
			if g.Str("status") != c.status {
				t.Fatalf("payment status %s, want %s", g.Str("status"), c.status)
			}
			if q := redirectQuery(pg); pg.Status != 303 || q.Get("status") != c.status {
				t.Errorf("the card holder passed 3-D Secure, the payment is %s, but the page answered %d (Location %q) instead of sending them back: %s",
					g.Str("status"), pg.Status, pg.Location, pageSays(pg.Body))
			}
		})
	}
}

// TestChallengeCustomerDeletedDuringSaveCard: A customer deleted while the
// card holder answers the challenge of a save_card payment: after the right
// OTP the acquirer captures the money, then saving the card fails (customer
// gone), the transaction that records the success rolls back, the holder gets
// a 500 page, and the payment is left processing — for Reconcile to refund
// the capture minutes later. The 3-D Secure wait made this window minutes
// long. The payment should succeed (without saving the card), with the holder
// sent back.
func TestChallengeCustomerDeletedDuringSaveCard(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		s := harness.Start(t, opts...)
		sk := s.Dev.SecretKey
		rs := harness.NewReturnSite(t)
		cus := s.Call("POST", "/v1/customers", sk, map[string]any{"reference": "r3_gone"}).Want(t, 201).Str("id")
		p := harness.PaymentOK(t, s.Call("POST", "/v1/payments", sk, map[string]any{"amount": 2100, "card": harness.Card(harness.ChallengeCard),
			"save_card": true, "customer": cus, "return_url": rs.URL}), 201, "requires_action")
		pid := p["id"].(string)
		s.Call("DELETE", "/v1/customers/"+cus, sk, nil).Want(t, 200)
		pg := harness.SubmitOTP(t, p["next_action"].(map[string]any)["url"].(string), "123456")
		g := s.Call("GET", "/v1/payments/"+pid, sk, nil).Want(t, 200)
		captured, _ := s.Sim.Lookup(context.Background(), s.Dev.ID, pid)
		if g.Str("status") != "succeeded" || pg.Status != 303 {
			t.Errorf("customer deleted during the challenge: acquirer captured %d, payment is %s, holder got %d %s",
				captured.Captured, g.Str("status"), pg.Status, pageSays(pg.Body))
		}
	})
}
