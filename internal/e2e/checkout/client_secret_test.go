package checkout

// A session's client secret: never kept in clear, and needed to act on an
// API-mode session from a browser.

import (
	"strings"
	"testing"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// pageConfirm posts the checkout page's JSON confirmation as its script does.
func pageConfirm(t testing.TB, s *harness.Server, sessionID string, body map[string]any) harness.Resp {
	t.Helper()
	return s.Call("POST", "/pay/"+sessionID+"/confirm", "", body, "Origin", s.URL, "Sec-Fetch-Site", "same-origin")
}

// TestSessionClientSecretNotStoredInClear: no table holds a session's
// client_secret in clear, and an idempotent replay still returns it. The
// defect it was written against: a session's client_secret is kept only as
// a hash (hashClientSecret: "how a client secret is kept"), yet a
// POST /v1/sessions under an Idempotency-Key — which every careful client
// sends — freezes the whole 201 body, client_secret included, in clear in
// idempotency_keys.response for at least 24 hours. Anyone who can read the
// database (a backup, a replica) gets live client secrets, which with the
// merchant's publishable key (public by design) confirm or probe sessions.
func TestSessionClientSecretNotStoredInClear(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	r := s.Call("POST", "/v1/sessions", sk, map[string]any{"mode": "api", "amount": 1500}, "Idempotency-Key", "order-1500").Want(t, 201)
	secret := r.Str("client_secret")
	if !strings.Contains(secret, "_secret_") {
		t.Fatalf("no client_secret: %s", r.Raw)
	}
	if where := s.DBHolds(t, strings.SplitN(secret, "_secret_", 2)[1]); len(where) > 0 {
		t.Errorf("the session's client_secret is stored in clear at %v", where)
	}
	// The replay must still give the merchant its client_secret.
	again := s.Call("POST", "/v1/sessions", sk, map[string]any{"mode": "api", "amount": 1500}, "Idempotency-Key", "order-1500").Want(t, 201)
	if again.Str("client_secret") != secret {
		t.Errorf("replay: %s", again.Raw)
	}
}

// TestSessionAPIModeHostedPageNeedsClientSecret: the hosted page neither
// lists an api-mode session's saved cards nor pays it by the id alone. The
// defect it was written against: an api-mode session is to be confirmed from the merchant's own page with the publishable key
// and the session's client_secret (API.md) — a wrong secret is a 401. But
// the hosted page endpoints serve every session by its id alone, so
// whoever learns an api-mode session's id (it is the client_secret's
// prefix, in the merchant's URLs and logs, never treated as a secret in
// that mode) sees the customer's saved cards on /pay/{id} and charges one
// with one click through /pay/{id}/confirm, or cancels the session, with
// no client_secret at all.
func TestSessionAPIModeHostedPageNeedsClientSecret(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	first := s.NewSession(t, sk, map[string]any{"mode": "api", "amount": 1000, "customer_reference": "api_buyer", "save_card": "always"})
	tok := s.Call("POST", "/v1/sessions/"+first.Str("id")+"/confirm", sk, map[string]any{"encrypted_card": harness.EncryptFor(t, first, "4242424242424242", "123")}).Want(t, 200).Str("token")
	r := s.NewSession(t, sk, map[string]any{"mode": "api", "amount": 2000, "customer_reference": "api_buyer", "show_saved_cards": true})
	id := r.Str("id")
	// The API refuses a browser without the client secret…
	s.Call("POST", "/v1/sessions/"+id+"/confirm", s.Dev.PublishableKey, map[string]any{"token": tok}).Want(t, 401)
	// …the hosted page does not ask for it.
	pg := s.Call("GET", "/pay/"+id, "", nil)
	if pg.Status == 200 && strings.Contains(string(pg.Raw), tok) {
		t.Errorf("the hosted page of an api-mode session lists the customer's saved card (%s) to anyone with the id", tok)
	}
	auths := s.Sim.Stats().Authorizations
	res := pageConfirm(t, s, id, map[string]any{"token": tok})
	if s.Sim.Stats().Authorizations != auths {
		t.Errorf("an api-mode session was paid through /pay/{id}/confirm without its client_secret: %d %s", res.Status, res.Raw)
	}
}
