package simulator

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/coffer-vault/coffer/internal/processor"
)

func withCVC(number, cvc string) processor.Card {
	c := card(number)
	c.CVC = cvc
	return c
}

func charge(s *Simulator, ref string, c processor.Card) (processor.Authorization, error) {
	return s.Authorize(ctx, processor.AuthorizeRequest{MerchantID: "m", Reference: ref, Card: c, Amount: 1000, Currency: "USD"})
}

func wantIncorrectCVC(t *testing.T, what string, a processor.Authorization, err error) {
	t.Helper()
	var d *processor.Decline
	if !errors.As(err, &d) || d.Code != "incorrect_cvc" || d.DeclineCode != "incorrect_cvc" || d.CVCResult != "fail" || d.Message == "" {
		t.Errorf("%s: %v, want an incorrect_cvc decline with cvc fail", what, err)
	}
	if a != (processor.Authorization{}) {
		t.Errorf("%s: declined but returned %+v", what, a)
	}
}

func TestIssuerCVC(t *testing.T) {
	s := New()
	if _, err := s.Verify(ctx, processor.VerifyRequest{MerchantID: "m", Reference: "tok", Card: withCVC(CardSuccessVisa, "123"), Amount: 100, Currency: "USD"}); err != nil {
		t.Fatal(err)
	}
	a, err := charge(s, "wrong", withCVC(CardSuccessVisa, "124"))
	wantIncorrectCVC(t, "wrong cvc", a, err)
	if _, err := s.Lookup(ctx, "m", "wrong"); !errors.As(err, new(*processor.Decline)) {
		t.Errorf("Lookup of the declined charge: %v", err)
	}

	a, err = charge(s, "right", withCVC(CardSuccessVisa, "123"))
	if err != nil || a.CVCResult != "pass" {
		t.Errorf("right cvc: %+v %v", a, err)
	}
	a, err = charge(s, "none", withCVC(CardSuccessVisa, ""))
	if err != nil || a.CVCResult != "unchecked" {
		t.Errorf("no cvc: %+v %v", a, err)
	}
	// Verify checks too, and a wrong CVC does not replace the one the issuer knows.
	_, err = s.Verify(ctx, processor.VerifyRequest{MerchantID: "m", Reference: "tok2", Card: withCVC(CardSuccessVisa, "9999"), Amount: 100, Currency: "USD"})
	var d *processor.Decline
	if !errors.As(err, &d) || d.Code != "incorrect_cvc" || d.CVCResult != "fail" {
		t.Errorf("Verify with a wrong cvc: %v", err)
	}
	if a, err := charge(s, "right2", withCVC(CardSuccessVisa, "123")); err != nil || a.CVCResult != "pass" {
		t.Errorf("right cvc after a wrong one: %+v %v", a, err)
	}
	// A malformed CVC is refused by the network before the issuer and enrols nothing.
	if _, err := charge(s, "bad", withCVC(CardSuccessMastercard, "12a")); !errors.As(err, &d) || d.Code != "invalid_cvc" {
		t.Errorf("malformed cvc: %v", err)
	}
	// Each card has its own CVC; the first one seen, on Authorize as well, is enrolled.
	if a, err := charge(s, "mc1", withCVC(CardSuccessMastercard, "124")); err != nil || a.CVCResult != "pass" {
		t.Errorf("another card's first cvc: %+v %v", a, err)
	}
	a, err = charge(s, "mc2", withCVC(CardSuccessMastercard, "123"))
	wantIncorrectCVC(t, "mastercard's second cvc", a, err)

	// An issuer decline for another reason still teaches the issuer the CVC.
	charge(s, "nsf1", withCVC(CardInsufficientFunds, "555"))
	a, err = charge(s, "nsf2", withCVC(CardInsufficientFunds, "556"))
	wantIncorrectCVC(t, "insufficient-funds card with another cvc", a, err)

	// A refusal is an authorization processed: counted, and replayed as the same refusal.
	if n := s.AuthorizationsFor("m", "wrong"); n != 1 {
		t.Errorf("AuthorizationsFor(wrong) = %d", n)
	}
	a, err = charge(s, "wrong", withCVC(CardSuccessVisa, "123"))
	wantIncorrectCVC(t, "replay of the declined reference", a, err)
}

func TestIssuerCVCTestCardAlwaysFails(t *testing.T) {
	s := New()
	for i, cvc := range []string{"123", "123", "", "4567", "123"} {
		a, err := charge(s, fmt.Sprint("r", i), withCVC(CardIncorrectCVC, cvc))
		wantIncorrectCVC(t, fmt.Sprintf("0127 with cvc %q", cvc), a, err)
		_, err = s.Verify(ctx, processor.VerifyRequest{MerchantID: "m", Reference: fmt.Sprint("v", i), Card: withCVC(CardIncorrectCVC, cvc), Amount: 100, Currency: "USD"})
		var d *processor.Decline
		if !errors.As(err, &d) || d.Code != "incorrect_cvc" || d.CVCResult != "fail" {
			t.Errorf("Verify 0127 with cvc %q: %v", cvc, err)
		}
	}
}

func TestIssuerCVCConcurrentFirstSight(t *testing.T) {
	s := New()
	var pass, fail atomic.Int64
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			_, err := charge(s, fmt.Sprint("r", i), withCVC(CardSuccessAmex, fmt.Sprint(1000+i)))
			var d *processor.Decline
			switch {
			case err == nil:
				pass.Add(1)
			case errors.As(err, &d) && d.Code == "incorrect_cvc":
				fail.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if pass.Load() != 1 || fail.Load() != 19 {
		t.Errorf("%d passed and %d failed; exactly one CVC may be enrolled", pass.Load(), fail.Load())
	}
}

// TestIssuerCVCForgottenAfterRestart documents that the CVC memory is not in the journal.
func TestIssuerCVCForgottenAfterRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sim.journal")
	s := openT(t, path)
	if _, err := charge(s, "r1", withCVC(CardSuccessVisa, "123")); err != nil {
		t.Fatal(err)
	}
	a, err := charge(s, "r2", withCVC(CardSuccessVisa, "124"))
	wantIncorrectCVC(t, "before restart", a, err)
	closeT(t, s)

	s = openT(t, path)
	defer s.Close()
	// The declined reference is still declined: that is the ledger, not the issuer's memory.
	a, err = charge(s, "r2", withCVC(CardSuccessVisa, "123"))
	wantIncorrectCVC(t, "replay after restart", a, err)
	if a, err := charge(s, "r3", withCVC(CardSuccessVisa, "124")); err != nil || a.CVCResult != "pass" {
		t.Errorf("first cvc after restart: %+v %v", a, err)
	}
	a, err = charge(s, "r4", withCVC(CardSuccessVisa, "123"))
	wantIncorrectCVC(t, "after re-enrolment", a, err)
}

func TestLookup(t *testing.T) {
	s := New()
	for name, tc := range map[string]struct{ merchant, reference string }{
		"unknown":        {"m", "pay_nope"},
		"empty":          {"m", ""},
		"other merchant": {"other", "pay_1"},
		"verify's":       {"m", "tok_1"},
	} {
		if name == "other merchant" {
			mustAuthorizeM(t, s, "m", "pay_1", 1000)
		}
		if name == "verify's" {
			if _, err := s.Verify(ctx, processor.VerifyRequest{MerchantID: "m", Reference: "tok_1", Card: card(CardSuccessVisa), Amount: 100, Currency: "USD"}); err != nil {
				t.Fatal(err)
			}
		}
		if a, err := s.Lookup(ctx, tc.merchant, tc.reference); !errors.Is(err, processor.ErrNotFound) || a != (processor.Authorization{}) {
			t.Errorf("%s: %+v %v, want ErrNotFound", name, a, err)
		}
	}
	authorize(t, s, 10) // no reference: cannot be looked up, and does not match ""
	if _, err := s.Lookup(ctx, "m", ""); !errors.Is(err, processor.ErrNotFound) {
		t.Errorf("empty reference after an unreferenced authorization: %v", err)
	}

	a, _ := s.Lookup(ctx, "m", "pay_1")
	orig := mustAuthorizeM(t, s, "m", "pay_1", 1000) // replay
	if a != orig || a.Captured != 0 || a.CaptureID != "" || a.Voided {
		t.Errorf("uncaptured: %+v, want %+v", a, orig)
	}
	cp, err := s.Capture(ctx, orig.ID, 800)
	if err != nil {
		t.Fatal(err)
	}
	s.Refund(ctx, cp.ID, 300, "")
	a, err = s.Lookup(ctx, "m", "pay_1")
	if err != nil || a.ID != orig.ID || a.AuthCode != orig.AuthCode || a.Amount != 1000 || a.Currency != "USD" ||
		a.Captured != 800 || a.CaptureID != cp.ID || a.Refunded != 300 || a.Voided {
		t.Errorf("captured: %+v %v", a, err)
	}
	// Authorize's replay is still the first answer, not the current state.
	if r := mustAuthorizeM(t, s, "m", "pay_1", 1000); r != orig {
		t.Errorf("replay after capture = %+v, want %+v", r, orig)
	}

	v := mustAuthorizeM(t, s, "m", "pay_2", 500)
	if err := s.Void(ctx, v.ID); err != nil {
		t.Fatal(err)
	}
	if a, err := s.Lookup(ctx, "m", "pay_2"); err != nil || !a.Voided || a.Captured != 0 || a.ID != v.ID {
		t.Errorf("voided: %+v %v", a, err)
	}

	_, err = s.Authorize(ctx, processor.AuthorizeRequest{MerchantID: "m", Reference: "pay_3", Card: card(CardGenericDecline), Amount: 1, Currency: "USD"})
	var d1, d2 *processor.Decline
	a, err2 := s.Lookup(ctx, "m", "pay_3")
	if !errors.As(err, &d1) || !errors.As(err2, &d2) || *d1 != *d2 || a != (processor.Authorization{}) {
		t.Errorf("declined: %+v %v, want %v", a, err2, err)
	}
	st := s.Stats()
	s.Lookup(ctx, "m", "pay_1")
	if s.Stats() != st {
		t.Error("Lookup was counted")
	}
}

func mustAuthorizeM(t *testing.T, s *Simulator, merchant, ref string, amount int64) processor.Authorization {
	t.Helper()
	a, err := s.Authorize(ctx, processor.AuthorizeRequest{MerchantID: merchant, Reference: ref, Card: card(CardSuccessVisa), Amount: amount, Currency: "USD"})
	if err != nil {
		t.Fatalf("Authorize %s: %v", ref, err)
	}
	return a
}
