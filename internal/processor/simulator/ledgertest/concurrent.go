package ledgertest

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/coffer-vault/coffer/internal/processor"
	"github.com/coffer-vault/coffer/internal/processor/simulator"
)

// two returns two simulators over one set of books, as two servers sharing them.
func two(l Ledgers) [2]*simulator.Simulator {
	return [2]*simulator.Simulator{simulator.OverLedger(l.First), simulator.OverLedger(l.Another())}
}

// Workers on two servers authorize (two per reference), capture and refund at once; the books
// hold exactly what was acknowledged, also after a restart.
func testConcurrent(t *testing.T, l Ledgers) {
	sims := two(l)
	const workers = 24
	var refunded atomic.Int64
	ids := make([]string, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			s := sims[i%2]
			ref := fmt.Sprint("pay_", i%(workers/2)) // two workers per reference, on different servers
			a, err := s.Authorize(ctx, processor.AuthorizeRequest{MerchantID: "mer_1", Reference: ref, Card: Card(simulator.CardSuccessVisa), Amount: 1000, Currency: "MYR"})
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = a.ID
			cp, err := s.Capture(ctx, a.ID, 900)
			if errors.Is(err, processor.ErrInvalidState) {
				return // the other worker of this reference captured it
			}
			if err != nil {
				t.Error(err)
				return
			}
			for range 3 {
				if _, err := s.Refund(ctx, cp.ID, 100, ""); err != nil {
					t.Error(err)
					return
				}
				refunded.Add(100)
			}
		})
	}
	wg.Wait()
	before := sims[0].Stats()
	want := simulator.Stats{Authorizations: workers / 2, Captures: workers / 2, Refunds: 3 * workers / 2}
	if before != want || refunded.Load() != 300*workers/2 {
		t.Errorf("stats = %+v (refunded %d), want %+v", before, refunded.Load(), want)
	}
	if st := sims[1].Stats(); st != before {
		t.Errorf("the other server counts %+v, the first %+v", st, before)
	}
	closeSim(t, sims[0])
	closeSim(t, sims[1])

	s := simulator.OverLedger(l.Restart())
	if st := s.Stats(); st != before {
		t.Errorf("stats after restart = %+v, want %+v", st, before)
	}
	for i := range workers {
		ref := fmt.Sprint("pay_", i%(workers/2))
		a, err := s.Lookup(ctx, "mer_1", ref)
		if err != nil || a.ID != ids[i] || a.Captured != 900 || a.Refunded != 300 {
			t.Errorf("Lookup(%s) = %+v %v, want %s captured 900 refunded 300", ref, a, err, ids[i])
		}
		if n := s.AuthorizationsFor("mer_1", ref); n != 1 {
			t.Errorf("AuthorizationsFor(%s) = %d", ref, n)
		}
	}
}

// Of many captures of one authorization through two servers exactly one succeeds; a void racing
// captures either wins alone or loses to one capture.
func testConcurrentCapture(t *testing.T, l Ledgers) {
	sims := two(l)
	a := authorize(t, sims[0], "pay_cap", 1000)
	var ok, invalid atomic.Int64
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			_, err := sims[i%2].Capture(ctx, a.ID, int64(500+i))
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
	if ok.Load() != 1 || invalid.Load() != 19 {
		t.Errorf("captures: %d succeeded, %d refused; want 1 and 19", ok.Load(), invalid.Load())
	}
	if st := sims[1].Stats(); st.Captures != 1 {
		t.Errorf("Captures = %d", st.Captures)
	}

	for round := range 4 {
		b := authorize(t, sims[0], fmt.Sprint("pay_race_", round), 1000)
		var captured, voided atomic.Int64
		for i := range 10 {
			wg.Go(func() {
				if i%2 == 0 {
					if _, err := sims[i%2].Capture(ctx, b.ID, 1000); err == nil {
						captured.Add(1)
					}
				} else if err := sims[i%2].Void(ctx, b.ID); err == nil {
					voided.Add(1)
				}
			})
		}
		wg.Wait()
		// Either one capture and no void, or voids (idempotent, so many succeed) and no capture.
		if captured.Load() > 1 || (captured.Load() == 1) == (voided.Load() > 0) {
			t.Fatalf("round %d: captured %d, voided %d", round, captured.Load(), voided.Load())
		}
	}
}

// Refunds through two servers never add up beyond the capture, and what is left can be refunded
// exactly.
func testConcurrentRefunds(t *testing.T, l Ledgers) {
	sims := two(l)
	a := authorize(t, sims[0], "pay_ref", 1000)
	c, err := sims[1].Capture(ctx, a.ID, 770)
	if err != nil {
		t.Fatal(err)
	}
	var refunded, okCount atomic.Int64
	var wg sync.WaitGroup
	for i := range 30 {
		wg.Go(func() {
			amount := int64(30 + i%7)
			_, err := sims[i%2].Refund(ctx, c.ID, amount, "")
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
	if st := sims[0].Stats(); st.Refunds != okCount.Load() {
		t.Errorf("Refunds = %d, successes = %d", st.Refunds, okCount.Load())
	}
	if got, err := sims[0].Lookup(ctx, "mer_1", "pay_ref"); err != nil || got.Refunded != refunded.Load() {
		t.Errorf("Lookup = %+v %v, want refunded %d", got, err, refunded.Load())
	}
	if left := 770 - refunded.Load(); left > 0 {
		if _, err := sims[1].Refund(ctx, c.ID, left, ""); err != nil {
			t.Errorf("refund remaining %d: %v", left, err)
		}
	}
	if _, err := sims[0].Refund(ctx, c.ID, 1, ""); !errors.Is(err, processor.ErrInvalidState) {
		t.Errorf("over-refund: %v", err)
	}
}

// One reference authorized, and one refund reference refunded, by many through two servers at
// once: one authorization and one refund, and every caller gets them.
func testConcurrentReference(t *testing.T, l Ledgers) {
	sims := two(l)
	const n = 16
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			a, err := sims[i%2].Authorize(ctx, processor.AuthorizeRequest{MerchantID: "mer_1", Reference: "pay_same", Card: Card(simulator.CardSuccessVisa), Amount: 1000, Currency: "MYR"})
			if err != nil {
				t.Error(err)
			}
			ids[i] = a.ID
		})
	}
	wg.Wait()
	for i, id := range ids {
		if id != ids[0] {
			t.Fatalf("authorization %d got %s, the first %s", i, id, ids[0])
		}
	}
	if got := sims[1].AuthorizationsFor("mer_1", "pay_same"); got != 1 {
		t.Errorf("AuthorizationsFor = %d, want 1", got)
	}
	c, err := sims[0].Capture(ctx, ids[0], 1000)
	if err != nil {
		t.Fatal(err)
	}
	refunds := make([]string, n)
	for i := range n {
		wg.Go(func() {
			r, err := sims[i%2].Refund(ctx, c.ID, 400, "re_same")
			if err != nil {
				t.Error(err)
			}
			refunds[i] = r.ID
		})
	}
	wg.Wait()
	for i, id := range refunds {
		if id != refunds[0] {
			t.Fatalf("refund %d got %s, the first %s", i, id, refunds[0])
		}
	}
	if got, err := sims[1].Lookup(ctx, "mer_1", "pay_same"); err != nil || got.Refunded != 400 {
		t.Errorf("Lookup after one refund under one reference: %+v %v", got, err)
	}
}
