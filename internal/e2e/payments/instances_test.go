package payments

import (
	"fmt"
	"sync"
	"testing"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
	"github.com/coffer-vault/coffer/internal/store/pgtest"
)

// Two instances on one PostgreSQL database serve a burst of payments on one
// token with no 409: a write waits for the row it changes (or the key it
// claims) instead of being aborted for reading pages another write touched. One
// SQLite instance serves the same burst; PostgreSQL must not do worse.
func TestPostgresInstancesShareAToken(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	a := harness.Start(t, harness.WithDatabaseURL(dsn))
	b := harness.Start(t, harness.WithDatabaseURL(dsn), harness.WithDataDir(a.DataDir), harness.WithSim(a.Sim))
	sk := a.Dev.SecretKey
	tok := a.Tokenize(t, sk, map[string]any{"card": harness.Card("4242424242424242")}).Want(t, 201).Str("id")
	before := a.Sim.Stats()
	const n = 50
	var wg sync.WaitGroup
	statuses := make([]int, n)
	ids := make([]string, n)
	for i := range n {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() {
			r := s.Call("POST", "/v1/payments", sk, map[string]any{"amount": 100 + i, "token": tok, "order_id": "two-instances"},
				"Idempotency-Key", fmt.Sprintf("two-instances-%d", i))
			statuses[i] = r.Status
			if r.Status != 201 {
				t.Errorf("payment %d through instance %d: %d %s", i, i%2, r.Status, r.Raw)
				return
			}
			ids[i] = r.Str("id")
		})
	}
	wg.Wait()
	created := 0
	for _, st := range statuses {
		if st == 201 {
			created++
		}
	}
	if created != n {
		t.Fatalf("%d of %d payments created", created, n)
	}
	if d := a.Sim.Stats().Captures - before.Captures; d != n {
		t.Fatalf("the acquirer captured %d payments, want %d", d, n)
	}
	for i, id := range ids {
		// Each instance reads what the other wrote.
		s := b
		if i%2 == 1 {
			s = a
		}
		p := s.Call("GET", "/v1/payments/"+id, sk, nil).Want(t, 200)
		if p.Str("status") != "succeeded" || p.Num("amount_captured") != int64(100+i) {
			t.Fatalf("payment %d: %s", i, p.Raw)
		}
	}
	l := a.Call("GET", "/v1/payments?order_id=two-instances&limit=100", sk, nil).Want(t, 200)
	if got := len(l.Body["data"].([]any)); got != n {
		t.Fatalf("listed %d payments, want %d", got, n)
	}
}
