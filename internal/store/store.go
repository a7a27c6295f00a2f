// Package store defines what Coffer persists and the transactional interface
// every backend implements. Records here are persistence shapes; the API's JSON
// shapes live in httpapi.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/coffer-vault/coffer/internal/vault"
)

var (
	// ErrNotFound: no such record for this merchant.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: a uniqueness rule was violated.
	ErrConflict = errors.New("store: conflict")
	// ErrContention: concurrent writes kept conflicting and the backend gave
	// up retrying; nothing was written, and the caller may retry.
	ErrContention = errors.New("store: too much contention, retry")
)

// Store is a backend. Write runs fn in a transaction that is durable (fsynced)
// when Write returns nil; if fn returns an error nothing it wrote persists.
// Backends may commit several concurrent Writes together (group commit), so fn
// must be quick and do no I/O outside the transaction. A backend may also run
// fn more than once (PostgreSQL retries serialization failures), so fn must
// reset any state it sets outside the transaction at its start.
type Store interface {
	Read(ctx context.Context, fn func(Tx) error) error
	Write(ctx context.Context, fn func(Tx) error) error
	Ping(ctx context.Context) error
	Close() error
}

// Tx is the repository inside one transaction. Every lookup of a
// merchant-owned record takes the merchant id: scoping is not optional.
type Tx interface {
	InsertMerchant(m *Merchant) error
	GetMerchant(id string) (*Merchant, error)
	GetMerchantBySecretHash(hash []byte) (*Merchant, error)
	UpdateMerchantSettings(id string, s Settings) error
	CountMerchants() (int, error)

	InsertDataKey(dk vault.DataKey) error
	GetDataKey(id string) (vault.DataKey, error)
	// ActiveDataKey returns the newest data key of a merchant for a purpose.
	ActiveDataKey(merchantID, purpose string) (vault.DataKey, error)
	// ListDataKeys pages through all data keys in id order, after afterID.
	ListDataKeys(afterID string, limit int) ([]vault.DataKey, error)
	UpdateDataKeyWrap(id string, kekVersion uint32, wrapped []byte) error

	InsertCustomer(c *Customer) error
	GetCustomer(merchantID, id string) (*Customer, error)
	GetCustomerByReference(merchantID, reference string) (*Customer, error)
	MarkCustomerDeleted(merchantID, id string, at time.Time) error

	InsertToken(t *Token) error
	GetToken(merchantID, id string) (*Token, error)
	FindTokenByFingerprint(merchantID, customerID, fingerprint string) (*Token, error)
	UpdateToken(t *Token) error
	ListTokens(merchantID string, f TokenFilter) ([]*Token, bool, error)
	// EraseCustomerTokens crypto-shreds every live token of a customer.
	EraseCustomerTokens(merchantID, customerID string, at time.Time) (int, error)

	GetIdempotency(merchantID, key string) (*Idempotency, error)
	InsertIdempotency(r *Idempotency) error
	UpdateIdempotency(r *Idempotency) error
	DeleteIdempotency(merchantID, key string) error
	DeleteIdempotencyBefore(t time.Time) (int, error)
	// EndIdempotencyLeases ends the lease of every key still started (of
	// any merchant), so the next request with each takes it over at once:
	// a server that runs alone calls it at start, when every such key
	// belongs to a request that died with its predecessor.
	EndIdempotencyLeases() (int, error)

	// BeatInstance records that a server instance is alive (inserting it
	// the first time); instances sharing a database judge each other's
	// claims by it.
	BeatInstance(i *Instance) error
	GetInstance(id string) (*Instance, error)
	DeleteInstance(id string) error
	// DeleteInstancesBefore forgets instances whose last beat is older
	// than a time (long dead).
	DeleteInstancesBefore(t time.Time) (int, error)

	InsertAudit(a *Audit) error
	ListAudit(merchantID, objectID string) ([]*Audit, error)

	// GetTokenAny returns a token even when deleted (to tell "deleted" from "unknown").
	GetTokenAny(merchantID, id string) (*Token, error)

	InsertPayment(p *Payment) error
	GetPayment(merchantID, id string) (*Payment, error)
	UpdatePayment(p *Payment) error
	// UpdatePaymentIf updates only while the stored status is still status;
	// otherwise it returns ErrNotFound and changes nothing.
	UpdatePaymentIf(p *Payment, status string) error
	ListPayments(merchantID string, f PaymentFilter) ([]*Payment, bool, error)
	// StaleProcessing lists payments of any merchant left processing since before a time.
	StaleProcessing(updatedBefore time.Time, limit int) ([]*Payment, error)
	// LapsedClaims lists payments of any merchant whose capture/cancel claim ran out before a time.
	LapsedClaims(before time.Time, limit int) ([]*Payment, error)

	InsertRefund(r *Refund) error
	UpdateRefund(r *Refund) error
	ListRefunds(merchantID, paymentID string) ([]*Refund, error)
	// StaleRefunds lists refunds of any merchant still pending since before a time.
	StaleRefunds(updatedBefore time.Time, limit int) ([]*Refund, error)

	// InsertEvent appends to the outbox, assigning the merchant's next sequence number.
	InsertEvent(e *Event) error
	ListEventsFor(merchantID, objectID string) ([]*Event, error)

	InsertChallenge(c *Challenge) error
	// GetChallenge finds a challenge by id alone: the id is the card
	// holder's capability (it is in the challenge page's URL), and the page
	// has no merchant credentials.
	GetChallenge(id string) (*Challenge, error)
	UpdateChallenge(c *Challenge) error
	// GetCardAuthFailures reads a card's count of wrong 3-D Secure codes
	// (ErrNotFound when it has none).
	GetCardAuthFailures(merchantID, fingerprint string) (*CardAuthFailures, error)
	// PutCardAuthFailures writes a card's count, inserting or replacing it.
	PutCardAuthFailures(f *CardAuthFailures) error

	// KEKChecks returns the key-check value recorded for each KEK version.
	KEKChecks() (map[uint32][]byte, error)
	// InsertKEKCheck records a version's key-check value; ErrConflict when
	// the version has one (it is never replaced).
	InsertKEKCheck(version uint32, value []byte, at time.Time) error
	// KEKSample returns one data key of each KEK version data keys are
	// wrapped under, to prove a key ring can unwrap them.
	KEKSample() ([]vault.DataKey, error)

	// SweepableChallenges lists challenges of any merchant that expired
	// before a time and still need work: pending ones to expire, and any
	// still holding sealed card data to erase.
	SweepableChallenges(before time.Time, limit int) ([]*Challenge, error)

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

	// GetEvent reads one event of a merchant.
	GetEvent(merchantID, id string) (*Event, error)
	// ListEvents pages through a merchant's events, newest (highest seq)
	// first; Type and ObjectID filter when set.
	ListEvents(merchantID string, f EventFilter) ([]*Event, bool, error)
	// EventsAfter lists a merchant's events about one object with seq above
	// afterSeq, oldest first (live streams poll it).
	EventsAfter(merchantID, objectID string, afterSeq int64, limit int) ([]*Event, error)

	InsertWebhookEndpoint(e *WebhookEndpoint) error
	GetWebhookEndpoint(merchantID, id string) (*WebhookEndpoint, error)
	// ListWebhookEndpoints lists a merchant's live (not deleted) endpoints, oldest first.
	ListWebhookEndpoints(merchantID string) ([]*WebhookEndpoint, error)
	UpdateWebhookEndpoint(e *WebhookEndpoint) error

	InsertDeviceKey(k *DeviceKey) error
	// GetDeviceKeyByHash finds a key (revoked or not) by its digest.
	GetDeviceKeyByHash(hash []byte) (*DeviceKey, error)
	GetDeviceKey(merchantID, id string) (*DeviceKey, error)
	// ListDeviceKeys lists a merchant's keys, oldest first, revoked ones too.
	ListDeviceKeys(merchantID string) ([]*DeviceKey, error)
	// RevokeDeviceKey marks a key revoked (ErrNotFound when there is none).
	RevokeDeviceKey(merchantID, id string, at time.Time) error

	InsertDelivery(d *Delivery) error
	GetDelivery(id string) (*Delivery, error)
	UpdateDelivery(d *Delivery) error
	// ListDeliveries lists an event's deliveries, oldest first.
	ListDeliveries(merchantID, eventID string) ([]*Delivery, error)
	// DueDeliveries lists deliveries of any merchant that are pending, due
	// (NextAttempt <= now) and not leased (LockedUntil <= now), oldest
	// NextAttempt first. Each is marked Held when another pending delivery
	// to the same target (endpoint; for callbacks URL and format) carries an
	// earlier event (lower seq) about the same object, with HeldUntil the
	// latest NextAttempt after now among those (zero when none is waiting
	// for a retry: they are due or under way).
	DueDeliveries(now time.Time, limit int) ([]*Delivery, error)
	InsertDeliveryAttempt(a *DeliveryAttempt) error
	// ListDeliveryAttempts lists a delivery's attempts in order.
	ListDeliveryAttempts(deliveryID string) ([]*DeliveryAttempt, error)
}

// EventFilter selects a page of events.
type EventFilter struct {
	Type          string
	ObjectID      string
	StartingAfter string // an event id
	Limit         int
}

// WebhookEndpoint is a merchant's URL that receives events, signed the
// Standard Webhooks way with its secret (vault-sealed). After a rotation
// the previous secret also signs until PreviousUntil.
type WebhookEndpoint struct {
	ID            string
	MerchantID    string
	URL           string
	Events        []string // event types, or "*"
	SecretCT      []byte
	PreviousCT    []byte // nil when none
	PreviousUntil time.Time
	Description   string
	Created       time.Time
	Updated       time.Time
	Deleted       *time.Time
}

// Delivery statuses.
const (
	DeliveryPending   = "pending"
	DeliverySucceeded = "succeeded"
	DeliveryFailed    = "failed" // gave up after the retry window
	// DeliverySkipped: the delivery's format does not send this event (a
	// provider's callback tells only of outcomes), so nothing was sent.
	DeliverySkipped = "skipped"
)

// Delivery is one event on its way to one URL: a webhook endpoint's, or a
// session's callback_url (EndpointID "").
type Delivery struct {
	ID          string
	MerchantID  string
	EventID     string
	EndpointID  string
	URL         string
	Format      string // "" Coffer's signed JSON; else a provider's shape (the session's CallbackFormat)
	Status      string
	Attempts    int
	NextAttempt time.Time
	LockedUntil time.Time // a dispatcher's lease while it sends
	LastStatus  int       // the last HTTP status (0: none, e.g. a timeout)
	Created     time.Time
	Updated     time.Time

	// Held and HeldUntil are set by DueDeliveries only, never stored: the
	// delivery must wait for an earlier event's delivery about the same
	// object to the same target, whose retry is due at HeldUntil (zero when
	// that one is due now or being sent).
	Held      bool
	HeldUntil time.Time
}

// DeliveryAttempt is one try of a delivery, as the delivery log shows it.
type DeliveryAttempt struct {
	ID         string
	DeliveryID string
	Attempt    int
	At         time.Time
	StatusCode int // 0 when no response came
	LatencyMS  int64
	Error      string // why it failed ("" on success); never response bodies
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

// Payment statuses. processing means the processor call is under way (or was
// interrupted by a crash and awaits reconciliation).
const (
	PaymentProcessing      = "processing"
	PaymentRequiresAction  = "requires_action"
	PaymentRequiresCapture = "requires_capture"
	PaymentSucceeded       = "succeeded"
	PaymentFailed          = "failed"
	PaymentCanceled        = "canceled"
)

// Payment is a charge of a card or token.
type Payment struct {
	ID               string
	MerchantID       string
	Status           string
	Amount           int64
	AmountCapturable int64
	AmountCaptured   int64
	AmountRefunded   int64 // includes refunds still pending at the processor
	Currency         string
	CaptureMethod    string // automatic | manual
	TokenID          string
	CustomerID       string
	OrderID          string
	Description      string
	Metadata         map[string]string
	Card             PaymentCard
	Processor        ProcessorResult
	Failure          *Failure
	// PendingOp claims the payment for one capture or cancel at a time; the
	// claim lapses at PendingUntil so a crashed holder cannot block it forever.
	PendingOp    string
	PendingUntil time.Time
	// OpKey identifies the keyed request (a digest of its Idempotency-Key's
	// claim) that took the latest capture or cancel claim: a retry of that
	// request after a crash recognises its own operation, finished or
	// interrupted. "" when the request had no key.
	OpKey string
	// Authentication is the payment's 3-D Secure result (nil: none ran).
	Authentication *Authentication
	// ChallengeID is the 3-D Secure challenge the payment waits for (or
	// waited for); "" when it needed none.
	ChallengeID string
	Created     time.Time
	Updated     time.Time
}

// PaymentCard is the masked card a payment used.
type PaymentCard struct {
	Brand       string `json:"brand"`
	BIN         string `json:"bin"`
	Last4       string `json:"last4"`
	Mask        string `json:"mask"`
	ExpMonth    int    `json:"exp_month"`
	ExpYear     int    `json:"exp_year"`
	Fingerprint string `json:"fingerprint"`
}

// ProcessorResult is what the acquirer said.
type ProcessorResult struct {
	AuthCode        string `json:"auth_code"`
	AVSResult       string `json:"avs_result"`
	CVCResult       string `json:"cvc_result"`
	NetworkRef      string `json:"network_reference"`
	AuthorizationID string `json:"authorization_id,omitempty"`
	CaptureID       string `json:"capture_id,omitempty"`
}

// Failure explains a failed payment or refund.
type Failure struct {
	Code        string `json:"code"`
	DeclineCode string `json:"decline_code,omitempty"`
	Message     string `json:"message"`
}

// PaymentFilter selects a page of payments, newest first.
type PaymentFilter struct {
	OrderID       string
	CustomerID    string
	StartingAfter string
	Limit         int
}

// Refund statuses.
const (
	RefundPending   = "pending"
	RefundSucceeded = "succeeded"
	RefundFailed    = "failed"
)

// Refund returns part or all of a captured payment.
type Refund struct {
	ID           string
	MerchantID   string
	PaymentID    string
	Amount       int64
	Currency     string
	Status       string
	Reason       string
	ProcessorRef string
	Failure      *Failure
	Created      time.Time
	Updated      time.Time
}

// Event is one outbox entry: a state change and the object after it.
type Event struct {
	ID         string
	MerchantID string
	Seq        int64
	Type       string
	ObjectType string
	ObjectID   string
	Data       []byte // JSON of the object as the API shows it
	Created    time.Time
}

// Merchant is an account. Secrets are stored as a hash (the API key) or sealed
// by the vault (the HMAC secret, which dialects need in clear to sign).
type Merchant struct {
	ID             string
	Name           string
	SecretKeyHash  []byte
	PublishableKey string
	HMACSecretCT   []byte
	Settings       Settings
	Created        time.Time
}

// Settings are the merchant's options; later features add fields here.
type Settings struct {
	DefaultCurrency         string   `json:"default_currency"`
	RequireCVCForSavedCards bool     `json:"require_cvc_for_saved_cards"`
	TokenizationRequires3DS bool     `json:"tokenization_requires_3ds"`
	TokenizationReturnURL   string   `json:"tokenization_return_url"`
	TokenizationCallbackURL string   `json:"tokenization_callback_url"`
	FrameAncestors          []string `json:"frame_ancestors"`
	// AcceptRawCardData opens the dialect endpoints that take card numbers
	// in clear from the merchant's server (senangPay's deprecated
	// get_payment_token, SensePass's pay with creditCardDetails). Off by
	// default: those flows put the merchant in PCI scope and skip 3-D Secure.
	AcceptRawCardData bool `json:"accept_raw_card_data"`
	// CardTesting overrides the card-testing limits; zero keeps a default
	// (internal/radar.Defaults, documented in README).
	CardTesting CardTestingLimits `json:"card_testing"`
	// SenangPayLegacyAuth lets senangPay's server-to-server calls use the
	// form senangPay documents (Basic auth with the merchant id and an empty
	// password) instead of the hmac_secret as password, and only from
	// SenangPayLegacyAuthCIDRs: the merchant id alone is public.
	SenangPayLegacyAuth      bool     `json:"senangpay_legacy_auth"`
	SenangPayLegacyAuthCIDRs []string `json:"senangpay_legacy_auth_cidrs"`
}

// CardTestingLimits are a merchant's card-testing thresholds.
type CardTestingLimits struct {
	SuffixCards         int     `json:"suffix_cards_per_hour,omitempty"`
	UnverifiedPerMinute int     `json:"unverified_per_minute,omitempty"`
	DeclineMin          int     `json:"decline_min_attempts,omitempty"`
	DeclineRatio        float64 `json:"decline_ratio,omitempty"`
	CVCFailures         int     `json:"cvc_failures_per_hour,omitempty"`
}

// DeviceKey is a secondary credential a merchant creates for a device (a
// point of sale): it authenticates as the merchant in the dialects that
// take a device id. Only a keyed digest of the key is stored.
type DeviceKey struct {
	ID         string
	MerchantID string
	Name       string
	KeyHash    []byte
	Last4      string // the key's last four characters, to tell keys apart
	Created    time.Time
	Revoked    *time.Time
}

// Customer is the merchant's customer; Reference is the merchant's own id.
type Customer struct {
	ID         string
	MerchantID string
	Reference  string
	Name       string
	Email      string
	Phone      string
	Metadata   map[string]string
	Created    time.Time
	Deleted    *time.Time
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

// Idempotency states.
const (
	IdemStarted = "started"
	IdemDone    = "done"
)

// Idempotency remembers one keyed request and, once done, its exact response.
type Idempotency struct {
	MerchantID  string
	Key         string
	RequestHash []byte
	State       string
	StatusCode  int
	Response    []byte
	Created     time.Time
	LockedUntil time.Time
	// Owner is the server instance running the request ("" when the
	// server runs alone): once that instance stops beating, a duplicate
	// takes the key over without waiting for LockedUntil.
	Owner string
}

// Instance is one running server sharing the database, known by its
// heartbeat.
type Instance struct {
	ID      string
	Started time.Time
	Beat    time.Time
}

// Audit records access to card data in clear (detokenization).
type Audit struct {
	ID         string
	MerchantID string
	Action     string
	ObjectID   string
	Purpose    string
	RequestID  string
	Created    time.Time
}
