package payments

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// TestRefundCrashRetryRefundsOnce: crash between the acquirer's refund and
// recording it: the refund stays pending and the key's claim lapses. A retry
// with the same key must not create a second refund.
func TestRefundCrashRetryRefundsOnce(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		s := harness.Start(t, opts...)
		sk := s.Dev.SecretKey
		tok := s.Tokenize(t, sk, map[string]any{"card": harness.Card("4242424242424242")}).Want(t, 201).Str("id")
		pid := s.Call("POST", "/v1/payments", sk, map[string]any{"amount": 1000, "token": tok}).Want(t, 201).Str("id")
		body := map[string]any{"amount": 300}
		r1 := s.Call("POST", "/v1/payments/"+pid+"/refunds", sk, body, "Idempotency-Key", "rc-refund-crash").Want(t, 201)
		db := s.OpenDB(t)
		if _, err := db.Exec(s.Rebind(`UPDATE refunds SET status = 'pending', processor_ref = '', updated = 0 WHERE id = ?`), r1.Str("id")); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(`UPDATE idempotency_keys SET state = 'started', status_code = 0, response = NULL, locked_until = 0`); err != nil {
			t.Fatal(err)
		}
		again := s.Call("POST", "/v1/payments/"+pid+"/refunds", sk, body, "Idempotency-Key", "rc-refund-crash")
		got := (&harness.Acquirer{Simulator: s.Sim}).Refunded(t, s.Dev.ID, pid)
		if got != 300 {
			t.Fatalf("one Idempotency-Key, acquirer refunded %d (want 300); first %s, retry %d %s", got, r1.Str("id"), again.Status, again.Raw)
		}
	})
}

// TestRefundContention: heavy contention on one payment's refunds: every
// refund that reached the acquirer is recorded, none is left pending, none
// answered 5xx.
func TestRefundContention(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		s := harness.Start(t, opts...)
		sk := s.Dev.SecretKey
		tok := s.Tokenize(t, sk, map[string]any{"card": harness.Card("4242424242424242")}).Want(t, 201).Str("id")
		pid := s.Call("POST", "/v1/payments", sk, map[string]any{"amount": 100000, "token": tok}).Want(t, 201).Str("id")
		var wg sync.WaitGroup
		var fivexx atomic.Int64
		var sample atomic.Value
		for i := range 120 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := s.Call("POST", "/v1/payments/"+pid+"/refunds", sk, map[string]any{"amount": 10}, "Idempotency-Key", fmt.Sprintf("rc-rc-%d", i))
				if r.Status >= 500 {
					fivexx.Add(1)
					sample.Store(string(r.Raw))
				}
			}()
		}
		wg.Wait()
		// every client whose refund answered 5xx retries once with its key
		for i := range 120 {
			s.Call("POST", "/v1/payments/"+pid+"/refunds", sk, map[string]any{"amount": 10}, "Idempotency-Key", fmt.Sprintf("rc-rc-%d", i))
		}
		if n := s.Sim.Stats().Refunds; n > 120 {
			t.Errorf("120 Idempotency-Keys, %d refunds at the acquirer", n)
		}
		p := s.Call("GET", "/v1/payments/"+pid, sk, nil).Want(t, 200)
		got := (&harness.Acquirer{Simulator: s.Sim}).Refunded(t, s.Dev.ID, pid)
		pending := strings.Count(string(s.Call("GET", "/v1/payments/"+pid+"/refunds", sk, nil).Raw), `"status":"pending"`)
		if fivexx.Load() > 0 || got != p.Num("amount_refunded") || pending > 0 {
			var errs []string
			for _, l := range strings.Split(s.Logs.String(), "\n") {
				if strings.Contains(l, "ERROR") && len(errs) < 3 {
					errs = append(errs, l)
				}
			}
			t.Fatalf("5xx %d; acquirer refunded %d, books %d, pending %d; e.g. %v; logs: %s", fivexx.Load(), got, p.Num("amount_refunded"), pending,
				strings.TrimSpace(fmt.Sprint(sample.Load())), strings.Join(errs, " | "))
		}
	})
}
