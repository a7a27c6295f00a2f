// Package simulator is Coffer's built-in acquirer for test mode: it answers the test cards of
// API.md and keeps a ledger that enforces the same state rules a real acquirer does, so that the
// payment logic above it is exercised honestly without a network.
//
// Where the ledger lives. An acquirer remembers its authorizations whatever happens to its
// merchant's servers, so the simulator's books (authorizations approved and declined, what became
// of each, refunds) are kept behind a small interface, Ledger (ledger.go). New keeps them in memory,
// for tests. OverLedger takes any Ledger; `coffer serve` gives it Coffer's own store (package
// storeledger), SQLite or PostgreSQL alike, so the books are as durable as the payments that point
// at them, and every instance sharing a PostgreSQL database sees one acquirer: an authorization
// made through one instance is captured, voided, refunded or looked up through any other, and a
// repeated reference returns the first result whichever instance gets it. Each call is one
// transaction of the Ledger (atomic: a crash never half-records a call), and the rules are checked
// inside it on records it has locked, so concurrent calls from any number of instances cannot
// capture twice, refund beyond a capture or authorize one reference twice. The rules live here
// once, for every Ledger; the store adds unique constraints and checks of its own.
//
// Verifications are the exception: a verification is voided at once, so nothing can be done with
// it later, and it is kept in this process's memory only (a write per tokenization would only slow
// Coffer down), and only the latest 50,000 to 100,000 of them (verifications.go), encoded in byte
// chunks the garbage collector need not scan (verifybook.go): memory stays flat however many cards
// are tokenized. Another instance, this one after a restart, or this one for a
// reference older than what it remembers, verifies the same reference afresh.
//
// Upgrades. Before the store kept it, the ledger lived in a journal file in the data folder
// (simulator.journal, one JSON line per change). ImportJournal (journal.go) reads such a file once,
// checks it as strictly as the journal itself was read, writes its records into the Ledger in one
// transaction together with a mark of its digest, and renames it to simulator.journal.imported.
//
// The simulated issuer keeps no CVC, not even a hash of one: a CVC of all zeros (000, or 0000
// for Amex) is incorrect for every card, any other well-formed CVC matches, and the test card
// 4000 0000 0000 0127 fails its CVC check whatever is sent. (It used to remember the first CVC it
// saw per card number, across merchants: retention of card data an issuer has no business
// keeping, and it made the hosted page's "any CVC" untrue.) Nothing the ledger keeps is card data
// or derived from card data: no PAN, no part or hash of one, no CVC, no expiry, no holder.
//
// The simulator is also the 3-D Secure directory server and every issuer's ACS (see threeds.go).
// That side keeps no state at all, in memory or in the Ledger: a challenge's transaction id and
// the answer are all AnswerChallenge needs, so any instance, restarted or not, can take it.
package simulator

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coffer-vault/coffer/internal/id"
	"github.com/coffer-vault/coffer/internal/processor"
)

var _ processor.Processor = (*Simulator)(nil)

// ErrClosed is returned by every call that would read or change the ledger of a closed simulator.
var ErrClosed = errors.New("simulator: closed")

// Stats counts what the simulated acquirer did. Authorizations counts every authorization it
// processed, approved or declined, including the one inside each Verify; a replay of an earlier
// reference is not counted because the acquirer did no new work. Verifications likewise counts
// processed Verify calls. Voids counts authorizations that became voided, including Verify's.
//
// The counters are the ledger's: over a shared Ledger they cover every instance and every run
// since the ledger began, so a restart changes nothing. Verifications, and their part of
// Authorizations and Voids, are this process's own (see the package comment).
type Stats struct {
	Authorizations, Captures, Voids, Refunds, Verifications int64
}

// Simulator is safe for concurrent use: every call is one Update or View of its Ledger.
type Simulator struct {
	now    func() time.Time // replaceable so tests can sit on an expiry boundary
	books  Ledger           // authorizations, captures, voids and refunds
	verifs *verifications   // verifications: this process's memory, bounded
	closed atomic.Bool
}

// SharesLog reports whether the simulator's books are kept in Coffer's own
// store (processor.LogSharer): true over a ledger that says so.
func (s *Simulator) SharesLog() bool {
	ls, ok := s.books.(interface{ SharesLog() bool })
	return ok && ls.SharesLog()
}

// New returns an empty simulator whose ledger lives in memory only.
func New() *Simulator {
	return &Simulator{now: time.Now, books: newMemLedger(), verifs: newVerifications(verificationsKept)}
}

// OverLedger returns a simulator whose books are l (verifications excepted, which stay in
// memory). It starts with whatever l holds.
func OverLedger(l Ledger) *Simulator {
	s := New()
	s.books = l
	return s
}

// Close makes every later call that would read or change the ledger fail with ErrClosed (Stats
// and AuthorizationsFor still answer). It closes nothing else: the Ledger belongs to its owner.
// Closing twice does nothing.
func (s *Simulator) Close() error {
	s.closed.Store(true)
	return nil
}

// statsTimeout bounds the read behind Stats and AuthorizationsFor, which take no context.
const statsTimeout = 10 * time.Second

// Stats returns a snapshot of the counters. If the ledger cannot be read, its part is zero.
func (s *Simulator) Stats() Stats {
	ctx, cancel := context.WithTimeout(context.Background(), statsTimeout)
	defer cancel()
	var st Stats
	if err := s.books.View(ctx, func(b Books) (err error) { st, err = b.Counts(); return err }); err != nil {
		st = Stats{}
	}
	v := s.verifs.counts()
	st.Authorizations += v.Authorizations
	st.Voids += v.Voids
	st.Verifications = v.Authorizations
	return st
}

// AuthorizationsFor reports how many authorizations (approved or declined, from Authorize or
// Verify) the acquirer processed for this reference. Replays do not add to it, which is what lets
// a test prove that retries reached the card exactly once. Like Stats, it is the ledger's count
// (zero for its part if the ledger cannot be read).
func (s *Simulator) AuthorizationsFor(merchantID, reference string) int {
	ctx, cancel := context.WithTimeout(context.Background(), statsTimeout)
	defer cancel()
	n := 0
	if err := s.books.View(ctx, func(b Books) (err error) { n, err = b.CountReference(merchantID, reference); return err }); err != nil {
		n = 0
	}
	return n + s.verifs.countReference(merchantID, reference)
}

// begin refuses a call on a closed simulator or with an ended context.
func (s *Simulator) begin(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return ErrClosed
	}
	return nil
}

// Authorize implements processor.Processor. A repeat of MerchantID+Reference returns the first
// result, decline included. An empty Reference opts out of that: each such call is new.
func (s *Simulator) Authorize(ctx context.Context, r processor.AuthorizeRequest) (processor.Authorization, error) {
	if err := checkAuthorize(r); err != nil {
		return processor.Authorization{}, err
	}
	if err := s.begin(ctx); err != nil {
		return processor.Authorization{}, err
	}
	fresh := s.newAuth(r.MerchantID, r.Reference, r.Card, r.Amount, r.Currency, false)
	if r.NewReference && r.Reference != "" {
		return s.insertNew(ctx, fresh)
	}
	var a *AuthRecord
	err := s.books.Update(ctx, func(b Books) (err error) {
		a, _, err = findOrInsert(b, fresh)
		return err
	})
	if err != nil {
		return processor.Authorization{}, err
	}
	return authorizationOf(a)
}

// Sale implements processor.Processor: Authorize and Capture in one Update.
func (s *Simulator) Sale(ctx context.Context, r processor.AuthorizeRequest) (processor.Authorization, processor.Capture, error) {
	if err := checkAuthorize(r); err != nil {
		return processor.Authorization{}, processor.Capture{}, err
	}
	if err := s.begin(ctx); err != nil {
		return processor.Authorization{}, processor.Capture{}, err
	}
	fresh := s.newAuth(r.MerchantID, r.Reference, r.Card, r.Amount, r.Currency, false)
	captureID := newID("sim_cap_")
	if fresh.State == StateAuthorized {
		// A new sale is written captured in one insert; only a repeat of
		// one that was authorized and not captured is captured apart.
		fresh.State, fresh.CaptureID, fresh.Captured = StateCaptured, captureID, fresh.Amount
	}
	if r.NewReference && r.Reference != "" {
		auth, err := s.insertNew(ctx, fresh)
		if err != nil {
			return processor.Authorization{}, processor.Capture{}, err
		}
		return auth, processor.Capture{ID: fresh.CaptureID, AuthorizationID: fresh.ID, Amount: fresh.Captured}, nil
	}
	var a *AuthRecord
	err := s.books.Update(ctx, func(b Books) (err error) {
		var found bool
		if a, found, err = findOrInsert(b, fresh); err != nil || a.State == StateDeclined || !found {
			return err
		}
		switch a.State {
		case StateCaptured: // a repeat of a sale that went through
			return nil
		case StateVoided:
			return fmt.Errorf("%w: authorization is voided", processor.ErrInvalidState)
		}
		return captureAuth(b, a, captureID, a.Amount)
	})
	if err != nil {
		return processor.Authorization{}, processor.Capture{}, err
	}
	auth, err := authorizationOf(a)
	if err != nil {
		return processor.Authorization{}, processor.Capture{}, err
	}
	return auth, processor.Capture{ID: a.CaptureID, AuthorizationID: a.ID, Amount: a.Captured}, nil
}

// insertNew writes a decision for a reference its caller vouches is new
// (processor.AuthorizeRequest.NewReference) and answers it without reading
// the books first: nothing there can be found under that reference. Over a
// store that queues the write (store.Unawaited), Update returns before the
// insert ran, and a duplicate fails the caller's fence instead.
func (s *Simulator) insertNew(ctx context.Context, fresh *AuthRecord) (processor.Authorization, error) {
	a := *fresh
	err := s.books.Update(ctx, func(b Books) error {
		rec := a // the insert may run again (a careful re-run of its batch)
		return b.InsertAuth(&rec)
	})
	if err != nil {
		return processor.Authorization{}, err
	}
	return authorizationOf(&a)
}

func checkAuthorize(r processor.AuthorizeRequest) error {
	if r.Amount <= 0 {
		return fmt.Errorf("%w: amount must be positive", processor.ErrInvalidRequest)
	}
	return checkCurrency(r.Currency)
}

// Verify implements processor.Processor: an authorization of r.Amount that is voided at once.
// It is idempotent by MerchantID+Reference like Authorize, in its own key space, within this
// process (see the package comment).
func (s *Simulator) Verify(ctx context.Context, r processor.VerifyRequest) (processor.Verification, error) {
	if r.Amount < 0 {
		return processor.Verification{}, fmt.Errorf("%w: amount must not be negative", processor.ErrInvalidRequest)
	}
	if err := checkCurrency(r.Currency); err != nil {
		return processor.Verification{}, err
	}
	if err := s.begin(ctx); err != nil {
		return processor.Verification{}, err
	}
	fresh := s.newAuth(r.MerchantID, r.Reference, r.Card, r.Amount, r.Currency, true)
	a, err := s.verifs.record(fresh)
	if err != nil {
		return processor.Verification{}, err
	}
	if a.Decline != nil {
		return processor.Verification{}, declineOf(a)
	}
	return processor.Verification{AuthorizationID: a.ID, AuthCode: a.AuthCode, AVSResult: a.AVSResult, CVCResult: a.CVCResult,
		Voided: true}, nil
}

// newAuth asks the simulated issuer about c and returns the authorization it would record. It is
// made before the Update, so that the card is judged outside the Ledger's transaction; a replay
// of an earlier reference discards it. Nothing of c but the issuer's answers is kept.
func (s *Simulator) newAuth(merchant, reference string, c processor.Card, amount int64, currency string, verify bool) *AuthRecord {
	avs, cvc, d := s.decide(c, verify)
	now := time.Now().UTC()
	a := &AuthRecord{Merchant: merchant, Reference: reference, Amount: amount, Currency: currency,
		AVSResult: avs, CVCResult: cvc, Created: now, Updated: now}
	switch {
	case d != nil:
		a.ID, a.State = newID("sim_dcl_"), StateDeclined
		a.Decline = &DeclineRecord{Code: d.Code, DeclineCode: d.DeclineCode, Message: d.Message}
		a.AVSResult, a.CVCResult = d.AVSResult, d.CVCResult
	case verify:
		a.ID, a.AuthCode, a.State = newID("sim_auth_"), rand.Text()[:6], StateVoided
	default:
		a.ID, a.AuthCode, a.State = newID("sim_auth_"), rand.Text()[:6], StateAuthorized
	}
	return a
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
	if amount <= 0 {
		return processor.Capture{}, fmt.Errorf("%w: capture amount must be positive", processor.ErrInvalidRequest)
	}
	if err := s.begin(ctx); err != nil {
		return processor.Capture{}, err
	}
	captureID := newID("sim_cap_")
	err := s.books.Update(ctx, func(b Books) error {
		a, err := approved(b, authorizationID)
		if err != nil {
			return err
		}
		return captureAuth(b, a, captureID, amount)
	})
	if errors.Is(err, processor.ErrNotFound) && s.verified(authorizationID) {
		err = fmt.Errorf("%w: authorization is voided", processor.ErrInvalidState)
	}
	if err != nil {
		return processor.Capture{}, err
	}
	return processor.Capture{ID: captureID, AuthorizationID: authorizationID, Amount: amount}, nil
}

// Void implements processor.Processor. Voiding twice succeeds so that a caller retrying a void
// whose answer it lost does not see a spurious failure.
func (s *Simulator) Void(ctx context.Context, authorizationID string) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	err := s.books.Update(ctx, func(b Books) error {
		a, err := approved(b, authorizationID)
		if err != nil {
			return err
		}
		if err := voidAuth(b, a); err != errAlreadyVoided {
			return err
		}
		return nil
	})
	if errors.Is(err, processor.ErrNotFound) && s.verified(authorizationID) {
		return nil // a verification, voided when it was made
	}
	return err
}

// verified reports whether id is a verification this process made: it is in memory, not in the
// books, and voided.
func (s *Simulator) verified(id string) bool { return s.verifs.approved(id) }

// Refund implements processor.Processor.
func (s *Simulator) Refund(ctx context.Context, captureID string, amount int64, reference string) (processor.Refund, error) {
	if amount <= 0 {
		return processor.Refund{}, fmt.Errorf("%w: refund amount must be positive", processor.ErrInvalidRequest)
	}
	if err := s.begin(ctx); err != nil {
		return processor.Refund{}, err
	}
	fresh := RefundRecord{ID: newID("sim_ref_"), CaptureID: captureID, Reference: reference, Amount: amount}
	var out *RefundRecord
	err := s.books.Update(ctx, func(b Books) error {
		out = nil
		a, err := b.AuthByCapture(captureID)
		if err != nil {
			return notFound(err, "capture", captureID)
		}
		// The authorization's lock is held: a refund made under this reference by anyone
		// else is committed by now, and no other can be made until this Update ends.
		if reference != "" {
			prev, err := b.RefundByReference(captureID, reference)
			if err == nil {
				out = prev // a repeat: the first refund, nothing more
				return nil
			}
			if !errors.Is(err, ErrNoRecord) {
				return err
			}
		}
		r := fresh
		if err := refundCapture(b, a, &r); err != nil {
			return err
		}
		out = &r
		return nil
	})
	if err != nil {
		return processor.Refund{}, err
	}
	return processor.Refund{ID: out.ID, CaptureID: captureID, Amount: out.Amount}, nil
}

// LookupRefund implements processor.Processor.
func (s *Simulator) LookupRefund(ctx context.Context, captureID, reference string) (processor.Refund, error) {
	if err := s.begin(ctx); err != nil {
		return processor.Refund{}, err
	}
	var out *RefundRecord
	err := s.books.View(ctx, func(b Books) (err error) {
		out, err = b.RefundByReference(captureID, reference)
		if errors.Is(err, ErrNoRecord) || (err == nil && reference == "") {
			return fmt.Errorf("%w: no refund %q of capture %q", processor.ErrNotFound, reference, captureID)
		}
		return err
	})
	if err != nil {
		return processor.Refund{}, err
	}
	return processor.Refund{ID: out.ID, CaptureID: captureID, Amount: out.Amount}, nil
}

// Lookup implements processor.Processor.
func (s *Simulator) Lookup(ctx context.Context, merchantID, reference string) (processor.Authorization, error) {
	if err := s.begin(ctx); err != nil {
		return processor.Authorization{}, err
	}
	var a *AuthRecord
	err := s.books.View(ctx, func(b Books) (err error) {
		a, err = b.AuthByReference(merchantID, reference)
		if errors.Is(err, ErrNoRecord) || (err == nil && reference == "") {
			return fmt.Errorf("%w: no authorization for reference %q", processor.ErrNotFound, reference)
		}
		return err
	})
	if err != nil {
		return processor.Authorization{}, err
	}
	auth, err := authorizationOf(a)
	if err != nil {
		return processor.Authorization{}, err
	}
	switch a.State {
	case StateVoided:
		auth.Voided = true
	case StateCaptured:
		auth.CaptureID, auth.Captured, auth.Refunded = a.CaptureID, a.Captured, a.Refunded
	}
	return auth, nil
}

// authorizationOf is what Authorize answers for a: the authorization as it was made (its later
// state is Lookup's to add), or its decline.
func authorizationOf(a *AuthRecord) (processor.Authorization, error) {
	if a.Decline != nil {
		return processor.Authorization{}, declineOf(a)
	}
	return processor.Authorization{ID: a.ID, AuthCode: a.AuthCode, Amount: a.Amount, Currency: a.Currency,
		AVSResult: a.AVSResult, CVCResult: a.CVCResult}, nil
}

// declineOf rebuilds a recorded decline; each caller gets its own value, so one caller editing
// the error it got cannot change what a later replay returns.
func declineOf(a *AuthRecord) *processor.Decline {
	return &processor.Decline{Code: a.Decline.Code, DeclineCode: a.Decline.DeclineCode, Message: a.Decline.Message,
		AVSResult: a.AVSResult, CVCResult: a.CVCResult}
}

func decline(code, declineCode, avs, cvc string) *processor.Decline {
	msg := messages[declineCode]
	if msg == "" {
		msg = messages[code]
	}
	return &processor.Decline{Code: code, DeclineCode: declineCode, Message: msg, AVSResult: avs, CVCResult: cvc}
}

// newID is a millisecond time and then 128 random bits (id.NewOrdered), so
// a collision is not worth checking for. Time-ordered, as our own records'
// ids are, the ledger's rows keyed by it are appended to their indexes
// instead of dirtying a random page each, which a group commit writes whole.
func newID(prefix string) string {
	return id.NewOrdered(strings.TrimSuffix(prefix, "_"))
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
