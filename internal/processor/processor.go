// Package processor is the boundary between Coffer and an acquirer: the calls that move money
// (authorize, capture, void, refund) and the account verification that gates tokenization.
//
// It is the only place besides internal/vault where a PAN exists in clear, so the types here are
// built to resist leaking it: Card masks itself in every textual form, and no error or ID an
// implementation returns may carry card data.
package processor

import (
	"context"
	"errors"
)

// AuthorizeRequest asks the acquirer to reserve Amount on a card.
type AuthorizeRequest struct {
	MerchantID string
	// Reference is the caller's unique id for this authorization (for example "pay_…"). A repeat
	// of the same MerchantID+Reference is the same authorization: the acquirer returns the first
	// result and does not authorize again, so a caller may retry after a timeout without risking a
	// second hold on the card holder's funds.
	Reference string
	Card      Card
	// Stored, when set, charges a card the acquirer itself keeps (an
	// Authorize.net customer payment profile) instead of Card: Coffer never
	// sees its number. Only a connector whose acquirer keeps cards accepts it.
	Stored   *StoredCard
	Amount   int64 // minor units
	Currency string
	// Authentication is the 3-D Secure result the authorization carries
	// (nil: none was done).
	Authentication *Authentication
	// ReturnURL is where an acquirer that runs 3-D Secure itself sends the
	// card holder back after its challenge ("" when no card holder is
	// present: the acquirer must then decline rather than ask for action).
	ReturnURL string
	// NewReference: the caller vouches that Reference was never sent to
	// this acquirer (the payment's record was just written, and a log-sharing
	// acquirer's books come after it in the same log). A LogSharer may then
	// decide without looking the reference up and write its books without
	// waiting for them (store.Unawaited in ctx): if they fail after all, the
	// caller's fence fails and its outcome is never recorded. Others ignore it.
	NewReference bool
}

// StoredCard names a card kept at the acquirer (Authorize.net: a customer
// profile and one of its payment profiles).
type StoredCard struct {
	CustomerProfileID string
	PaymentProfileID  string
}

// Authorization is an approved hold on a card.
type Authorization struct {
	ID        string // the acquirer's reference, used to capture or void
	AuthCode  string // 6 characters, from the issuer
	Amount    int64
	Currency  string
	AVSResult string // "pass" | "fail" | "unavailable"
	CVCResult string // "pass" | "fail" | "unchecked"

	// The authorization's current state. Only Lookup fills these; Authorize returns them zero,
	// replays included, because it answers with the result of the authorization itself.
	Captured  int64  // amount captured; 0 while uncaptured
	CaptureID string // the capture's id, to refund it; "" while uncaptured
	Refunded  int64  // sum of the capture's refunds
	Voided    bool
}

// Capture settles some or all of an authorization.
type Capture struct {
	ID              string
	AuthorizationID string
	Amount          int64
}

// Refund returns some or all of a capture.
type Refund struct {
	ID        string
	CaptureID string
	Amount    int64
}

// VerifyRequest asks the acquirer to prove a card is good without charging it.
type VerifyRequest struct {
	MerchantID string
	Reference  string // idempotency, as in AuthorizeRequest
	Card       Card
	Amount     int64 // the verification amount (Coffer uses 100 minor units); 0 is allowed
	Currency   string
	// Authentication is the 3-D Secure result, as in AuthorizeRequest.
	Authentication *Authentication
}

// Verification is the outcome of a successful account verification.
type Verification struct {
	AuthorizationID string
	AuthCode        string
	AVSResult       string
	CVCResult       string
	Voided          bool
}

// Check results, as Authorization, Verification and Decline report them.
const (
	CheckPass        = "pass"
	CheckFail        = "fail"
	CheckUnavailable = "unavailable" // AVS: no address was sent, or the issuer could not check it
	CheckUnchecked   = "unchecked"   // CVC: none was sent
)

// Decline codes; they are API.md's card error codes so that callers can pass them through.
const (
	CodeCardDeclined         = "card_declined"
	CodeExpiredCard          = "expired_card"
	CodeIncorrectCVC         = "incorrect_cvc"
	CodeIncorrectNumber      = "incorrect_number"
	CodeInvalidExpiry        = "invalid_expiry"
	CodeInvalidCVC           = "invalid_cvc"
	CodeProcessingError      = "processing_error"
	CodeAuthenticationFailed = "authentication_failed"
)

// Decline codes that accompany CodeCardDeclined.
const (
	DeclineGeneric           = "generic_decline"
	DeclineInsufficientFunds = "insufficient_funds"
	DeclineLostCard          = "lost_card"
	DeclineStolenCard        = "stolen_card"
	DeclineDoNotHonor        = "do_not_honor"
	DeclineCardBlocked       = "card_blocked"
)

// Decline is a refusal by the issuer or acquirer. It is an answer about the card, not a failure
// of the call, which is why it is a distinct type: callers turn it into a 402 card_error and record
// the failed payment, while any other error is an infrastructure problem.
type Decline struct {
	Code        string // one of the Code… constants
	DeclineCode string // for card_declined, one of the Decline… constants; may repeat Code otherwise
	Message     string // safe to show the card holder
	AVSResult   string
	CVCResult   string
}

func (d *Decline) Error() string {
	s := "card declined: " + d.Code
	if d.DeclineCode != "" && d.DeclineCode != d.Code {
		s += " (" + d.DeclineCode + ")"
	}
	if d.Message != "" {
		s += ": " + d.Message
	}
	return s
}

// ActionRequired is an acquirer's answer that the card holder must first
// authenticate on a page of its own (3-D Secure run by the acquirer, e.g. a
// Stripe PaymentIntent in requires_action): nothing is decided yet. The
// caller sends the card holder to RedirectURL; the outcome is then learned
// with Lookup (same merchant and reference).
type ActionRequired struct {
	AuthorizationID string // the acquirer's reference of the pending authorization
	RedirectURL     string
}

func (a *ActionRequired) Error() string { return "processor: card holder action required" }

var (
	// ErrUnreachable means the request never reached the acquirer (no
	// connection, a TLS failure, an open circuit): nothing happened there, so
	// another account may be tried at once.
	ErrUnreachable = errors.New("processor: acquirer unreachable")
	// ErrUnavailable means the acquirer may or may not have acted on the
	// request (a timeout after it was sent, a 5xx answer): before trying
	// another account, ask this one (Lookup) whether it did.
	ErrUnavailable = errors.New("processor: acquirer unavailable")
	// ErrNotFound means the acquirer knows no authorization or capture with that id.
	ErrNotFound = errors.New("processor: not found")
	// ErrInvalidState means the operation is not allowed in the object's current state, e.g. a
	// second capture, a void after capture, or an amount above what remains. Implementations wrap
	// it with detail: fmt.Errorf("%w: …", ErrInvalidState).
	ErrInvalidState = errors.New("processor: invalid state")
	// ErrInvalidRequest means the call itself is malformed (a non-positive amount, a bad currency
	// code). Callers are expected to validate first, so seeing it is a bug in the caller.
	ErrInvalidRequest = errors.New("processor: invalid request")
)

// LogSharer is implemented by an acquirer that keeps its books in Coffer's
// own store (the simulator over the store's ledger). What it writes for a
// payment lands after the payment's record in the same commit log, so it can
// never be durable without that record: the record need not be durable
// before such an acquirer acts, as it must before a message leaves for a
// real one.
type LogSharer interface {
	SharesLog() bool
}

// SharesLog reports whether p keeps its books in Coffer's own store.
func SharesLog(p Processor) bool {
	ls, ok := p.(LogSharer)
	return ok && ls.SharesLog()
}

// Processor is an acquirer. Implementations must be safe for concurrent use.
type Processor interface {
	// Authorize reserves r.Amount. A refusal is returned as *Decline, with a zero Authorization.
	Authorize(ctx context.Context, r AuthorizeRequest) (Authorization, error)
	// Capture settles amount (≤ authorized) of an uncaptured authorization, once.
	Capture(ctx context.Context, authorizationID string, amount int64) (Capture, error)
	// Void releases an uncaptured authorization; voiding an already-voided one succeeds.
	Void(ctx context.Context, authorizationID string) error
	// Refund returns amount of a capture; refunds may be partial and many, their sum ≤ captured.
	// A non-empty reference (the caller's refund id) makes it idempotent: a repeat of the same
	// capture+reference returns the first refund and refunds nothing more.
	Refund(ctx context.Context, captureID string, amount int64, reference string) (Refund, error)
	// LookupRefund finds the refund made under a reference, or ErrNotFound if none was.
	LookupRefund(ctx context.Context, captureID, reference string) (Refund, error)
	// Verify authorizes r.Amount and voids it at once. A refusal is returned as *Decline.
	Verify(ctx context.Context, r VerifyRequest) (Verification, error)
	// Lookup finds the authorization that Authorize made for merchantID+reference, with its
	// current state (Captured, CaptureID, Refunded, Voided), so that a caller interrupted between
	// asking and recording the answer can learn what happened. If the acquirer declined that
	// reference, Lookup returns the same *Decline that Authorize did. ErrNotFound means the
	// acquirer never processed the reference (an empty reference is never found); Verify's
	// references are not looked up.
	Lookup(ctx context.Context, merchantID, reference string) (Authorization, error)
	// Sale authorizes and captures the full amount in one message (acquirers'
	// "sale" or "purchase"), saving a round trip when capture is immediate.
	// Idempotent by MerchantID+Reference like Authorize: a repeat returns the
	// first authorization and its capture, capturing it if that had not
	// happened yet. A refusal is a *Decline.
	Sale(ctx context.Context, r AuthorizeRequest) (Authorization, Capture, error)
}
