package store

import "time"

// SessionTx stores payment sessions and the session keys card holders'
// browsers encrypt cards to.
type SessionTx interface {
	InsertSession(s *Session) error
	GetSession(merchantID, id string) (*Session, error)
	// GetSessionByID finds a session by id alone, for the hosted checkout
	// page: its unguessable id in the URL is the card holder's capability.
	GetSessionByID(id string) (*Session, error)
	UpdateSession(s *Session) error
	// SweepableSessions lists sessions of any merchant still open or
	// requires_action whose expiry is before a time, oldest expiry first.
	SweepableSessions(before time.Time, limit int) ([]*Session, error)

	InsertSessionKey(k *SessionKey) error
	// CurrentSessionKey is the merchant's newest session key created at or
	// after a time (ErrNotFound when there is none that recent).
	CurrentSessionKey(merchantID string, createdSince time.Time) (*SessionKey, error)
	GetSessionKey(merchantID, id string) (*SessionKey, error)
}

// Session statuses.
const (
	SessionOpen           = "open"
	SessionRequiresAction = "requires_action"
	SessionSucceeded      = "succeeded"
	SessionFailed         = "failed"
	SessionExpired        = "expired"
	SessionCanceled       = "canceled"
)

// Session is a payment session: a hosted checkout page (redirect mode) or
// a merchant's own page encrypting the card to the session's key (api mode).
type Session struct {
	ID             string
	MerchantID     string
	Mode           string // redirect | api
	Status         string
	Amount         int64 // 0: save the card only
	Currency       string
	CustomerID     string
	SaveCard       string // off | optional | always
	ShowSavedCards bool
	CaptureMethod  string // automatic | manual
	OrderID        string
	Description    string
	SuccessURL     string
	FailureURL     string
	ExpiredURL     string
	CancelURL      string
	CallbackURL    string
	// CallbackFormat names the provider shape its callbacks are sent in
	// ("" is Coffer's own signed JSON); the dispatcher renders them.
	CallbackFormat string
	// ForwardURLs are further URLs a dialect's return hop sends the card
	// holder on to: the challenge page's form-action allows their origins.
	ForwardURLs []string
	// ThreeDSecure is the 3-D Secure mode the session's token or payment
	// is made with (required | if_required | never; "" is if_required).
	ThreeDSecure     string
	ClientSecretHash []byte
	KeyID            string // the session key cards are encrypted to
	PaymentID        string // the latest payment attempt
	TokenID          string // the card saved (or the saved card used)
	Attempts         int    // failed confirmations
	Failure          *Failure
	Metadata         map[string]string
	// ConfirmingUntil claims the session for one confirmation at a time;
	// the claim lapses so a crashed holder cannot block it.
	ConfirmingUntil time.Time
	ExpiresAt       time.Time
	Created         time.Time
	Updated         time.Time
}

// SessionKey is one RSA key of a merchant's small rotating set that card
// holders' browsers encrypt cards to. The private key is vault-sealed.
type SessionKey struct {
	ID         string // the kid
	MerchantID string
	PrivateCT  []byte // sealed PKCS #8 DER
	Public     []byte // SubjectPublicKeyInfo DER
	Created    time.Time
}
