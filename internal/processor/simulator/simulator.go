// Package simulator is Coffer's built-in acquirer for test mode: it answers the test cards of
// API.md and keeps a ledger that enforces the same state rules a real acquirer does, so that the
// payment logic above it is exercised honestly without a network.
//
// New keeps the ledger in memory. Open backs it with a journal file (see journal.go) so that an
// authorization made before a restart can still be captured, voided, refunded or looked up after
// it, and a repeated reference still returns the first result.
//
// The simulated issuer keeps no CVC, not even a hash of one: a CVC of all zeros (000, or 0000
// for Amex) is incorrect for every card, any other well-formed CVC matches, and the test card
// 4000 0000 0000 0127 fails its CVC check whatever is sent. (It used to remember the first CVC it
// saw per card number, across merchants: retention of card data an issuer has no business
// keeping, and it made the hosted page's "any CVC" untrue.)
//
// The simulator is also the 3-D Secure directory server and every issuer's ACS (see threeds.go).
// That side keeps no state at all: a challenge is judged from its answer alone, so any instance,
// restarted or not, can take it.
package simulator

import (
	"context"
	"crypto/rand"
	"errors"
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
//
// For a simulator from Open the counters are rebuilt from the journal, so they cover everything
// the journal holds since it was created, not only this process: after a restart they read
// exactly what they read before it (calls whose journal write failed are not counted).
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
	amount    int64
	state     authState
	captureID string // set once captured
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
//
// With a journal, every change is encoded and handed to the journal while s.mu is held (so the
// journal's order is the ledger's order) and applied to memory at once, but the call returns only
// after s.mu is released and the journal has been fsynced up to that point. Every call, a
// read-only one included, waits for the journal to be durable up to what it saw under the lock,
// so no caller is ever told anything that a crash could take back; waiting outside the lock lets
// concurrent calls share one fsync.
type Simulator struct {
	now func() time.Time // replaceable so tests can sit on an expiry boundary
	j   *journal         // nil for New

	mu       sync.Mutex
	auths    map[string]*authRecord
	captures map[string]*captureRecord
	results  map[idemKey]result
	refunds  map[[2]string]processor.Refund // capture id + caller's reference → refund
	perRef   map[refKey]int
	stats    Stats
}

// New returns an empty simulator whose ledger lives in memory only.
func New() *Simulator {
	return &Simulator{
		now:      time.Now,
		auths:    make(map[string]*authRecord),
		captures: make(map[string]*captureRecord),
		results:  make(map[idemKey]result),
		refunds:  make(map[[2]string]processor.Refund),
		perRef:   make(map[refKey]int),
	}
}

// Close flushes and closes the journal; after it, every call that would read or change the
// ledger fails with ErrClosed (Stats and AuthorizationsFor still answer). Closing a simulator
// from New, or closing twice, does nothing.
func (s *Simulator) Close() error {
	return s.j.close()
}

// Stats returns a snapshot of the counters. It reads memory, which may be ahead of the journal by
// the changes of calls that have not returned yet.
func (s *Simulator) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// AuthorizationsFor reports how many authorizations (approved or declined, from Authorize or
// Verify) the acquirer processed for this reference. Replays do not add to it, which is what lets
// a test prove that retries reached the card exactly once. Like Stats, it survives a restart.
func (s *Simulator) AuthorizationsFor(merchantID, reference string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.perRef[refKey{merchantID, reference}]
}

// locked runs f under s.mu, then waits (without the lock) until the journal is durable up to
// everything f could have seen or done. A journal failure replaces f's answer: what f saw or
// did may not survive a crash, so its outcome is unknown.
func (s *Simulator) locked(f func() error) error {
	s.mu.Lock()
	if err := s.j.usable(); err != nil {
		s.mu.Unlock()
		return err
	}
	err := f()
	seq := s.j.mark()
	s.mu.Unlock()
	if jerr := s.j.wait(seq); jerr != nil {
		return jerr
	}
	return err
}

// commit checks e against the ledger, hands it to the journal, and applies it. s.mu must be
// held. A refusal (ErrNotFound, ErrInvalidState) leaves both untouched.
func (s *Simulator) commit(e *entry) error {
	if err := s.check(e); err != nil {
		return err
	}
	if err := s.j.append(e); err != nil {
		return err
	}
	s.apply(e)
	return nil
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
	var res result
	err := s.locked(func() error {
		var err error
		res, err = s.authorizeLocked(r.MerchantID, r.Reference, r.Card, r.Amount, r.Currency, false)
		return err
	})
	if err != nil {
		return processor.Authorization{}, err
	}
	return res.auth, res.err()
}

// Sale implements processor.Processor: Authorize and Capture under one lock
// and one journal flush.
func (s *Simulator) Sale(ctx context.Context, r processor.AuthorizeRequest) (processor.Authorization, processor.Capture, error) {
	if err := ctx.Err(); err != nil {
		return processor.Authorization{}, processor.Capture{}, err
	}
	if r.Amount <= 0 {
		return processor.Authorization{}, processor.Capture{}, fmt.Errorf("%w: amount must be positive", processor.ErrInvalidRequest)
	}
	if err := checkCurrency(r.Currency); err != nil {
		return processor.Authorization{}, processor.Capture{}, err
	}
	var res result
	var c processor.Capture
	err := s.locked(func() error {
		var err error
		if res, err = s.authorizeLocked(r.MerchantID, r.Reference, r.Card, r.Amount, r.Currency, false); err != nil || res.decline != nil {
			return err
		}
		a := s.auths[res.auth.ID]
		switch a.state {
		case captured: // a repeat of a sale that went through
			c = processor.Capture{ID: a.captureID, AuthorizationID: res.auth.ID, Amount: s.captures[a.captureID].amount}
			return nil
		case voided:
			return fmt.Errorf("%w: authorization is voided", processor.ErrInvalidState)
		}
		e := &entry{Op: opCapture, Auth: res.auth.ID, Amount: a.amount, Capture: newID("sim_cap_")}
		if err := s.commit(e); err != nil {
			return err
		}
		c = processor.Capture{ID: e.Capture, AuthorizationID: res.auth.ID, Amount: a.amount}
		return nil
	})
	if err != nil {
		return processor.Authorization{}, processor.Capture{}, err
	}
	if err := res.err(); err != nil {
		return processor.Authorization{}, processor.Capture{}, err
	}
	return res.auth, c, nil
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
	// A verification is voided at once: nothing can be done with it later,
	// so it need not survive a restart and is neither journaled nor waited
	// for (an fsync per tokenization would only slow Coffer's benchmarks).
	s.mu.Lock()
	if err := s.j.usable(); err != nil {
		s.mu.Unlock()
		return processor.Verification{}, err
	}
	res, err := s.authorizeLocked(r.MerchantID, r.Reference, r.Card, r.Amount, r.Currency, true)
	s.mu.Unlock()
	if err != nil {
		return processor.Verification{}, err
	}
	return res.verif, res.err()
}

// authorizeLocked replays the stored result of a known reference or asks the simulated issuer
// and records its answer. s.mu must be held. The returned error is an infrastructure failure;
// a decline is in the result.
func (s *Simulator) authorizeLocked(merchant, reference string, c processor.Card, amount int64, currency string, verify bool) (result, error) {
	if reference != "" {
		if res, ok := s.results[idemKey{verify, merchant, reference}]; ok {
			return res, nil
		}
	}
	avs, cvc, d := s.decide(c, verify)
	e := &entry{Op: opAuth, Verify: verify, Merchant: merchant, Reference: reference, Amount: amount,
		Currency: currency, AVSResult: avs, CVCResult: cvc}
	if d != nil {
		e.Decline = &declineEntry{Code: d.Code, DeclineCode: d.DeclineCode, Message: d.Message}
		e.AVSResult, e.CVCResult = d.AVSResult, d.CVCResult
	} else {
		e.Auth = newID("sim_auth_")
		e.AuthCode = rand.Text()[:6]
	}
	if verify {
		if err := s.check(e); err != nil {
			return result{}, err
		}
		s.apply(e) // in memory only: see Verify
	} else if err := s.commit(e); err != nil {
		return result{}, err
	}
	return resultOf(e), nil
}

// decide is the simulated issuer. The checks a real network makes before the issuer sees the
// card (number, expiry, CVC format) come first and apply to every card; then the CVC (all zeros
// is wrong for every card); the test-card table comes last, so a test card with a past expiry is
// refused as expired like any other.
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
	b := testCards[c.Number]
	if b.avsFail {
		avs = processor.CheckFail
	}
	switch {
	case b.cvcFail:
		// The card itself is the test: its CVC check fails whatever was sent, or if nothing was.
		cvc = processor.CheckFail
	case c.CVC != "" && strings.Trim(c.CVC, "0") == "":
		return "", "", decline(processor.CodeIncorrectCVC, processor.CodeIncorrectCVC, avs, processor.CheckFail)
	case c.CVC != "":
		cvc = processor.CheckPass
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
	e := &entry{Op: opCapture, Auth: authorizationID, Amount: amount}
	err := s.locked(func() error {
		e.Capture = newID("sim_cap_")
		return s.commit(e)
	})
	if err != nil {
		return processor.Capture{}, err
	}
	return processor.Capture{ID: e.Capture, AuthorizationID: authorizationID, Amount: amount}, nil
}

// Void implements processor.Processor. Voiding twice succeeds so that a caller retrying a void
// whose answer it lost does not see a spurious failure.
func (s *Simulator) Void(ctx context.Context, authorizationID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.locked(func() error {
		if a, ok := s.auths[authorizationID]; ok && a.state == voided {
			return nil
		}
		return s.commit(&entry{Op: opVoid, Auth: authorizationID})
	})
}

// Refund implements processor.Processor.
func (s *Simulator) Refund(ctx context.Context, captureID string, amount int64, reference string) (processor.Refund, error) {
	if err := ctx.Err(); err != nil {
		return processor.Refund{}, err
	}
	if amount <= 0 {
		return processor.Refund{}, fmt.Errorf("%w: refund amount must be positive", processor.ErrInvalidRequest)
	}
	var out processor.Refund
	err := s.locked(func() error {
		if reference != "" {
			if r, ok := s.refunds[[2]string{captureID, reference}]; ok {
				out = r // a repeat: the first refund, nothing more
				return nil
			}
		}
		e := &entry{Op: opRefund, Capture: captureID, Amount: amount, Reference: reference, Refund: newID("sim_ref_")}
		if err := s.commit(e); err != nil {
			return err
		}
		out = processor.Refund{ID: e.Refund, CaptureID: captureID, Amount: amount}
		return nil
	})
	if err != nil {
		return processor.Refund{}, err
	}
	return out, nil
}

// LookupRefund implements processor.Processor.
func (s *Simulator) LookupRefund(ctx context.Context, captureID, reference string) (processor.Refund, error) {
	if err := ctx.Err(); err != nil {
		return processor.Refund{}, err
	}
	var out processor.Refund
	err := s.locked(func() error {
		r, ok := s.refunds[[2]string{captureID, reference}]
		if !ok || reference == "" {
			return fmt.Errorf("%w: no refund %q of capture %q", processor.ErrNotFound, reference, captureID)
		}
		out = r
		return nil
	})
	return out, err
}

// Lookup implements processor.Processor.
func (s *Simulator) Lookup(ctx context.Context, merchantID, reference string) (processor.Authorization, error) {
	if err := ctx.Err(); err != nil {
		return processor.Authorization{}, err
	}
	var res result
	err := s.locked(func() error {
		r, ok := s.results[idemKey{merchant: merchantID, reference: reference}]
		if !ok || reference == "" {
			return fmt.Errorf("%w: no authorization for reference %q", processor.ErrNotFound, reference)
		}
		res = r
		if r.decline != nil {
			return nil
		}
		a := s.auths[r.auth.ID]
		switch a.state {
		case voided:
			res.auth.Voided = true
		case captured:
			c := s.captures[a.captureID]
			res.auth.CaptureID = a.captureID
			res.auth.Captured = c.amount
			res.auth.Refunded = c.refunded
		}
		return nil
	})
	if err != nil {
		return processor.Authorization{}, err
	}
	return res.auth, res.err()
}

// check says whether e may be applied to the ledger as it is now. The live calls rely on it for
// their refusals (so its errors are the API's), and replay relies on it to reject a journal that
// does not describe a possible history. s.mu must be held.
func (s *Simulator) check(e *entry) error {
	switch e.Op {
	case opAuth:
		if e.Reference != "" {
			if _, dup := s.results[idemKey{e.Verify, e.Merchant, e.Reference}]; dup {
				return fmt.Errorf("%w: reference %q was already authorized", processor.ErrInvalidState, e.Reference)
			}
		}
		if e.Amount < 0 || (!e.Verify && e.Amount == 0) {
			return fmt.Errorf("%w: amount %d", processor.ErrInvalidRequest, e.Amount)
		}
		if err := checkCurrency(e.Currency); err != nil {
			return err
		}
		if (e.Decline == nil) == (e.Auth == "") {
			return errors.New("an authorization needs exactly one of an id and a decline")
		}
		if e.Decline != nil && e.Decline.Code == "" {
			return errors.New("a decline needs a code")
		}
		if _, dup := s.auths[e.Auth]; dup {
			return fmt.Errorf("%w: authorization %q exists", processor.ErrInvalidState, e.Auth)
		}
	case opCapture:
		a, ok := s.auths[e.Auth]
		if !ok {
			return fmt.Errorf("%w: authorization %q", processor.ErrNotFound, e.Auth)
		}
		switch a.state {
		case voided:
			return fmt.Errorf("%w: authorization is voided", processor.ErrInvalidState)
		case captured:
			return fmt.Errorf("%w: authorization is already captured", processor.ErrInvalidState)
		}
		if e.Amount <= 0 {
			return fmt.Errorf("%w: capture amount must be positive", processor.ErrInvalidRequest)
		}
		if e.Amount > a.amount {
			return fmt.Errorf("%w: capture amount %d exceeds authorized amount %d", processor.ErrInvalidState, e.Amount, a.amount)
		}
		if _, dup := s.captures[e.Capture]; dup || e.Capture == "" {
			return fmt.Errorf("%w: capture id %q", processor.ErrInvalidState, e.Capture)
		}
	case opVoid:
		a, ok := s.auths[e.Auth]
		if !ok {
			return fmt.Errorf("%w: authorization %q", processor.ErrNotFound, e.Auth)
		}
		switch a.state {
		case voided:
			return fmt.Errorf("%w: authorization is already voided", processor.ErrInvalidState)
		case captured:
			return fmt.Errorf("%w: authorization is captured; refund it instead", processor.ErrInvalidState)
		}
	case opRefund:
		c, ok := s.captures[e.Capture]
		if !ok {
			return fmt.Errorf("%w: capture %q", processor.ErrNotFound, e.Capture)
		}
		if e.Amount <= 0 {
			return fmt.Errorf("%w: refund amount must be positive", processor.ErrInvalidRequest)
		}
		if left := c.amount - c.refunded; e.Amount > left {
			return fmt.Errorf("%w: refund amount %d exceeds the %d left to refund", processor.ErrInvalidState, e.Amount, left)
		}
		if e.Refund == "" {
			return errors.New("a refund needs an id")
		}
	default:
		return fmt.Errorf("unknown operation %q", e.Op)
	}
	return nil
}

// apply changes the ledger by e, which check has accepted. It is the only code that changes the
// ledger, for live calls and replay alike, so a replayed ledger is the ledger that was. s.mu must
// be held.
func (s *Simulator) apply(e *entry) {
	switch e.Op {
	case opAuth:
		s.stats.Authorizations++
		s.perRef[refKey{e.Merchant, e.Reference}]++
		if e.Verify {
			s.stats.Verifications++
		}
		if e.Decline == nil {
			a := &authRecord{amount: e.Amount, state: authorized}
			if e.Verify {
				a.state = voided
				s.stats.Voids++
			}
			s.auths[e.Auth] = a
		}
		if e.Reference != "" {
			s.results[idemKey{e.Verify, e.Merchant, e.Reference}] = resultOf(e)
		}
	case opCapture:
		a := s.auths[e.Auth]
		a.state = captured
		a.captureID = e.Capture
		s.captures[e.Capture] = &captureRecord{amount: e.Amount}
		s.stats.Captures++
	case opVoid:
		s.auths[e.Auth].state = voided
		s.stats.Voids++
	case opRefund:
		s.captures[e.Capture].refunded += e.Amount
		s.stats.Refunds++
		if e.Reference != "" {
			s.refunds[[2]string{e.Capture, e.Reference}] = processor.Refund{ID: e.Refund, CaptureID: e.Capture, Amount: e.Amount}
		}
	}
}

// resultOf is what Authorize or Verify answers for the authorization entry e.
func resultOf(e *entry) result {
	if e.Decline != nil {
		return result{decline: &processor.Decline{Code: e.Decline.Code, DeclineCode: e.Decline.DeclineCode,
			Message: e.Decline.Message, AVSResult: e.AVSResult, CVCResult: e.CVCResult}}
	}
	if e.Verify {
		return result{verif: processor.Verification{AuthorizationID: e.Auth, AuthCode: e.AuthCode,
			AVSResult: e.AVSResult, CVCResult: e.CVCResult, Voided: true}}
	}
	return result{auth: processor.Authorization{ID: e.Auth, AuthCode: e.AuthCode, Amount: e.Amount,
		Currency: e.Currency, AVSResult: e.AVSResult, CVCResult: e.CVCResult}}
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
