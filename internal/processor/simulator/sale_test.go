package simulator

import (
	"errors"
	"testing"

	"github.com/coffer-vault/coffer/internal/processor"
)

func TestSale(t *testing.T) {
	books := newMemLedger()
	s := OverLedger(books)
	req := processor.AuthorizeRequest{MerchantID: "mer_1", Reference: "pay_sale", Card: card(CardSuccessVisa), Amount: 1500, Currency: "MYR"}
	a, c, err := s.Sale(ctx, req)
	if err != nil || c.Amount != 1500 || c.AuthorizationID != a.ID || c.ID == "" {
		t.Fatalf("sale: %+v %+v %v", a, c, err)
	}
	// A repeat (a retry after a lost answer) returns the same, counting nothing.
	before := s.Stats()
	a2, c2, err := s.Sale(ctx, req)
	if err != nil || a2.ID != a.ID || c2.ID != c.ID || s.Stats() != before {
		t.Fatalf("repeat: %+v %+v %v (stats %+v → %+v)", a2, c2, err, before, s.Stats())
	}
	if _, err := s.Capture(ctx, a.ID, 1); !errors.Is(err, processor.ErrInvalidState) {
		t.Fatalf("a sale is captured: %v", err)
	}
	if _, err := s.Refund(ctx, c.ID, 1500, ""); err != nil {
		t.Fatalf("refund of a sale: %v", err)
	}
	// A sale whose authorization exists but was never captured (the first
	// attempt died in between) captures it now, once.
	auth, err := s.Authorize(ctx, processor.AuthorizeRequest{MerchantID: "mer_1", Reference: "pay_half", Card: card(CardSuccessVisa), Amount: 700, Currency: "MYR"})
	if err != nil {
		t.Fatal(err)
	}
	a3, c3, err := s.Sale(ctx, processor.AuthorizeRequest{MerchantID: "mer_1", Reference: "pay_half", Card: card(CardSuccessVisa), Amount: 700, Currency: "MYR"})
	if err != nil || a3.ID != auth.ID || c3.Amount != 700 || s.AuthorizationsFor("mer_1", "pay_half") != 1 {
		t.Fatalf("completing sale: %+v %+v %v", a3, c3, err)
	}
	// Declines are declines, and capture nothing.
	_, _, err = s.Sale(ctx, processor.AuthorizeRequest{MerchantID: "mer_1", Reference: "pay_no", Card: card(CardInsufficientFunds), Amount: 100, Currency: "MYR"})
	var d *processor.Decline
	if !errors.As(err, &d) || d.DeclineCode != "insufficient_funds" {
		t.Fatalf("decline: %v", err)
	}
	// In the books, not the process: another simulator over them (another instance, or
	// this one restarted) sees the sale captured and refunded.
	s.Close()
	s = OverLedger(books)
	got, err := s.Lookup(ctx, "mer_1", "pay_sale")
	if err != nil || got.Captured != 1500 || got.Refunded != 1500 || got.CaptureID != c.ID {
		t.Fatalf("after restart: %+v %v", got, err)
	}
}

// A caller that vouches a reference is new (NewReference) gets the decision
// without a lookup, recorded all the same: a sale captured in the books, a
// decline kept as one. Vouching falsely is refused by the books (the
// duplicate reference), not answered from them, so a caller that relies on
// its fence sees the failure.
func TestNewReferenceIsDecidedWithoutALookup(t *testing.T) {
	books := newMemLedger()
	s := OverLedger(books)
	req := processor.AuthorizeRequest{MerchantID: "mer_1", Reference: "pay_new", Card: card(CardSuccessVisa), Amount: 1500,
		Currency: "MYR", NewReference: true}
	a, c, err := s.Sale(ctx, req)
	if err != nil || c.Amount != 1500 || c.AuthorizationID != a.ID || c.ID == "" || a.AuthCode == "" {
		t.Fatalf("sale of a new reference: %+v %+v %v", a, c, err)
	}
	got, err := s.Lookup(ctx, "mer_1", "pay_new")
	if err != nil || got.ID != a.ID || got.Captured != 1500 || got.CaptureID != c.ID {
		t.Fatalf("the books after it: %+v %v", got, err)
	}
	if _, _, err := s.Sale(ctx, req); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("a reference falsely vouched new: %v, want the books' ErrDuplicate", err)
	}
	req.NewReference = false
	if a2, c2, err := s.Sale(ctx, req); err != nil || a2.ID != a.ID || c2.ID != c.ID {
		t.Fatalf("the same reference asked plainly: %+v %+v %v, want the first answer", a2, c2, err)
	}

	auth, err := s.Authorize(ctx, processor.AuthorizeRequest{MerchantID: "mer_1", Reference: "pay_auth", Card: card(CardSuccessVisa),
		Amount: 700, Currency: "MYR", NewReference: true})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Lookup(ctx, "mer_1", "pay_auth"); err != nil || got.ID != auth.ID || got.Captured != 0 {
		t.Fatalf("an authorization of a new reference: %+v %v", got, err)
	}
	_, _, err = s.Sale(ctx, processor.AuthorizeRequest{MerchantID: "mer_1", Reference: "pay_dcl", Card: card(CardInsufficientFunds),
		Amount: 100, Currency: "MYR", NewReference: true})
	var d *processor.Decline
	if !errors.As(err, &d) || d.DeclineCode != "insufficient_funds" {
		t.Fatalf("decline of a new reference: %v", err)
	}
	if _, _, err := s.Sale(ctx, processor.AuthorizeRequest{MerchantID: "mer_1", Reference: "pay_dcl", Card: card(CardSuccessVisa),
		Amount: 100, Currency: "MYR"}); !errors.As(err, &d) {
		t.Fatalf("a retry of the declined reference: %v, want the recorded decline", err)
	}
}
