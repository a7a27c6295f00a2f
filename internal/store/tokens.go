package store

import "time"

// TokenTx stores tokens: the sealed cards.
type TokenTx interface {
	InsertToken(t *Token) error
	GetToken(merchantID, id string) (*Token, error)
	// GetTokenAny returns a token even when deleted (to tell "deleted" from "unknown").
	GetTokenAny(merchantID, id string) (*Token, error)
	FindTokenByFingerprint(merchantID, customerID, fingerprint string) (*Token, error)
	UpdateToken(t *Token) error
	ListTokens(merchantID string, f TokenFilter) ([]*Token, bool, error)
	// EraseCustomerTokens crypto-shreds every live token of a customer.
	EraseCustomerTokens(merchantID, customerID string, at time.Time) (int, error)
}

// Token statuses. requires_action waits for the card holder (3-D Secure);
// failed means verification or authentication failed and no card is kept.
const (
	TokenRequiresAction = "requires_action"
	TokenActive         = "active"
	TokenDisabled       = "disabled"
	TokenFailed         = "failed"
	TokenDeleted        = "deleted"
)

// Token is a stored card. CardCT (the sealed PAN) is nil once deleted or failed.
type Token struct {
	ID           string
	MerchantID   string
	CustomerID   string
	Status       string
	Brand        string
	BIN          string
	Last4        string
	Mask         string
	ExpMonth     int
	ExpYear      int
	HolderName   string
	Fingerprint  string
	CardCT       []byte
	Verification Verification
	Metadata     map[string]string
	// ChallengeID is the 3-D Secure challenge a requires_action token waits
	// for (kept afterwards); "" when it needed none.
	ChallengeID string
	Created     time.Time
	Updated     time.Time
	Deleted     *time.Time
}

// Verification is the outcome of checking a card before (or since) it was stored.
type Verification struct {
	Status       string     `json:"status"` // verified | unverified | failed | pending
	ThreeDSecure string     `json:"three_d_secure"`
	CVCCheck     string     `json:"cvc_check"`
	AVSCheck     string     `json:"avs_check"`
	AuthCode     string     `json:"auth_code,omitempty"`
	NetworkRef   string     `json:"network_reference,omitempty"`
	FailureCode  string     `json:"failure_code,omitempty"`
	VerifiedAt   *time.Time `json:"verified_at"`
	// Authentication is the 3-D Secure result (nil: none ran).
	Authentication *Authentication `json:"authentication,omitempty"`
}

// TokenFilter selects a page of tokens, newest first.
type TokenFilter struct {
	CustomerID    string
	StartingAfter string
	Limit         int
	IncludeGone   bool // include deleted tokens
}
