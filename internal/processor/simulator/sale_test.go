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
