package simulator

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/coffer-vault/coffer/internal/processor"
)

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func authReq(number string, mandated bool) processor.AuthenticateRequest {
	return processor.AuthenticateRequest{
		MerchantID: "merch_1", Reference: "tok_1", Amount: 1000, Currency: "MYR", Mandated: mandated,
		Card: processor.Card{Number: number, ExpMonth: 12, ExpYear: 2099},
	}
}

func TestAuthenticate(t *testing.T) {
	const (
		masterMaestro = "6759649826438453" // a 6759 Maestro number: Mastercard's ECI values
		discover      = "6011111111111117"
	)
	for _, tc := range []struct {
		name     string
		number   string
		mandated bool
		status   string
		eci      string
		txn      bool // a transaction id and version are expected
	}{
		{"challenge success, mandated", CardThreeDSSuccess, true, processor.AuthChallengeRequired, "", true},
		{"challenge success, not mandated", CardThreeDSSuccess, false, processor.AuthChallengeRequired, "", true},
		{"challenge decline, mandated", CardThreeDSDecline, true, processor.AuthChallengeRequired, "", true},
		{"challenge decline, not mandated", CardThreeDSDecline, false, processor.AuthChallengeRequired, "", true},
		{"attempted, mandated", CardThreeDSAttempted, true, processor.AuthAttempted, "06", true},
		{"attempted, not mandated", CardThreeDSAttempted, false, processor.AuthNotRequired, "", false},
		{"visa, mandated", CardSuccessVisa, true, processor.AuthAuthenticated, "05", true},
		{"visa, not mandated", CardSuccessVisa, false, processor.AuthNotRequired, "", false},
		{"mastercard, mandated", CardSuccessMastercard, true, processor.AuthAuthenticated, "02", true},
		{"mastercard, not mandated", CardSuccessMastercard, false, processor.AuthNotRequired, "", false},
		{"amex, mandated", CardSuccessAmex, true, processor.AuthAuthenticated, "05", true},
		{"maestro, mandated", masterMaestro, true, processor.AuthAuthenticated, "02", true},
		{"discover, mandated", discover, true, processor.AuthAuthenticated, "05", true},
		// A card that declines at authorization is still authenticated: 3-D Secure is about
		// the card holder, not the funds.
		{"generic decline, mandated", CardGenericDecline, true, processor.AuthAuthenticated, "05", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := New().Authenticate(context.Background(), authReq(tc.number, tc.mandated))
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != tc.status || got.ECI != tc.eci {
				t.Errorf("status, ECI = %q, %q; want %q, %q", got.Status, got.ECI, tc.status, tc.eci)
			}
			if tc.txn {
				if !uuidV4.MatchString(got.TransactionID) {
					t.Errorf("transaction id %q is not a v4 UUID", got.TransactionID)
				}
				if got.Version != "2.2.0" {
					t.Errorf("version = %q, want 2.2.0", got.Version)
				}
			} else if got.TransactionID != "" || got.Version != "" || got.ECI != "" {
				t.Errorf("not_required carries %+v; want only the status", got)
			}
		})
	}
}

func TestThreeDSAttemptedCard(t *testing.T) {
	if !validNumber(CardThreeDSAttempted) {
		t.Errorf("%s fails Luhn", CardThreeDSAttempted)
	}
	if m := ThreeDS(CardThreeDSAttempted); m != NotEnrolled {
		t.Errorf("ThreeDS(attempted card) = %s, want %s", m, NotEnrolled)
	}
	// The issuer does not take part in 3-D Secure, but it approves the charge.
	s := New()
	_, err := s.Authorize(context.Background(), processor.AuthorizeRequest{MerchantID: "m", Reference: "r", Amount: 100,
		Currency: "MYR", Card: processor.Card{Number: CardThreeDSAttempted, ExpMonth: 12, ExpYear: 2099},
		Authentication: &processor.Authentication{Status: processor.AuthAttempted, ECI: "06"}})
	if err != nil {
		t.Errorf("Authorize: %v", err)
	}
}

func TestAuthenticateTransactionIDsAreDistinct(t *testing.T) {
	s := New()
	seen := make(map[string]bool)
	for i := 0; i < 200; i++ {
		number := CardSuccessVisa
		if i%2 == 1 {
			number = CardThreeDSSuccess
		}
		a, err := s.Authenticate(context.Background(), authReq(number, true))
		if err != nil {
			t.Fatal(err)
		}
		if !uuidV4.MatchString(a.TransactionID) {
			t.Fatalf("transaction id %q is not a v4 UUID", a.TransactionID)
		}
		if seen[a.TransactionID] {
			t.Fatalf("transaction id %s repeated", a.TransactionID)
		}
		seen[a.TransactionID] = true
	}
}

func TestAnswerChallenge(t *testing.T) {
	s := New()
	ctx := context.Background()
	ch, err := s.Authenticate(ctx, authReq(CardThreeDSSuccess, false))
	if err != nil {
		t.Fatal(err)
	}
	for _, answer := range []string{ThreeDSOTP, "", "123457", "1234567", "12345", "123456 ", " 123456",
		"023456", "123456\x00", strings.Repeat("123456", 1000)} {
		got, ok, err := s.AnswerChallenge(ctx, processor.ChallengeAnswer{TransactionID: ch.TransactionID,
			Brand: "visa", Answer: answer})
		if err != nil {
			t.Fatalf("answer %.20q: %v", answer, err)
		}
		want := processor.Authentication{Status: processor.AuthFailed, TransactionID: ch.TransactionID,
			Version: "2.2.0", ECI: "07"}
		if answer == ThreeDSOTP {
			want.Status, want.ECI = processor.AuthAuthenticated, "05"
		}
		if ok != (answer == ThreeDSOTP) || got != want {
			t.Errorf("answer %.20q: %+v, %v; want %+v, %v", answer, got, ok, want, answer == ThreeDSOTP)
		}
	}
}

func TestAnswerChallengeIsStateless(t *testing.T) {
	// The caller keeps the challenge durably; a different instance (another server, or the
	// same one after a restart) must judge the answer just as well.
	ch, err := New().Authenticate(context.Background(), authReq(CardThreeDSSuccess, true))
	if err != nil {
		t.Fatal(err)
	}
	got, ok, err := New().AnswerChallenge(context.Background(), processor.ChallengeAnswer{
		TransactionID: ch.TransactionID, Brand: "visa", Answer: ThreeDSOTP})
	if err != nil || !ok || got.Status != processor.AuthAuthenticated {
		t.Errorf("another instance: %+v, %v, %v", got, ok, err)
	}
}

func TestAnswerChallengeECIByBrand(t *testing.T) {
	for _, tc := range []struct {
		brand        string
		right, wrong string
	}{
		{"mastercard", "02", "00"},
		{"maestro", "02", "00"},
		{"visa", "05", "07"},
		{"amex", "05", "07"},
		{"discover", "05", "07"},
		{"", "05", "07"},
	} {
		for answer, want := range map[string]string{ThreeDSOTP: tc.right, "000000": tc.wrong} {
			got, _, err := New().AnswerChallenge(context.Background(), processor.ChallengeAnswer{
				TransactionID: "2f1c9f63-3c5e-4b8e-9a3e-0d6c7f1b2a4d", Brand: tc.brand, Answer: answer})
			if err != nil {
				t.Fatal(err)
			}
			if got.ECI != want {
				t.Errorf("brand %q, answer %s: ECI = %q, want %q", tc.brand, answer, got.ECI, want)
			}
		}
	}
}

func TestThreeDSInvalidRequests(t *testing.T) {
	s := New()
	ctx := context.Background()
	neg := authReq(CardThreeDSSuccess, true)
	neg.Amount = -1
	for name, r := range map[string]processor.AuthenticateRequest{
		"no card number":  authReq("", true),
		"negative amount": neg,
	} {
		_, err := s.Authenticate(ctx, r)
		if !errors.Is(err, processor.ErrInvalidRequest) {
			t.Errorf("%s: err = %v, want ErrInvalidRequest", name, err)
		}
	}
	_, ok, err := s.AnswerChallenge(ctx, processor.ChallengeAnswer{Brand: "visa", Answer: ThreeDSOTP})
	if !errors.Is(err, processor.ErrInvalidRequest) || ok {
		t.Errorf("no transaction id: ok = %v, err = %v; want ErrInvalidRequest", ok, err)
	}
	// A zero amount (an account verification) is a valid request.
	zero := authReq(CardSuccessVisa, true)
	zero.Amount = 0
	if _, err := s.Authenticate(ctx, zero); err != nil {
		t.Errorf("zero amount: %v", err)
	}
}

func TestThreeDSCanceledContext(t *testing.T) {
	s := New()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, number := range []string{CardSuccessVisa, CardThreeDSSuccess, CardThreeDSAttempted} {
		a, err := s.Authenticate(ctx, authReq(number, true))
		if !errors.Is(err, context.Canceled) || a != (processor.Authentication{}) {
			t.Errorf("Authenticate: %+v, %v; want context.Canceled and no result", a, err)
		}
	}
	a, ok, err := s.AnswerChallenge(ctx, processor.ChallengeAnswer{
		TransactionID: "2f1c9f63-3c5e-4b8e-9a3e-0d6c7f1b2a4d", Brand: "visa", Answer: ThreeDSOTP})
	if !errors.Is(err, context.Canceled) || ok || a != (processor.Authentication{}) {
		t.Errorf("AnswerChallenge: %+v, %v, %v; want context.Canceled", a, ok, err)
	}
}

func TestThreeDSErrorsCarryNoCardData(t *testing.T) {
	s := New()
	for _, number := range []string{CardSuccessVisa, CardThreeDSSuccess, CardThreeDSAttempted, CardSuccessAmex} {
		r := authReq(number, true)
		r.Amount = -5
		_, err := s.Authenticate(context.Background(), r)
		if err == nil {
			t.Fatalf("negative amount accepted")
		}
		msg := err.Error()
		if strings.Contains(msg, number) || strings.Contains(msg, number[:6]) || strings.Contains(msg, number[len(number)-4:]) {
			t.Errorf("error %q carries card data", msg)
		}
	}
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.Authenticate(canceled, authReq(CardThreeDSSuccess, true))
	if err == nil || strings.Contains(err.Error(), CardThreeDSSuccess) {
		t.Errorf("canceled: err = %v", err)
	}
}

func TestThreeDSConcurrent(t *testing.T) {
	s := New()
	ctx := context.Background()
	const workers, rounds = 16, 50
	ids := make([][]string, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				ch, err := s.Authenticate(ctx, authReq(CardThreeDSSuccess, i%2 == 0))
				if err != nil || ch.Status != processor.AuthChallengeRequired {
					t.Errorf("Authenticate: %+v, %v", ch, err)
					return
				}
				ids[w] = append(ids[w], ch.TransactionID)
				answer := ThreeDSOTP
				if (w+i)%3 == 0 {
					answer = "654321"
				}
				got, ok, err := s.AnswerChallenge(ctx, processor.ChallengeAnswer{
					TransactionID: ch.TransactionID, Brand: "mastercard", Answer: answer})
				if err != nil || ok != (answer == ThreeDSOTP) || got.TransactionID != ch.TransactionID {
					t.Errorf("AnswerChallenge(%s): %+v, %v, %v", answer, got, ok, err)
					return
				}
				// The acquirer side of the same simulator runs alongside.
				if _, err := s.Authorize(ctx, processor.AuthorizeRequest{MerchantID: "m", Amount: 100, Currency: "MYR",
					Card:           processor.Card{Number: CardThreeDSSuccess, ExpMonth: 12, ExpYear: 2099},
					Authentication: &got}); err != nil {
					t.Errorf("Authorize: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	seen := make(map[string]bool)
	for _, list := range ids {
		for _, id := range list {
			if seen[id] {
				t.Fatalf("transaction id %s repeated across goroutines", id)
			}
			seen[id] = true
		}
	}
	if len(seen) != workers*rounds {
		t.Errorf("%d transaction ids, want %d", len(seen), workers*rounds)
	}
}
