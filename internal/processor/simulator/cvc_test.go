package simulator

import (
	"errors"
	"fmt"
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

// An all-zeros CVC is incorrect for every card; any other well-formed CVC
// matches, on Authorize, Sale and Verify alike.
func TestIssuerCVC(t *testing.T) {
	s := New()
	for _, c := range []struct{ number, wrong, right string }{
		{CardSuccessVisa, "000", "123"}, {CardSuccessMastercard, "000", "987"}, {CardSuccessAmex, "0000", "7391"},
	} {
		a, err := charge(s, "wrong"+c.number, withCVC(c.number, c.wrong))
		wantIncorrectCVC(t, c.number+" with "+c.wrong, a, err)
		if _, err := s.Lookup(ctx, "m", "wrong"+c.number); !errors.As(err, new(*processor.Decline)) {
			t.Errorf("Lookup of the declined charge: %v", err)
		}
		_, err = s.Verify(ctx, processor.VerifyRequest{MerchantID: "m", Reference: "v" + c.number, Card: withCVC(c.number, c.wrong), Amount: 100, Currency: "USD"})
		var d *processor.Decline
		if !errors.As(err, &d) || d.Code != "incorrect_cvc" || d.CVCResult != "fail" {
			t.Errorf("Verify %s with %s: %v", c.number, c.wrong, err)
		}
		if a, err := charge(s, "right"+c.number, withCVC(c.number, c.right)); err != nil || a.CVCResult != "pass" {
			t.Errorf("%s with %s: %+v %v", c.number, c.right, a, err)
		}
	}
	a, err := charge(s, "none", withCVC(CardSuccessVisa, ""))
	if err != nil || a.CVCResult != "unchecked" {
		t.Errorf("no cvc: %+v %v", a, err)
	}
	// A malformed CVC is refused by the network before the issuer.
	_, err = charge(s, "short", withCVC(CardSuccessVisa, "12"))
	var d *processor.Decline
	if !errors.As(err, &d) || d.Code != "invalid_cvc" {
		t.Errorf("malformed cvc: %v", err)
	}
}

// The issuer keeps no CVC: a card charged with one CVC is charged with
// another just as well, by any merchant, so the hosted page's "any CVC"
// holds for a saved card too.
func TestIssuerKeepsNoCVC(t *testing.T) {
	s := New()
	for i, cvc := range []string{"123", "456", "999", "123", "001"} {
		a, err := s.Authorize(ctx, processor.AuthorizeRequest{MerchantID: fmt.Sprint("m", i%2), Reference: fmt.Sprint("r", i),
			Card: withCVC(CardSuccessVisa, cvc), Amount: 1000, Currency: "USD"})
		if err != nil || a.CVCResult != "pass" {
			t.Errorf("charge %d with cvc %s: %+v %v", i, cvc, a, err)
		}
	}
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
