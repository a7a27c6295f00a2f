package e2e

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"
)

// encryptFor encrypts a card the way a browser's WebCrypto does for a
// session: RSA-OAEP SHA-256 under the session's key, the session id as label.
func encryptFor(t testing.TB, sess resp, number, cvc string) string {
	t.Helper()
	der, err := base64.StdEncoding.DecodeString(sess.str("encryption_key", "spki"))
	if err != nil {
		t.Fatalf("spki: %v: %s", err, sess.Raw)
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := json.Marshal(map[string]any{"number": number, "exp_month": 12, "exp_year": time.Now().Year() + 4, "cvc": cvc, "holder_name": "Siti Aminah"})
	ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, k.(*rsa.PublicKey), plain, []byte(sess.str("id")))
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(ct)
}

func newSession(t testing.TB, s *server, key string, body map[string]any) resp {
	t.Helper()
	return s.call("POST", "/v1/sessions", key, body).want(t, 201)
}

// TestSessionsAPI: the native sessions as API.md gives them, on both backends.
func TestSessionsAPI(t *testing.T) {
	backends(t, func(t *testing.T, opts ...option) {
		s := start(t, opts...)
		sk := s.Dev.SecretKey

		t.Run("create", func(t *testing.T) {
			r := newSession(t, s, sk, map[string]any{"mode": "api", "amount": 3000, "currency": "USD", "customer_reference": "user_example",
				"save_card": "optional", "show_saved_cards": true, "success_url": "https://shop.example/ok"})
			if r.str("status") != "open" || !strings.HasPrefix(r.str("id"), "ps_") || dig(r.Body, "url") != nil ||
				!strings.HasPrefix(r.str("client_secret"), r.str("id")+"_secret_") || r.str("encryption_key", "alg") != "RSA-OAEP-256" ||
				r.str("encryption_key", "kid") == "" || r.str("encryption_key", "jwk", "kty") != "RSA" || r.str("customer") == "" ||
				dig(r.Body, "payment") != nil || dig(r.Body, "token") != nil {
				t.Fatalf("session: %s", r.Raw)
			}
			exp, _ := time.Parse(time.RFC3339Nano, r.str("expires_at"))
			if d := time.Until(exp); d < 14*time.Minute || d > 16*time.Minute {
				t.Errorf("default expiry in %v, want 15 minutes", d)
			}
			// The customer_reference made a customer; a second session finds it.
			again := newSession(t, s, sk, map[string]any{"amount": 100, "customer_reference": "user_example"})
			if again.str("url") != s.URL+"/pay/"+again.str("id") {
				t.Errorf("a redirect session's url: %s", again.Raw)
			}
			// An api-mode session has no hosted page: its id alone opens nothing.
			if pg := challengePage(t, s.URL+"/pay/"+r.str("id")); pg.Status != 404 {
				t.Errorf("hosted page of an api-mode session: %d", pg.Status)
			}
			if again.str("customer") != r.str("customer") {
				t.Errorf("customer_reference made two customers")
			}
			// Keys are shared by sessions (no RSA key per session).
			if again.str("encryption_key", "kid") != r.str("encryption_key", "kid") {
				t.Errorf("each session got its own key")
			}
			g := s.call("GET", "/v1/sessions/"+r.str("id"), sk, nil).want(t, 200)
			if g.str("client_secret") != "" || g.str("status") != "open" {
				t.Errorf("GET session: %s", g.Raw)
			}
			other := s.newMerchant("Other shop")
			s.call("GET", "/v1/sessions/"+r.str("id"), other.SecretKey, nil).want(t, 404)
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
				r := s.call("POST", "/v1/sessions", sk, c.body)
				if r.Status/100 != 4 || r.str("error", "param") != c.param {
					t.Errorf("%v: %d %s, want 4xx param %s", c.body, r.Status, r.Raw, c.param)
				}
			}
		})

		t.Run("confirm with an encrypted card", func(t *testing.T) {
			r := newSession(t, s, sk, map[string]any{"mode": "api", "amount": 3000, "customer_reference": "payer_1", "save_card": "optional"})
			id := r.str("id")
			c := s.call("POST", "/v1/sessions/"+id+"/confirm", sk, map[string]any{"encrypted_card": encryptFor(t, r, "4242424242424242", "123"), "save_card": true}).want(t, 200)
			if c.str("status") != "succeeded" || c.str("payment") == "" || c.str("token") == "" {
				t.Fatalf("confirmed: %s", c.Raw)
			}
			p := s.call("GET", "/v1/payments/"+c.str("payment"), sk, nil).want(t, 200)
			if p.str("status") != "succeeded" || dig(p.Body, "amount") != float64(3000) || p.str("customer") != r.str("customer") {
				t.Errorf("payment: %s", p.Raw)
			}
			if tok := s.call("GET", "/v1/tokens/"+c.str("token"), sk, nil).want(t, 200); tok.str("customer") != r.str("customer") || tok.str("card", "last4") != "4242" {
				t.Errorf("saved card: %s", tok.Raw)
			}
			// Twice: 422.
			again := s.call("POST", "/v1/sessions/"+id+"/confirm", sk, map[string]any{"encrypted_card": encryptFor(t, r, "4242424242424242", "123")})
			if again.Status != 422 || again.str("error", "code") != "session_completed" {
				t.Errorf("confirm twice: %d %s", again.Status, again.Raw)
			}
		})

		t.Run("a ciphertext is bound to its session", func(t *testing.T) {
			a := newSession(t, s, sk, map[string]any{"amount": 500})
			b := newSession(t, s, sk, map[string]any{"amount": 500})
			auths := s.Sim.Stats().Authorizations
			r := s.call("POST", "/v1/sessions/"+b.str("id")+"/confirm", sk, map[string]any{"encrypted_card": encryptFor(t, a, "4242424242424242", "123")})
			if r.Status != 400 || r.str("error", "param") != "encrypted_card" {
				t.Errorf("another session's ciphertext: %d %s", r.Status, r.Raw)
			}
			for _, junk := range []string{"bm90IGEgY2lwaGVydGV4dA==", "%%%", strings.Repeat("A", 5000)} {
				if r := s.call("POST", "/v1/sessions/"+b.str("id")+"/confirm", sk, map[string]any{"encrypted_card": junk}); r.Status != 400 {
					t.Errorf("junk ciphertext: %d %s", r.Status, r.Raw)
				}
			}
			if s.Sim.Stats().Authorizations != auths {
				t.Errorf("a refused ciphertext reached the acquirer")
			}
			// The session is still open and takes its own ciphertext.
			s.call("POST", "/v1/sessions/"+b.str("id")+"/confirm", sk, map[string]any{"encrypted_card": encryptFor(t, b, "4242424242424242", "123")}).want(t, 200)
		})

		t.Run("publishable key and client secret", func(t *testing.T) {
			r := newSession(t, s, sk, map[string]any{"mode": "api", "amount": 700})
			pk := s.Dev.PublishableKey
			ct := encryptFor(t, r, "5555555555554444", "321")
			if bad := s.call("POST", "/v1/sessions/"+r.str("id")+"/confirm", pk, map[string]any{"encrypted_card": ct, "client_secret": r.str("id") + "_secret_wrong"}); bad.Status != 401 {
				t.Errorf("wrong client secret: %d %s", bad.Status, bad.Raw)
			}
			other := s.newMerchant("Third shop")
			if bad := s.call("POST", "/v1/sessions/"+r.str("id")+"/confirm", other.PublishableKey, map[string]any{"encrypted_card": ct, "client_secret": r.str("client_secret")}); bad.Status != 401 {
				t.Errorf("another merchant's publishable key: %d %s", bad.Status, bad.Raw)
			}
			ok := s.call("POST", "/v1/sessions/"+r.str("id")+"/confirm", pk, map[string]any{"encrypted_card": ct, "client_secret": r.str("client_secret")}).want(t, 200)
			if ok.str("status") != "succeeded" {
				t.Errorf("confirm with pk: %s", ok.Raw)
			}
			// A publishable key opens nothing else.
			s.call("GET", "/v1/sessions/"+r.str("id"), pk, nil).want(t, 401)
		})

		t.Run("declines leave the session open, five fail it", func(t *testing.T) {
			r := newSession(t, s, sk, map[string]any{"amount": 900})
			for i := 1; i <= 5; i++ {
				d := s.call("POST", "/v1/sessions/"+r.str("id")+"/confirm", sk, map[string]any{"encrypted_card": encryptFor(t, r, "4000000000000002", "123")})
				if d.Status != 402 || d.str("error", "code") != "card_declined" {
					t.Fatalf("decline %d: %d %s", i, d.Status, d.Raw)
				}
				g := s.call("GET", "/v1/sessions/"+r.str("id"), sk, nil).want(t, 200)
				want := "open"
				if i == 5 {
					want = "failed"
				}
				if g.str("status") != want || dig(g.Body, "attempts") != float64(i) || g.str("last_error", "code") != "card_declined" {
					t.Errorf("after decline %d: %s", i, g.Raw)
				}
			}
			if r := s.call("POST", "/v1/sessions/"+r.str("id")+"/confirm", sk, map[string]any{"encrypted_card": encryptFor(t, r, "4242424242424242", "123")}); r.Status != 422 {
				t.Errorf("confirm a failed session: %d", r.Status)
			}
		})

		t.Run("save the card only", func(t *testing.T) {
			r := newSession(t, s, sk, map[string]any{"customer_reference": "saver"})
			if r.str("save_card") != "always" || dig(r.Body, "amount") != float64(0) {
				t.Fatalf("save-only session: %s", r.Raw)
			}
			auths := s.Sim.Stats()
			c := s.call("POST", "/v1/sessions/"+r.str("id")+"/confirm", sk, map[string]any{"encrypted_card": encryptFor(t, r, "378282246310005", "1234")}).want(t, 200)
			if c.str("status") != "succeeded" || c.str("token") == "" || dig(c.Body, "payment") != nil {
				t.Errorf("save only: %s", c.Raw)
			}
			if after := s.Sim.Stats(); after.Verifications != auths.Verifications+1 || after.Captures != auths.Captures {
				t.Errorf("a save-only session must verify and charge nothing: %+v → %+v", auths, after)
			}
		})

		t.Run("saved card with its CVC", func(t *testing.T) {
			first := newSession(t, s, sk, map[string]any{"amount": 1000, "customer_reference": "returning", "save_card": "always"})
			c := s.call("POST", "/v1/sessions/"+first.str("id")+"/confirm", sk, map[string]any{"encrypted_card": encryptFor(t, first, "4242424242424242", "123")}).want(t, 200)
			second := newSession(t, s, sk, map[string]any{"amount": 2000, "customer_reference": "returning", "show_saved_cards": true})
			p := s.call("POST", "/v1/sessions/"+second.str("id")+"/confirm", sk, map[string]any{"token": c.str("token"), "cvc": "123"}).want(t, 200)
			if p.str("status") != "succeeded" || p.str("token") != c.str("token") {
				t.Errorf("pay with the saved card: %s", p.Raw)
			}
			// Another customer's card cannot be used.
			third := newSession(t, s, sk, map[string]any{"amount": 2000, "customer_reference": "stranger", "show_saved_cards": true})
			if r := s.call("POST", "/v1/sessions/"+third.str("id")+"/confirm", sk, map[string]any{"token": c.str("token"), "cvc": "123"}); r.Status != 404 {
				t.Errorf("another customer's token: %d %s", r.Status, r.Raw)
			}
		})

		t.Run("3-D Secure", func(t *testing.T) {
			r := newSession(t, s, sk, map[string]any{"amount": 1200, "success_url": "https://shop.example/ok"})
			c := s.call("POST", "/v1/sessions/"+r.str("id")+"/confirm", sk, map[string]any{"encrypted_card": encryptFor(t, r, "4000002500003155", "123")}).want(t, 200)
			if c.str("status") != "requires_action" || !strings.Contains(c.str("next_action", "url"), "/3ds/") {
				t.Fatalf("challenge: %s", c.Raw)
			}
			done := submitOTP(t, c.str("next_action", "url"), "123456")
			if done.Status != 303 || done.Location != s.URL+"/pay/"+r.str("id")+"/return?payment="+c.str("payment")+"&status=succeeded" {
				t.Errorf("after the challenge: %d %q", done.Status, done.Location)
			}
			if g := s.call("GET", "/v1/sessions/"+r.str("id"), sk, nil).want(t, 200); g.str("status") != "succeeded" {
				t.Errorf("session after the challenge (nobody came back): %s", g.Raw)
			}
		})

		t.Run("cancel", func(t *testing.T) {
			r := newSession(t, s, sk, map[string]any{"amount": 100})
			if c := s.call("POST", "/v1/sessions/"+r.str("id")+"/cancel", sk, nil).want(t, 200); c.str("status") != "canceled" {
				t.Errorf("cancel: %s", c.Raw)
			}
			if c := s.call("POST", "/v1/sessions/"+r.str("id")+"/confirm", sk, map[string]any{"encrypted_card": encryptFor(t, r, "4242424242424242", "123")}); c.Status != 422 || c.str("error", "code") != "session_canceled" {
				t.Errorf("confirm canceled: %d %s", c.Status, c.Raw)
			}
			s.call("POST", "/v1/sessions/"+r.str("id")+"/cancel", sk, nil).want(t, 422)
		})

		t.Run("concurrent confirmations charge once", func(t *testing.T) {
			r := newSession(t, s, sk, map[string]any{"amount": 4100})
			ct := encryptFor(t, r, "4242424242424242", "123")
			auths := s.Sim.Stats().Authorizations
			var wg sync.WaitGroup
			var mu sync.Mutex
			codes := map[int]int{}
			for i := 0; i < 10; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c := s.call("POST", "/v1/sessions/"+r.str("id")+"/confirm", sk, map[string]any{"encrypted_card": ct})
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

// TestSessionExpiry: a session past its time is expired even if nobody
// looks (the sweeper), refuses payment, and its page goes to expired_url.
func TestSessionExpiry(t *testing.T) {
	s := start(t, withSweepInterval(100*time.Millisecond))
	sk := s.Dev.SecretKey
	r := newSession(t, s, sk, map[string]any{"amount": 100, "expires_in": 60, "expired_url": "https://shop.example/expired"})
	// Move the session's expiry into the past through the database, as time
	// would: 60 s is the shortest expires_in a merchant may ask for.
	db := openDB(t, s)
	if _, err := db.Exec(rebind(s, `UPDATE sessions SET expires_at = ? WHERE id = ?`), time.Now().Add(-time.Second).UnixMicro(), r.str("id")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var status string
		if err := db.QueryRow(rebind(s, `SELECT status FROM sessions WHERE id = ?`), r.str("id")).Scan(&status); err != nil {
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
	if c := s.call("POST", "/v1/sessions/"+r.str("id")+"/confirm", sk, map[string]any{"encrypted_card": encryptFor(t, r, "4242424242424242", "123")}); c.Status != 422 || c.str("error", "code") != "session_expired" {
		t.Errorf("confirm expired: %d %s", c.Status, c.Raw)
	}
	pg := challengePage(t, r.str("url"))
	if pg.Status != 303 || pg.Location != "https://shop.example/expired?session_id="+r.str("id") {
		t.Errorf("expired page: %d %q", pg.Status, pg.Location)
	}
}
