package payment

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/processor"
	"github.com/coffer-vault/coffer/internal/radar"
	"github.com/coffer-vault/coffer/internal/store"
)

type spyMetrics struct {
	mu  sync.Mutex
	got []string
}

func (s *spyMetrics) add(v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, v)
}

func (s *spyMetrics) ProcessorCall(connector, op, outcome string, _ time.Duration) {
	s.add(connector + " " + op + " " + outcome)
}
func (s *spyMetrics) ThreeDSChallenge(outcome string) { s.add("3ds " + outcome) }
func (s *spyMetrics) CardTestingRefused(rule string)  { s.add("refused " + rule) }

// answering is an acquirer whose every call ends as err says.
type answering struct {
	processor.Processor
	err error
}

func (a answering) Authorize(context.Context, processor.AuthorizeRequest) (processor.Authorization, error) {
	return processor.Authorization{}, a.err
}
func (a answering) Void(context.Context, string) error { return a.err }
func (a answering) Sale(context.Context, processor.AuthorizeRequest) (processor.Authorization, processor.Capture, error) {
	return processor.Authorization{}, processor.Capture{}, a.err
}

// TestMeasuredProcessor: every call through an acquirer is counted under
// its connector and operation, its outcome named from processor's errors;
// the answer passes through unchanged.
func TestMeasuredProcessor(t *testing.T) {
	spy := &spyMetrics{}
	d := &deps{metrics: spy}
	for _, err := range []error{nil, &processor.Decline{Code: processor.CodeCardDeclined},
		fmt.Errorf("%w: dial refused", processor.ErrUnreachable), &processor.ActionRequired{}, processor.ErrUnavailable,
		context.DeadlineExceeded, fmt.Errorf("boom")} {
		m := measured{Processor: answering{err: err}, connector: AccountStripe, d: d}
		if _, got := m.Authorize(context.Background(), processor.AuthorizeRequest{}); got != err {
			t.Errorf("Authorize returned %v, want %v", got, err)
		}
	}
	m := measured{Processor: answering{}, connector: AccountAuthorizeNet, d: d}
	m.Void(context.Background(), "x")
	m.Sale(context.Background(), processor.AuthorizeRequest{})
	want := []string{"stripe authorize ok", "stripe authorize declined", "stripe authorize unreachable",
		"stripe authorize action_required", "stripe authorize unavailable", "stripe authorize timeout", "stripe authorize error",
		"authorize_net void ok", "authorize_net sale ok"}
	if fmt.Sprint(spy.got) != fmt.Sprint(want) {
		t.Errorf("counted %q\nwant    %q", spy.got, want)
	}
	// Without Metrics nothing is counted, and nothing fails.
	measured{Processor: answering{}, connector: AccountStripe, d: &deps{}}.Void(context.Background(), "x")
}

// TestCardTestingRefusalCounted: a refusal by the card-testing control is
// counted by its rule.
func TestCardTestingRefusalCounted(t *testing.T) {
	spy := &spyMetrics{}
	g := &CardGuard{deps: &deps{metrics: spy}}
	err := g.refuse(context.Background(), &store.Merchant{ID: "mer_x"}, &radar.Block{Rule: radar.RuleCVCGuessing, RetryAfter: time.Minute}, "")
	if asError(t, err).Kind != KindRateLimit || fmt.Sprint(spy.got) != "[refused cvc_guessing]" {
		t.Errorf("refusal %v counted %q", err, spy.got)
	}
}
