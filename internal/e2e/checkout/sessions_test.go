package checkout

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// TestSessionsAPI: the native sessions as API.md gives them, on both backends.
func TestSessionsAPI(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		s := harness.Start(t, opts...)
		sk := s.Dev.SecretKey

		t.Run("create", func(t *testing.T) {
			r := s.NewSession(t, sk, map[string]any{"mode": "api", "amount": 3000, "currency": "USD", "customer_reference": "user_example",
				"save_card": "optional", "show_saved_cards": true, "success_url": "https://shop.example/ok"})
			if r.Str("status") != "open" || !strings.HasPrefix(r.Str("id"), "ps_") || harness.Dig(r.Body, "url") != nil ||
				!strings.HasPrefix(r.Str("client_secret"), r.Str("id")+"_secret_") || r.Str("encryption_key", "alg") != "RSA-OAEP-256" ||
				r.Str("encryption_key", "kid") == "" || r.Str("encryption_key", "jwk", "kty") != "RSA" || r.Str("customer") == "" ||
				harness.Dig(r.Body, "payment") != nil || harness.Dig(r.Body, "token") != nil {
				t.Fatalf("session: %s", r.Raw)
			}
			exp, _ := time.Parse(time.RFC3339Nano, r.Str("expires_at"))
			if d := time.Until(exp); d < 14*time.Minute || d > 16*time.Minute {
				t.Errorf("default expiry in %v, want 15 minutes", d)
			}
			// The customer_reference made a customer; a second session finds it.
			again := s.NewSession(t, sk, map[string]any{"amount": 100, "customer_reference": "user_example"})
			if again.Str("url") != s.URL+"/pay/"+again.Str("id") {
				t.Errorf("a redirect session's url: %s", again.Raw)
			}
			// An api-mode session has no hosted page: its id alone opens nothing.
			if pg := harness.ChallengePage(t, s.URL+"/pay/"+r.Str("id")); pg.Status != 404 {
				t.Errorf("hosted page of an api-mode session: %d", pg.Status)
			}
			if again.Str("customer") != r.Str("customer") {
				t.Errorf("customer_reference made two customers")
			}
			// Keys are shared by sessions (no RSA key per session).
			if again.Str("encryption_key", "kid") != r.Str("encryption_key", "kid") {
				t.Errorf("each session got its own key")
			}
			g := s.Call("GET", "/v1/sessions/"+r.Str("id"), sk, nil).Want(t, 200)
			if g.Str("client_secret") != "" || g.Str("status") != "open" {
				t.Errorf("GET session: %s", g.Raw)
			}
			other := s.NewMerchant("Other shop")
			s.Call("GET", "/v1/sessions/"+r.Str("id"), other.SecretKey, nil).Want(t, 404)
		})

		t.Run("bad input", func(t *testing.T) {
			for _, c := range []struct {
				body  map[string]any
				param string
			}{
				{map[string]any{"mode": "popup"}, "mode"},
				{map[string]any{"amount": -1}, "amount"},
				{map[string]any{"amount": 100, "currency": "XXZ"}, "currency"},
				{map[string]any{"amount": 100, "save_card": "sometimes"}, "save_card"},
				{map[string]any{"amount": 100, "expires_in": 59}, "expires_in"},
				{map[string]any{"amount": 100, "expires_in": 86401}, "expires_in"},
				{map[string]any{"amount": 100, "success_url": "javascript:alert(1)"}, "success_url"},
				{map[string]any{"amount": 100, "show_saved_cards": true}, "show_saved_cards"},
				{map[string]any{"amount": 100, "customer": "cus_nope"}, "customer"},
			} {
				r := s.Call("POST", "/v1/sessions", sk, c.body)
				if r.Status/100 != 4 || r.Str("error", "param") != c.param {
					t.Errorf("%v: %d %s, want 4xx param %s", c.body, r.Status, r.Raw, c.param)
				}
			}
		})

		t.Run("confirm with an encrypted card", func(t *testing.T) {
			r := s.NewSession(t, sk, map[string]any{"mode": "api", "amount": 3000, "customer_reference": "payer_1", "save_card": "optional"})
			id := r.Str("id")
			c := s.Call("POST", "/v1/sessions/"+id+"/confirm", sk, map[string]any{"encrypted_card": harness.EncryptFor(t, r, "4242424242424242", "123"), "save_card": true}).Want(t, 200)
			if c.Str("status") != "succeeded" || c.Str("payment") == "" || c.Str("token") == "" {
				t.Fatalf("confirmed: %s", c.Raw)
			}
			p := s.Call("GET", "/v1/payments/"+c.Str("payment"), sk, nil).Want(t, 200)
			if p.Str("status") != "succeeded" || harness.Dig(p.Body, "amount") != float64(3000) || p.Str("customer") != r.Str("customer") {
				t.Errorf("payment: %s", p.Raw)
			}
			if tok := s.Call("GET", "/v1/tokens/"+c.Str("token"), sk, nil).Want(t, 200); tok.Str("customer") != r.Str("customer") || tok.Str("card", "last4") != "4242" {
				t.Errorf("saved card: %s", tok.Raw)
			}
			// Twice: 422.
			again := s.Call("POST", "/v1/sessions/"+id+"/confirm", sk, map[string]any{"encrypted_card": harness.EncryptFor(t, r, "4242424242424242", "123")})
			if again.Status != 422 || again.Str("error", "code") != "session_completed" {
				t.Errorf("confirm twice: %d %s", again.Status, again.Raw)
			}
		})

		t.Run("a ciphertext is bound to its session", func(t *testing.T) {
			a := s.NewSession(t, sk, map[string]any{"amount": 500})
			b := s.NewSession(t, sk, map[string]any{"amount": 500})
			auths := s.Sim.Stats().Authorizations
			r := s.Call("POST", "/v1/sessions/"+b.Str("id")+"/confirm", sk, map[string]any{"encrypted_card": harness.EncryptFor(t, a, "4242424242424242", "123")})
			if r.Status != 400 || r.Str("error", "param") != "encrypted_card" {
				t.Errorf("another session's ciphertext: %d %s", r.Status, r.Raw)
			}
			for _, junk := range []string{"bm90IGEgY2lwaGVydGV4dA==", "%%%", strings.Repeat("A", 5000)} {
				if r := s.Call("POST", "/v1/sessions/"+b.Str("id")+"/confirm", sk, map[string]any{"encrypted_card": junk}); r.Status != 400 {
					t.Errorf("junk ciphertext: %d %s", r.Status, r.Raw)
				}
			}
			if s.Sim.Stats().Authorizations != auths {
				t.Errorf("a refused ciphertext reached the acquirer")
			}
			// The session is still open and takes its own ciphertext.
			s.Call("POST", "/v1/sessions/"+b.Str("id")+"/confirm", sk, map[string]any{"encrypted_card": harness.EncryptFor(t, b, "4242424242424242", "123")}).Want(t, 200)
		})

		t.Run("publishable key and client secret", func(t *testing.T) {
			r := s.NewSession(t, sk, map[string]any{"mode": "api", "amount": 700})
			pk := s.Dev.PublishableKey
			ct := harness.EncryptFor(t, r, "5555555555554444", "321")
			if bad := s.Call("POST", "/v1/sessions/"+r.Str("id")+"/confirm", pk, map[string]any{"encrypted_card": ct, "client_secret": r.Str("id") + "_secret_wrong"}); bad.Status != 401 {
				t.Errorf("wrong client secret: %d %s", bad.Status, bad.Raw)
			}
			other := s.NewMerchant("Third shop")
			if bad := s.Call("POST", "/v1/sessions/"+r.Str("id")+"/confirm", other.PublishableKey, map[string]any{"encrypted_card": ct, "client_secret": r.Str("client_secret")}); bad.Status != 401 {
				t.Errorf("another merchant's publishable key: %d %s", bad.Status, bad.Raw)
			}
			ok := s.Call("POST", "/v1/sessions/"+r.Str("id")+"/confirm", pk, map[string]any{"encrypted_card": ct, "client_secret": r.Str("client_secret")}).Want(t, 200)
			if ok.Str("status") != "succeeded" {
				t.Errorf("confirm with pk: %s", ok.Raw)
			}
			// A publishable key opens nothing else.
			s.Call("GET", "/v1/sessions/"+r.Str("id"), pk, nil).Want(t, 401)
		})

		t.Run("declines leave the session open, five fail it", func(t *testing.T) {
			r := s.NewSession(t, sk, map[string]any{"amount": 900})
			for i := 1; i <= 5; i++ {
				d := s.Call("POST", "/v1/sessions/"+r.Str("id")+"/confirm", sk, map[string]any{"encrypted_card": harness.EncryptFor(t, r, "4000000000000002", "123")})
				if d.Status != 402 || d.Str("error", "code") != "card_declined" {
					t.Fatalf("decline %d: %d %s", i, d.Status, d.Raw)
				}
				g := s.Call("GET", "/v1/sessions/"+r.Str("id"), sk, nil).Want(t, 200)
				want := "open"
				if i == 5 {
					want = "failed"
				}
				if g.Str("status") != want || harness.Dig(g.Body, "attempts") != float64(i) || g.Str("last_error", "code") != "card_declined" {
					t.Errorf("after decline %d: %s", i, g.Raw)
				}
			}
			if r := s.Call("POST", "/v1/sessions/"+r.Str("id")+"/confirm", sk, map[string]any{"encrypted_card": harness.EncryptFor(t, r, "4242424242424242", "123")}); r.Status != 422 {
				t.Errorf("confirm a failed session: %d", r.Status)
			}
		})

		t.Run("save the card only", func(t *testing.T) {
			r := s.NewSession(t, sk, map[string]any{"customer_reference": "saver"})
			if r.Str("save_card") != "always" || harness.Dig(r.Body, "amount") != float64(0) {
				t.Fatalf("save-only session: %s", r.Raw)
			}
			auths := s.Sim.Stats()
			c := s.Call("POST", "/v1/sessions/"+r.Str("id")+"/confirm", sk, map[string]any{"encrypted_card": harness.EncryptFor(t, r, "378282246310005", "1234")}).Want(t, 200)
			if c.Str("status") != "succeeded" || c.Str("token") == "" || harness.Dig(c.Body, "payment") != nil {
				t.Errorf("save only: %s", c.Raw)
			}
			if after := s.Sim.Stats(); after.Verifications != auths.Verifications+1 || after.Captures != auths.Captures {
				t.Errorf("a save-only session must verify and charge nothing: %+v → %+v", auths, after)
			}
		})

		t.Run("saved card with its CVC", func(t *testing.T) {
			first := s.NewSession(t, sk, map[string]any{"amount": 1000, "customer_reference": "returning", "save_card": "always"})
			c := s.Call("POST", "/v1/sessions/"+first.Str("id")+"/confirm", sk, map[string]any{"encrypted_card": harness.EncryptFor(t, first, "4242424242424242", "123")}).Want(t, 200)
			second := s.NewSession(t, sk, map[string]any{"amount": 2000, "customer_reference": "returning", "show_saved_cards": true})
			p := s.Call("POST", "/v1/sessions/"+second.Str("id")+"/confirm", sk, map[string]any{"token": c.Str("token"), "cvc": "123"}).Want(t, 200)
			if p.Str("status") != "succeeded" || p.Str("token") != c.Str("token") {
				t.Errorf("pay with the saved card: %s", p.Raw)
			}
			// Another customer's card cannot be used.
			third := s.NewSession(t, sk, map[string]any{"amount": 2000, "customer_reference": "stranger", "show_saved_cards": true})
			if r := s.Call("POST", "/v1/sessions/"+third.Str("id")+"/confirm", sk, map[string]any{"token": c.Str("token"), "cvc": "123"}); r.Status != 404 {
				t.Errorf("another customer's token: %d %s", r.Status, r.Raw)
			}
		})

		t.Run("3-D Secure", func(t *testing.T) {
			r := s.NewSession(t, sk, map[string]any{"amount": 1200, "success_url": "https://shop.example/ok"})
			c := s.Call("POST", "/v1/sessions/"+r.Str("id")+"/confirm", sk, map[string]any{"encrypted_card": harness.EncryptFor(t, r, "4000002500003155", "123")}).Want(t, 200)
			if c.Str("status") != "requires_action" || !strings.Contains(c.Str("next_action", "url"), "/3ds/") {
				t.Fatalf("challenge: %s", c.Raw)
			}
			done := harness.SubmitOTP(t, c.Str("next_action", "url"), "123456")
			if done.Status != 303 || done.Location != s.URL+"/pay/"+r.Str("id")+"/return?payment="+c.Str("payment")+"&status=succeeded" {
				t.Errorf("after the challenge: %d %q", done.Status, done.Location)
			}
			if g := s.Call("GET", "/v1/sessions/"+r.Str("id"), sk, nil).Want(t, 200); g.Str("status") != "succeeded" {
				t.Errorf("session after the challenge (nobody came back): %s", g.Raw)
			}
		})

		t.Run("cancel", func(t *testing.T) {
			r := s.NewSession(t, sk, map[string]any{"amount": 100})
			if c := s.Call("POST", "/v1/sessions/"+r.Str("id")+"/cancel", sk, nil).Want(t, 200); c.Str("status") != "canceled" {
				t.Errorf("cancel: %s", c.Raw)
			}
			if c := s.Call("POST", "/v1/sessions/"+r.Str("id")+"/confirm", sk, map[string]any{"encrypted_card": harness.EncryptFor(t, r, "4242424242424242", "123")}); c.Status != 422 || c.Str("error", "code") != "session_canceled" {
				t.Errorf("confirm canceled: %d %s", c.Status, c.Raw)
			}
			s.Call("POST", "/v1/sessions/"+r.Str("id")+"/cancel", sk, nil).Want(t, 422)
		})

		t.Run("concurrent confirmations charge once", func(t *testing.T) {
			r := s.NewSession(t, sk, map[string]any{"amount": 4100})
			ct := harness.EncryptFor(t, r, "4242424242424242", "123")
			auths := s.Sim.Stats().Authorizations
			var wg sync.WaitGroup
			var mu sync.Mutex
			codes := map[int]int{}
			for i := 0; i < 10; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c := s.Call("POST", "/v1/sessions/"+r.Str("id")+"/confirm", sk, map[string]any{"encrypted_card": ct})
					mu.Lock()
					codes[c.Status]++
					mu.Unlock()
				}()
			}
			wg.Wait()
			if codes[200] != 1 || codes[200]+codes[409]+codes[422] != 10 {
				t.Errorf("10 concurrent confirmations: %v, want one 200 and the rest 409/422", codes)
			}
			if got := s.Sim.Stats().Authorizations; got != auths+1 {
				t.Errorf("authorizations %d → %d", auths, got)
			}
		})
	})
}

// TestSessionCustomerReferenceConcurrent: twenty concurrent sessions naming one new
// customer_reference all succeed and share one customer, on both backends.
func TestSessionCustomerReferenceConcurrent(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		s := harness.Start(t, opts...)
		sk := s.Dev.SecretKey
		var wg sync.WaitGroup
		var mu sync.Mutex
		custs := map[string]int{}
		codes := map[int]int{}
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := s.Call("POST", "/v1/sessions", sk, map[string]any{"amount": 100, "customer_reference": "race_ref"})
				mu.Lock()
				codes[r.Status]++
				if r.Status == 201 {
					custs[r.Str("customer")]++
				}
				mu.Unlock()
			}()
		}
		wg.Wait()
		if codes[201] != 20 || len(custs) != 1 {
			t.Errorf("20 concurrent sessions with one new customer_reference: statuses %v, customers %v", codes, custs)
		}
	})
}

// TestSessionKeyRotation: a session made under a key that has since been rotated
// out (older than 24 h, a new key for new sessions) still decrypts its
// cards, after a restart, and keeps showing its own kid.
func TestSessionKeyRotation(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	a := s.NewSession(t, sk, map[string]any{"mode": "api", "amount": 800})
	db := s.OpenDB(t)
	if _, err := db.Exec(s.Rebind(`UPDATE session_keys SET created = ?`), time.Now().Add(-25*time.Hour).UnixMicro()); err != nil {
		t.Fatal(err)
	}
	s2 := s.Restart()
	b := s2.NewSession(t, sk, map[string]any{"mode": "api", "amount": 800})
	if a.Str("encryption_key", "kid") == b.Str("encryption_key", "kid") {
		t.Fatalf("no new key after the rotation period")
	}
	if c := s2.Call("POST", "/v1/sessions/"+a.Str("id")+"/confirm", sk, map[string]any{"encrypted_card": harness.EncryptFor(t, a, "4242424242424242", "123")}); c.Status != 200 {
		t.Errorf("a session made under the previous key: %d %s", c.Status, c.Raw)
	}
	if g := s2.Call("GET", "/v1/sessions/"+b.Str("id"), sk, nil); g.Str("encryption_key", "kid") != b.Str("encryption_key", "kid") {
		t.Errorf("the new session's kid changed: %s", g.Raw)
	}
}

// TestSessionRetryWithAnotherCard: after a network error, a retry with
// another card charges the card the payment and token record, and a card
// that needs 3-D Secure still gets its challenge. The defect it was written
// against: a session's payment id is
// derived from its attempt number (confirm: "session|id|attempt"), and only
// card errors move that number on. When the acquirer cannot be reached (a
// network error before anything was charged: 502, and the page says "We
// could not reach the bank. Please try again."), the holder may well try
// another card; the retry derives the same payment id, CreatePayment finds
// it in processing and "resumes" it — the first card's record — with the new
// card's data:
//   - the acquirer charges card B while the payment shows card A's brand and
//     last 4; with save_card the token is built from card A's mask, BIN and
//     fingerprint around card B's sealed number, so every later charge of
//     "Visa •••• 4242" charges the Mastercard;
//   - a card B that needs 3-D Secure is charged without its challenge (the
//     resumed payment skips authentication; authentication: not_required).
func TestSessionRetryWithAnotherCard(t *testing.T) {
	t.Parallel()
	proc := harness.NewAcquirer()
	s := harness.Start(t, harness.WithProcessor(proc))
	sk := s.Dev.SecretKey
	// unreachable makes the session's first attempt fail at the network.
	unreachable := func(t *testing.T, r harness.Resp) {
		t.Helper()
		proc.DropSale.Store(true)
		first := s.Call("POST", "/v1/sessions/"+r.Str("id")+"/confirm", sk, map[string]any{"encrypted_card": harness.EncryptFor(t, r, "4242424242424242", "123")})
		if first.Status != 502 {
			t.Fatalf("unreachable acquirer: %d %s", first.Status, first.Raw)
		}
	}
	lastCharged := proc.Charged

	t.Run("another card", func(t *testing.T) {
		r := s.NewSession(t, sk, map[string]any{"amount": 1800, "customer_reference": "two_cards", "save_card": "always"})
		unreachable(t, r)
		before := len(lastCharged())
		c := s.Call("POST", "/v1/sessions/"+r.Str("id")+"/confirm", sk, map[string]any{"encrypted_card": harness.EncryptFor(t, r, "5555555555554444", "123")})
		if c.Status != 200 || c.Str("status") != "succeeded" {
			t.Fatalf("second card: %d %s", c.Status, c.Raw)
		}
		charged := lastCharged()[before:]
		p := s.Call("GET", "/v1/payments/"+c.Str("payment"), sk, nil).Want(t, 200)
		if len(charged) != 1 || p.Str("card", "last4") != charged[0] {
			t.Errorf("the acquirer charged the card ending %v; the payment records the card ending %s (%s)", charged, p.Str("card", "last4"), p.Str("card", "brand"))
		}
		tok := s.Call("GET", "/v1/tokens/"+c.Str("token"), sk, nil).Want(t, 200)
		s.Call("POST", "/v1/payments", sk, map[string]any{"amount": 500, "token": c.Str("token")}).Want(t, 201)
		all := lastCharged()
		if later := all[len(all)-1]; later != tok.Str("card", "last4") {
			t.Errorf("the saved token shows %s •••• %s but charging it charges the card ending %s", tok.Str("card", "brand"), tok.Str("card", "last4"), later)
		}
	})

	t.Run("a 3-D Secure card", func(t *testing.T) {
		r := s.NewSession(t, sk, map[string]any{"amount": 1800})
		unreachable(t, r)
		c := s.Call("POST", "/v1/sessions/"+r.Str("id")+"/confirm", sk, map[string]any{"encrypted_card": harness.EncryptFor(t, r, "4000002500003155", "123")})
		if c.Status != 200 || c.Str("status") != "requires_action" {
			p := s.Call("GET", "/v1/payments/"+c.Str("payment"), sk, nil)
			t.Errorf("a card that needs 3-D Secure, tried after a network error: session %d %q, payment %s (authentication %v), want requires_action",
				c.Status, c.Str("status"), p.Str("status"), harness.Dig(p.Body, "authentication", "status"))
		}
	})
}
