package store

import "time"

// PaymentTx stores payments and their refunds.
type PaymentTx interface {
	InsertPayment(p *Payment) error
	GetPayment(merchantID, id string) (*Payment, error)
	UpdatePayment(p *Payment) error
	// UpdatePaymentIf updates only while the stored status is still status;
	// otherwise it returns ErrNotFound and changes nothing.
	UpdatePaymentIf(p *Payment, status string) error
	ListPayments(merchantID string, f PaymentFilter) ([]*Payment, bool, error)
	// PaymentStats sums a merchant's payments created from from (included)
	// to to (excluded) per UTC day, status, currency and failure reason, in
	// that order: one query however many payments, for the dashboard's
	// overview.
	PaymentStats(merchantID string, from, to time.Time) ([]PaymentStat, error)
	// StaleProcessing lists payments of any merchant left processing since before a time.
	StaleProcessing(updatedBefore time.Time, limit int) ([]*Payment, error)
	// LapsedClaims lists payments of any merchant whose capture/cancel claim ran out before a time.
	LapsedClaims(before time.Time, limit int) ([]*Payment, error)

	InsertRefund(r *Refund) error
	UpdateRefund(r *Refund) error
	ListRefunds(merchantID, paymentID string) ([]*Refund, error)
	// StaleRefunds lists refunds of any merchant still pending since before a time.
	StaleRefunds(updatedBefore time.Time, limit int) ([]*Refund, error)
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
	// Account is the merchant's processor account the payment went to (""
	// for the server's own acquirer), Type its connector; Pinned says the
	// request chose the account, so no other is tried.
	Account         string `json:"account,omitempty"`
	Type            string `json:"type,omitempty"`
	Pinned          bool   `json:"pinned,omitempty"`
	AuthCode        string `json:"auth_code"`
	AVSResult       string `json:"avs_result"`
	CVCResult       string `json:"cvc_result"`
	NetworkRef      string `json:"network_reference"`
	AuthorizationID string `json:"authorization_id,omitempty"`
	CaptureID       string `json:"capture_id,omitempty"`
	// ActionURL is the acquirer's own 3-D Secure page a payment in
	// requires_action sends the card holder to ("" for Coffer's own).
	ActionURL string `json:"action_url,omitempty"`
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
	// CreatedFrom and CreatedBefore bound the creation time (from included,
	// before excluded); the zero time leaves that side open.
	CreatedFrom   time.Time
	CreatedBefore time.Time
	Limit         int
}

// PaymentStat is one group of a merchant's payments: those created on one
// UTC day with one status, currency and failure reason.
type PaymentStat struct {
	Day      time.Time // the day's first instant, UTC
	Status   string
	Currency string
	// Reason is a failed payment's decline code, or its failure code when
	// the processor gave none; "" for every other status.
	Reason   string
	Count    int64
	Amount   int64 // the sum of the amounts asked
	Captured int64 // the sum of the amounts captured
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
