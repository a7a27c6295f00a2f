package scaleout

import (
	"context"
	"fmt"
	"testing"

	"github.com/coffer-vault/coffer/internal/app"
	"github.com/coffer-vault/coffer/internal/e2e/harness"
	"github.com/coffer-vault/coffer/internal/processor/simulator"
	"github.com/coffer-vault/coffer/internal/processor/simulator/storeledger"
	"github.com/coffer-vault/coffer/internal/store/pgtest"
	"github.com/coffer-vault/coffer/internal/store/postgres"
)

// builtIn makes a server use the simulator app wires by itself, over the store, instead of the
// in-memory one the harness injects.
var builtIn = harness.WithConfig(func(c *app.Config) { c.Processor = nil })

// storeSim is the acquirer as a third party sees it: a simulator over the same database.
func storeSim(t *testing.T, dsn string) *simulator.Simulator {
	t.Helper()
	st, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return simulator.OverLedger(storeledger.New(st))
}

// Two instances on one PostgreSQL database are one acquirer: what one authorized, the other
// captures, voids, refunds and reads (before the ledger moved into the store each instance had
// its own, and the other answered 422 invalid_state).
func TestInstancesShareTheAcquirer(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	a := harness.Start(t, harness.WithDatabaseURL(dsn), builtIn)
	b := harness.Start(t, harness.WithDatabaseURL(dsn), harness.WithDataDir(a.DataDir), builtIn)
	sk := a.Dev.SecretKey
	tok := a.Tokenize(t, sk, map[string]any{"card": harness.Card(simulator.CardSuccessVisa)}).Want(t, 201).Str("id")
	create := func(s *harness.Server, key string, amount int, capture bool) string {
		t.Helper()
		r := s.CreatePayment(sk, harness.TokenPayment(tok, amount, "capture", capture), "Idempotency-Key", key).Want(t, 201)
		want := "requires_capture"
		if capture {
			want = "succeeded"
		}
		if r.Str("status") != want {
			t.Fatalf("payment %s: %s", key, r.Raw)
		}
		return r.Str("id")
	}

	// Authorized on a; captured, partly refunded and read on b.
	p1 := create(a, "share-1", 1000, false)
	c := b.Call("POST", "/v1/payments/"+p1+"/capture", sk, map[string]any{"amount": 800}, "Idempotency-Key", "share-1-cap").Want(t, 200)
	if c.Str("status") != "succeeded" || c.Num("amount_captured") != 800 {
		t.Fatalf("capture through the other instance: %s", c.Raw)
	}
	b.Call("POST", "/v1/payments/"+p1+"/refunds", sk, map[string]any{"amount": 300}, "Idempotency-Key", "share-1-ref").Want(t, 201)
	if g := a.Call("GET", "/v1/payments/"+p1, sk, nil).Want(t, 200); g.Num("amount_refunded") != 300 {
		t.Fatalf("payment read through the first: %s", g.Raw)
	}
	// Authorized on a; voided on b.
	p2 := create(a, "share-2", 500, false)
	if r := b.Call("POST", "/v1/payments/"+p2+"/cancel", sk, nil, "Idempotency-Key", "share-2-cancel").Want(t, 200); r.Str("status") != "canceled" {
		t.Fatalf("cancel through the other instance: %s", r.Raw)
	}
	// A sale on b, refunded in full on a.
	p3 := create(b, "share-3", 700, true)
	a.Call("POST", "/v1/payments/"+p3+"/refunds", sk, map[string]any{"amount": 700}, "Idempotency-Key", "share-3-ref").Want(t, 201)

	// The acquirer's own books, read by a third party: what each instance was told.
	sim := storeSim(t, dsn)
	for _, w := range []struct {
		payment            string
		captured, refunded int64
		voided             bool
	}{{p1, 800, 300, false}, {p2, 0, 0, true}, {p3, 700, 700, false}} {
		got, err := sim.Lookup(context.Background(), a.Dev.ID, w.payment)
		if err != nil || got.Captured != w.captured || got.Refunded != w.refunded || got.Voided != w.voided {
			t.Errorf("Lookup(%s) = %+v %v, want captured %d refunded %d voided %v", w.payment, got, err, w.captured, w.refunded, w.voided)
		}
		if n := sim.AuthorizationsFor(a.Dev.ID, w.payment); n != 1 {
			t.Errorf("%s was authorized %d times", w.payment, n)
		}
	}
	// A repeat of a capture through the other instance is refused by the acquirer itself.
	if r := a.Call("POST", "/v1/payments/"+p1+"/capture", sk, map[string]any{"amount": 100}, "Idempotency-Key", "share-1-cap-again"); r.Status != 422 {
		t.Errorf("second capture: %d %s", r.Status, r.Raw)
	}
}

// On either backend, a restarted server captures and refunds what it authorized before.
func TestAcquirerSurvivesRestart(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		s := harness.Start(t, append(opts, builtIn)...)
		sk := s.Dev.SecretKey
		ids := make([]string, 3)
		for i := range ids {
			ids[i] = s.CreatePayment(sk, harness.CardPayment(simulator.CardSuccessVisa, 1000+i, "capture", false),
				"Idempotency-Key", fmt.Sprint("restart-", i)).Want(t, 201).Str("id")
		}
		s = s.Restart(builtIn)
		s.Call("POST", "/v1/payments/"+ids[0]+"/capture", sk, map[string]any{"amount": 1000}, "Idempotency-Key", "restart-cap").Want(t, 200)
		s.Call("POST", "/v1/payments/"+ids[0]+"/refunds", sk, map[string]any{"amount": 400}, "Idempotency-Key", "restart-ref").Want(t, 201)
		s.Call("POST", "/v1/payments/"+ids[1]+"/cancel", sk, nil, "Idempotency-Key", "restart-cancel").Want(t, 200)
		if r := s.Call("GET", "/v1/payments/"+ids[2], sk, nil).Want(t, 200); r.Str("status") != "requires_capture" {
			t.Errorf("untouched payment after restart: %s", r.Raw)
		}
	})
}
