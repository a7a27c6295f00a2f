package pivot

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/coffer-vault/coffer/internal/event"
	"github.com/coffer-vault/coffer/internal/payment"
	"github.com/coffer-vault/coffer/internal/store"
)

// Callback events: one per session that ends, none for the steps between
// (Pivot's callback tells an outcome).
const (
	EventPaid      = "PAYMENT.PAID"
	EventExpired   = "PAYMENT.EXPIRED"
	EventCancelled = "PAYMENT.CANCELLED"
	EventFailed    = "PAYMENT.FAILED"
)

// CallbackEvent is the Pivot event of a core session event ("" for none).
func CallbackEvent(coreType string) string {
	switch coreType {
	case "session.succeeded":
		return EventPaid
	case "session.expired":
		return EventExpired
	case "session.canceled":
		return EventCancelled
	case "session.failed":
		return EventFailed
	}
	return ""
}

// retrySchedule is Pivot's: the delay after each failed attempt.
var retrySchedule = [...]time.Duration{5 * time.Minute, 15 * time.Minute, time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour}

type callbacks struct{ d *Dialect }

type callbackBody struct {
	Event string         `json:"event"`
	Data  *sessionObject `json:"data"`
}

// Request builds one attempt: a POST of {"event","data"} with the
// merchant's callback secret as X-API-Key (Pivot's static callback key:
// no signature).
func (c callbacks) Request(ctx context.Context, merchantID string, ev *store.Event, target string) (*http.Request, error) {
	name := CallbackEvent(ev.Type)
	// session.updated is sent only when it ends a paid session: its
	// authorization voided since (the core's event for a later capture,
	// void or refund of the session's payment).
	if ev.ObjectType != "session" || name == "" && ev.Type != "session.updated" {
		return nil, event.ErrSkip
	}
	var v payment.SessionView
	if err := json.Unmarshal(ev.Data, &v); err != nil {
		return nil, fmt.Errorf("pivot: the event's session: %w", err)
	}
	// A failed attempt leaves the session open (session.updated too):
	// skipped before the payment is read for nothing.
	if name == "" && v.Status != store.SessionSucceeded {
		return nil, event.ErrSkip
	}
	obj, err := c.d.render(ctx, merchantID, &v)
	if err != nil {
		return nil, err
	}
	if name == "" {
		if obj.Status != StatusCancelled {
			return nil, event.ErrSkip
		}
		name = EventCancelled
	}
	body, err := json.Marshal(callbackBody{Event: name, Data: obj})
	if err != nil {
		return nil, err
	}
	key, err := c.d.svc.CallbackSecretString(ctx, merchantID)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-API-Key", key)
	return req, nil
}

func (callbacks) Delivered(status int, body []byte) string { return event.Delivered2xx(status, body) }

// Retry follows Pivot's schedule: 5xx, 408, 429 and no answer at all are
// retried after 5 min, 15 min, 1 h, 3 h, 6 h and 12 h; any other answer
// (another 4xx, a redirect) fails the delivery at once.
func (callbacks) Retry(n, status int) (time.Duration, bool) {
	return RetryAfter(n, status)
}

// RetryAfter is the delay after the nth failed attempt whose answer had
// status (0: none came); false gives up.
func RetryAfter(n, status int) (time.Duration, bool) {
	retryable := status == 0 || status >= 500 || status == http.StatusRequestTimeout || status == http.StatusTooManyRequests
	if !retryable || n < 1 || n > len(retrySchedule) {
		return 0, false
	}
	return retrySchedule[n-1], true
}

var _ event.Scheduler = callbacks{}
