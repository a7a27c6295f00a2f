package payment

import (
	"context"
	"sync"

	"github.com/coffer-vault/coffer/internal/store"
)

// endpointCache keeps each merchant's live webhook endpoints in memory so
// that the fan-out of every event (inside the single writer's transaction)
// does not list them again. Only committed state is cached: entries are
// filled by a Read outside the writer, never from a transaction that might
// still roll back, and a fill that raced a change is thrown away (the
// generation moved). A change drops the entry after its commit and before
// its answer: an event recorded after a client learned of the change fans
// out to the endpoints as changed.
//
// It is used only when the store has one server process (SQLite, see
// store.SingleServer): another instance's change could not reach it.
type endpointCache struct {
	off     bool // the store is shared by several servers: never cache
	st      store.Store
	mu      sync.Mutex
	gen     map[string]uint64
	eps     map[string][]fanTarget
	filling map[string]bool
}

// fanTarget is what the fan-out needs of an endpoint.
type fanTarget struct {
	id, url string
	events  []string
}

func newEndpointCache(st store.Store) *endpointCache {
	if ss, ok := st.(store.SingleServer); !ok || !ss.SingleServer() {
		return &endpointCache{off: true}
	}
	return &endpointCache{st: st, gen: map[string]uint64{}, eps: map[string][]fanTarget{}, filling: map[string]bool{}}
}

// get returns the merchant's endpoints when cached; on a miss it starts a
// fill and the caller lists them in its own transaction this time.
func (c *endpointCache) get(merchantID string) ([]fanTarget, bool) {
	if c.off {
		return nil, false
	}
	c.mu.Lock()
	eps, ok := c.eps[merchantID]
	start := !ok && !c.filling[merchantID]
	if start {
		c.filling[merchantID] = true
	}
	g := c.gen[merchantID]
	c.mu.Unlock()
	if start {
		go c.fill(merchantID, g)
	}
	return eps, ok
}

func (c *endpointCache) fill(merchantID string, g uint64) {
	var eps []*store.WebhookEndpoint
	err := c.st.Read(context.Background(), func(tx store.Tx) error {
		var err error
		eps, err = tx.ListWebhookEndpoints(merchantID)
		return err
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.filling, merchantID)
	if err != nil || c.gen[merchantID] != g {
		return
	}
	c.eps[merchantID] = fanTargets(eps)
}

// changed drops a merchant's entry; call it after every write that creates,
// changes or deletes one of its endpoints, whatever that write returned.
func (c *endpointCache) changed(merchantID string) {
	if c.off {
		return
	}
	c.mu.Lock()
	c.gen[merchantID]++
	delete(c.eps, merchantID)
	c.mu.Unlock()
}

func fanTargets(eps []*store.WebhookEndpoint) []fanTarget {
	out := make([]fanTarget, 0, len(eps))
	for _, ep := range eps {
		out = append(out, fanTarget{id: ep.ID, url: ep.URL, events: ep.Events})
	}
	return out
}
