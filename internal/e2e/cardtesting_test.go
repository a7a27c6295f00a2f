package e2e

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	cardrules "github.com/coffer-vault/coffer/internal/card"
	"github.com/coffer-vault/coffer/internal/radar"
)

// candidates lists, in order, the Luhn-valid numbers of a length that
// start with bin and end with last4: what an attacker who sees a token's
// masked card has left to try.
func candidates(bin, last4 string, length int) []string {
	hidden := length - len(bin) - len(last4)
	var out []string
	limit := 1
	for range hidden {
		limit *= 10
	}
	for i := range limit {
		pan := bin + fmt.Sprintf("%0*d", hidden, i) + last4
		if cardrules.Luhn(pan) {
			out = append(out, pan)
		}
	}
	return out
}

// The card-number oracle (issue 15, point 1): with the secret key, an
// attacker tokenizes every candidate between a token's BIN and last four
// without verification, 100 per batch, and compares fingerprints. A token
// shows 6 digits of BIN at most, so a 16-digit card leaves 100,000
// candidates; radar lets 16 different cards per BIN + last four through per
// hour and refuses the rest with 429, audits it and tells the merchant.
func TestCardTestingOracleIsThrottled(t *testing.T) { backends(t, testCardTestingOracleIsThrottled) }

func testCardTestingOracleIsThrottled(t *testing.T, opts ...option) {
	s := start(t, opts...)
	sk := s.Dev.SecretKey
	s.call("POST", "/v1/webhook_endpoints", sk, map[string]any{"url": "http://127.0.0.1:9/hook", "events": []string{"radar.*"}}).want(t, 201)

	const target = "4242424242424242"
	victim := tokenize(t, s, sk, map[string]any{"card": card(target)}).want(t, 201)
	bin, last4, fp := victim.str("card", "bin"), victim.str("card", "last4"), victim.str("card", "fingerprint")
	if bin != "424242" || victim.str("card", "mask") != "424242******4242" {
		t.Fatalf("a token must show at most 6 digits of BIN: %s", victim.Raw)
	}
	cands := candidates(bin, last4, len(victim.str("card", "mask")))
	if len(cands) != 100_000 {
		t.Fatalf("%d candidates, want 100,000", len(cands))
	}
	// Start the walk just before the target, so that an unthrottled attack
	// would find it within the first batches.
	at := 0
	for i, c := range cands {
		if c == target {
			at = max(0, i-150)
		}
	}
	cands = cands[at:]

	began := time.Now()
	tried, accepted, refused, found := 0, 0, 0, false
	retryAfter := ""
	for batch := 0; batch < 20 && tried < len(cands); batch++ {
		var cards []map[string]any
		for _, c := range cands[tried:min(tried+100, len(cands))] {
			cards = append(cards, card(c))
		}
		r := s.call("POST", "/v1/tokens/batch", sk, map[string]any{"cards": cards, "verify": false}).want(t, 200)
		tried += len(cards)
		for _, item := range r.Body["data"].([]any) {
			if dig(item, "token", "card", "fingerprint") == fp {
				found = true
			}
			switch {
			case dig(item, "token") != nil:
				accepted++
			case dig(item, "error", "type") == "rate_limit_error":
				refused++
				if dig(item, "error", "code") != "card_testing" {
					t.Fatalf("refusal code: %v", item)
				}
			default:
				t.Fatalf("unexpected item: %v", item)
			}
		}
		if ra := r.Header.Get("Retry-After"); ra != "" {
			retryAfter = ra
		}
	}
	t.Logf("oracle attack, BIN 6: %d candidates sent in %s, %d tokenized, %d refused (429), card found: %v, Retry-After %s s",
		tried, time.Since(began).Round(time.Millisecond), accepted, refused, found, retryAfter)
	if found {
		t.Fatal("the attack rebuilt the card number")
	}
	if accepted > radar.Defaults.SuffixCards {
		t.Fatalf("%d candidates tokenized, the limit is %d per hour", accepted, radar.Defaults.SuffixCards)
	}
	if secs, _ := strconv.Atoi(retryAfter); secs < 60 {
		t.Fatalf("Retry-After %q, want about an hour", retryAfter)
	}

	// The single-card endpoint and a card payment are refused the same way.
	one := tokenize(t, s, sk, map[string]any{"card": card(cands[len(cands)-1]), "verify": false}).want(t, 429)
	if typ, code, _ := one.errInfo(); typ != "rate_limit_error" || code != "card_testing" || one.Header.Get("Retry-After") == "" {
		t.Fatalf("single tokenization: %s %v", one.Raw, one.Header)
	}
	s.call("POST", "/v1/payments", sk, map[string]any{"amount": 100, "currency": "MYR", "card": card(cands[len(cands)-2])}).want(t, 429)
	// While the episode lasts the victim's own card is refused like its
	// neighbours (an exception would be the oracle); other cards work.
	tokenize(t, s, sk, map[string]any{"card": card(target)}).want(t, 429)
	tokenize(t, s, sk, map[string]any{"card": card("5555555555554444")}).want(t, 201)

	// One event for the episode, and an audit record.
	ev := s.call("GET", "/v1/events?type=radar.card_testing", sk, nil).want(t, 200)
	data, _ := ev.Body["data"].([]any)
	if len(data) != 1 {
		t.Fatalf("want one radar.card_testing event, got %s", ev.Raw)
	}
	obj := dig(data[0], "data", "object")
	if dig(obj, "rule") != radar.RuleSuffixBurst || dig(obj, "bin") != "424242" || dig(obj, "last4") != "4242" {
		t.Fatalf("event: %v", obj)
	}
	if strings.Contains(string(ev.Raw), target) {
		t.Fatal("the event holds the card number")
	}
	var n int
	if err := openDB(t, s).QueryRow(rebind(s, `SELECT COUNT(*) FROM audit_log WHERE action = 'card_testing' AND purpose = ?`), radar.RuleSuffixBurst).Scan(&n); err != nil || n != 1 {
		t.Fatalf("audit records: %d, %v", n, err)
	}
}

// A legitimate import of distinct cards — many BINs and last fours,
// unverified, in full batches — is never refused.
func TestCardTestingImportOfDistinctCardsPasses(t *testing.T) {
	s := start(t)
	sk := s.Dev.SecretKey
	rng := rand.New(rand.NewPCG(1, 2))
	for batch := range 10 {
		var cards []map[string]any
		for range 100 {
			cards = append(cards, card(luhnCard("4"+fmt.Sprintf("%05d", rng.IntN(100)), rng)))
		}
		r := s.call("POST", "/v1/tokens/batch", s.Dev.SecretKey, map[string]any{"cards": cards, "verify": false}).want(t, 200)
		for i, item := range r.Body["data"].([]any) {
			if dig(item, "token") == nil {
				t.Fatalf("batch %d item %d refused: %v", batch, i, item)
			}
		}
	}
	_ = sk
}

// luhnCard completes a 16-digit number after prefix with random digits.
func luhnCard(prefix string, rng *rand.Rand) string {
	for {
		b := []byte(prefix)
		for len(b) < 16 {
			b = append(b, byte('0'+rng.IntN(10)))
		}
		if cardrules.Luhn(string(b)) {
			return string(b)
		}
	}
}

// The other signals: a flood of unverified tokenizations over the
// merchant's limit, a run of declines, and guesses of a stored card's CVC.
func TestCardTestingSignals(t *testing.T) { backends(t, testCardTestingSignals) }

func testCardTestingSignals(t *testing.T, opts ...option) {
	s := start(t, opts...)
	rng := rand.New(rand.NewPCG(3, 4))

	t.Run("unverified flood", func(t *testing.T) {
		m := s.newMerchant("flood")
		s.call("PATCH", "/v1/merchant", m.SecretKey, map[string]any{"card_testing": map[string]any{"unverified_per_minute": 5}}).want(t, 200)
		for i := range 5 {
			tokenize(t, s, m.SecretKey, map[string]any{"card": card(luhnCard("41", rng)), "verify": false}).want(t, 201)
			_ = i
		}
		r := tokenize(t, s, m.SecretKey, map[string]any{"card": card(luhnCard("41", rng)), "verify": false}).want(t, 429)
		if !strings.Contains(r.str("error", "message"), radar.RuleUnverified) || r.Header.Get("Retry-After") == "" {
			t.Fatalf("flood refusal: %s", r.Raw)
		}
		// Verified tokenizations are not part of the flood.
		tokenize(t, s, m.SecretKey, map[string]any{"card": card(luhnCard("42", rng))}).want(t, 201)
	})

	t.Run("decline ratio", func(t *testing.T) {
		m := s.newMerchant("declines")
		for range radar.Defaults.DeclineMin {
			tokenize(t, s, m.SecretKey, map[string]any{"card": card("4000000000000002")}).want(t, 402)
		}
		r := tokenize(t, s, m.SecretKey, map[string]any{"card": card("4242424242424242")}).want(t, 429)
		if !strings.Contains(r.str("error", "message"), radar.RuleDeclineRatio) {
			t.Fatalf("decline-ratio refusal: %s", r.Raw)
		}
		ev := s.call("GET", "/v1/events?type=radar.card_testing", m.SecretKey, nil).want(t, 200)
		if d, _ := ev.Body["data"].([]any); len(d) != 1 || dig(d[0], "data", "object", "rule") != radar.RuleDeclineRatio {
			t.Fatalf("events: %s", ev.Raw)
		}
	})

	t.Run("cvc guessing", func(t *testing.T) {
		m := s.newMerchant("cvc")
		// The simulator's card that always answers incorrect_cvc.
		tok := tokenize(t, s, m.SecretKey, map[string]any{"card": card("4000000000000127"), "verify": false}).want(t, 201).str("id")
		for i := range radar.Defaults.CVCFailures {
			v := s.call("POST", "/v1/tokens/"+tok+"/validate", m.SecretKey, map[string]any{"cvc": fmt.Sprintf("%03d", i)}).want(t, 200)
			if v.Body["valid"] != false || v.str("cvc_check") != "fail" {
				t.Fatalf("guess %d: %s", i, v.Raw)
			}
		}
		r := s.call("POST", "/v1/tokens/"+tok+"/validate", m.SecretKey, map[string]any{"cvc": "999"}).want(t, 429)
		if !strings.Contains(r.str("error", "message"), radar.RuleCVCGuessing) {
			t.Fatalf("cvc refusal: %s", r.Raw)
		}
		// Charging the token with a CVC is the same oracle.
		s.call("POST", "/v1/payments", m.SecretKey, map[string]any{"amount": 100, "currency": "MYR", "token": tok, "cvc": "998"}).want(t, 429)
		// Validation without a CVC checks no CVC and goes on.
		s.call("POST", "/v1/tokens/"+tok+"/validate", m.SecretKey, nil).want(t, 200)
		// The trip is in the token's audit trail.
		a := s.call("GET", "/v1/tokens/"+tok+"/audit", m.SecretKey, nil).want(t, 200)
		if !strings.Contains(string(a.Raw), `"card_testing"`) {
			t.Fatalf("audit trail: %s", a.Raw)
		}
	})

	t.Run("settings are validated", func(t *testing.T) {
		m := s.newMerchant("settings")
		r := s.call("PATCH", "/v1/merchant", m.SecretKey, map[string]any{"card_testing": map[string]any{"decline_ratio": 2}}).want(t, 400)
		if _, _, p := r.errInfo(); p != "card_testing.decline_ratio" {
			t.Fatalf("param: %s", r.Raw)
		}
	})
}

// Every dialect that tokenizes goes through the same control: SensePass's
// tokenize answers 429 with Retry-After once the candidates pile up.
func TestCardTestingDialects(t *testing.T) {
	s := start(t)
	sk := s.Dev.SecretKey
	cands := candidates("424242", "4242", 16)[:radar.Defaults.SuffixCards+1]
	for i, c := range cands[:radar.Defaults.SuffixCards] {
		tokenize(t, s, sk, map[string]any{"card": card(c), "verify": false}).want(t, 201)
		_ = i
	}
	s.call("PATCH", "/v1/merchant", sk, map[string]any{"accept_raw_card_data": true}).want(t, 200)
	r := snPost(t, s, "tokenize", map[string]any{"apiKey": sk,
		"creditCardDetails": []any{map[string]any{"cardNumber": cands[len(cands)-1], "cardExpiration": "12/34", "securityCode": "123"}}})
	// SensePass answers a batch per card: the refused card carries the 429.
	if r.Status != 201 || !strings.Contains(string(r.Raw), `"status":429`) || r.Header.Get("Retry-After") == "" {
		t.Fatalf("sensepass tokenize: %d %s", r.Status, r.Raw)
	}
}
