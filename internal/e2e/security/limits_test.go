package security

import (
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
	"github.com/coffer-vault/coffer/internal/payment"
)

// TestThreeDSGuessesPerCard: wrong 3-D Secure codes count per card across
// challenges, so new tokens, payments or sessions bring no new guesses.
// Three wrong codes fail a challenge; a new attempt opens a new challenge
// where a wrong code leaves the card one guess, and the right code still
// works (and clears the count). Five more wrong codes over two challenges
// use the card up: the fifth fails its challenge though that challenge had
// tries left, a challenge opened earlier fails even on the right code, and
// new tokens and payments of the card fail authentication_failed with no
// challenge (no OTP asked) — after a restart too. Another card, and the same
// card at another merchant, are unaffected; 24 hours after the card's last
// wrong code it is challenged again.
func TestThreeDSGuessesPerCard(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		s := harness.Start(t, opts...)
		sk := s.Dev.SecretKey
		const (
			cardA = "4000002500003155" // challenged, then verified
			cardB = "4000008400001629" // challenged, then declined: another card
			back  = "https://shop.example/back"
		)
		challenge := func(s *harness.Server, key, number string) (tokenID, u string) {
			t.Helper()
			r := s.Tokenize(t, key, map[string]any{"card": harness.Card(number), "return_url": back}).Want(t, 201)
			if r.Str("status") != "requires_action" || r.Str("next_action", "url") == "" {
				t.Fatalf("token of a challenge card: %s", r.Raw)
			}
			return r.Str("id"), r.Str("next_action", "url")
		}
		outcome := func(p harness.Page) url.Values {
			t.Helper()
			loc, err := url.Parse(p.Location)
			if p.Status != 303 || err != nil || !strings.HasPrefix(p.Location, back) {
				t.Fatalf("want the browser sent back: %d %q %s", p.Status, p.Location, p.Body)
			}
			return loc.Query()
		}
		wrongStays := func(u string, left int) {
			t.Helper()
			p := harness.SubmitOTP(t, u, "000000")
			want := fmt.Sprintf("%d attempt", left)
			if p.Status != 200 || !strings.Contains(p.Body, `data-state="pending"`) || !strings.Contains(p.Body, want) {
				t.Fatalf("wrong code, want the page again with %q: %d %s", want, p.Status, p.Body)
			}
		}
		wrongFails := func(u string) {
			t.Helper()
			if q := outcome(harness.SubmitOTP(t, u, "000000")); q.Get("status") != "failed" || q.Get("reason") != "authentication_failed" {
				t.Fatalf("wrong code that ends the challenge: %v", q)
			}
		}
		tokenStatus := func(id string) string {
			t.Helper()
			return s.Call("GET", "/v1/tokens/"+id, sk, nil).Want(t, 200).Str("status")
		}
		challenges := func() int {
			t.Helper()
			var n int
			if err := s.OpenDB(t).QueryRow(`SELECT COUNT(*) FROM challenges`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}

		// 3 wrong codes on one challenge (the card's 1st-3rd).
		_, u1 := challenge(s, sk, cardA)
		wrongStays(u1, 2)
		wrongStays(u1, 1)
		wrongFails(u1)
		// A new attempt: a fresh challenge, but the card has 2 guesses
		// left, not 3; one more wrong (4th), then the right code works.
		t2, u2 := challenge(s, sk, cardA)
		if pg := harness.ChallengePage(t, u2); !strings.Contains(pg.Body, "2 attempts left") {
			t.Errorf("a new challenge of a card with 3 wrong codes must show 2 tries left: %s", pg.Body)
		}
		wrongStays(u2, 1)
		if q := harness.PassChallenge(t, u2); q.Get("status") != "active" || tokenStatus(t2) != "active" {
			t.Fatalf("the right code within the limit: %v", q)
		}

		// The right code cleared the count: five fresh guesses, spent over
		// two challenges, with a third challenge open meanwhile.
		_, u3 := challenge(s, sk, cardA)
		wrongStays(u3, 2)
		wrongStays(u3, 1)
		wrongFails(u3)
		t4, u4 := challenge(s, sk, cardA)
		t5, u5 := challenge(s, sk, cardA) // opened while the card had guesses left
		wrongStays(u4, 1)
		wrongFails(u4) // the card's 5th: its own challenge had a try left
		if st := tokenStatus(t4); st != "failed" {
			t.Errorf("token of the challenge that used the card up: %s", st)
		}
		if pg := harness.ChallengePage(t, u5); !strings.Contains(pg.Body, "0 attempts left") {
			t.Errorf("an open challenge of a used-up card must show no tries left: %s", pg.Body)
		}
		verifs := s.Sim.Stats().Verifications
		if q := outcome(harness.SubmitOTP(t, u5, "123456")); q.Get("status") != "failed" || q.Get("reason") != "authentication_failed" {
			t.Errorf("the right code on a used-up card's open challenge: %v, want failed", q)
		}
		if st := tokenStatus(t5); st != "failed" || s.Sim.Stats().Verifications != verifs {
			t.Errorf("token %s after its card was used up: %s (verifications %d → %d)", t5, st, verifs, s.Sim.Stats().Verifications)
		}

		// No new challenge for the card: tokens and payments fail at once.
		refusedNow := func(s *harness.Server, key string) {
			t.Helper()
			n := challenges()
			r := s.Tokenize(t, key, map[string]any{"card": harness.Card(cardA), "return_url": back}).Want(t, 402)
			if typ, code, _ := r.ErrInfo(); typ != "card_error" || code != "authentication_failed" || r.Str("next_action", "url") != "" {
				t.Errorf("token of a used-up card: %s", r.Raw)
			}
			p := s.Call("POST", "/v1/payments", key, map[string]any{"amount": 2500, "currency": "MYR", "card": harness.Card(cardA),
				"return_url": back}).Want(t, 402)
			if _, code, _ := p.ErrInfo(); code != "authentication_failed" || p.Str("error", "payment", "status") != "failed" {
				t.Errorf("payment by a used-up card: %s", p.Raw)
			}
			if got := challenges(); got != n {
				t.Errorf("%d new challenges for a used-up card", got-n)
			}
		}
		refusedNow(s, sk)

		// Other cards, and the same card at another merchant, are not held.
		_, ub := challenge(s, sk, cardB)
		if q := harness.PassChallenge(t, ub); q.Get("reason") != "card_declined" {
			t.Errorf("another card's challenge: %v, want authenticated then declined", q)
		}
		other := s.NewMerchant("Other shop")
		ot, uo := challenge(s, other.SecretKey, cardA)
		if q := harness.PassChallenge(t, uo); q.Get("status") != "active" || q.Get("token") != ot {
			t.Errorf("the same card at another merchant: %v", q)
		}

		// Stored: a restart (any instance) holds the card too.
		s = s.Restart() // the development merchant's key (sk) stays
		refusedNow(s, sk)

		// 24 hours after the last wrong code, the card is challenged again.
		db := s.OpenDB(t)
		if _, err := db.Exec(s.Rebind(`UPDATE card_auth_failures SET last_failure = last_failure - ?`), (24*time.Hour + time.Second).Microseconds()); err != nil {
			t.Fatal(err)
		}
		t6, u6 := challenge(s, sk, cardA)
		if q := harness.PassChallenge(t, u6); q.Get("status") != "active" || q.Get("token") != t6 {
			t.Errorf("after the window: %v", q)
		}
	})
}

// TestThreeDSGuessesPerCardConcurrent: wrong codes sent at once to several
// open challenges of one card get five guesses between them, not three per
// challenge.
func TestThreeDSGuessesPerCardConcurrent(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		s := harness.Start(t, opts...)
		sk := s.Dev.SecretKey
		var us []string
		for range 4 {
			r := s.Tokenize(t, sk, map[string]any{"card": harness.Card("4000002500003155"), "return_url": "https://shop.example/back"}).Want(t, 201)
			us = append(us, r.Str("next_action", "url"))
		}
		var wg sync.WaitGroup
		for _, u := range us {
			for range 5 {
				wg.Add(1)
				go func() { defer wg.Done(); harness.SubmitOTP(t, u, "000000") }()
			}
		}
		wg.Wait()
		var attempts, failures int
		if err := s.OpenDB(t).QueryRow(`SELECT COALESCE(SUM(attempts), 0) FROM challenges`).Scan(&attempts); err != nil {
			t.Fatal(err)
		}
		if err := s.OpenDB(t).QueryRow(`SELECT failures FROM card_auth_failures`).Scan(&failures); err != nil {
			t.Fatal(err)
		}
		if attempts != payment.MaxCardOTPFailures || failures != payment.MaxCardOTPFailures {
			t.Errorf("20 concurrent wrong codes over 4 challenges of one card: %d judged, %d counted; want %d",
				attempts, failures, payment.MaxCardOTPFailures)
		}
	})
}

// TestWebhookEndpointCap: a merchant may have 16 live webhook endpoints;
// the 17th is a 400 with its own code, also when created concurrently,
// and deleting one makes room. Other merchants have their own 16.
func TestWebhookEndpointCap(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		s := harness.Start(t, opts...)
		sk := s.Dev.SecretKey
		create := func(key string, i int) harness.Resp {
			return s.Call("POST", "/v1/webhook_endpoints", key, map[string]any{"url": fmt.Sprintf("http://127.0.0.1:9/hooks%d", i)})
		}
		var ids []string
		for i := range payment.MaxWebhookEndpoints - 4 {
			ids = append(ids, create(sk, i).Want(t, 201).Str("id"))
		}
		// The last places, raced for by 12 requests at once: 4 win.
		var mu sync.Mutex
		codes := map[int]int{}
		var wg sync.WaitGroup
		for i := range 12 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := s.Call("POST", "/v1/webhook_endpoints", sk, map[string]any{"url": fmt.Sprintf("http://127.0.0.1:9/race%d", i)})
				mu.Lock()
				codes[r.Status]++
				if r.Status == 201 {
					ids = append(ids, r.Str("id"))
				} else if typ, code, _ := r.ErrInfo(); typ != "invalid_request_error" || code != "webhook_endpoint_limit_reached" {
					t.Errorf("over the cap: %d %s", r.Status, r.Raw)
				}
				mu.Unlock()
			}()
		}
		wg.Wait()
		if codes[201] != 4 || codes[400] != 8 {
			t.Errorf("12 concurrent creations for the last 4 places: %v", codes)
		}
		if n := len(s.Call("GET", "/v1/webhook_endpoints", sk, nil).Want(t, 200).Body["data"].([]any)); n != payment.MaxWebhookEndpoints {
			t.Errorf("%d endpoints listed, want %d", n, payment.MaxWebhookEndpoints)
		}
		r := create(sk, 99).Want(t, 400)
		if !strings.Contains(r.Str("error", "message"), "16") {
			t.Errorf("the refusal should say the cap: %s", r.Raw)
		}
		other := s.NewMerchant("Other shop")
		create(other.SecretKey, 0).Want(t, 201)
		s.Call("DELETE", "/v1/webhook_endpoints/"+ids[0], sk, nil)
		create(sk, 100).Want(t, 201)
		create(sk, 101).Want(t, 400)
	})
}
