package store

import "time"

// DeliveryTx stores where events go and how their sending went: webhook
// endpoints, deliveries (to endpoints and to sessions' callback URLs) and
// their attempts.
type DeliveryTx interface {
	InsertWebhookEndpoint(e *WebhookEndpoint) error
	GetWebhookEndpoint(merchantID, id string) (*WebhookEndpoint, error)
	// ListWebhookEndpoints lists a merchant's live (not deleted) endpoints, oldest first.
	ListWebhookEndpoints(merchantID string) ([]*WebhookEndpoint, error)
	UpdateWebhookEndpoint(e *WebhookEndpoint) error

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
