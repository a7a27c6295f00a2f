package payment

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coffer-vault/coffer/internal/store"
)

// keyUses records when each key was last used without a store write per
// request: a request compares one time on its key's own cell (no shared
// lock); about once a minute per key it queues the use, and a single
// writer, started a moment later, records the whole queue in one
// transaction.
type keyUses struct {
	st    store.Store
	log   *slog.Logger
	every time.Duration // at most one record per key per every
	delay time.Duration // how long a queue waits for more uses before it is written

	cells sync.Map     // key digest → *atomic.Int64: Unix nanoseconds of the use last queued
	n     atomic.Int64 // cells, bounded by maxKeyCells

	mu       sync.Mutex
	queue    map[string]store.KeyUse
	flushing bool // a write is scheduled or running
	stopped  bool
}

// maxKeyCells bounds the memory kept per key: beyond it the cells are
// dropped and the next use of each key is queued again (one write more).
const maxKeyCells = 100_000

func newKeyUses(st store.Store, log *slog.Logger) *keyUses {
	return &keyUses{st: st, log: log, every: time.Minute, delay: time.Second, queue: map[string]store.KeyUse{}}
}

// touch notes that the key with digest h was used at at.
func (u *keyUses) touch(h, merchantID string, at time.Time) {
	v, ok := u.cells.Load(h)
	if !ok {
		if u.n.Load() >= maxKeyCells {
			u.cells.Clear()
			u.n.Store(0)
		}
		var loaded bool
		if v, loaded = u.cells.LoadOrStore(h, new(atomic.Int64)); !loaded {
			u.n.Add(1)
		}
	}
	c := v.(*atomic.Int64)
	last, t := c.Load(), at.UnixNano()
	if last != 0 && t-last < int64(u.every) || !c.CompareAndSwap(last, t) {
		return // recorded lately, or another request is queueing it now
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.stopped {
		return
	}
	u.queue[h] = store.KeyUse{Hash: []byte(h), MerchantID: merchantID, At: at.UTC().Truncate(time.Microsecond)}
	if !u.flushing {
		u.flushing = true
		time.AfterFunc(u.delay, func() { u.flush(context.Background()) })
	}
}

// flush writes the queued uses. A failure is logged and the uses are lost:
// last_used is a hint, not a record worth a retry loop.
func (u *keyUses) flush(ctx context.Context) {
	u.mu.Lock()
	batch := make([]store.KeyUse, 0, len(u.queue))
	for _, k := range u.queue {
		batch = append(batch, k)
	}
	clear(u.queue)
	u.flushing = false
	u.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := u.st.Write(ctx, func(tx store.Tx) error { return tx.RecordKeyUses(batch) }); err != nil {
		u.log.Warn("recording when keys were last used failed", "keys", len(batch), "error", err.Error())
	}
}

// stop writes what is queued and queues nothing more: called before the
// store closes.
func (u *keyUses) stop(ctx context.Context) {
	u.mu.Lock()
	u.stopped = true
	u.mu.Unlock()
	u.flush(ctx)
}

// FlushKeyUses records the keys' last uses still queued; serve calls it on
// shutdown, before the store closes.
func (s *Merchants) FlushKeyUses(ctx context.Context) { s.uses.stop(ctx) }
