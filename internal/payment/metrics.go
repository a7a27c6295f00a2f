package payment

import (
	"context"
	"errors"
	"time"

	"github.com/coffer-vault/coffer/internal/processor"
)

// Metrics counts what the domain does that operators watch
// (internal/metrics in the server). Every value it is given is one of
// Coffer's own names: connector types, operations, outcomes, rules.
type Metrics interface {
	// ProcessorCall is one call to an acquirer and how it ended.
	ProcessorCall(connector, operation, outcome string, took time.Duration)
	// ThreeDSChallenge is a challenge started, passed or failed.
	ThreeDSChallenge(outcome string)
	// CardTestingRefused is a card attempt the card-testing control refused.
	CardTestingRefused(rule string)
}

type nopMetrics struct{}

func (nopMetrics) ProcessorCall(string, string, string, time.Duration) {}
func (nopMetrics) ThreeDSChallenge(string)                             {}
func (nopMetrics) CardTestingRefused(string)                           {}

// measure is the configured Metrics, or one that counts nothing.
func (d *deps) measure() Metrics {
	if d.metrics == nil {
		return nopMetrics{}
	}
	return d.metrics
}

// 3-D Secure challenge outcomes, as Metrics.ThreeDSChallenge is told them.
const (
	challengeStarted = "started"
	challengePassed  = "passed"
	challengeFailed  = "failed"
)

// measured times every call to an acquirer and counts its outcome. It
// wraps each acquirer where it is built, so every path that calls one
// (payments, verifications, reconciliation) is counted.
type measured struct {
	processor.Processor
	connector string
	d         *deps
}

func (m measured) note(op string, start time.Time, err error) {
	m.d.measure().ProcessorCall(m.connector, op, callOutcome(err), time.Since(start))
}

// callOutcome names how a call ended, in the words of processor's errors.
func callOutcome(err error) string {
	var decline *processor.Decline
	var action *processor.ActionRequired
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &decline):
		return "declined"
	case errors.As(err, &action):
		return "action_required"
	case errors.Is(err, processor.ErrUnreachable):
		return "unreachable"
	case errors.Is(err, processor.ErrUnavailable):
		return "unavailable"
	case errors.Is(err, processor.ErrNotFound):
		return "not_found"
	case errors.Is(err, processor.ErrInvalidState):
		return "invalid_state"
	case errors.Is(err, processor.ErrInvalidRequest):
		return "invalid_request"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return "timeout"
	}
	return "error"
}

func (m measured) Authorize(ctx context.Context, r processor.AuthorizeRequest) (processor.Authorization, error) {
	start := time.Now()
	a, err := m.Processor.Authorize(ctx, r)
	m.note("authorize", start, err)
	return a, err
}

func (m measured) Capture(ctx context.Context, authorizationID string, amount int64) (processor.Capture, error) {
	start := time.Now()
	c, err := m.Processor.Capture(ctx, authorizationID, amount)
	m.note("capture", start, err)
	return c, err
}

func (m measured) Void(ctx context.Context, authorizationID string) error {
	start := time.Now()
	err := m.Processor.Void(ctx, authorizationID)
	m.note("void", start, err)
	return err
}

func (m measured) Refund(ctx context.Context, captureID string, amount int64, reference string) (processor.Refund, error) {
	start := time.Now()
	r, err := m.Processor.Refund(ctx, captureID, amount, reference)
	m.note("refund", start, err)
	return r, err
}

func (m measured) LookupRefund(ctx context.Context, captureID, reference string) (processor.Refund, error) {
	start := time.Now()
	r, err := m.Processor.LookupRefund(ctx, captureID, reference)
	m.note("lookup_refund", start, err)
	return r, err
}

func (m measured) Verify(ctx context.Context, r processor.VerifyRequest) (processor.Verification, error) {
	start := time.Now()
	v, err := m.Processor.Verify(ctx, r)
	m.note("verify", start, err)
	return v, err
}

func (m measured) Lookup(ctx context.Context, merchantID, reference string) (processor.Authorization, error) {
	start := time.Now()
	a, err := m.Processor.Lookup(ctx, merchantID, reference)
	m.note("lookup", start, err)
	return a, err
}

func (m measured) Sale(ctx context.Context, r processor.AuthorizeRequest) (processor.Authorization, processor.Capture, error) {
	start := time.Now()
	a, c, err := m.Processor.Sale(ctx, r)
	m.note("sale", start, err)
	return a, c, err
}
