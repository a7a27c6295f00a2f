package payment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/coffer-vault/coffer/internal/id"
	"github.com/coffer-vault/coffer/internal/processor"
	"github.com/coffer-vault/coffer/internal/radar"
	"github.com/coffer-vault/coffer/internal/store"
)

// CardGuard is the card-testing defence every path that checks a card goes
// through (tokens, payments, token validation): it asks the radar before a
// card is tried and tells it the outcome after.
type CardGuard struct {
	*deps
	events *Events
	radar  *radar.Guard
}

// Card-testing control: every path that tokenizes, verifies or charges a
// card the merchant does not already hold goes through admitCard first, and
// tells the guard what the issuer said; every check of a stored card's CVC
// goes through admitCVC. The guard's refusal is a 429 with Retry-After; the
// first refusal of an episode is written as an audit record and a
// radar.card_testing event in one transaction, so the merchant hears of it
// once, not once per blocked request.

// EventCardTesting is the event a merchant receives when a rule trips.
const EventCardTesting = "radar.card_testing"

// CardTestingView is the object of a radar.card_testing event.
type CardTestingView struct {
	ID                string    `json:"id"`
	Object            string    `json:"object"`
	Rule              string    `json:"rule"`
	BIN               string    `json:"bin,omitempty"`
	Last4             string    `json:"last4,omitempty"`
	Token             string    `json:"token,omitempty"`
	Count             int       `json:"count"`
	Limit             int       `json:"limit"`
	WindowSeconds     int       `json:"window_seconds"`
	RetryAfterSeconds int       `json:"retry_after_seconds"`
	Created           time.Time `json:"created"`
}

// cardLimits are the merchant's thresholds over radar's defaults.
func cardLimits(m *store.Merchant) radar.Limits {
	c := m.Settings.CardTesting
	return radar.Limits{SuffixCards: c.SuffixCards, UnverifiedPerMinute: c.UnverifiedPerMinute, DeclineMin: c.DeclineMin,
		DeclineRatio: c.DeclineRatio, CVCFailures: c.CVCFailures}.WithDefaults()
}

// admitCard asks the guard about a card about to be stored, verified or
// charged; a refusal comes back as the error to answer.
func (s *CardGuard) admitCard(ctx context.Context, m *store.Merchant, bin, last4, fingerprint string, unverified bool) error {
	b := s.radar.Admit(m.ID, cardLimits(m), radar.Candidate{BIN: bin, Last4: last4, Fingerprint: fingerprint, Unverified: unverified})
	if b == nil {
		return nil
	}
	return s.refuse(ctx, m, b, "")
}

// admitCVC asks the guard before a stored card's CVC is checked.
func (s *CardGuard) admitCVC(ctx context.Context, m *store.Merchant, t *store.Token) error {
	b := s.radar.CheckCVC(m.ID, cardLimits(m), t.Fingerprint, t.BIN, t.Last4)
	if b == nil {
		return nil
	}
	return s.refuse(ctx, m, b, t.ID)
}

// cardOutcome tells the guard how an admitted card fared at the issuer;
// err is what the verification or authorization returned (a declined card
// is a processor.Decline or a card *Error). When this outcome trips a rule,
// the trip is reported; the request itself keeps its own answer.
func (s *CardGuard) cardOutcome(ctx context.Context, m *store.Merchant, bin, last4, fingerprint, tokenID string, err error) {
	declined, wrongCVC := false, false
	var d *processor.Decline
	var pe *Error
	switch {
	case err == nil:
	case errors.As(err, &d):
		declined, wrongCVC = true, d.Code == processor.CodeIncorrectCVC
	case errors.As(err, &pe) && pe.Kind == KindCard:
		declined, wrongCVC = true, pe.Code == processor.CodeIncorrectCVC
	default:
		return // the processor failed, not the card: no signal
	}
	if b := s.radar.Outcome(m.ID, cardLimits(m), fingerprint, bin, last4, declined, wrongCVC); b != nil {
		s.report(ctx, m, b, tokenID)
	}
}

// refuse turns a guard's refusal into the 429 to answer, reporting it when
// it opens an episode.
func (s *CardGuard) refuse(ctx context.Context, m *store.Merchant, b *radar.Block, tokenID string) error {
	s.measure().CardTestingRefused(b.Rule)
	if b.First {
		s.report(ctx, m, b, tokenID)
	}
	secs := retrySeconds(b.RetryAfter)
	return &Error{Kind: KindRateLimit, Code: "card_testing", RetryAfter: time.Duration(secs) * time.Second,
		Message: fmt.Sprintf("Too many card attempts that look like card testing (%s); retry after %d seconds.", b.Rule, secs)}
}

func retrySeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

// report writes the audit record and the event of a rule that tripped. A
// failure to report is logged, never turned into the request's answer.
func (s *CardGuard) report(ctx context.Context, m *store.Merchant, b *radar.Block, tokenID string) {
	now := s.now()
	v := CardTestingView{ID: id.NewOrdered("ctst"), Object: "card_testing", Rule: b.Rule, BIN: b.BIN, Last4: b.Last4, Token: tokenID,
		Count: b.Count, Limit: b.Limit, WindowSeconds: int(b.Window / time.Second), RetryAfterSeconds: retrySeconds(b.RetryAfter), Created: now}
	data, err := json.Marshal(v)
	if err == nil {
		err = s.store.Write(context.WithoutCancel(ctx), func(tx store.Tx) error {
			// The audit trail of the card when one is known (a token's CVC),
			// else of the episode itself.
			obj := v.ID
			if tokenID != "" {
				obj = tokenID
			}
			if err := tx.InsertAudit(&store.Audit{ID: id.NewOrdered("aud"), MerchantID: m.ID, Action: "card_testing", ObjectID: obj,
				Purpose: b.Rule, RequestID: RequestID(ctx), Created: now}); err != nil {
				return err
			}
			return s.events.eventData(tx, m.ID, EventCardTesting, "card_testing", v.ID, data)
		})
	}
	if err != nil {
		s.log.Error("card testing: report failed", "merchant", m.ID, "rule", b.Rule, "err", err)
		return
	}
	s.log.Warn("card testing: rule tripped", "merchant", m.ID, "rule", b.Rule, "bin", b.BIN, "last4", b.Last4,
		"count", b.Count, "limit", b.Limit, "retry_after_s", v.RetryAfterSeconds)
}
