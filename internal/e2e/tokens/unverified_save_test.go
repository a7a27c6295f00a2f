package tokens

import (
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// An unverified save of a card the customer already has on file verified
// must not rewrite what the issuer confirmed (expiry, holder name) while
// the token still reads "verified" (issue 15, point 4).
func TestUnverifiedSaveKeepsVerifiedCard(t *testing.T) {
	t.Parallel()
	harness.Backends(t, testUnverifiedSaveKeepsVerifiedCard)
}

func testUnverifiedSaveKeepsVerifiedCard(t *testing.T, opts ...harness.Option) {
	s := harness.Start(t, opts...)
	sk := s.Dev.SecretKey
	cus := s.Call("POST", "/v1/customers", sk, map[string]any{"reference": "keeps-verified"}).Want(t, 201).Str("id")
	first := s.Tokenize(t, sk, map[string]any{"card": harness.Card("4242424242424242"), "customer": cus}).Want(t, 201)
	if first.Str("verification", "status") != "verified" {
		t.Fatalf("first save: %s", first.Raw)
	}
	other := harness.With(harness.Card("4242424242424242"), "exp_month", 3, "exp_year", time.Now().Year()+7, "holder_name", "Someone Else")
	again := s.Tokenize(t, sk, map[string]any{"card": other, "customer": cus, "verify": false})
	if again.Status != 200 && again.Status != 201 {
		t.Fatalf("unverified save: %d %s", again.Status, again.Raw)
	}
	got := s.Call("GET", "/v1/tokens/"+first.Str("id"), sk, nil).Want(t, 200)
	if again.Str("id") != first.Str("id") || got.Str("verification", "status") != "verified" ||
		harness.Dig(got.Body, "card", "exp_month") != harness.Dig(first.Body, "card", "exp_month") ||
		harness.Dig(got.Body, "card", "exp_year") != harness.Dig(first.Body, "card", "exp_year") ||
		got.Str("card", "holder_name") != first.Str("card", "holder_name") {
		t.Fatalf("the verified card was rewritten by an unverified save:\nbefore %s\nafter  %s", first.Raw, got.Raw)
	}
	// A verified save of the renewed card does update it.
	renewed := s.Tokenize(t, sk, map[string]any{"card": other, "customer": cus})
	got = s.Call("GET", "/v1/tokens/"+first.Str("id"), sk, nil).Want(t, 200)
	if renewed.Str("id") != first.Str("id") || harness.Dig(got.Body, "card", "exp_month") != float64(3) || got.Str("card", "holder_name") != "Someone Else" {
		t.Fatalf("a verified save did not update the card: %s", got.Raw)
	}
}
