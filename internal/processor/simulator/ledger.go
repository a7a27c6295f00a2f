package simulator

import (
	"context"
	"errors"
	"time"
)

// Ledger is where a simulator keeps its books: the authorizations it made, what became of each,
// and their refunds. New keeps them in memory; OverLedger takes any Ledger, such as Coffer's store
// (package storeledger), so that every instance sharing it sees one acquirer.
//
// The simulator's rules are enforced by the simulator, in Update, from what the Books show; the
// Ledger only has to make each Update atomic, durable when it returns nil, and isolated: in an
// Update, a record read by Authorization, AuthByReference or AuthByCapture stays as read until
// the Update ends (another Update that reads it waits), and AuthByReference holds off other
// Updates asking for the same reference even when there is no record yet.
type Ledger interface {
	// Update runs fn in one transaction. If fn returns an error nothing it wrote is kept. fn may
	// run more than once (a backend may retry a transaction), so it must reset what it sets
	// outside the transaction.
	Update(ctx context.Context, fn func(Books) error) error
	// View runs fn read-only.
	View(ctx context.Context, fn func(Books) error) error
}

// Books is a Ledger inside one transaction. Lookups of a record that does not exist return
// ErrNoRecord; a write that would break a uniqueness rule returns ErrDuplicate.
type Books interface {
	// Authorization returns the authorization (approved or declined) with this id.
	Authorization(id string) (*AuthRecord, error)
	// AuthByReference returns the authorization a merchant made under a non-empty reference.
	AuthByReference(merchant, reference string) (*AuthRecord, error)
	// AuthByCapture returns the authorization a capture settled.
	AuthByCapture(captureID string) (*AuthRecord, error)
	// InsertAuth adds an authorization: ErrDuplicate when its id, its capture id or its
	// merchant's non-empty reference is taken.
	InsertAuth(a *AuthRecord) error
	// UpdateAuth stores a's State, CaptureID, Captured, Refunded and Updated.
	UpdateAuth(a *AuthRecord) error
	// RefundByReference returns the refund of a capture made under a non-empty reference.
	RefundByReference(captureID, reference string) (*RefundRecord, error)
	// InsertRefund adds a refund: ErrDuplicate when its id, or its capture's non-empty
	// reference, is taken. It does not change the authorization: UpdateAuth does.
	InsertRefund(r *RefundRecord) error
	// Counts counts the books: Authorizations (approved and declined), Captures, Voids and
	// Refunds; Verifications is left 0.
	Counts() (Stats, error)
	// CountReference counts a merchant's authorizations under a reference ("" counts those
	// made without one).
	CountReference(merchant, reference string) (int, error)
	// JournalImported reports whether the journal file with this digest was imported, and
	// in an Update holds off other Updates asking the same; RecordJournalImport records it.
	JournalImported(digest string) (bool, error)
	RecordJournalImport(digest string, at time.Time) error
}

var (
	// ErrNoRecord is what Books return for a record they do not hold.
	ErrNoRecord = errors.New("simulator: no such record")
	// ErrDuplicate is what Books return for a write that would break a uniqueness rule.
	ErrDuplicate = errors.New("simulator: duplicate record")
)

// States of an AuthRecord.
const (
	StateAuthorized = "authorized"
	StateCaptured   = "captured"
	StateVoided     = "voided"
	StateDeclined   = "declined"
)

// AuthRecord is one authorization the simulated acquirer processed and what became of it: one
// capture at most, and the sum of that capture's refunds. Nothing in it is card data or derived
// from card data; the results it keeps (auth code, AVS and CVC results, the decline) are the
// issuer's answers, not the card's contents.
type AuthRecord struct {
	ID        string // sim_auth_…; a decline's is internal (sim_dcl_…) and never given out
	Merchant  string
	Reference string // "": the caller gave none, so no idempotency
	Amount    int64
	Currency  string
	AuthCode  string
	AVSResult string
	CVCResult string
	Decline   *DeclineRecord // set when State is StateDeclined
	State     string
	CaptureID string // "" until captured
	Captured  int64
	Refunded  int64
	Created   time.Time
	Updated   time.Time
}

// DeclineRecord is a refusal as Authorize answered it, so that a replay answers the same.
type DeclineRecord struct {
	Code, DeclineCode, Message string
}

// RefundRecord is one refund of a capture.
type RefundRecord struct {
	ID              string
	AuthorizationID string
	CaptureID       string
	Reference       string // "": the caller gave none
	Amount          int64
	Created         time.Time
}
