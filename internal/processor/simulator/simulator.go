// Package simulator is Coffer's built-in acquirer for test mode: it answers the test cards of
// API.md and keeps an in-memory ledger that enforces the same state rules a real acquirer does, so
// that the payment logic above it is exercised honestly without a network.
package simulator

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/coffer-vault/coffer/internal/processor"
)

var _ processor.Processor = (*Simulator)(nil)

// Stats counts what the simulated acquirer did. Authorizations counts every authorization it
// processed, approved or declined, including the one inside each Verify; a replay of an earlier
// reference is not counted because the acquirer did no new work. Verifications likewise counts
// processed Verify calls. Voids counts authorizations that became voided, including Verify's.
type Stats struct {
	Authorizations, Captures, Voids, Refunds, Verifications int64
}

type authState int

const (
	authorized authState = iota
	captured
	voided
)

type authRecord struct {
	amount int64
	state  authState
}

type captureRecord struct {
	amount, refunded int64
}

// idemKey separates Verify from Authorize: a caller that verifies and then charges under the
// same reference must get a fresh authorization, not the voided one.
type idemKey struct {
	verify              bool
	merchant, reference string
}

type refKey struct{ merchant, reference string }

type result struct {
	auth    processor.Authorization
	verif   processor.Verification
	decline *processor.Decline
}

// Simulator is safe for concurrent use. One mutex guards the whole ledger: every operation is a
// few map accesses, and a single lock makes the amount rules trivially impossible to race past.
type Simulator struct {
	now func() time.Time // replaceable so tests can sit on an expiry boundary

	mu       sync.Mutex
	auths    map[string]*authRecord
	captures map[string]*captureRecord
	results  map[idemKey]result
	perRef   map[refKey]int
	stats    Stats
}

// New returns an empty simulator.
func New() *Simulator {
	return &Simulator{
		now:      time.Now,
		auths:    make(map[string]*authRecord),
		captures: make(map[string]*captureRecord),
		results:  make(map[idemKey]result),
		perRef:   make(map[refKey]int),
	}
}

// Stats returns a snapshot of the counters.
func (s *Simulator) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// AuthorizationsFor reports how many authorizations (approved or declined, from Authorize or
// Verify) the acquirer processed for this reference. Replays do not add to it, which is what lets
// a test prove that retries reached the card exactly once.
func (s *Simulator) AuthorizationsFor(merchantID, reference string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.perRef[refKey{merchantID, reference}]
}

// Authorize implements processor.Processor. A repeat of MerchantID+Reference returns the first
// result, decline included. An empty Reference opts out of that: each such call is new.
func (s *Simulator) Authorize(ctx context.Context, r processor.AuthorizeRequest) (processor.Authorization, error) {
	if err := ctx.Err(); err != nil {
		return processor.Authorization{}, err
	}
	if r.Amount <= 0 {
		return processor.Authorization{}, fmt.Errorf("%w: amount must be positive", processor.ErrInvalidRequest)
	}
	if err := checkCurrency(r.Currency); err != nil {
		return processor.Authorization{}, err
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	key := idemKey{merchant: r.MerchantID, reference: r.Reference}
	if r.Reference != "" {
		if res, ok := s.results[key]; ok {
			return res.auth, res.err()
		}
	}
	auth, d := s.authorizeLocked(r.MerchantID, r.Reference, r.Card, r.Amount, r.Currency, false)
	if r.Reference != "" {
		s.results[key] = result{auth: auth, decline: d}
	}
	if d != nil {
		return processor.Authorization{}, copyDecline(d)
	}
	return auth, nil
}

// Verify implements processor.Processor: an authorization of r.Amount that is voided at once.
// It is idempotent by MerchantID+Reference like Authorize, in its own key space.
func (s *Simulator) Verify(ctx context.Context, r processor.VerifyRequest) (processor.Verification, error) {
	if err := ctx.Err(); err != nil {
		return processor.Verification{}, err
	}
	if r.Amount < 0 {
		return processor.Verification{}, fmt.Errorf("%w: amount must not be negative", processor.ErrInvalidRequest)
	}
	if err := checkCurrency(r.Currency); err != nil {
		return processor.Verification{}, err
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	key := idemKey{verify: true, merchant: r.MerchantID, reference: r.Reference}
	if r.Reference != "" {
		if res, ok := s.results[key]; ok {
			return res.verif, res.err()
		}
	}
	s.stats.Verifications++
	auth, d := s.authorizeLocked(r.MerchantID, r.Reference, r.Card, r.Amount, r.Currency, true)
	var v processor.Verification
	if d == nil {
		s.auths[auth.ID].state = voided
		s.stats.Voids++
		v = processor.Verification{
			AuthorizationID: auth.ID,
			AuthCode:        auth.AuthCode,
			AVSResult:       auth.AVSResult,
			CVCResult:       auth.CVCResult,
			Voided:          true,
		}
	}
	if r.Reference != "" {
		s.results[key] = result{verif: v, decline: d}
	}
	if d != nil {
		return processor.Verification{}, copyDecline(d)
	}
	return v, nil
}

// authorizeLocked asks the simulated issuer and, on approval, opens the authorization in the
// ledger. s.mu must be held.
func (s *Simulator) authorizeLocked(merchant, reference string, c processor.Card, amount int64, currency string, verify bool) (processor.Authorization, *processor.Decline) {
	s.stats.Authorizations++
	s.perRef[refKey{merchant, reference}]++

	avs, cvc, d := s.decide(c, verify)
	if d != nil {
		return processor.Authorization{}, d
	}
	id := newID("sim_auth_")
	s.auths[id] = &authRecord{amount: amount, state: authorized}
	return processor.Authorization{
		ID:        id,
		AuthCode:  rand.Text()[:6],
		Amount:    amount,
		Currency:  currency,
		AVSResult: avs,
		CVCResult: cvc,
	}, nil
}

// decide is the simulated issuer. The checks a real network makes before the issuer sees the
// card (number, expiry, CVC format) come first and apply to every card; the test-card table comes
// after, so a test card with a past expiry is refused as expired like any other.
func (s *Simulator) decide(c processor.Card, verify bool) (avs, cvc string, d *processor.Decline) {
	if !validNumber(c.Number) {
		return "", "", decline(processor.CodeIncorrectNumber, "", processor.CheckUnavailable, processor.CheckUnchecked)
	}
	if c.ExpMonth < 1 || c.ExpMonth > 12 || c.ExpYear < 1000 || c.ExpYear > 9999 {
		return "", "", decline(processor.CodeInvalidExpiry, "", processor.CheckUnavailable, processor.CheckUnchecked)
	}
	if expired(c.ExpMonth, c.ExpYear, s.now()) {
		return "", "", decline(processor.CodeExpiredCard, processor.CodeExpiredCard, processor.CheckUnavailable, processor.CheckUnchecked)
	}
	if c.CVC != "" && !validCVC(c.CVC) {
		return "", "", decline(processor.CodeInvalidCVC, "", processor.CheckUnavailable, processor.CheckFail)
	}

	avs, cvc = processor.CheckUnavailable, processor.CheckUnchecked
	if c.AddressLine1 != "" || c.PostalCode != "" {
		avs = processor.CheckPass
	}
	if c.CVC != "" {
		cvc = processor.CheckPass
	}
	b := testCards[c.Number]
	if b.avsFail {
		avs = processor.CheckFail
	}
	if b.cvcFail {
		cvc = processor.CheckFail
	}
	if b.code != "" && !(b.chargesOnly && verify) {
		return "", "", decline(b.code, b.declineCode, avs, cvc)
	}
	return avs, cvc, nil
}

// Capture implements processor.Processor.
func (s *Simulator) Capture(ctx context.Context, authorizationID string, amount int64) (processor.Capture, error) {
	if err := ctx.Err(); err != nil {
		return processor.Capture{}, err
	}
	if amount <= 0 {
		return processor.Capture{}, fmt.Errorf("%w: capture amount must be positive", processor.ErrInvalidRequest)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.auths[authorizationID]
	if !ok {
		return processor.Capture{}, fmt.Errorf("%w: authorization %q", processor.ErrNotFound, authorizationID)
	}
	switch a.state {
	case voided:
		return processor.Capture{}, fmt.Errorf("%w: authorization is voided", processor.ErrInvalidState)
	case captured:
		return processor.Capture{}, fmt.Errorf("%w: authorization is already captured", processor.ErrInvalidState)
	}
	if amount > a.amount {
		return processor.Capture{}, fmt.Errorf("%w: capture amount %d exceeds authorized amount %d", processor.ErrInvalidState, amount, a.amount)
	}
	a.state = captured
	id := newID("sim_cap_")
	s.captures[id] = &captureRecord{amount: amount}
	s.stats.Captures++
	return processor.Capture{ID: id, AuthorizationID: authorizationID, Amount: amount}, nil
}

// Void implements processor.Processor. Voiding twice succeeds so that a caller retrying a void
// whose answer it lost does not see a spurious failure.
func (s *Simulator) Void(ctx context.Context, authorizationID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.auths[authorizationID]
	if !ok {
		return fmt.Errorf("%w: authorization %q", processor.ErrNotFound, authorizationID)
	}
	switch a.state {
	case voided:
		return nil
	case captured:
		return fmt.Errorf("%w: authorization is captured; refund it instead", processor.ErrInvalidState)
	}
	a.state = voided
	s.stats.Voids++
	return nil
}

// Refund implements processor.Processor.
func (s *Simulator) Refund(ctx context.Context, captureID string, amount int64) (processor.Refund, error) {
	if err := ctx.Err(); err != nil {
		return processor.Refund{}, err
	}
	if amount <= 0 {
		return processor.Refund{}, fmt.Errorf("%w: refund amount must be positive", processor.ErrInvalidRequest)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.captures[captureID]
	if !ok {
		return processor.Refund{}, fmt.Errorf("%w: capture %q", processor.ErrNotFound, captureID)
	}
	if left := c.amount - c.refunded; amount > left {
		return processor.Refund{}, fmt.Errorf("%w: refund amount %d exceeds the %d left to refund", processor.ErrInvalidState, amount, left)
	}
	c.refunded += amount
	s.stats.Refunds++
	return processor.Refund{ID: newID("sim_ref_"), CaptureID: captureID, Amount: amount}, nil
}

func (r result) err() error {
	if r.decline == nil {
		return nil
	}
	return copyDecline(r.decline)
}

// copyDecline hands each caller its own value, so one caller editing the error it got cannot
// change what a later replay returns.
func copyDecline(d *processor.Decline) *processor.Decline {
	c := *d
	return &c
}

func decline(code, declineCode, avs, cvc string) *processor.Decline {
	msg := messages[declineCode]
	if msg == "" {
		msg = messages[code]
	}
	return &processor.Decline{Code: code, DeclineCode: declineCode, Message: msg, AVSResult: avs, CVCResult: cvc}
}

// newID draws 128 random bits, which makes a collision not worth checking for.
func newID(prefix string) string {
	return prefix + strings.ToLower(rand.Text())
}

func checkCurrency(c string) error {
	if len(c) != 3 {
		return fmt.Errorf("%w: currency must be a 3-letter ISO 4217 code", processor.ErrInvalidRequest)
	}
	for i := 0; i < 3; i++ {
		if c[i] < 'A' || c[i] > 'Z' {
			return fmt.Errorf("%w: currency must be a 3-letter upper-case ISO 4217 code", processor.ErrInvalidRequest)
		}
	}
	return nil
}

// validNumber is the acquirer's own Luhn check; it does not trust that the caller ran one.
func validNumber(n string) bool {
	if len(n) < 12 || len(n) > 19 {
		return false
	}
	sum := 0
	double := false
	for i := len(n) - 1; i >= 0; i-- {
		c := n[i]
		if c < '0' || c > '9' {
			return false
		}
		d := int(c - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

func validCVC(c string) bool {
	if len(c) < 3 || len(c) > 4 {
		return false
	}
	for i := 0; i < len(c); i++ {
		if c[i] < '0' || c[i] > '9' {
			return false
		}
	}
	return true
}

// expired treats a card as good through the last day of its expiry month. The month is read in
// UTC-12, where it ends last, so that a card is never refused while it is still valid where its
// holder is.
func expired(month, year int, now time.Time) bool {
	t := now.In(time.FixedZone("", -12*3600))
	y, m := t.Year(), int(t.Month())
	return year < y || (year == y && month < m)
}
