package event

import (
	"context"
	"errors"
	"time"

	"github.com/coffer-vault/coffer/internal/store"
)

// PendingCounter is what a store transaction may offer to count the
// webhook queue: deliveries still pending and the creation time of the
// oldest (zero when none is). The SQL stores offer it; it is asked for
// rather than required so that store.Tx keeps its shape.
type PendingCounter interface {
	PendingDeliveries() (n int, oldest time.Time, err error)
}

// ErrNoPendingCount says the store cannot count pending deliveries.
var ErrNoPendingCount = errors.New("event: the store does not count pending deliveries")

// Pending counts the deliveries not yet delivered nor given up, of every
// merchant and dispatcher, and tells when the oldest was created.
func (d *Dispatcher) Pending(ctx context.Context) (n int, oldest time.Time, err error) {
	err = d.c.Store.Read(ctx, func(tx store.Tx) error {
		pc, ok := tx.(PendingCounter)
		if !ok {
			return ErrNoPendingCount
		}
		n, oldest, err = pc.PendingDeliveries()
		return err
	})
	return n, oldest, err
}
