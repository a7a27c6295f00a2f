package tokens

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
	"github.com/coffer-vault/coffer/internal/radar"
)

// The card-number oracle (issue 15, point 1): with the secret key, an
// attacker tokenizes every candidate between a token's BIN and last four
// without verification, 100 per batch, and compares fingerprints. A token
// shows 6 digits of BIN at most, so a 16-digit card leaves 100,000
// candidates; radar lets 16 different cards per BIN + last four through per
// hour and refuses the rest with 429, audits it and tells the merchant.
func TestCardTestingOracleIsThrottled(t *testing.T) {
	t.Parallel()
	harness.Backends(t, testCardTestingOracleIsThrottled)
}

func testCardTestingOracleIsThrottled(t *testing.T, opts ...harness.Option) {
	s := harness.Start(t, opts...)
	sk := s.Dev.SecretKey
	s.Call("POST", "/v1/webhook_endpoints", sk, map[string]any{"url": "http://127.0.0.1:9/hook", "events": []string{"radar.*"}}).Want(t, 201)

	const target = "4242424242424242"
	victim := s.Tokenize(t, sk, map[string]any{"card": harness.Card(target)}).Want(t, 201)
	bin, last4, fp := victim.Str("card", "bin"), victim.Str("card", "last4"), victim.Str("card", "fingerprint")
	if bin != "424242" || victim.Str("card", "mask") != "424242******4242" {
		t.Fatalf("a token must show at most 6 digits of BIN: %s", victim.Raw)
	}
	cands := harness.LuhnCandidates(bin, last4, len(victim.Str("card", "mask")))
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
			cards = append(cards, harness.Card(c))
		}
		r := s.Call("POST", "/v1/tokens/batch", sk, map[string]any{"cards": cards, "verify": false}).Want(t, 200)
		tried += len(cards)
		for _, item := range r.Body["data"].([]any) {
			if harness.Dig(item, "token", "card", "fingerprint") == fp {
				found = true
			}
			switch {
			case harness.Dig(item, "token") != nil:
				accepted++
			case harness.Dig(item, "error", "type") == "rate_limit_error":
				refused++
				if harness.Dig(item, "error", "code") != "card_testing" {
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
	one := s.Tokenize(t, sk, map[string]any{"card": harness.Card(cands[len(cands)-1]), "verify": false}).Want(t, 429)
	if typ, code, _ := one.ErrInfo(); typ != "rate_limit_error" || code != "card_testing" || one.Header.Get("Retry-After") == "" {
		t.Fatalf("single tokenization: %s %v", one.Raw, one.Header)
	}
	s.Call("POST", "/v1/payments", sk, map[string]any{"amount": 100, "currency": "MYR", "card": harness.Card(cands[len(cands)-2])}).Want(t, 429)
	// While the episode lasts the victim's own card is refused like its
	// neighbours (an exception would be the oracle); other cards work.
	s.Tokenize(t, sk, map[string]any{"card": harness.Card(target)}).Want(t, 429)
	s.Tokenize(t, sk, map[string]any{"card": harness.Card("5555555555554444")}).Want(t, 201)

	// One event for the episode, and an audit record.
	ev := s.Call("GET", "/v1/events?type=radar.card_testing", sk, nil).Want(t, 200)
	data, _ := ev.Body["data"].([]any)
	if len(data) != 1 {
		t.Fatalf("want one radar.card_testing event, got %s", ev.Raw)
	}
	obj := harness.Dig(data[0], "data", "object")
	if harness.Dig(obj, "rule") != radar.RuleSuffixBurst || harness.Dig(obj, "bin") != "424242" || harness.Dig(obj, "last4") != "4242" {
		t.Fatalf("event: %v", obj)
	}
	if strings.Contains(string(ev.Raw), target) {
		t.Fatal("the event holds the card number")
	}
	var n int
	if err := s.OpenDB(t).QueryRow(s.Rebind(`SELECT COUNT(*) FROM audit_log WHERE action = 'card_testing' AND purpose = ?`), radar.RuleSuffixBurst).Scan(&n); err != nil || n != 1 {
		t.Fatalf("audit records: %d, %v", n, err)
	}
}

// A legitimate import of distinct cards — many BINs and last fours,
// unverified, in full batches — is never refused.
func TestCardTestingImportOfDistinctCardsPasses(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	rng := rand.New(rand.NewPCG(1, 2))
	for batch := range 10 {
		var cards []map[string]any
		for range 100 {
			cards = append(cards, harness.Card(harness.RandomLuhnCard("4"+fmt.Sprintf("%05d", rng.IntN(100)), rng)))
		}
		r := s.Call("POST", "/v1/tokens/batch", s.Dev.SecretKey, map[string]any{"cards": cards, "verify": false}).Want(t, 200)
		for i, item := range r.Body["data"].([]any) {
			if harness.Dig(item, "token") == nil {
				t.Fatalf("batch %d item %d refused: %v", batch, i, item)
			}
		}
	}
	_ = sk
}

// The other signals: a flood of unverified tokenizations over the
// merchant's limit, a run of declines, and guesses of a stored card's CVC.
func TestCardTestingSignals(t *testing.T) {
	t.Parallel()
	harness.Backends(t, testCardTestingSignals)
}

func testCardTestingSignals(t *testing.T, opts ...harness.Option) {
	s := harness.Start(t, opts...)
	rng := rand.New(rand.NewPCG(3, 4))

	t.Run("unverified flood", func(t *testing.T) {
		m := s.NewMerchant("flood")
		s.Call("PATCH", "/v1/merchant", m.SecretKey, map[string]any{"card_testing": map[string]any{"unverified_per_minute": 5}}).Want(t, 200)
		for i := range 5 {
			s.Tokenize(t, m.SecretKey, map[string]any{"card": harness.Card(harness.RandomLuhnCard("41", rng)), "verify": false}).Want(t, 201)
			_ = i
		}
		r := s.Tokenize(t, m.SecretKey, map[string]any{"card": harness.Card(harness.RandomLuhnCard("41", rng)), "verify": false}).Want(t, 429)
		if !strings.Contains(r.Str("error", "message"), radar.RuleUnverified) || r.Header.Get("Retry-After") == "" {
			t.Fatalf("flood refusal: %s", r.Raw)
		}
		// Verified tokenizations are not part of the flood.
		s.Tokenize(t, m.SecretKey, map[string]any{"card": harness.Card(harness.RandomLuhnCard("42", rng))}).Want(t, 201)
	})

	t.Run("decline ratio", func(t *testing.T) {
		m := s.NewMerchant("declines")
		for range radar.Defaults.DeclineMin {
			s.Tokenize(t, m.SecretKey, map[string]any{"card": harness.Card("4000000000000002")}).Want(t, 402)
		}
		r := s.Tokenize(t, m.SecretKey, map[string]any{"card": harness.Card("4242424242424242")}).Want(t, 429)
		if !strings.Contains(r.Str("error", "message"), radar.RuleDeclineRatio) {
			t.Fatalf("decline-ratio refusal: %s", r.Raw)
		}
		ev := s.Call("GET", "/v1/events?type=radar.card_testing", m.SecretKey, nil).Want(t, 200)
		if d, _ := ev.Body["data"].([]any); len(d) != 1 || harness.Dig(d[0], "data", "object", "rule") != radar.RuleDeclineRatio {
			t.Fatalf("events: %s", ev.Raw)
		}
	})

	t.Run("cvc guessing", func(t *testing.T) {
		m := s.NewMerchant("cvc")
		// The simulator's card that always answers incorrect_cvc.
		tok := s.Tokenize(t, m.SecretKey, map[string]any{"card": harness.Card("4000000000000127"), "verify": false}).Want(t, 201).Str("id")
		for i := range radar.Defaults.CVCFailures {
			v := s.Call("POST", "/v1/tokens/"+tok+"/validate", m.SecretKey, map[string]any{"cvc": fmt.Sprintf("%03d", i)}).Want(t, 200)
			if v.Body["valid"] != false || v.Str("cvc_check") != "fail" {
				t.Fatalf("guess %d: %s", i, v.Raw)
			}
		}
		r := s.Call("POST", "/v1/tokens/"+tok+"/validate", m.SecretKey, map[string]any{"cvc": "999"}).Want(t, 429)
		if !strings.Contains(r.Str("error", "message"), radar.RuleCVCGuessing) {
			t.Fatalf("cvc refusal: %s", r.Raw)
		}
		// Charging the token with a CVC is the same oracle.
		s.Call("POST", "/v1/payments", m.SecretKey, map[string]any{"amount": 100, "currency": "MYR", "token": tok, "cvc": "998"}).Want(t, 429)
		// Validation without a CVC checks no CVC and goes on.
		s.Call("POST", "/v1/tokens/"+tok+"/validate", m.SecretKey, nil).Want(t, 200)
		// The trip is in the token's audit trail.
		a := s.Call("GET", "/v1/tokens/"+tok+"/audit", m.SecretKey, nil).Want(t, 200)
		if !strings.Contains(string(a.Raw), `"card_testing"`) {
			t.Fatalf("audit trail: %s", a.Raw)
		}
	})

	t.Run("settings are validated", func(t *testing.T) {
		m := s.NewMerchant("settings")
		r := s.Call("PATCH", "/v1/merchant", m.SecretKey, map[string]any{"card_testing": map[string]any{"decline_ratio": 2}}).Want(t, 400)
		if _, _, p := r.ErrInfo(); p != "card_testing.decline_ratio" {
			t.Fatalf("param: %s", r.Raw)
		}
	})
}

// Every dialect that tokenizes goes through the same control: SensePass's
// tokenize answers 429 with Retry-After once the candidates pile up.
func TestCardTestingDialects(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	cands := harness.LuhnCandidates("424242", "4242", 16)[:radar.Defaults.SuffixCards+1]
	for i, c := range cands[:radar.Defaults.SuffixCards] {
		s.Tokenize(t, sk, map[string]any{"card": harness.Card(c), "verify": false}).Want(t, 201)
		_ = i
	}
	s.Call("PATCH", "/v1/merchant", sk, map[string]any{"accept_raw_card_data": true}).Want(t, 200)
	r := harness.SensePassPost(t, s, "tokenize", map[string]any{"apiKey": sk,
		"creditCardDetails": []any{map[string]any{"cardNumber": cands[len(cands)-1], "cardExpiration": "12/34", "securityCode": "123"}}})
	// SensePass answers a batch per card: the refused card carries the 429.
	if r.Status != 201 || !strings.Contains(string(r.Raw), `"status":429`) || r.Header.Get("Retry-After") == "" {
		t.Fatalf("sensepass tokenize: %d %s", r.Status, r.Raw)
	}
}
