package connectors

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
	"github.com/coffer-vault/coffer/internal/stripemock"
)

// closedPort is a loopback address nothing listens on: an acquirer that
// cannot be reached at all.
const closedPort = "http://127.0.0.1:1"

// A payment whose first account cannot be reached is made at the next one,
// once; after a few such failures the dead account's circuit opens and
// later payments skip it without trying.
func TestFailoverToTheNextAccount(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		s := harness.Start(t, opts...)
		sk := s.Dev.SecretKey
		stripeAccount(t, s, sk, closedPort, "priority", 1)
		sim := s.Call("POST", "/v1/processor_accounts", sk, map[string]any{"type": "simulator", "priority": 2}).Want(t, 201).Str("id")
		before := s.Sim.Stats()
		const n = 5
		for i := range n {
			p := s.Call("POST", "/v1/payments", sk, map[string]any{"amount": 700 + i, "currency": "USD", "card": harness.Card(stripeCard)}).Want(t, 201)
			if p.Str("status") != "succeeded" || p.Str("processor", "account") != sim || p.Str("processor", "type") != "simulator" {
				t.Fatalf("payment %d: %s", i, p.Raw)
			}
		}
		if d := harness.StatsDelta(before, s.Sim.Stats()); d.Captures != n {
			t.Fatalf("the simulator captured %d payments, want %d (one each)", d.Captures, n)
		}
		logs := s.Logs.String()
		if !strings.Contains(logs, "payment moved to the next processor account") {
			t.Fatal("moving to the next account is not logged")
		}
		if !strings.Contains(logs, "circuit open") {
			t.Fatalf("after %d failures the dead account is still tried", n)
		}
	})
}

// A decline is an answer: the payment is not tried at another account.
func TestNoFailoverAfterADecline(t *testing.T) {
	t.Parallel()
	m := stripemock.Start(t, stripemock.WithPaths(stripePaths...), intent("requires_payment_method", func(pi map[string]any) {
		pi["last_payment_error"] = map[string]any{"type": "card_error", "code": "card_declined", "decline_code": "do_not_honor"}
	}), stripemock.WithAnswers(echo))
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	stripeAccount(t, s, sk, m.URL, "priority", 1)
	s.Call("POST", "/v1/processor_accounts", sk, map[string]any{"type": "simulator", "priority": 2}).Want(t, 201)
	before := s.Sim.Stats()
	r := s.Call("POST", "/v1/payments", sk, map[string]any{"amount": 800, "currency": "USD", "card": harness.Card(stripeCard)})
	if r.Status != 402 || r.Str("error", "decline_code") != "do_not_honor" {
		t.Fatalf("declined payment: %d %s", r.Status, r.Raw)
	}
	if d := harness.StatsDelta(before, s.Sim.Stats()); d.Authorizations != 0 || d.Captures != 0 {
		t.Fatalf("a declined payment was tried at the next account: %+v", d)
	}
}

// A payment pinned to an account that cannot be reached is not moved: it
// fails, and nothing is charged anywhere.
func TestPinnedAccountIsNotFailedOver(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	dead := stripeAccount(t, s, sk, closedPort, "priority", 1)
	s.Call("POST", "/v1/processor_accounts", sk, map[string]any{"type": "simulator", "priority": 2}).Want(t, 201)
	before := s.Sim.Stats()
	r := s.Call("POST", "/v1/payments", sk, map[string]any{"amount": 900, "currency": "USD", "processor_account": dead,
		"card": harness.Card(stripeCard)})
	if _, code, _ := r.ErrInfo(); r.Status != 402 || code != "processing_error" {
		t.Fatalf("a payment pinned to a dead account: %d %s", r.Status, r.Raw)
	}
	if d := harness.StatsDelta(before, s.Sim.Stats()); d.Authorizations != 0 || d.Captures != 0 {
		t.Fatalf("a pinned payment moved to another account: %+v", d)
	}
}

// An acquirer that took the request and then failed (a 5xx) may have
// charged: the payment moves on only once that acquirer says it never heard
// of it; if it cannot say, the payment stays processing and nothing is
// charged elsewhere.
func TestUnavailableAcquirerIsAskedBeforeFailover(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name        string
		searchFails bool
	}{{"lookup says never seen", false}, {"lookup fails too", true}} {
		t.Run(c.name, func(t *testing.T) {
			var intents, searches atomic.Int64
			fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				switch {
				case r.Method == "POST" && r.URL.Path == "/v1/payment_methods":
					w.Write([]byte(`{"id":"pm_fake","object":"payment_method","type":"card"}`))
				case r.Method == "POST" && r.URL.Path == "/v1/payment_intents":
					intents.Add(1)
					w.WriteHeader(500)
					w.Write([]byte(`{"error":{"type":"api_error","message":"An unknown error occurred"}}`))
				case r.Method == "GET" && strings.HasPrefix(r.URL.Path, "/v1/payment_intents"):
					searches.Add(1)
					if c.searchFails {
						w.WriteHeader(503)
						return
					}
					w.Write([]byte(`{"object":"list","data":[],"has_more":false}`))
				default:
					w.WriteHeader(404)
					w.Write([]byte(`{"error":{"type":"invalid_request_error","code":"resource_missing","message":"no such path"}}`))
				}
			}))
			t.Cleanup(fake.Close)
			s := harness.Start(t)
			sk := s.Dev.SecretKey
			stripeAccount(t, s, sk, fake.URL, "priority", 1)
			sim := s.Call("POST", "/v1/processor_accounts", sk, map[string]any{"type": "simulator", "priority": 2}).Want(t, 201).Str("id")
			before := s.Sim.Stats()
			r := s.Call("POST", "/v1/payments", sk, map[string]any{"amount": 1100, "currency": "USD", "card": harness.Card(stripeCard)})
			if intents.Load() == 0 || searches.Load() == 0 {
				t.Fatalf("intents %d, lookups %d: the failing acquirer was not asked", intents.Load(), searches.Load())
			}
			d := harness.StatsDelta(before, s.Sim.Stats())
			if !c.searchFails {
				if r.Status != 201 || r.Str("processor", "account") != sim || d.Captures != 1 {
					t.Fatalf("after the acquirer said it never saw it: %d %s, simulator %+v", r.Status, r.Raw, d)
				}
				return
			}
			if _, code, _ := r.ErrInfo(); r.Status != 502 || code != "processing_error" || r.Str("error", "payment", "status") != "processing" {
				t.Fatalf("an unknown outcome: %d %s", r.Status, r.Raw)
			}
			if d.Authorizations != 0 || d.Captures != 0 {
				t.Fatalf("a payment whose outcome is unknown was charged again elsewhere: %+v", d)
			}
		})
	}
}
