package store

import "time"

// IdempotencyTx stores Idempotency-Key records and their leases.
type IdempotencyTx interface {
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
