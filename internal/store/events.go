package store

import "time"

// EventTx stores the outbox of events: written with the state change they
// tell of, read by the events API, live streams and the delivery fan-out.
type EventTx interface {
	// InsertEvent appends to the outbox, assigning the merchant's next sequence number.
	InsertEvent(e *Event) error
	ListEventsFor(merchantID, objectID string) ([]*Event, error)
	// GetEvent reads one event of a merchant.
	GetEvent(merchantID, id string) (*Event, error)
	// ListEvents pages through a merchant's events, newest (highest seq)
	// first; Type and ObjectID filter when set.
	ListEvents(merchantID string, f EventFilter) ([]*Event, bool, error)
	// EventsAfter lists a merchant's events about one object with seq above
	// afterSeq, oldest first (live streams poll it).
	EventsAfter(merchantID, objectID string, afterSeq int64, limit int) ([]*Event, error)
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

// EventFilter selects a page of events.
type EventFilter struct {
	Type          string
	ObjectID      string
	StartingAfter string // an event id
	Limit         int
}
