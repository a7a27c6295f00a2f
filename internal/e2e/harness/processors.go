package harness

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/processor"
	"github.com/coffer-vault/coffer/internal/processor/simulator"
)

// Acquirer is the simulator with the seams the e2e tests need to make an
// acquirer misbehave: lose an answer after acting, fail before acting, hold
// a call until the test releases it, and record what reached it. Its zero
// seams make it the plain simulator; start a server on it with
// WithProcessor(a). One type serves what the tests had as flakyProc,
// rcProc, rvProc, r3Proc, payGateProc, rwRefundFails and spgVerifyProc.
type Acquirer struct {
	*simulator.Simulator

	// LoseSale, LoseRefund and LoseVoid make the next such call act at the
	// acquirer and then lose its answer, as a network timeout does.
	LoseSale, LoseRefund, LoseVoid atomic.Bool
	// DropSale makes the next Sale fail as a network error would, before
	// it reaches the acquirer (nothing is charged).
	DropSale atomic.Bool
	// RefuseRefunds makes the acquirer decline every refund.
	RefuseRefunds atomic.Bool
	// IgnoreCancel makes Capture and Sale finish at the acquirer even when
	// the request that asked is abandoned (its context canceled).
	IgnoreCancel atomic.Bool

	mu         sync.Mutex
	saleErr    error
	holdSale   *Gate
	holdVerify *Gate
	holdLookup *Gate
	lookupRef  string
	gate       *Gate
	charged    []string
	verifies   []Verification
}

// Gate is one held acquirer call: Entered is closed when the call arrives
// at the hold, and the test closes Release to let it go on.
type Gate struct {
	Entered chan struct{}
	Release chan struct{}
}

// Verification is what a Verify reached the acquirer with (never the card).
type Verification struct {
	Amount        int64
	Currency      string
	Authenticated bool
}

// NewAcquirer wraps a new simulator.
func NewAcquirer() *Acquirer { return &Acquirer{Simulator: simulator.New()} }

func newGate() *Gate { return &Gate{Entered: make(chan struct{}), Release: make(chan struct{})} }

// take returns the gate in *g and disarms it (nil when none is armed).
func (a *Acquirer) take(g **Gate) *Gate {
	a.mu.Lock()
	defer a.mu.Unlock()
	h := *g
	*g = nil
	return h
}

func (a *Acquirer) ctx(ctx context.Context) context.Context {
	if a.IgnoreCancel.Load() {
		return context.WithoutCancel(ctx)
	}
	return ctx
}

// FailSales makes every Sale fail with err without reaching the acquirer,
// until called again with nil.
func (a *Acquirer) FailSales(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.saleErr = err
}

// HoldSale holds the next Sale before it reaches the acquirer until the
// gate is released.
func (a *Acquirer) HoldSale() *Gate {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.holdSale = newGate()
	return a.holdSale
}

// HoldVerify holds the next Verify, after the acquirer verified, until the
// gate is released.
func (a *Acquirer) HoldVerify() *Gate {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.holdVerify = newGate()
	return a.holdVerify
}

// HoldLookup holds the next Lookup or LookupRefund of reference (a payment
// or refund id), after it read the acquirer's state, until the gate is
// released.
func (a *Acquirer) HoldLookup(reference string) *Gate {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.holdLookup, a.lookupRef = newGate(), reference
	return a.holdLookup
}

// GateCapture makes the next Capture or Sale do its work at the acquirer
// and then hold its answer until the gate is released (at most 10 s, in
// case the test failed first): the acquirer's answer arriving after the
// client gave up. Pair it with IgnoreCancel.
func (a *Acquirer) GateCapture() *Gate {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.gate = newGate()
	return a.gate
}

func (a *Acquirer) passGate() {
	if g := a.take(&a.gate); g != nil {
		close(g.Entered)
		select {
		case <-g.Release:
		case <-time.After(10 * time.Second): // a bound, in case the test failed first
		}
	}
}

// Charged lists the last 4 digits of every card a Sale reached the
// acquirer with.
func (a *Acquirer) Charged() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.charged...)
}

// Verifications lists what every Verify reached the acquirer with.
func (a *Acquirer) Verifications() []Verification {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]Verification(nil), a.verifies...)
}

// Sale applies the Sale seams: FailSales, HoldSale, DropSale, then the
// acquirer, then LoseSale and GateCapture.
func (a *Acquirer) Sale(ctx context.Context, r processor.AuthorizeRequest) (processor.Authorization, processor.Capture, error) {
	a.mu.Lock()
	err := a.saleErr
	a.mu.Unlock()
	if err != nil {
		return processor.Authorization{}, processor.Capture{}, err
	}
	if g := a.take(&a.holdSale); g != nil {
		close(g.Entered)
		<-g.Release
	}
	if a.DropSale.CompareAndSwap(true, false) {
		return processor.Authorization{}, processor.Capture{}, errors.New("acquirer: connection reset by peer")
	}
	a.mu.Lock()
	a.charged = append(a.charged, r.Card.Number[len(r.Card.Number)-4:])
	a.mu.Unlock()
	au, c, err := a.Simulator.Sale(a.ctx(ctx), r)
	if err == nil && a.LoseSale.CompareAndSwap(true, false) {
		return processor.Authorization{}, processor.Capture{}, errors.New("acquirer: read timeout")
	}
	a.passGate()
	return au, c, err
}

// Capture is the acquirer's capture, then GateCapture.
func (a *Acquirer) Capture(ctx context.Context, authorizationID string, amount int64) (processor.Capture, error) {
	c, err := a.Simulator.Capture(a.ctx(ctx), authorizationID, amount)
	a.passGate()
	return c, err
}

// Refund is declined under RefuseRefunds; otherwise the acquirer's refund,
// then LoseRefund.
func (a *Acquirer) Refund(ctx context.Context, captureID string, amount int64, reference string) (processor.Refund, error) {
	if a.RefuseRefunds.Load() {
		return processor.Refund{}, &processor.Decline{Code: "processing_error", DeclineCode: "refund_refused", Message: "Refund refused."}
	}
	r, err := a.Simulator.Refund(ctx, captureID, amount, reference)
	if err == nil && a.LoseRefund.CompareAndSwap(true, false) {
		return processor.Refund{}, errors.New("acquirer: read timeout")
	}
	return r, err
}

// Void is the acquirer's void, then LoseVoid.
func (a *Acquirer) Void(ctx context.Context, authorizationID string) error {
	err := a.Simulator.Void(ctx, authorizationID)
	if err == nil && a.LoseVoid.CompareAndSwap(true, false) {
		return errors.New("acquirer: read timeout")
	}
	return err
}

// Verify records the verification, asks the acquirer, then HoldVerify.
func (a *Acquirer) Verify(ctx context.Context, r processor.VerifyRequest) (processor.Verification, error) {
	a.mu.Lock()
	a.verifies = append(a.verifies, Verification{r.Amount, r.Currency, r.Authentication != nil && r.Authentication.Status == processor.AuthAuthenticated})
	a.mu.Unlock()
	v, err := a.Simulator.Verify(ctx, r)
	if g := a.take(&a.holdVerify); g != nil {
		close(g.Entered)
		<-g.Release
	}
	return v, err
}

// pauseLookup holds a lookup of the held reference (after it read the
// acquirer's state) until the test releases it.
func (a *Acquirer) pauseLookup(reference string) {
	a.mu.Lock()
	var g *Gate
	if a.holdLookup != nil && a.lookupRef == reference {
		g, a.holdLookup, a.lookupRef = a.holdLookup, nil, ""
	}
	a.mu.Unlock()
	if g != nil {
		close(g.Entered)
		<-g.Release
	}
}

// Lookup is the acquirer's lookup, then HoldLookup.
func (a *Acquirer) Lookup(ctx context.Context, merchantID, reference string) (processor.Authorization, error) {
	au, err := a.Simulator.Lookup(ctx, merchantID, reference)
	a.pauseLookup(reference)
	return au, err
}

// LookupRefund is the acquirer's refund lookup, then HoldLookup (its
// reference is the refund id).
func (a *Acquirer) LookupRefund(ctx context.Context, captureID, reference string) (processor.Refund, error) {
	r, err := a.Simulator.LookupRefund(ctx, captureID, reference)
	a.pauseLookup(reference)
	return r, err
}

// Refunded is how much the acquirer has refunded of a merchant's payment
// (by its reference, the payment id).
func (a *Acquirer) Refunded(t testing.TB, merchantID, paymentID string) int64 {
	t.Helper()
	au, err := a.Simulator.Lookup(context.Background(), merchantID, paymentID)
	if err != nil {
		t.Fatalf("lookup %s: %v", paymentID, err)
	}
	return au.Refunded
}
