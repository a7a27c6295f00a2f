package simulator

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/processor"
)

var ctx = context.Background()

func card(number string) processor.Card {
	return processor.Card{Number: number, ExpMonth: 12, ExpYear: time.Now().Year() + 3, CVC: "123", HolderName: "Abu Bin Ali"}
}

type want struct {
	code, declineCode string // empty code: success
	avs, cvc          string
}

var cardTable = []struct {
	number            string
	authorize, verify want
}{
	{CardSuccessVisa, want{avs: "unavailable", cvc: "pass"}, want{avs: "unavailable", cvc: "pass"}},
	{CardSuccessMastercard, want{avs: "unavailable", cvc: "pass"}, want{avs: "unavailable", cvc: "pass"}},
	{CardSuccessAmex, want{avs: "unavailable", cvc: "pass"}, want{avs: "unavailable", cvc: "pass"}},
	{"4111111111111111", want{avs: "unavailable", cvc: "pass"}, want{avs: "unavailable", cvc: "pass"}},
	{"6011111111111117", want{avs: "unavailable", cvc: "pass"}, want{avs: "unavailable", cvc: "pass"}},
	{CardGenericDecline, want{code: "card_declined", declineCode: "generic_decline"}, want{code: "card_declined", declineCode: "generic_decline"}},
	{CardInsufficientFunds, want{code: "card_declined", declineCode: "insufficient_funds"}, want{code: "card_declined", declineCode: "insufficient_funds"}},
	{CardLostCard, want{code: "card_declined", declineCode: "lost_card"}, want{code: "card_declined", declineCode: "lost_card"}},
	{CardExpiredCard, want{code: "expired_card", declineCode: "expired_card"}, want{code: "expired_card", declineCode: "expired_card"}},
	{CardIncorrectCVC, want{code: "incorrect_cvc", declineCode: "incorrect_cvc", cvc: "fail"}, want{code: "incorrect_cvc", declineCode: "incorrect_cvc", cvc: "fail"}},
	{CardProcessingError, want{code: "processing_error", declineCode: "processing_error"}, want{code: "processing_error", declineCode: "processing_error"}},
	{CardThreeDSSuccess, want{avs: "unavailable", cvc: "pass"}, want{avs: "unavailable", cvc: "pass"}},
	{CardThreeDSDecline, want{code: "card_declined", declineCode: "generic_decline"}, want{code: "card_declined", declineCode: "generic_decline"}},
	{CardDeclineAfterVerify, want{code: "card_declined", declineCode: "generic_decline"}, want{avs: "unavailable", cvc: "pass"}},
	{CardAVSFail, want{avs: "fail", cvc: "pass"}, want{avs: "fail", cvc: "pass"}},
	{"4242424242424241", want{code: "incorrect_number"}, want{code: "incorrect_number"}},
}

func check(t *testing.T, what string, w want, avs, cvc string, err error) {
	t.Helper()
	if w.code == "" {
		if err != nil {
			t.Fatalf("%s: unexpected error %v", what, err)
		}
		if avs != w.avs || cvc != w.cvc {
			t.Errorf("%s: avs=%q cvc=%q, want %q %q", what, avs, cvc, w.avs, w.cvc)
		}
		return
	}
	var d *processor.Decline
	if !errors.As(err, &d) {
		t.Fatalf("%s: error %v, want *processor.Decline %s", what, err, w.code)
	}
	if d.Code != w.code || d.DeclineCode != w.declineCode {
		t.Errorf("%s: decline %s/%s, want %s/%s", what, d.Code, d.DeclineCode, w.code, w.declineCode)
	}
	if w.cvc != "" && d.CVCResult != w.cvc {
		t.Errorf("%s: decline CVCResult %q, want %q", what, d.CVCResult, w.cvc)
	}
	if d.Message == "" {
		t.Errorf("%s: decline has no message", what)
	}
}

func TestTestCards(t *testing.T) {
	for _, tc := range cardTable {
		t.Run(tc.number, func(t *testing.T) {
			s := New()
			a, err := s.Authorize(ctx, processor.AuthorizeRequest{MerchantID: "mer_1", Reference: "pay_1", Card: card(tc.number), Amount: 1000, Currency: "MYR"})
			check(t, "Authorize", tc.authorize, a.AVSResult, a.CVCResult, err)
			if err == nil {
				if !strings.HasPrefix(a.ID, "sim_auth_") || len(a.AuthCode) != 6 || a.Amount != 1000 || a.Currency != "MYR" {
					t.Errorf("Authorization = %+v", a)
				}
			} else if a != (processor.Authorization{}) {
				t.Errorf("declined Authorize returned %+v", a)
			}

			v, err := s.Verify(ctx, processor.VerifyRequest{MerchantID: "mer_1", Reference: "tok_1", Card: card(tc.number), Amount: 100, Currency: "MYR"})
			check(t, "Verify", tc.verify, v.AVSResult, v.CVCResult, err)
			if err == nil {
				if !v.Voided || len(v.AuthCode) != 6 || !strings.HasPrefix(v.AuthorizationID, "sim_auth_") {
					t.Errorf("Verification = %+v", v)
				}
				if _, err := s.Capture(ctx, v.AuthorizationID, 100); !errors.Is(err, processor.ErrInvalidState) {
					t.Errorf("capturing a verification: %v, want ErrInvalidState", err)
				}
			} else if v != (processor.Verification{}) {
				t.Errorf("declined Verify returned %+v", v)
			}
			if st := s.Stats(); st.Authorizations != 2 || st.Verifications != 1 {
				t.Errorf("stats = %+v", st)
			}
		})
	}
}

func TestTestCardsAreLuhnValid(t *testing.T) {
	for _, n := range []string{CardSuccessVisa, CardSuccessMastercard, CardSuccessAmex, CardGenericDecline,
		CardInsufficientFunds, CardLostCard, CardExpiredCard, CardIncorrectCVC, CardProcessingError,
		CardThreeDSSuccess, CardThreeDSDecline, CardDeclineAfterVerify, CardAVSFail} {
		if !validNumber(n) {
			t.Errorf("%s fails Luhn", n)
		}
	}
}

func TestThreeDS(t *testing.T) {
	for n, w := range map[string]ThreeDSMode{
		CardThreeDSSuccess: Challenge, CardThreeDSDecline: Challenge,
		CardSuccessVisa: Frictionless, CardDeclineAfterVerify: Frictionless, "": Frictionless,
	} {
		if got := ThreeDS(n); got != w {
			t.Errorf("ThreeDS(%s) = %s, want %s", n, got, w)
		}
	}
}

func TestChecks(t *testing.T) {
	s := New()
	for _, tc := range []struct {
		name     string
		card     processor.Card
		avs, cvc string
	}{
		{"nothing", processor.Card{Number: CardSuccessVisa, ExpMonth: 1, ExpYear: 2099}, "unavailable", "unchecked"},
		{"cvc", processor.Card{Number: CardSuccessVisa, ExpMonth: 1, ExpYear: 2099, CVC: "1234"}, "unavailable", "pass"},
		{"postal code", processor.Card{Number: CardSuccessVisa, ExpMonth: 1, ExpYear: 2099, PostalCode: "50450"}, "pass", "unchecked"},
		{"address", processor.Card{Number: CardSuccessVisa, ExpMonth: 1, ExpYear: 2099, AddressLine1: "1 Jalan Ampang"}, "pass", "unchecked"},
		{"avs fail with address", processor.Card{Number: CardAVSFail, ExpMonth: 1, ExpYear: 2099, PostalCode: "50450"}, "fail", "unchecked"},
	} {
		a, err := s.Authorize(ctx, processor.AuthorizeRequest{MerchantID: "m", Reference: tc.name, Card: tc.card, Amount: 1, Currency: "USD"})
		if err != nil || a.AVSResult != tc.avs || a.CVCResult != tc.cvc {
			t.Errorf("%s: %+v %v, want avs %s cvc %s", tc.name, a, err, tc.avs, tc.cvc)
		}
	}
	// 0127 fails the CVC check even without a CVC: the card itself is the test.
	_, err := s.Authorize(ctx, processor.AuthorizeRequest{MerchantID: "m", Reference: "0127", Card: processor.Card{Number: CardIncorrectCVC, ExpMonth: 1, ExpYear: 2099}, Amount: 1, Currency: "USD"})
	var d *processor.Decline
	if !errors.As(err, &d) || d.Code != "incorrect_cvc" || d.CVCResult != "fail" {
		t.Errorf("0127 without CVC: %v", err)
	}
}

func TestNetworkRefusals(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		name string
		card processor.Card
		code string
	}{
		{"luhn", processor.Card{Number: "4242424242424243", ExpMonth: 12, ExpYear: 2099}, "incorrect_number"},
		{"spaces", processor.Card{Number: "4242 4242 4242 4242", ExpMonth: 12, ExpYear: 2099}, "incorrect_number"},
		{"short", processor.Card{Number: "42424242424", ExpMonth: 12, ExpYear: 2099}, "incorrect_number"},
		{"empty", processor.Card{ExpMonth: 12, ExpYear: 2099}, "incorrect_number"},
		{"too long", processor.Card{Number: "42424242424242424242", ExpMonth: 12, ExpYear: 2099}, "incorrect_number"},
		{"last year", processor.Card{Number: CardSuccessVisa, ExpMonth: 12, ExpYear: now.Year() - 1}, "expired_card"},
		{"expired decline card", processor.Card{Number: CardGenericDecline, ExpMonth: 1, ExpYear: 2001}, "expired_card"},
		{"month 0", processor.Card{Number: CardSuccessVisa, ExpMonth: 0, ExpYear: 2099}, "invalid_expiry"},
		{"month 13", processor.Card{Number: CardSuccessVisa, ExpMonth: 13, ExpYear: 2099}, "invalid_expiry"},
		{"2-digit year", processor.Card{Number: CardSuccessVisa, ExpMonth: 12, ExpYear: 34}, "invalid_expiry"},
		{"cvc letters", processor.Card{Number: CardSuccessVisa, ExpMonth: 12, ExpYear: 2099, CVC: "12a"}, "invalid_cvc"},
		{"cvc short", processor.Card{Number: CardSuccessVisa, ExpMonth: 12, ExpYear: 2099, CVC: "12"}, "invalid_cvc"},
	} {
		s := New()
		_, err := s.Authorize(ctx, processor.AuthorizeRequest{MerchantID: "m", Reference: "r", Card: tc.card, Amount: 1, Currency: "USD"})
		var d *processor.Decline
		if !errors.As(err, &d) || d.Code != tc.code {
			t.Errorf("%s Authorize: %v, want %s", tc.name, err, tc.code)
		}
		_, err = s.Verify(ctx, processor.VerifyRequest{MerchantID: "m", Reference: "r", Card: tc.card, Amount: 100, Currency: "USD"})
		if !errors.As(err, &d) || d.Code != tc.code {
			t.Errorf("%s Verify: %v, want %s", tc.name, err, tc.code)
		}
	}
}

func TestExpiryBoundary(t *testing.T) {
	s := New()
	c := processor.Card{Number: CardSuccessVisa, ExpMonth: 3, ExpYear: 2030}
	for _, tc := range []struct {
		now     time.Time
		expired bool
	}{
		{time.Date(2030, 3, 31, 23, 59, 0, 0, time.UTC), false},
		{time.Date(2030, 4, 1, 11, 0, 0, 0, time.UTC), false}, // still March in UTC-12
		{time.Date(2030, 4, 1, 12, 0, 0, 0, time.UTC), true},
		{time.Date(2031, 1, 1, 12, 0, 0, 0, time.UTC), true},
	} {
		s.now = func() time.Time { return tc.now }
		_, err := s.Verify(ctx, processor.VerifyRequest{MerchantID: "m", Card: c, Currency: "USD"})
		var d *processor.Decline
		if got := errors.As(err, &d) && d.Code == "expired_card"; got != tc.expired || (!tc.expired && err != nil) {
			t.Errorf("at %v: %v, want expired=%v", tc.now, err, tc.expired)
		}
	}
}

func TestInvalidRequests(t *testing.T) {
	s := New()
	c := card(CardSuccessVisa)
	for name, r := range map[string]processor.AuthorizeRequest{
		"zero amount":       {Card: c, Amount: 0, Currency: "USD"},
		"negative amount":   {Card: c, Amount: -1, Currency: "USD"},
		"lower currency":    {Card: c, Amount: 1, Currency: "usd"},
		"empty currency":    {Card: c, Amount: 1},
		"4-letter currency": {Card: c, Amount: 1, Currency: "USDT"},
	} {
		if _, err := s.Authorize(ctx, r); !errors.Is(err, processor.ErrInvalidRequest) {
			t.Errorf("%s: %v, want ErrInvalidRequest", name, err)
		}
	}
	if _, err := s.Verify(ctx, processor.VerifyRequest{Card: c, Amount: -1, Currency: "USD"}); !errors.Is(err, processor.ErrInvalidRequest) {
		t.Errorf("Verify negative: %v", err)
	}
	if v, err := s.Verify(ctx, processor.VerifyRequest{Card: c, Amount: 0, Currency: "USD"}); err != nil || !v.Voided {
		t.Errorf("zero-amount Verify: %+v %v", v, err)
	}
	a, _ := s.Authorize(ctx, processor.AuthorizeRequest{Card: c, Amount: 10, Currency: "USD"})
	if _, err := s.Capture(ctx, a.ID, 0); !errors.Is(err, processor.ErrInvalidRequest) {
		t.Errorf("capture 0: %v", err)
	}
	cp, _ := s.Capture(ctx, a.ID, 10)
	if _, err := s.Refund(ctx, cp.ID, -5, ""); !errors.Is(err, processor.ErrInvalidRequest) {
		t.Errorf("refund -5: %v", err)
	}
	if st := s.Stats(); st.Authorizations != 2 || st.Verifications != 1 || st.Refunds != 0 {
		t.Errorf("invalid requests were counted: %+v", st)
	}
}

func TestCanceledContext(t *testing.T) {
	s := New()
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Authorize(cctx, processor.AuthorizeRequest{MerchantID: "m", Reference: "r", Card: card(CardSuccessVisa), Amount: 1, Currency: "USD"}); !errors.Is(err, context.Canceled) {
		t.Errorf("Authorize: %v", err)
	}
	if _, err := s.Verify(cctx, processor.VerifyRequest{Card: card(CardSuccessVisa), Currency: "USD"}); !errors.Is(err, context.Canceled) {
		t.Errorf("Verify: %v", err)
	}
	if _, err := s.Capture(cctx, "x", 1); !errors.Is(err, context.Canceled) {
		t.Errorf("Capture: %v", err)
	}
	if err := s.Void(cctx, "x"); !errors.Is(err, context.Canceled) {
		t.Errorf("Void: %v", err)
	}
	if _, err := s.Refund(cctx, "x", 1, ""); !errors.Is(err, context.Canceled) {
		t.Errorf("Refund: %v", err)
	}
	if s.Stats() != (Stats{}) || s.AuthorizationsFor("m", "r") != 0 {
		t.Error("a canceled call was counted")
	}
	// A canceled attempt must not poison the reference.
	if _, err := s.Authorize(ctx, processor.AuthorizeRequest{MerchantID: "m", Reference: "r", Card: card(CardSuccessVisa), Amount: 1, Currency: "USD"}); err != nil {
		t.Errorf("retry after cancel: %v", err)
	}
}

func TestAuthorizeIdempotent(t *testing.T) {
	s := New()
	r := processor.AuthorizeRequest{MerchantID: "mer_1", Reference: "pay_1", Card: card(CardSuccessVisa), Amount: 1000, Currency: "MYR"}
	a1, err := s.Authorize(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	a2, err := s.Authorize(ctx, r)
	if err != nil || a2 != a1 {
		t.Errorf("replay = %+v %v, want %+v", a2, err, a1)
	}
	if n := s.AuthorizationsFor("mer_1", "pay_1"); n != 1 {
		t.Errorf("AuthorizationsFor = %d, want 1", n)
	}
	// Another merchant's identical reference is a different authorization.
	r.MerchantID = "mer_2"
	a3, _ := s.Authorize(ctx, r)
	if a3.ID == a1.ID {
		t.Error("references are not scoped per merchant")
	}
	// No reference: no idempotency.
	r.Reference = ""
	a4, _ := s.Authorize(ctx, r)
	a5, _ := s.Authorize(ctx, r)
	if a4.ID == a5.ID {
		t.Error("calls without a reference were merged")
	}
	if st := s.Stats(); st.Authorizations != 4 {
		t.Errorf("Authorizations = %d, want 4", st.Authorizations)
	}

	// A decline replays as the same decline, counted once.
	r = processor.AuthorizeRequest{MerchantID: "mer_1", Reference: "pay_2", Card: card(CardInsufficientFunds), Amount: 1000, Currency: "MYR"}
	_, err1 := s.Authorize(ctx, r)
	_, err2 := s.Authorize(ctx, r)
	var d1, d2 *processor.Decline
	if !errors.As(err1, &d1) || !errors.As(err2, &d2) || *d1 != *d2 || d1.DeclineCode != "insufficient_funds" {
		t.Errorf("decline replay: %v / %v", err1, err2)
	}
	d1.Code = "tampered"
	if _, err := s.Authorize(ctx, r); !errors.As(err, &d2) || d2.Code != "card_declined" {
		t.Errorf("a caller's edit changed the stored decline: %v", err)
	}
	if n := s.AuthorizationsFor("mer_1", "pay_2"); n != 1 {
		t.Errorf("AuthorizationsFor decline = %d, want 1", n)
	}
}

func TestAuthorizeIdempotentConcurrent(t *testing.T) {
	s := New()
	r := processor.AuthorizeRequest{MerchantID: "mer_1", Reference: "pay_1", Card: card(CardSuccessVisa), Amount: 1000, Currency: "MYR"}
	ids := make([]string, 50)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() {
			a, err := s.Authorize(ctx, r)
			if err != nil {
				t.Error(err)
			}
			ids[i] = a.ID
		})
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("concurrent replays got different ids: %s vs %s", id, ids[0])
		}
	}
	if n := s.AuthorizationsFor("mer_1", "pay_1"); n != 1 {
		t.Errorf("AuthorizationsFor = %d, want 1", n)
	}
	if st := s.Stats(); st.Authorizations != 1 {
		t.Errorf("Authorizations = %d, want 1", st.Authorizations)
	}
}

func TestVerify(t *testing.T) {
	s := New()
	r := processor.VerifyRequest{MerchantID: "mer_1", Reference: "pay_1", Card: card(CardSuccessVisa), Amount: 100, Currency: "MYR"}
	v1, err := s.Verify(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	v2, _ := s.Verify(ctx, r)
	if v1 != v2 {
		t.Errorf("Verify replay %+v != %+v", v2, v1)
	}
	if err := s.Void(ctx, v1.AuthorizationID); err != nil {
		t.Errorf("voiding a verification again: %v", err)
	}
	// Verify and Authorize under the same reference are separate: the charge must not get the
	// verification's voided authorization back.
	a, err := s.Authorize(ctx, processor.AuthorizeRequest{MerchantID: "mer_1", Reference: "pay_1", Card: card(CardSuccessVisa), Amount: 1000, Currency: "MYR"})
	if err != nil || a.ID == v1.AuthorizationID {
		t.Fatalf("Authorize after Verify: %+v %v", a, err)
	}
	if _, err := s.Capture(ctx, a.ID, 1000); err != nil {
		t.Errorf("capture: %v", err)
	}
	if n := s.AuthorizationsFor("mer_1", "pay_1"); n != 2 {
		t.Errorf("AuthorizationsFor = %d, want 2", n)
	}
	want := Stats{Authorizations: 2, Captures: 1, Voids: 1, Verifications: 1}
	if st := s.Stats(); st != want {
		t.Errorf("stats = %+v, want %+v", st, want)
	}
}

func TestDeclineAfterVerify(t *testing.T) {
	s := New()
	if _, err := s.Verify(ctx, processor.VerifyRequest{MerchantID: "m", Reference: "tok", Card: card(CardDeclineAfterVerify), Amount: 100, Currency: "USD"}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		_, err := s.Authorize(ctx, processor.AuthorizeRequest{MerchantID: "m", Reference: fmt.Sprint("pay_", i), Card: card(CardDeclineAfterVerify), Amount: 100, Currency: "USD"})
		var d *processor.Decline
		if !errors.As(err, &d) || d.DeclineCode != "generic_decline" {
			t.Errorf("charge %d: %v", i, err)
		}
	}
}

func authorize(t *testing.T, s *Simulator, amount int64) processor.Authorization {
	t.Helper()
	a, err := s.Authorize(ctx, processor.AuthorizeRequest{MerchantID: "m", Card: card(CardSuccessVisa), Amount: amount, Currency: "USD"})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestCaptureVoidRefund(t *testing.T) {
	s := New()

	a := authorize(t, s, 1000)
	if _, err := s.Capture(ctx, a.ID, 1001); !errors.Is(err, processor.ErrInvalidState) {
		t.Errorf("capture above authorized: %v", err)
	}
	c, err := s.Capture(ctx, a.ID, 600)
	if err != nil || c.Amount != 600 || c.AuthorizationID != a.ID || !strings.HasPrefix(c.ID, "sim_cap_") {
		t.Fatalf("partial capture: %+v %v", c, err)
	}
	if _, err := s.Capture(ctx, a.ID, 400); !errors.Is(err, processor.ErrInvalidState) {
		t.Errorf("second capture: %v", err)
	}
	if err := s.Void(ctx, a.ID); !errors.Is(err, processor.ErrInvalidState) {
		t.Errorf("void after capture: %v", err)
	}
	r1, err := s.Refund(ctx, c.ID, 250, "")
	if err != nil || r1.Amount != 250 || r1.CaptureID != c.ID || !strings.HasPrefix(r1.ID, "sim_ref_") {
		t.Fatalf("refund: %+v %v", r1, err)
	}
	if _, err := s.Refund(ctx, c.ID, 351, ""); !errors.Is(err, processor.ErrInvalidState) {
		t.Errorf("refund above remaining: %v", err)
	}
	r2, err := s.Refund(ctx, c.ID, 350, "")
	if err != nil || r2.ID == r1.ID {
		t.Errorf("refund the rest: %+v %v", r2, err)
	}
	if _, err := s.Refund(ctx, c.ID, 1, ""); !errors.Is(err, processor.ErrInvalidState) {
		t.Errorf("refund after full refund: %v", err)
	}

	b := authorize(t, s, 500)
	if err := s.Void(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.Void(ctx, b.ID); err != nil {
		t.Errorf("second void: %v", err)
	}
	if _, err := s.Capture(ctx, b.ID, 500); !errors.Is(err, processor.ErrInvalidState) {
		t.Errorf("capture after void: %v", err)
	}

	if _, err := s.Capture(ctx, "sim_auth_nope", 1); !errors.Is(err, processor.ErrNotFound) {
		t.Errorf("capture unknown: %v", err)
	}
	if err := s.Void(ctx, "sim_auth_nope"); !errors.Is(err, processor.ErrNotFound) {
		t.Errorf("void unknown: %v", err)
	}
	if _, err := s.Refund(ctx, "sim_cap_nope", 1, ""); !errors.Is(err, processor.ErrNotFound) {
		t.Errorf("refund unknown: %v", err)
	}
	if _, err := s.Refund(ctx, a.ID, 1, ""); !errors.Is(err, processor.ErrNotFound) {
		t.Errorf("refund an authorization id: %v", err)
	}

	want := Stats{Authorizations: 2, Captures: 1, Voids: 1, Refunds: 2}
	if st := s.Stats(); st != want {
		t.Errorf("stats = %+v, want %+v", st, want)
	}
}

func TestConcurrentCapture(t *testing.T) {
	s := New()
	a := authorize(t, s, 1000)
	var ok, invalid atomic.Int64
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			_, err := s.Capture(ctx, a.ID, int64(500+i))
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, processor.ErrInvalidState):
				invalid.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 1 || invalid.Load() != 49 {
		t.Errorf("captures: %d succeeded, %d refused; want 1 and 49", ok.Load(), invalid.Load())
	}
	if st := s.Stats(); st.Captures != 1 {
		t.Errorf("Captures = %d", st.Captures)
	}
}

func TestConcurrentCaptureAndVoid(t *testing.T) {
	for range 20 {
		s := New()
		a := authorize(t, s, 1000)
		var captured, voided atomic.Int64
		var wg sync.WaitGroup
		for i := range 50 {
			wg.Go(func() {
				if i%2 == 0 {
					if _, err := s.Capture(ctx, a.ID, 1000); err == nil {
						captured.Add(1)
					}
				} else if err := s.Void(ctx, a.ID); err == nil {
					voided.Add(1)
				}
			})
		}
		wg.Wait()
		// Either one capture and no void, or voids (idempotent, so many succeed) and no capture.
		if captured.Load() > 1 || (captured.Load() == 1) == (voided.Load() > 0) {
			t.Fatalf("captured %d, voided %d", captured.Load(), voided.Load())
		}
	}
}

func TestConcurrentRefunds(t *testing.T) {
	s := New()
	a := authorize(t, s, 1000)
	c, err := s.Capture(ctx, a.ID, 770)
	if err != nil {
		t.Fatal(err)
	}
	var refunded, okCount atomic.Int64
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			amount := int64(10 + i%7)
			_, err := s.Refund(ctx, c.ID, amount, "")
			switch {
			case err == nil:
				refunded.Add(amount)
				okCount.Add(1)
			case !errors.Is(err, processor.ErrInvalidState):
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if refunded.Load() > 770 {
		t.Fatalf("refunded %d of a 770 capture", refunded.Load())
	}
	if st := s.Stats(); st.Refunds != okCount.Load() {
		t.Errorf("Refunds = %d, successes = %d", st.Refunds, okCount.Load())
	}
	// Whatever is left can still be refunded exactly, and not one unit more.
	if left := 770 - refunded.Load(); left > 0 {
		if _, err := s.Refund(ctx, c.ID, left, ""); err != nil {
			t.Errorf("refund remaining %d: %v", left, err)
		}
	}
	if _, err := s.Refund(ctx, c.ID, 1, ""); !errors.Is(err, processor.ErrInvalidState) {
		t.Errorf("over-refund: %v", err)
	}
}

// TestNoCardDataInOutput runs every card through every call and checks that nothing the
// simulator returns carries the PAN or the CVC.
func TestNoCardDataInOutput(t *testing.T) {
	s := New()
	const cvc = "9713"
	cvcRE := regexp.MustCompile(`(^|[^0-9A-Za-z])` + cvc + `($|[^0-9A-Za-z])`)
	for i, tc := range cardTable {
		c := card(tc.number)
		c.CVC = cvc
		ref := fmt.Sprint("ref_", i)
		var outs []string
		a, err := s.Authorize(ctx, processor.AuthorizeRequest{MerchantID: "m", Reference: ref, Card: c, Amount: 1000, Currency: "USD"})
		outs = append(outs, fmt.Sprintf("%+v %v", a, err))
		if err == nil {
			cp, err := s.Capture(ctx, a.ID, 2000)
			outs = append(outs, fmt.Sprintf("%+v %v", cp, err))
			cp, err = s.Capture(ctx, a.ID, 1000)
			outs = append(outs, fmt.Sprintf("%+v %v", cp, err))
			r, err := s.Refund(ctx, cp.ID, 5000, "")
			outs = append(outs, fmt.Sprintf("%+v %v", r, err))
			outs = append(outs, fmt.Sprint(s.Void(ctx, a.ID)))
		}
		v, err := s.Verify(ctx, processor.VerifyRequest{MerchantID: "m", Reference: ref, Card: c, Amount: 100, Currency: "USD"})
		outs = append(outs, fmt.Sprintf("%+v %v", v, err))
		outs = append(outs, fmt.Sprintf("%+v", s.Stats()))
		for _, o := range outs {
			// The CVC as a value of its own: ids are random letters and digits.
			if strings.Contains(o, tc.number) || strings.Contains(o, tc.number[6:len(tc.number)-4]) || cvcRE.MatchString(o) {
				t.Errorf("%s: output carries card data: %s", tc.number, o)
			}
		}
	}
}
