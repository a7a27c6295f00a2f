package e2e

import (
	"testing"
	"time"
)

// An unverified save of a card the customer already has on file verified
// must not rewrite what the issuer confirmed (expiry, holder name) while
// the token still reads "verified" (issue 15, point 4).
func TestUnverifiedSaveKeepsVerifiedCard(t *testing.T) {
	backends(t, testUnverifiedSaveKeepsVerifiedCard)
}

func testUnverifiedSaveKeepsVerifiedCard(t *testing.T, opts ...option) {
	s := start(t, opts...)
	sk := s.Dev.SecretKey
	cus := s.call("POST", "/v1/customers", sk, map[string]any{"reference": "keeps-verified"}).want(t, 201).str("id")
	first := tokenize(t, s, sk, map[string]any{"card": card("4242424242424242"), "customer": cus}).want(t, 201)
	if first.str("verification", "status") != "verified" {
		t.Fatalf("first save: %s", first.Raw)
	}
	other := cardWith(card("4242424242424242"), "exp_month", 3, "exp_year", time.Now().Year()+7, "holder_name", "Someone Else")
	again := tokenize(t, s, sk, map[string]any{"card": other, "customer": cus, "verify": false})
	if again.Status != 200 && again.Status != 201 {
		t.Fatalf("unverified save: %d %s", again.Status, again.Raw)
	}
	got := s.call("GET", "/v1/tokens/"+first.str("id"), sk, nil).want(t, 200)
	if again.str("id") != first.str("id") || got.str("verification", "status") != "verified" ||
		dig(got.Body, "card", "exp_month") != dig(first.Body, "card", "exp_month") ||
		dig(got.Body, "card", "exp_year") != dig(first.Body, "card", "exp_year") ||
		got.str("card", "holder_name") != first.str("card", "holder_name") {
		t.Fatalf("the verified card was rewritten by an unverified save:\nbefore %s\nafter  %s", first.Raw, got.Raw)
	}
	// A verified save of the renewed card does update it.
	renewed := tokenize(t, s, sk, map[string]any{"card": other, "customer": cus})
	got = s.call("GET", "/v1/tokens/"+first.str("id"), sk, nil).want(t, 200)
	if renewed.str("id") != first.str("id") || dig(got.Body, "card", "exp_month") != float64(3) || got.str("card", "holder_name") != "Someone Else" {
		t.Fatalf("a verified save did not update the card: %s", got.Raw)
	}
}
