package payment

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/coffer-vault/coffer/internal/id"
	"github.com/coffer-vault/coffer/internal/store"
)

// Events is the outbox and its webhook endpoints: every state change writes
// its event (and one delivery per interested endpoint) in the change's own
// transaction; endpoints' signing secrets are sealed.
type Events struct {
	*deps
	sealer    *Sealer
	endpoints *endpointCache
}

// The transactional outbox: every state change writes its event in the
// same transaction as the change, and with it one delivery per webhook
// endpoint that wants the event (and per session callback_url), so that
// nothing acknowledged can be lost between the change and its delivery.
// The dispatcher (internal/event) sends the deliveries afterwards.

// event appends an outbox event for obj inside tx.
func (s *Events) event(tx store.Tx, merchantID, typ, objectType, objectID string, obj any) error {
	data, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	return s.eventData(tx, merchantID, typ, objectType, objectID, data)
}

// eventData appends an event whose object JSON was rendered beforehand:
// work done outside the transaction is work the single writer does not do.
func (s *Events) eventData(tx store.Tx, merchantID, typ, objectType, objectID string, data []byte) error {
	e := &store.Event{ID: id.NewOrdered("evt"), MerchantID: merchantID, Type: typ, ObjectType: objectType,
		ObjectID: objectID, Data: data, Created: s.now()}
	if err := tx.InsertEvent(e); err != nil {
		return err
	}
	return s.fanOut(tx, e)
}

// fanOut queues an event's deliveries inside its transaction.
func (s *Events) fanOut(tx store.Tx, e *store.Event) error {
	eps, ok := s.endpoints.get(e.MerchantID)
	if !ok {
		live, err := tx.ListWebhookEndpoints(e.MerchantID)
		if err != nil {
			return err
		}
		eps = fanTargets(live)
	}
	for _, ep := range eps {
		if !wants(ep.events, e.Type) {
			continue
		}
		if err := tx.InsertDelivery(s.newDelivery(e, ep.id, ep.url)); err != nil {
			return err
		}
	}
	if e.ObjectType == "session" {
		ss, err := tx.GetSession(e.MerchantID, e.ObjectID)
		if err != nil {
			return err
		}
		if ss.CallbackURL != "" {
			dl := s.newDelivery(e, "", ss.CallbackURL)
			dl.Format = ss.CallbackFormat
			return tx.InsertDelivery(dl)
		}
	}
	return nil
}

func (s *Events) newDelivery(e *store.Event, endpointID, url string) *store.Delivery {
	return &store.Delivery{ID: id.NewOrdered("dlv"), MerchantID: e.MerchantID, EventID: e.ID, EndpointID: endpointID, URL: url,
		Status: store.DeliveryPending, NextAttempt: e.Created, Created: e.Created, Updated: e.Created}
}

// wants reports whether an endpoint's filter takes an event type: "*" for
// all, an exact type, or a family such as "payment.*".
func wants(filter []string, typ string) bool {
	for _, f := range filter {
		if f == "*" || f == typ {
			return true
		}
		if fam, ok := strings.CutSuffix(f, ".*"); ok && strings.HasPrefix(typ, fam+".") {
			return true
		}
	}
	return false
}

// sessionStatusEvent is the event type for a session now in its status;
// a change that leaves it open (a failed attempt) is session.updated.
func sessionStatusEvent(status string) string {
	if status == store.SessionOpen {
		return "session.updated"
	}
	return "session." + status
}

// EventView is an event as the API shows it, with its deliveries.
type EventView struct {
	ID         string          `json:"id"`
	Object     string          `json:"object"`
	Type       string          `json:"type"`
	Created    time.Time       `json:"created"`
	Seq        int64           `json:"sequence"`
	Data       json.RawMessage `json:"data"`
	Deliveries []DeliveryView  `json:"deliveries,omitempty"`
}

// DeliveryView is one delivery of an event with its log of attempts.
type DeliveryView struct {
	ID          string        `json:"id"`
	Endpoint    *string       `json:"webhook_endpoint"`
	URL         string        `json:"url"`
	Status      string        `json:"status"`
	Attempts    []AttemptView `json:"attempts"`
	NextAttempt *time.Time    `json:"next_attempt"`
}

// AttemptView is one try in a delivery's log.
type AttemptView struct {
	Attempt    int       `json:"attempt"`
	At         time.Time `json:"at"`
	StatusCode *int      `json:"status_code"`
	LatencyMS  int64     `json:"latency_ms"`
	Error      *string   `json:"error"`
}

func viewEvent(e *store.Event) EventView {
	data, _ := json.Marshal(map[string]json.RawMessage{"object": e.Data})
	return EventView{ID: e.ID, Object: "event", Type: e.Type, Created: e.Created, Seq: e.Seq, Data: data}
}
