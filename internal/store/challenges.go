package store

import "time"

// ChallengeTx stores 3-D Secure challenges and each card's count of wrong
// codes across them.
type ChallengeTx interface {
	InsertChallenge(c *Challenge) error
	// GetChallenge finds a challenge by id alone: the id is the card
	// holder's capability (it is in the challenge page's URL), and the page
	// has no merchant credentials.
	GetChallenge(id string) (*Challenge, error)
	UpdateChallenge(c *Challenge) error
	// SweepableChallenges lists challenges of any merchant that expired
	// before a time and still need work: pending ones to expire, and any
	// still holding sealed card data to erase.
	SweepableChallenges(before time.Time, limit int) ([]*Challenge, error)

	// GetCardAuthFailures reads a card's count of wrong 3-D Secure codes
	// (ErrNotFound when it has none).
	GetCardAuthFailures(merchantID, fingerprint string) (*CardAuthFailures, error)
	// PutCardAuthFailures writes a card's count, inserting or replacing it.
	PutCardAuthFailures(f *CardAuthFailures) error
}

// Challenge statuses.
const (
	ChallengePending       = "pending"       // waiting for the card holder's OTP
	ChallengeAuthenticated = "authenticated" // OTP accepted; the authorization runs (or ran)
	ChallengeFailed        = "failed"        // too many wrong OTPs
	ChallengeExpired       = "expired"       // nobody answered in time
	ChallengeCanceled      = "canceled"      // its token or payment ended otherwise (deleted, saved meanwhile)
)

// Challenge is a 3-D Secure challenge in progress or done: what the
// challenge page shows, the attempts made, and — sealed, until the
// authorization it was collected for ends — the card data needed to finish.
type Challenge struct {
	ID            string
	MerchantID    string
	ObjectType    string // "token" | "payment"
	ObjectID      string
	Status        string
	Attempts      int
	Amount        int64
	Currency      string
	Brand         string
	Mask          string
	TransactionID string // the 3-D Secure transaction id
	Version       string
	ReturnURL     string
	Verify        bool // token: run the verification authorization once authenticated
	// Fingerprint is the card's (the merchant's fingerprint of it; "" for
	// challenges made before it was kept): wrong codes count per card.
	Fingerprint string
	// SecretCT is the vault-sealed card data (the CVC, and the whole card
	// for a payment not made with a token); nil once erased.
	SecretCT  []byte
	ExpiresAt time.Time
	Created   time.Time
	Updated   time.Time
}

// CardAuthFailures counts one card's wrong 3-D Secure codes across all its
// challenges (per merchant, by fingerprint): a new challenge must not bring
// new guesses.
type CardAuthFailures struct {
	MerchantID  string
	Fingerprint string
	Failures    int
	LastFailure time.Time
}

// Authentication is a 3-D Secure result as recorded on a token's
// verification and on a payment.
type Authentication struct {
	Status        string `json:"status"` // authenticated | attempted | failed | not_required
	ECI           string `json:"eci,omitempty"`
	Version       string `json:"version,omitempty"`
	TransactionID string `json:"transaction_id,omitempty"`
}
