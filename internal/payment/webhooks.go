package payment

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/coffer-vault/coffer/internal/event"
	"github.com/coffer-vault/coffer/internal/id"
	"github.com/coffer-vault/coffer/internal/store"
)

// SecretRotationGrace is how long a rotated webhook secret keeps signing
// beside the new one, so a merchant can switch its receivers over.
const SecretRotationGrace = 24 * time.Hour

// MaxWebhookEndpoints caps a merchant's live webhook endpoints: every event
// fans out to each of them in the event's own transaction, so an unbounded
// number would let one merchant make every write of its own slow and flood
// the dispatcher. Deleted endpoints do not count.
const MaxWebhookEndpoints = 16

// EventTypes are the events Coffer writes (an endpoint may also ask for
// "*" or a family such as "payment.*").
var EventTypes = []string{
	"token.created", "token.activated", "token.failed", "token.disabled", "token.enabled", "token.deleted",
	"payment.succeeded", "payment.failed", "payment.requires_capture", "payment.captured", "payment.canceled", "payment.refunded",
	"payment.refund_failed",
	"session.created", "session.updated", "session.requires_action", "session.succeeded", "session.failed", "session.expired",
	"session.canceled",
	EventCardTesting,
}

// WebhookEndpointParams creates a webhook endpoint.
type WebhookEndpointParams struct {
	URL         string   `json:"url"`
	Events      []string `json:"events"`
	Description string   `json:"description"`
}

// WebhookEndpointView is an endpoint as the API shows it. Secret is shown
// only when created or rotated.
type WebhookEndpointView struct {
	ID                    string     `json:"id"`
	Object                string     `json:"object"`
	URL                   string     `json:"url"`
	Events                []string   `json:"events"`
	Description           *string    `json:"description"`
	Secret                string     `json:"secret,omitempty"`
	PreviousSecretExpires *time.Time `json:"previous_secret_expires"`
	Created               time.Time  `json:"created"`
}

func viewEndpoint(ep *store.WebhookEndpoint, now time.Time) WebhookEndpointView {
	v := WebhookEndpointView{ID: ep.ID, Object: "webhook_endpoint", URL: ep.URL, Events: ep.Events, Description: optional(ep.Description),
		Created: ep.Created}
	if ep.PreviousCT != nil && now.Before(ep.PreviousUntil) {
		t := ep.PreviousUntil
		v.PreviousSecretExpires = &t
	}
	return v
}

func validEventFilter(f string) bool {
	if f == "*" {
		return true
	}
	for _, t := range EventTypes {
		if f == t || strings.HasSuffix(f, ".*") && strings.HasPrefix(t, strings.TrimSuffix(f, "*")) {
			return true
		}
	}
	return false
}

// CreateWebhookEndpoint registers a URL for a merchant's events.
func (s *Events) CreateWebhookEndpoint(ctx context.Context, m *store.Merchant, p WebhookEndpointParams) (WebhookEndpointView, error) {
	if p.URL == "" {
		return WebhookEndpointView{}, invalid("url", "parameter_missing", "url is required")
	}
	if len(p.URL) > 2048 || !isHTTPURL(p.URL) {
		return WebhookEndpointView{}, invalid("url", "url_invalid", "url must be an absolute http(s) URL"+urlHostRule)
	}
	if err := event.CheckURL(p.URL, s.allowPrivateWebhooks); err != nil {
		return WebhookEndpointView{}, invalid("url", "url_forbidden", "url is not allowed: %s", err.Error())
	}
	if len(p.Events) == 0 {
		p.Events = []string{"*"}
	}
	if len(p.Events) > 50 {
		return WebhookEndpointView{}, invalid("events", "parameter_invalid", "at most 50 event types")
	}
	for i, f := range p.Events {
		if !validEventFilter(f) {
			return WebhookEndpointView{}, invalid("events", "parameter_invalid", "events[%d] is not an event type, a family like payment.* or *", i)
		}
	}
	if err := checkText("description", p.Description, 500); err != nil {
		return WebhookEndpointView{}, err
	}
	now := s.now()
	ep := &store.WebhookEndpoint{ID: id.NewOrdered("we"), MerchantID: m.ID, URL: p.URL, Events: p.Events, Description: p.Description,
		Created: now, Updated: now}
	secret := event.NewSecret()
	var err error
	if ep.SecretCT, err = s.sealer.seal(ctx, m.ID, "webhook_secret", ep.ID, []byte(secret)); err != nil {
		return WebhookEndpointView{}, err
	}
	// Counted in the inserting transaction: two concurrent creations cannot
	// both take the last place. SQLite has one writer; on PostgreSQL reading
	// the merchant in the write locks its row, so the second creation counts
	// after the first has committed.
	err = s.store.Write(ctx, func(tx store.Tx) error {
		if _, err := tx.GetMerchant(m.ID); err != nil {
			return err
		}
		live, err := tx.ListWebhookEndpoints(m.ID)
		if err != nil {
			return err
		}
		if len(live) >= MaxWebhookEndpoints {
			return &Error{Kind: KindInvalidRequest, Code: "webhook_endpoint_limit_reached",
				Message: fmt.Sprintf("A merchant may have at most %d webhook endpoints; delete one before adding another.", MaxWebhookEndpoints)}
		}
		return tx.InsertWebhookEndpoint(ep)
	})
	s.endpoints.changed(m.ID)
	if err != nil {
		return WebhookEndpointView{}, err
	}
	v := viewEndpoint(ep, now)
	v.Secret = secret
	return v, nil
}

// checkCallbackAddress applies the webhook address rules to a merchant's
// tokenization_callback_url when it is being set (nil: not part of this
// change), so a forbidden address is refused then, naming the field, rather
// than only when a callback is first sent. A URL of the wrong form is left to
// validateSettings' own message.
func (s *Events) checkCallbackAddress(v *string) error {
	if v == nil {
		return nil
	}
	return checkCallbackURL(*v, s.allowPrivateWebhooks)
}

func checkCallbackURL(v string, allowPrivate bool) error {
	if v == "" || !isHTTPURL(v) {
		return nil
	}
	if err := event.CheckURL(v, allowPrivate); err != nil {
		return invalid("tokenization_callback_url", "url_forbidden", "tokenization_callback_url is not allowed: %s", err.Error())
	}
	return nil
}

func (s *Events) getEndpoint(ctx context.Context, merchantID, endpointID string) (*store.WebhookEndpoint, error) {
	ep, err := read(ctx, s.store, func(tx store.Tx) (*store.WebhookEndpoint, error) {
		return tx.GetWebhookEndpoint(merchantID, endpointID)
	})
	if isNotFound(err) || err == nil && ep.Deleted != nil {
		return nil, notFound("id", "webhook endpoint", endpointID)
	}
	return ep, err
}

// GetWebhookEndpoint reads an endpoint.
func (s *Events) GetWebhookEndpoint(ctx context.Context, merchantID, endpointID string) (WebhookEndpointView, error) {
	ep, err := s.getEndpoint(ctx, merchantID, endpointID)
	if err != nil {
		return WebhookEndpointView{}, err
	}
	return viewEndpoint(ep, s.now()), nil
}

// ListWebhookEndpoints lists a merchant's endpoints.
func (s *Events) ListWebhookEndpoints(ctx context.Context, merchantID string) ([]WebhookEndpointView, error) {
	var eps []*store.WebhookEndpoint
	err := s.store.Read(ctx, func(tx store.Tx) error {
		var err error
		eps, err = tx.ListWebhookEndpoints(merchantID)
		return err
	})
	out := make([]WebhookEndpointView, 0, len(eps))
	for _, ep := range eps {
		out = append(out, viewEndpoint(ep, s.now()))
	}
	return out, err
}

// DeleteWebhookEndpoint stops an endpoint: no new deliveries, and the
// pending ones are dropped by the dispatcher.
func (s *Events) DeleteWebhookEndpoint(ctx context.Context, merchantID, endpointID string) error {
	err := s.store.Write(ctx, func(tx store.Tx) error {
		ep, err := tx.GetWebhookEndpoint(merchantID, endpointID)
		if err != nil {
			return err
		}
		if ep.Deleted != nil {
			return store.ErrNotFound
		}
		now := s.now()
		ep.Deleted, ep.Updated, ep.SecretCT, ep.PreviousCT = &now, now, nil, nil
		return tx.UpdateWebhookEndpoint(ep)
	})
	s.endpoints.changed(merchantID)
	if isNotFound(err) {
		return notFound("id", "webhook endpoint", endpointID)
	}
	return err
}

// RotateWebhookSecret gives an endpoint a new secret; the old one keeps
// signing beside it for SecretRotationGrace.
func (s *Events) RotateWebhookSecret(ctx context.Context, merchantID, endpointID string) (WebhookEndpointView, error) {
	secret := event.NewSecret()
	ct, err := s.sealer.seal(ctx, merchantID, "webhook_secret", endpointID, []byte(secret))
	if err != nil {
		return WebhookEndpointView{}, err
	}
	var ep *store.WebhookEndpoint
	err = s.store.Write(ctx, func(tx store.Tx) error {
		var err error
		if ep, err = tx.GetWebhookEndpoint(merchantID, endpointID); err != nil {
			return err
		}
		if ep.Deleted != nil {
			return store.ErrNotFound
		}
		now := s.now()
		ep.PreviousCT, ep.PreviousUntil, ep.SecretCT, ep.Updated = ep.SecretCT, now.Add(SecretRotationGrace), ct, now
		return tx.UpdateWebhookEndpoint(ep)
	})
	s.endpoints.changed(merchantID)
	if isNotFound(err) {
		return WebhookEndpointView{}, notFound("id", "webhook endpoint", endpointID)
	}
	if err != nil {
		return WebhookEndpointView{}, err
	}
	v := viewEndpoint(ep, s.now())
	v.Secret = secret
	return v, nil
}

// EndpointSecrets opens an endpoint's signing secrets for the dispatcher:
// the current one and, during a rotation's grace, the previous one.
func (s *Events) EndpointSecrets(ctx context.Context, ep *store.WebhookEndpoint) ([]byte, []byte, error) {
	if ep.SecretCT == nil {
		return nil, nil, errors.New("payment: webhook endpoint has no secret (deleted)")
	}
	cur, err := s.openSecretString(ctx, ep, ep.SecretCT)
	if err != nil {
		return nil, nil, err
	}
	if ep.PreviousCT == nil || !s.now().Before(ep.PreviousUntil) {
		return cur, nil, nil
	}
	prev, err := s.openSecretString(ctx, ep, ep.PreviousCT)
	return cur, prev, err
}

func (s *Events) openSecretString(ctx context.Context, ep *store.WebhookEndpoint, ct []byte) ([]byte, error) {
	plain, err := s.sealer.open(ctx, ep.MerchantID, "webhook_secret", ep.ID, ct)
	if err != nil {
		return nil, err
	}
	return event.ParseSecret(string(plain))
}

// CallbackSecret is the key a merchant's session callbacks are signed
// with: derived from its own per-merchant secret, so it needs no storage
// and survives key rotation; GET /v1/merchant shows it.
func (s *Events) CallbackSecret(ctx context.Context, merchantID string) ([]byte, error) {
	return s.sealer.Digest(ctx, merchantID, "session-callback-signing-secret", nil)
}

// CallbackSecretString is CallbackSecret as receivers configure it.
func (s *Events) CallbackSecretString(ctx context.Context, merchantID string) (string, error) {
	b, err := s.CallbackSecret(ctx, merchantID)
	if err != nil {
		return "", err
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(b), nil
}

// ListEvents pages through a merchant's events, newest first.
func (s *Events) ListEvents(ctx context.Context, merchantID string, f store.EventFilter) ([]EventView, bool, error) {
	var evs []*store.Event
	var more bool
	err := s.store.Read(ctx, func(tx store.Tx) error {
		var err error
		evs, more, err = tx.ListEvents(merchantID, f)
		return err
	})
	if isNotFound(err) {
		return nil, false, notFound("starting_after", "event", f.StartingAfter)
	}
	out := make([]EventView, 0, len(evs))
	for _, e := range evs {
		out = append(out, viewEvent(e))
	}
	return out, more, err
}

// GetEvent reads an event with its deliveries and their attempt logs.
func (s *Events) GetEvent(ctx context.Context, merchantID, eventID string) (EventView, error) {
	var v EventView
	err := s.store.Read(ctx, func(tx store.Tx) error {
		e, err := tx.GetEvent(merchantID, eventID)
		if err != nil {
			return err
		}
		v = viewEvent(e)
		ds, err := tx.ListDeliveries(merchantID, eventID)
		if err != nil {
			return err
		}
		v.Deliveries = []DeliveryView{}
		for _, d := range ds {
			atts, err := tx.ListDeliveryAttempts(d.ID)
			if err != nil {
				return err
			}
			dv := DeliveryView{ID: d.ID, Endpoint: optional(d.EndpointID), URL: d.URL, Status: d.Status, Attempts: []AttemptView{}}
			if d.Status == store.DeliveryPending {
				t := d.NextAttempt
				dv.NextAttempt = &t
			}
			for _, a := range atts {
				av := AttemptView{Attempt: a.Attempt, At: a.At, LatencyMS: a.LatencyMS, Error: optional(a.Error)}
				if a.StatusCode != 0 {
					c := a.StatusCode
					av.StatusCode = &c
				}
				dv.Attempts = append(dv.Attempts, av)
			}
			v.Deliveries = append(v.Deliveries, dv)
		}
		return nil
	})
	if isNotFound(err) {
		return EventView{}, notFound("id", "event", eventID)
	}
	return v, err
}

// RedeliverEvent sends an event again to every endpoint (and session
// callback) that wants it now, as new deliveries with their own logs.
func (s *Events) RedeliverEvent(ctx context.Context, merchantID, eventID string) (EventView, error) {
	err := s.store.Write(ctx, func(tx store.Tx) error {
		e, err := tx.GetEvent(merchantID, eventID)
		if err != nil {
			return err
		}
		now := s.now()
		redo := *e
		redo.Created = now // the new deliveries are due now
		return s.fanOut(tx, &redo)
	})
	if isNotFound(err) {
		return EventView{}, notFound("id", "event", eventID)
	}
	if err != nil {
		return EventView{}, err
	}
	return s.GetEvent(ctx, merchantID, eventID)
}
