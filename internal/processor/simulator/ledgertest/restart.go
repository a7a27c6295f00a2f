package ledgertest

import (
	"errors"
	"testing"

	"github.com/coffer-vault/coffer/internal/processor"
	"github.com/coffer-vault/coffer/internal/processor/simulator"
)

// Everything a call did is in force after a restart: the books, the replays of every reference
// and the counters. Verifications are the process's own, so they are forgotten.
func testSurvivesRestart(t *testing.T, l Ledgers) {
	s := simulator.OverLedger(l.First)
	a := authorize(t, s, "pay_a", 1000)
	capA, err := s.Capture(ctx, a.ID, 600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Refund(ctx, capA.ID, 250, ""); err != nil {
		t.Fatal(err)
	}
	b := authorize(t, s, "pay_b", 500) // left uncaptured across the restart
	c := authorize(t, s, "pay_c", 700)
	if err := s.Void(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	v, err := s.Verify(ctx, processor.VerifyRequest{MerchantID: "mer_1", Reference: "tok_1", Card: Card(simulator.CardSuccessVisa), Amount: 100, Currency: "MYR"})
	if err != nil {
		t.Fatal(err)
	}
	declined := processor.AuthorizeRequest{MerchantID: "mer_1", Reference: "pay_d", Card: Card(simulator.CardInsufficientFunds), Amount: 1000, Currency: "MYR"}
	_, errD := s.Authorize(ctx, declined)
	var d1 *processor.Decline
	if !errors.As(errD, &d1) {
		t.Fatalf("decline: %v", errD)
	}
	// No reference: still capturable by id after the restart.
	noRef, err := s.Authorize(ctx, processor.AuthorizeRequest{MerchantID: "m", Card: Card(simulator.CardSuccessVisa), Amount: 300, Currency: "USD"})
	if err != nil {
		t.Fatal(err)
	}
	before := s.Stats()
	// Verifications are voided at once and kept in the process's memory only.
	before.Authorizations, before.Voids, before.Verifications = before.Authorizations-1, before.Voids-1, 0
	closeSim(t, s)

	s = simulator.OverLedger(l.Restart())
	if st := s.Stats(); st != before {
		t.Errorf("stats after restart = %+v, want %+v", st, before)
	}
	for ref, n := range map[string]int{"pay_a": 1, "pay_b": 1, "pay_c": 1, "tok_1": 0, "pay_d": 1} {
		if got := s.AuthorizationsFor("mer_1", ref); got != n {
			t.Errorf("AuthorizationsFor(%s) = %d, want %d", ref, got, n)
		}
	}

	// A repeat of every reference returns the first result and counts nothing.
	if a2 := authorize(t, s, "pay_a", 1000); a2 != a {
		t.Errorf("replayed Authorize = %+v, want %+v", a2, a)
	}
	// A verification was forgotten: the same reference verifies afresh.
	if v2, err := s.Verify(ctx, processor.VerifyRequest{MerchantID: "mer_1", Reference: "tok_1", Card: Card(simulator.CardSuccessVisa), Amount: 100, Currency: "MYR"}); err != nil || !v2.Voided || v2.AuthorizationID == v.AuthorizationID {
		t.Errorf("Verify after restart = %+v %v, want a new voided verification", v2, err)
	}
	before.Authorizations, before.Voids, before.Verifications = before.Authorizations+1, before.Voids+1, 1
	var d2 *processor.Decline
	if _, err := s.Authorize(ctx, declined); !errors.As(err, &d2) || *d2 != *d1 {
		t.Errorf("replayed decline = %v, want %v", err, errD)
	}
	if n := s.AuthorizationsFor("mer_1", "pay_a"); n != 1 {
		t.Errorf("AuthorizationsFor(pay_a) after replayed repeat = %d, want 1", n)
	}
	if st := s.Stats(); st != before {
		t.Errorf("replays were counted: %+v, want %+v", st, before)
	}

	// The rules hold across the restart: a captured authorization stays captured, refunds stay
	// within what is left, a voided one stays voided, an open one can be captured once.
	if _, err := s.Capture(ctx, a.ID, 100); !errors.Is(err, processor.ErrInvalidState) {
		t.Errorf("second capture after restart: %v", err)
	}
	if err := s.Void(ctx, a.ID); !errors.Is(err, processor.ErrInvalidState) {
		t.Errorf("void of captured after restart: %v", err)
	}
	if _, err := s.Refund(ctx, capA.ID, 351, ""); !errors.Is(err, processor.ErrInvalidState) {
		t.Errorf("over-refund after restart: %v", err)
	}
	if _, err := s.Refund(ctx, capA.ID, 350, ""); err != nil {
		t.Errorf("refund the rest after restart: %v", err)
	}
	if _, err := s.Capture(ctx, c.ID, 700); !errors.Is(err, processor.ErrInvalidState) {
		t.Errorf("capture of voided after restart: %v", err)
	}
	if err := s.Void(ctx, c.ID); err != nil {
		t.Errorf("repeat void after restart: %v", err)
	}
	if _, err := s.Capture(ctx, v.AuthorizationID, 100); !errors.Is(err, processor.ErrNotFound) {
		t.Errorf("capture of a forgotten verification after restart: %v", err)
	}
	if _, err := s.Capture(ctx, b.ID, 501); !errors.Is(err, processor.ErrInvalidState) {
		t.Errorf("capture above authorized after restart: %v", err)
	}
	capB, err := s.Capture(ctx, b.ID, 500)
	if err != nil {
		t.Fatalf("capture of an authorization made before the restart: %v", err)
	}
	if _, err := s.Capture(ctx, noRef.ID, 300); err != nil {
		t.Errorf("capture of an unreferenced authorization after restart: %v", err)
	}
	closeSim(t, s)
	afterSecondRestart(t, simulator.OverLedger(l.Restart()), a, capA, capB, b, d1)
}

// afterSecondRestart checks the books once more, with changes made on both sides of the first
// restart: pay_a captured (capA) and refunded in full, pay_b (b) captured since (capB), pay_c
// voided, pay_d declined (d1).
func afterSecondRestart(t *testing.T, s *simulator.Simulator, a processor.Authorization, capA, capB processor.Capture,
	b processor.Authorization, d1 *processor.Decline) {
	if _, err := s.Refund(ctx, capA.ID, 1, ""); !errors.Is(err, processor.ErrInvalidState) {
		t.Errorf("refund of a fully refunded capture after second restart: %v", err)
	}
	if _, err := s.Capture(ctx, b.ID, 500); !errors.Is(err, processor.ErrInvalidState) {
		t.Errorf("capture made after the first restart was forgotten: %v", err)
	}
	if _, err := s.Refund(ctx, capB.ID, 500, ""); err != nil {
		t.Errorf("refund after second restart: %v", err)
	}
	got, err := s.Lookup(ctx, "mer_1", "pay_a")
	if err != nil || got.ID != a.ID || got.Captured != 600 || got.CaptureID != capA.ID || got.Refunded != 600 || got.Voided {
		t.Errorf("Lookup(pay_a) after restarts = %+v %v", got, err)
	}
	if got, err := s.Lookup(ctx, "mer_1", "pay_c"); err != nil || !got.Voided || got.Captured != 0 {
		t.Errorf("Lookup(pay_c) after restarts = %+v %v", got, err)
	}
	var d3 *processor.Decline
	if _, err := s.Lookup(ctx, "mer_1", "pay_d"); !errors.As(err, &d3) || *d3 != *d1 {
		t.Errorf("Lookup(pay_d) after restarts = %v, want %v", err, d1)
	}
	want := simulator.Stats{Authorizations: 5, Captures: 3, Voids: 1, Refunds: 3, Verifications: 0}
	if st := s.Stats(); st != want {
		t.Errorf("stats = %+v, want %+v", st, want)
	}
}

// A sale is captured in the same call, and a repeat of it, through any server, returns the same
// authorization and capture.
func testSale(t *testing.T, l Ledgers) {
	s := simulator.OverLedger(l.First)
	req := processor.AuthorizeRequest{MerchantID: "mer_1", Reference: "pay_sale", Card: Card(simulator.CardSuccessVisa), Amount: 1500, Currency: "MYR"}
	a, c, err := s.Sale(ctx, req)
	if err != nil || c.Amount != 1500 || c.AuthorizationID != a.ID || c.ID == "" {
		t.Fatalf("sale: %+v %+v %v", a, c, err)
	}
	other := simulator.OverLedger(l.Another())
	before := other.Stats()
	a2, c2, err := other.Sale(ctx, req)
	if err != nil || a2 != a || c2 != c || other.Stats() != before {
		t.Fatalf("repeat through another server: %+v %+v %v (stats %+v → %+v)", a2, c2, err, before, other.Stats())
	}
	if _, err := other.Refund(ctx, c.ID, 1500, "re_1"); err != nil {
		t.Fatalf("refund of a sale through another server: %v", err)
	}
	if r, err := s.LookupRefund(ctx, c.ID, "re_1"); err != nil || r.Amount != 1500 {
		t.Fatalf("LookupRefund through the first: %+v %v", r, err)
	}
	closeSim(t, s)
	closeSim(t, other)
	s = simulator.OverLedger(l.Restart())
	got, err := s.Lookup(ctx, "mer_1", "pay_sale")
	if err != nil || got.Captured != 1500 || got.Refunded != 1500 || got.CaptureID != c.ID {
		t.Fatalf("after restart: %+v %v", got, err)
	}
}
