package store

import "time"

// SimulatorTx stores the built-in test acquirer's ledger (package
// processor/simulator): its authorizations with what became of them, and
// their refunds. It lives in the store, not in a process, so that every
// instance sharing a database captures, voids and refunds what any other
// authorized. Nothing in it is card data or derived from card data.
//
// In a Write, the single-record reads lock what they return until the
// transaction ends (GetSimAuthorizationByReference also locks a reference
// that has no row yet), so two writes of one authorization take turns.
type SimulatorTx interface {
	GetSimAuthorization(id string) (*SimAuthorization, error)
	// GetSimAuthorizationByReference finds the authorization made for a
	// merchant's reference; "" is never found.
	GetSimAuthorizationByReference(merchantID, reference string) (*SimAuthorization, error)
	GetSimAuthorizationByCapture(captureID string) (*SimAuthorization, error)
	// InsertSimAuthorization returns ErrConflict when the id, the capture
	// id or the merchant's (non-empty) reference is taken.
	InsertSimAuthorization(a *SimAuthorization) error
	// UpdateSimAuthorization writes the state, the capture and the amount
	// refunded (ErrConflict when the capture id is taken).
	UpdateSimAuthorization(a *SimAuthorization) error
	// GetSimRefund finds the refund of a capture made under a reference; ""
	// is never found.
	GetSimRefund(captureID, reference string) (*SimRefund, error)
	// InsertSimRefund returns ErrConflict when the id, or the capture's
	// (non-empty) reference, is taken.
	InsertSimRefund(r *SimRefund) error
	// SimulatorCounts counts the whole ledger.
	SimulatorCounts() (SimCounts, error)
	// CountSimAuthorizations counts a merchant's authorizations under a
	// reference ("" counts those made without one).
	CountSimAuthorizations(merchantID, reference string) (int, error)
	// SimJournalImported reports whether a journal file with this digest
	// was imported; InsertSimJournalImport records that it was
	// (ErrConflict if already).
	SimJournalImported(digest string) (bool, error)
	InsertSimJournalImport(digest string, at time.Time) error
}

// States of a SimAuthorization.
const (
	SimAuthorized = "authorized"
	SimCaptured   = "captured"
	SimVoided     = "voided"
	SimDeclined   = "declined"
)

// SimAuthorization is one authorization the simulated acquirer processed,
// approved or declined, and what became of it: one capture at most (its id
// and amount) and the sum of that capture's refunds.
type SimAuthorization struct {
	ID         string // sim_auth_…; a decline's is internal (sim_dcl_…)
	MerchantID string
	Reference  string // "": the caller gave none
	Amount     int64
	Currency   string
	AuthCode   string
	AVSResult  string
	CVCResult  string
	Decline    *SimDecline // set when State is SimDeclined
	State      string
	CaptureID  string // "" until captured
	Captured   int64
	Refunded   int64
	Created    time.Time
	Updated    time.Time
}

// SimDecline is the issuer's refusal as the simulator answered it.
type SimDecline struct {
	Code        string
	DeclineCode string
	Message     string
}

// SimRefund is one refund of a simulated capture.
type SimRefund struct {
	ID              string
	AuthorizationID string
	CaptureID       string
	Reference       string // "": the caller gave none
	Amount          int64
	Created         time.Time
}

// SimCounts is how much the simulated acquirer's ledger holds.
type SimCounts struct {
	Authorizations int64 // approved and declined
	Captures       int64
	Voids          int64
	Refunds        int64
}
